package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// nodeFunction is the function under test, in JavaScript: an HTTP server
// that takes Lambda's SQS event, appends each message body to a file, and
// reports every message whose body ends in 7 as failed the first time it
// sees it (a partial batch response), so those come back once.
const nodeFunction = `
const http = require('http'), fs = require('fs');
const out = process.argv[2];
const failedOnce = new Set();
const srv = http.createServer((req, res) => {
  let body = '';
  req.on('data', c => body += c);
  req.on('end', () => {
    const event = JSON.parse(body);
    const batchItemFailures = [];
    for (const r of event.Records) {
      if (r.eventSource !== 'aws:sqs') throw new Error('not an SQS event');
      if (r.body.endsWith('7') && !failedOnce.has(r.messageId)) {
        failedOnce.add(r.messageId);
        batchItemFailures.push({ itemIdentifier: r.messageId });
        continue;
      }
      fs.appendFileSync(out, r.body + '\n');
    }
    setTimeout(() => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ batchItemFailures }));
    }, 30);
  });
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`

// buildCommand builds lambdaesm into dir.
func buildCommand(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "lambdaesm")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// startNode runs the JavaScript function and returns its URL.
func startNode(t *testing.T, dir string) (url, outFile string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the end-to-end test needs a function in another language (install Node.js)")
	}
	script := filepath.Join(dir, "fn.js")
	outFile = filepath.Join(dir, "handled.txt")
	require.NoError(t, os.WriteFile(script, []byte(nodeFunction), 0o644))
	cmd := exec.Command(node, script, outFile)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	return "http://127.0.0.1:" + strings.TrimSpace(port) + "/", outFile
}

// process is a running lambdaesm command.
type process struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	logs     []string
	api, ops string
	ready    chan struct{}
	done     chan error
}

func startCommand(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	return startCommandEnv(t, bin, nil, args...)
}

// startCommandEnv starts lambdaesm with env added to this process's.
func startCommandEnv(t *testing.T, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), ready: make(chan struct{}), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var rec map[string]any
			_ = json.Unmarshal([]byte(line), &rec)
			p.mu.Lock()
			p.logs = append(p.logs, line)
			if u, ok := rec["endpointUrl"].(string); ok {
				p.api = u
			}
			if a, ok := rec["addr"].(string); ok {
				p.ops = a
				close(p.ready)
			}
			p.mu.Unlock()
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("lambdaesm %v logs:\n%s", args, p.logText())
		}
	})
	select {
	case <-p.ready:
	case err := <-p.done:
		t.Fatalf("lambdaesm exited at start: %v\n%s", err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("lambdaesm did not start\n%s", p.logText())
	}
	return p
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// stop sends SIGTERM and waits for the exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status after SIGTERM")
	case <-time.After(60 * time.Second):
		t.Fatal("lambdaesm did not stop within 60s of SIGTERM")
	}
	require.Contains(t, p.logText(), `"msg":"stopped"`)
}

// handled returns every line the function wrote, and how many distinct.
func handled(t *testing.T, file string) (lines []string, distinct int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, 0
	}
	require.NoError(t, err)
	seen := map[string]bool{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			lines = append(lines, l)
			seen[l] = true
		}
	}
	return lines, len(seen)
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(url string) (int, map[string]any, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, string(body)
}

