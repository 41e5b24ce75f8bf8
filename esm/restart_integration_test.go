package esm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

const crashEnv = "LAMBDAESM_CRASH_HELPER"

// crashConfig tells a helper process of TestIntegrationLatestSurvivesKill
// what to run.
type crashConfig struct {
	Source string `json:"source"` // kinesis or dynamodb
	ARN    string `json:"arn"`
	Dir    string `json:"dir"` // checkpoint directory
	Log    string `json:"log"` // one line per handled record
	Hang   bool   `json:"hang"`
}

// TestHelperCrashProcess is not a test: it is a process of
// TestIntegrationLatestSurvivesKill. It runs a LATEST mapping with the file
// store; with Hang, its handler logs "batch" and never returns, so that a
// kill -9 lands during the first batch.
func TestHelperCrashProcess(t *testing.T) {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		t.Skip("helper process of TestIntegrationLatestSurvivesKill")
	}
	var cfg crashConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	out, err := os.OpenFile(cfg.Log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer out.Close()
	handle := func(keys []string) error {
		if cfg.Hang {
			fmt.Fprintln(out, "batch")
			select {}
		}
		_, err := out.WriteString(strings.Join(keys, "\n") + "\n")
		return err
	}
	conf := esm.Config{EventSourceArn: cfg.ARN, StartingPosition: esm.Latest, BatchSize: 10, FunctionTimeout: 900 * time.Second}
	opts := []esm.StreamOption{esm.WithStore(shard.NewFileStore(cfg.Dir)), esm.WithName("crash"), esm.WithPolling(esm.Polling{Idle: 200 * time.Millisecond, Discovery: time.Second})}
	var m esm.Mapping
	switch cfg.Source {
	case "kinesis":
		m, err = esm.NewKinesisMapping(conf, awstest.Kinesis(t), esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
			keys := make([]string, len(ev.Records))
			for i, r := range ev.Records {
				keys[i] = r.Kinesis.PartitionKey
			}
			return handle(keys)
		}), opts...)
	default:
		m, err = esm.NewDynamoDBMapping(conf, awstest.DynamoDBStreams(t), esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
			keys := make([]string, len(ev.Records))
			for i, r := range ev.Records {
				keys[i] = r.Change.Keys[awstest.StreamTableKey].String()
			}
			return handle(keys)
		}), opts...)
	}
	require.NoError(t, err)
	require.NoError(t, m.Run(context.Background()))
}

func startCrashProcess(t *testing.T, cfg crashConfig) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
	outFile := cfg.Log + ".out"
	f, err := os.Create(outFile)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = f, f
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(outFile)
			t.Logf("helper output:\n%s", b)
		}
	})
	return cmd
}

func logLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// awaitReal polls cond in real time until d has passed.
func awaitReal(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A process killed with SIGKILL during its first batch of a LATEST mapping
// is restarted: the new process delivers every record written after the
// mapping first started, including those written while it was down. (Before,
// the restart resolved LATEST again and lost them.)
func TestIntegrationLatestSurvivesKill(t *testing.T) {
	awstest.Integration(t)
	for _, source := range []string{"kinesis", "dynamodb"} {
		t.Run(source, func(t *testing.T) {
			var arn string
			var put func(key string)
			switch source {
			case "kinesis":
				kc := awstest.Kinesis(t)
				var name string
				name, arn = awstest.NewStream(t, kc, 1)
				put = func(key string) {
					_, err := kc.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: &name, PartitionKey: &key, Data: []byte(key)})
					require.NoError(t, err)
				}
			default:
				dc := awstest.DynamoDB(t)
				var table string
				table, arn = awstest.NewStreamTable(t, dc)
				put = func(key string) {
					_, err := dc.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
						awstest.StreamTableKey: &ddbtypes.AttributeValueMemberS{Value: key},
					}})
					require.NoError(t, err)
				}
			}
			dir := t.TempDir()
			cfg := crashConfig{Source: source, ARN: arn, Dir: filepath.Join(dir, "checkpoints"), Log: filepath.Join(dir, "first.log"), Hang: true}
			first := startCrashProcess(t, cfg)
			// The start marker is written before the first read.
			awaitReal(t, "the first process to fix its position", 30*time.Second, func() bool {
				files, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.checkpoints.json"))
				return len(files) == 1
			})
			var want []string
			for i := range 20 {
				k := "a" + strconv.Itoa(i)
				put(k)
				want = append(want, k)
			}
			awaitReal(t, "the first batch to be in flight", 30*time.Second, func() bool { return len(logLines(cfg.Log)) > 0 })
			for i := range 10 {
				k := "b" + strconv.Itoa(i)
				put(k)
				want = append(want, k)
			}
			require.NoError(t, first.Process.Kill())
			_ = first.Wait()
			for i := range 10 {
				k := "c" + strconv.Itoa(i) // written while no process runs
				put(k)
				want = append(want, k)
			}
			cfg.Hang, cfg.Log = false, filepath.Join(dir, "second.log")
			startCrashProcess(t, cfg)
			awaitReal(t, "every record to be delivered after the restart", 60*time.Second, func() bool {
				got := map[string]bool{}
				for _, l := range logLines(cfg.Log) {
					got[l] = true
				}
				for _, k := range want {
					if !got[k] {
						return false
					}
				}
				return true
			})
		})
	}
}
