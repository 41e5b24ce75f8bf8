package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// syncBuffer is the worker's stdout, read while it writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLine finds the first JSON log line with message msg.
func (b *syncBuffer) logLine(msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// metricValue returns the value of the series of name whose labels include
// label, or -1.
func metricValue(text, name, label string) float64 {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// The worker as it runs in production, on the in-memory fakes: it serves
// /healthz and /metrics on a free port of 127.0.0.1, consumes from both
// sources, and on SIGTERM shuts down within the grace period, leaving no
// goroutine behind.
func TestWorkerServesAndStopsOnSIGTERM(t *testing.T) {
	defer goleak.VerifyNone(t)
	// The test process must survive the SIGTERM whatever the worker does
	// with it.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGTERM)
	defer signal.Stop(guard)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound, never reached
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-grace", "5s", "-produce-every", "5ms"}, out)
	}()
	var base string
	waitUntil(t, 10*time.Second, "the worker to listen", func() bool {
		select {
		case err := <-done:
			t.Fatalf("the worker stopped at start: %v\n%s", err, out)
		default:
		}
		if rec := out.logLine("serving /metrics and /healthz"); rec != nil {
			base = rec["addr"].(string)
		}
		return base != ""
	})
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)

	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var health healthReport
	waitUntil(t, 10*time.Second, "/healthz to answer 200", func() bool {
		code, body := get(t, client, base+"/healthz")
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code)
		require.NoError(t, json.Unmarshal([]byte(body), &health), body)
		return code == http.StatusOK
	})
	require.True(t, health.Healthy)
	require.Len(t, health.Mappings, 2)
	for _, name := range []string{"orders", "emails"} {
		require.True(t, health.Mappings[name].Running, name)
		require.NotNil(t, health.Mappings[name].LastPoll, name)
	}

	var metrics string
	waitUntil(t, 10*time.Second, "both mappings to invoke their handlers", func() bool {
		_, metrics = get(t, client, base+"/metrics")
		return metricValue(metrics, "lambdaesm_invoked_events_total", `mapping="orders"`) > 0 &&
			metricValue(metrics, "lambdaesm_invoked_events_total", `mapping="emails"`) > 0
	})
	require.Positive(t, metricValue(metrics, "lambdaesm_deleted_events_total", `mapping="emails"`))
	require.GreaterOrEqual(t, metricValue(metrics, "lambdaesm_iterator_age_max_seconds", `mapping="orders"`), 0.0)
	require.Contains(t, metrics, "go_goroutines ")

	start := time.Now()
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("the worker did not stop after SIGTERM\n%s", out)
	}
	require.Less(t, time.Since(start), 5*time.Second, "within the grace period")
	rec := out.logLine("shutting down")
	require.NotNil(t, rec)
	require.Equal(t, "terminated signal received", rec["cause"])
	require.NotNil(t, out.logLine("stopped cleanly"))
	client.CloseIdleConnections()
}

// Cancelling run's context shuts it down the same way.
func TestWorkerStopsWhenItsContextEnds(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-grace", "5s"}, out) }()
	waitUntil(t, 10*time.Second, "the worker to start", func() bool { return out.logLine("worker started") != nil })
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("the worker did not stop\n%s", out)
	}
	require.Equal(t, "context ended", out.logLine("shutting down")["cause"])
}

// /healthz answers 503 with each mapping's health while the mappings do not
// run.
func TestHealthzNotReady(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	w, err := setup(t.Context(), f, nopLogger())
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	w.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var rep healthReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	require.False(t, rep.Healthy)
	require.Equal(t, mappingHealth{}, rep.Mappings["orders"])
	require.Equal(t, mappingHealth{}, rep.Mappings["emails"])
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"-help"}, &out))
	for _, want := range []string{"no AWS account needed", "-kinesis-arn", "-sqs-arn", "-grace", "-listen", "GET /healthz", "AWS_ENDPOINT_URL_KINESIS"} {
		require.Contains(t, out.String(), want)
	}
}

func TestBadFlags(t *testing.T) {
	for args, want := range map[string]string{
		"-grace 0":                 "-grace 0s: must be positive",
		"-lease-table t":           "-lease-table applies to AWS mode",
		"extra":                    `unexpected argument "extra"`,
		"-kinesis-config missing":  "missing: no such file",
		"-listen 127.0.0.1:999999": "invalid port",
	} {
		t.Run(args, func(t *testing.T) {
			err := run(t.Context(), strings.Fields(args), io.Discard)
			require.ErrorContains(t, err, want)
		})
	}
}

// Naming the sources switches to the AWS SDK: the mappings are built from
// the flags and the configuration files (nothing is called yet).
func TestAWSMode(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	cfgFile := filepath.Join(t.TempDir(), "emails.json")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`{"EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:emails", "BatchSize": 5,
		"FunctionResponseTypes": ["ReportBatchItemFailures"]}`), 0o600))

	f, err := parseFlags([]string{"-sqs-config", cfgFile}, io.Discard)
	require.NoError(t, err)
	w, err := setup(t.Context(), f, nopLogger())
	require.NoError(t, err)
	require.Equal(t, "aws", w.mode)
	require.Len(t, w.mappings, 1, "only the queue is named")
	require.Equal(t, "emails", w.mappings[0].name)
	require.Nil(t, w.produce)

	f, err = parseFlags([]string{"-kinesis-arn", "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
		"-sqs-arn", "arn:aws:sqs:eu-west-1:123456789012:emails", "-checkpoint-dir", t.TempDir()}, io.Discard)
	require.NoError(t, err)
	w, err = setup(t.Context(), f, nopLogger())
	require.NoError(t, err)
	require.Len(t, w.mappings, 2)

	f, err = parseFlags([]string{"-kinesis-arn", "orders"}, io.Discard)
	require.NoError(t, err)
	_, err = setup(t.Context(), f, nopLogger())
	require.ErrorContains(t, err, "EventSourceArn")
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
