package rietest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
)

// FunctionName is the name the emulator answers to.
const FunctionName = "function"

// EnvBinary names an aws-lambda-rie binary to use instead of the one in
// .emulators/bin.
const EnvBinary = "AWS_LAMBDA_RIE"

// Function is a function running under the emulator.
type Function struct {
	// Endpoint is the emulator's base URL (http://127.0.0.1:<port>).
	Endpoint string
	// Client is a Lambda client for Endpoint, without retries.
	Client *lambda.Client
}

// Binary returns the path of aws-lambda-rie, or "" when it is not installed.
func Binary() string {
	p := os.Getenv(EnvBinary)
	if p == "" {
		p = filepath.Join(moduleRoot(), ".emulators", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Start builds testdata/fn, runs it under the emulator with the extra
// environment env ("KEY=value"), waits until the emulator listens, and stops
// both when the test ends.
func Start(t testing.TB, env ...string) *Function {
	t.Helper()
	awstest.Integration(t)
	rie := Binary()
	if rie == "" {
		t.Skipf("aws-lambda-rie not found (run `scripts/emulators.sh install`, or set %s)", EnvBinary)
	}
	dir := t.TempDir()
	bootstrap := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", bootstrap, filepath.Join(moduleRoot(), "internal", "rietest", "testdata", "fn", "main.go"))
	build.Dir = moduleRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("rietest: build the function: %v\n%s", err, out)
	}

	rieAddr, apiAddr := freeAddr(t), freeAddr(t)
	logPath := filepath.Join(dir, "rie.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("rietest: %v", err)
	}
	cmd := exec.Command(rie, "--log-level", "error",
		"--runtime-interface-emulator-address", rieAddr,
		"--runtime-api-address", apiAddr,
		bootstrap)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the function runs in the emulator's group
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("rietest: start %s: %v", rie, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group this test started
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("aws-lambda-rie log:\n%s", lastBytes(b, 4000))
			}
		}
	})
	if err := waitListening(rieAddr, 15*time.Second); err != nil {
		t.Fatalf("rietest: aws-lambda-rie did not listen on %s: %v", rieAddr, err)
	}
	endpoint := "http://" + rieAddr
	client := lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "rietest"}, nil
		}),
	})
	return &Function{Endpoint: endpoint, Client: client}
}

// moduleRoot is the directory of go.mod, two levels above this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rietest: find a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("gave up after %v", limit), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("…"), bytes.TrimSpace(b[len(b)-n:])...)
	}
	return b
}

// AnyName returns a client for the emulator that invokes its function
// whatever FunctionName the caller sends (the emulator answers only to
// [FunctionName], while senders address a function by its ARN).
func (f *Function) AnyName() *AnyNameClient { return &AnyNameClient{client: f.Client} }

// AnyNameClient is the client of [Function.AnyName].
type AnyNameClient struct{ client *lambda.Client }

// Invoke calls the emulator's function with in, FunctionName and Qualifier
// aside.
func (c *AnyNameClient) Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	renamed := *in
	renamed.FunctionName, renamed.Qualifier = aws.String(FunctionName), nil
	return c.client.Invoke(ctx, &renamed, optFns...)
}