// The command end to end on fauxqs: a mapping from a file calls a Node
// function over HTTP; SIGTERM in mid-stream drains; a restart resumes the
// same mapping from the state directory; the Go SDK (and the AWS CLI, where
// installed) manage it through the API; every message is handled once,
// and the partial batch failures once more.
func TestCommandEndToEnd(t *testing.T) {
	awstest.Integration(t)
	dir := t.TempDir()
	bin := buildCommand(t, dir)
	fnURL, outFile := startNode(t, dir)
	sqsc := awstest.SQS(t)
	queueURL, queueARN := awstest.NewQueue(t, sqsc, map[string]string{"VisibilityTimeout": "5"})
	const total = 300
	for i := 0; i < total; i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j := i; j < i+10; j++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(fmt.Sprintf("m-%03d", j))})
		}
		_, err := sqsc.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &queueURL, Entries: entries})
		require.NoError(t, err)
	}

	// A mapping as `aws lambda get-event-source-mapping` prints it.
	const uuid = "5c1b7a52-6a1e-4c4b-9f53-0b6f2f8a1d17"
	mappingFile := filepath.Join(dir, "mapping.json")
	require.NoError(t, os.WriteFile(mappingFile, []byte(`{
    "UUID": "`+uuid+`",
    "BatchSize": 4,
    "MaximumBatchingWindowInSeconds": 0,
    "EventSourceArn": "`+queueARN+`",
    "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:node-fn",
    "LastModified": 1733457600.123,
    "State": "Enabled",
    "StateTransitionReason": "USER_INITIATED",
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "ScalingConfig": {"MaximumConcurrency": 3},
    "EventSourceMappingArn": "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:`+uuid+`"
}`), 0o644))
	stateDir := filepath.Join(dir, "state")
	common := []string{"--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--state-dir", stateDir,
		"--function", "node-fn=" + fnURL + ",cli-fn=" + fnURL, "--sqs-wait-time-seconds", "1", "--lambda=false"}

	first := startCommand(t, bin, append(common, mappingFile)...)
	waitUntil(t, time.Minute, "the first messages", func() bool { _, n := handled(t, outFile); return n >= 60 })
	status, health, body := getJSON(first.ops + "/healthz")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, true, health["healthy"])
	_, _, metrics := getJSON(first.ops + "/metrics")
	require.Contains(t, metrics, `lambdaesm_event_source_mappings{state="Enabled"} 1`)
	require.Contains(t, metrics, "lambdaesm_invocations_total")
	first.stop(t) // SIGTERM in mid-stream
	_, atStop := handled(t, outFile)
	require.Less(t, atStop, total, "the stop came in mid-stream")
	time.Sleep(2 * time.Second)
	_, afterStop := handled(t, outFile)
	require.Equal(t, atStop, afterStop, "nothing is handled once the command has stopped")

	// A restart, with no file: the state directory has the mapping.
	second := startCommand(t, bin, common...)
	client := lambda.NewFromConfig(awstest.Config(t), func(o *lambda.Options) { o.BaseEndpoint = aws.String(second.api) })
	got, err := client.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
	require.NoError(t, err)
	require.Equal(t, int32(4), aws.ToInt32(got.BatchSize))
	require.Equal(t, queueARN, aws.ToString(got.EventSourceArn))
	require.Equal(t, int32(3), aws.ToInt32(got.ScalingConfig.MaximumConcurrency))
	up, err := client.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), BatchSize: aws.Int32(10)})
	require.NoError(t, err)
	require.Equal(t, "Updating", aws.ToString(up.State))
	waitUntil(t, 2*time.Minute, "every message", func() bool { _, n := handled(t, outFile); return n == total })
	waitUntil(t, time.Minute, "the queue to empty", func() bool {
		out, err := sqsc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		require.NoError(t, err)
		return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	lines, distinct := handled(t, outFile)
	require.Equal(t, total, distinct)
	t.Logf("%d messages, %d handled lines: %d delivered again", total, len(lines), len(lines)-distinct)
	require.Equal(t, total, len(lines), "the drain and the update delivered nothing twice")

	awsCLI(t, second.api, queueARN, "cli-fn")
	second.stop(t)
}

// awsCLI drives the running command with the real AWS CLI, where one is
// installed: create, list, update, disable, get, delete.
func awsCLI(t *testing.T, endpoint, queueARN, function string) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("SKIP the AWS CLI part: no `aws` command on PATH (Debian: apt-get install awscli)")
		return
	}
	run := func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "aws", append([]string{"lambda", "--endpoint-url", endpoint, "--output", "json"}, args...)...)
		out, err := cmd.Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("aws %v: %v\n%s", args, err, ee.Stderr)
		}
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), string(out))
		return m
	}
	created := run("create-event-source-mapping", "--function-name", function, "--event-source-arn", queueARN, "--batch-size", "3")
	id := created["UUID"].(string)
	require.Equal(t, "Creating", created["State"])
	list := run("list-event-source-mappings", "--function-name", function)
	require.Len(t, list["EventSourceMappings"], 1)
	up := run("update-event-source-mapping", "--uuid", id, "--batch-size", "7")
	require.EqualValues(t, 7, up["BatchSize"])
	waitUntil(t, time.Minute, "Enabled", func() bool { return run("get-event-source-mapping", "--uuid", id)["State"] == "Enabled" })
	off := run("update-event-source-mapping", "--uuid", id, "--no-enabled")
	require.Equal(t, "Disabling", off["State"])
	waitUntil(t, time.Minute, "Disabled", func() bool { return run("get-event-source-mapping", "--uuid", id)["State"] == "Disabled" })
	del := run("delete-event-source-mapping", "--uuid", id)
	require.Equal(t, "Deleting", del["State"])
}
