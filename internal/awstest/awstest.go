package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// IntegrationEnv is the environment variable that turns integration tests on.
// `make test` sets it (through `scripts/emulators.sh env`) after it has
// started the emulators.
const IntegrationEnv = "ESM_INTEGRATION"

// SkipMessage is the one line an integration test prints when it skips.
const SkipMessage = "integration: run `make test` (starts the emulators)"

// DefaultMaxAttempts is the number of attempts (first try included) the SDK
// clients built here make for a retryable error. Their backoff is short
// (at most [MaxBackoff]) so that fault-injection tests stay fast.
const DefaultMaxAttempts = 3

// MaxBackoff is the longest pause of the clients' retryer between attempts.
const MaxBackoff = 100 * time.Millisecond

// endpoint variables, by the service whose client needs them.
const (
	envSQS             = "AWS_ENDPOINT_URL_SQS"
	envSNS             = "AWS_ENDPOINT_URL_SNS"
	envKinesis         = "AWS_ENDPOINT_URL_KINESIS"
	envDynamoDB        = "AWS_ENDPOINT_URL_DYNAMODB"
	envDynamoDBStreams = "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"
)

// Integration skips the test unless the emulators are running, that is unless
// ESM_INTEGRATION=1. Call it first in every integration test (the client
// constructors call it too).
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv(IntegrationEnv) != "1" {
		t.Skip(SkipMessage)
	}
}

// Config returns an SDK configuration for the emulators, built from the
// environment that `scripts/emulators.sh env` prints: static credentials
// "test"/"test", the region from AWS_REGION (us-east-1 when unset), the
// AWS_ENDPOINT_URL_* endpoints, and a standard retryer with
// [DefaultMaxAttempts] attempts, a backoff of at most [MaxBackoff] and no
// retry quota (so injected faults never exhaust a token bucket). Shared
// config files are ignored. It skips the test when [Integration] does.
//
// Set an HTTP client per service (as the constructors here do), never with
// config.WithHTTPClient: with AWS_CA_BUNDLE set, LoadDefaultConfig rejects a
// plain *http.Client.
func Config(t testing.TB) aws.Config {
	t.Helper()
	Integration(t)
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(func() aws.Retryer { return NewRetryer(DefaultMaxAttempts) }),
	)
	if err != nil {
		t.Fatalf("awstest: load AWS config: %v", err)
	}
	return cfg
}

// NewRetryer returns the retryer of the clients built here: the SDK's
// standard retryer with maxAttempts attempts (1 turns retries off), a backoff
// of at most [MaxBackoff] and no retry quota.
func NewRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return min(time.Duration(attempt)*10*time.Millisecond, MaxBackoff), nil
		})
	})
}

// Option changes a client built by [Kinesis], [DynamoDB], [DynamoDBStreams],
// [SQS] or [SNS].
type Option func(*options)

type options struct {
	faults      *Faults
	maxAttempts int
	endAfter    int // SubscribeToShard streams end after this many events
}

// WithFaults routes the client's requests through f, which injects the faults
// it has been scripted with.
func WithFaults(f *Faults) Option { return func(o *options) { o.faults = f } }

// WithMaxAttempts sets the client's number of attempts per call (first try
// included); 1 turns the SDK's retries off, so that every injected fault
// reaches the caller. The default is [DefaultMaxAttempts].
func WithMaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// baseTransport carries every client's requests to the emulators on
// loopback. It never uses a proxy.
var baseTransport = &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          100,
	MaxIdleConnsPerHost:   20,
	IdleConnTimeout:       30 * time.Second,
	ExpectContinueTimeout: time.Second,
}

// setup checks that the service's endpoint comes from the environment and
// returns the client's HTTP client and attempts.
func setup(t testing.TB, endpointEnv string, rt http.RoundTripper, opts []Option) (aws.Config, *http.Client, int) {
	t.Helper()
	cfg := Config(t)
	if os.Getenv(endpointEnv) == "" {
		t.Fatalf("awstest: %s is not set; refusing to talk to real AWS (eval \"$(scripts/emulators.sh env)\")", endpointEnv)
	}
	o := options{maxAttempts: DefaultMaxAttempts}
	for _, opt := range opts {
		opt(&o)
	}
	if o.faults != nil {
		rt = o.faults.Transport(rt)
	}
	if o.endAfter > 0 {
		rt = subscriptionsEnding{base: rt, after: o.endAfter}
	}
	return cfg, &http.Client{Transport: rt}, o.maxAttempts
}

// Kinesis returns a Kinesis client for the emulator at
// AWS_ENDPOINT_URL_KINESIS. Its transport adds the initial-response event
// that kinesis-local omits from SubscribeToShard streams (see [EFOShim]).
func Kinesis(t testing.TB, opts ...Option) *kinesis.Client {
	t.Helper()
	cfg, hc, attempts := setup(t, envKinesis, EFOShim(baseTransport), opts)
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.HTTPClient = hc
		o.RetryMaxAttempts = attempts
	})
}

// DynamoDB returns a DynamoDB client for the emulator at
// AWS_ENDPOINT_URL_DYNAMODB. Response CRC32 checks are off: DynamoDB Local's
// error answers carry none.
func DynamoDB(t testing.TB, opts ...Option) *dynamodb.Client {
	t.Helper()
	cfg, hc, attempts := setup(t, envDynamoDB, baseTransport, opts)
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = hc
		o.RetryMaxAttempts = attempts
		o.DisableValidateResponseChecksum = true
	})
}

// DynamoDBStreams returns a DynamoDB Streams client for the emulator at
// AWS_ENDPOINT_URL_DYNAMODB_STREAMS.
func DynamoDBStreams(t testing.TB, opts ...Option) *dynamodbstreams.Client {
	t.Helper()
	cfg, hc, attempts := setup(t, envDynamoDBStreams, baseTransport, opts)
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.HTTPClient = hc
		o.RetryMaxAttempts = attempts
	})
}

// SQS returns an SQS client for the emulator at AWS_ENDPOINT_URL_SQS.
func SQS(t testing.TB, opts ...Option) *sqs.Client {
	t.Helper()
	cfg, hc, attempts := setup(t, envSQS, baseTransport, opts)
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.HTTPClient = hc
		o.RetryMaxAttempts = attempts
	})
}

// SNS returns an SNS client for the emulator at AWS_ENDPOINT_URL_SNS.
func SNS(t testing.TB, opts ...Option) *sns.Client {
	t.Helper()
	cfg, hc, attempts := setup(t, envSNS, baseTransport, opts)
	return sns.NewFromConfig(cfg, func(o *sns.Options) {
		o.HTTPClient = hc
		o.RetryMaxAttempts = attempts
	})
}

// nameLimit keeps names valid for every service (SQS allows 80 characters)
// with room for a ".fifo" suffix.
const nameLimit = 75

var (
	nameSeq atomic.Uint64
	nameRun = func() string {
		b := make([]byte, 3)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		return hex.EncodeToString(b)
	}()
)

// UniqueName returns a resource name (stream, table, queue, topic) that no
// other test, in this process or another one sharing the emulators, uses:
// prefix, the test's name, and a per-process random part with a counter.
// It holds only letters, digits, '-' and '_', and is at most 75 characters
// long, so ".fifo" can be appended for a FIFO queue or topic.
func UniqueName(t testing.TB, prefix string) string {
	suffix := fmt.Sprintf("-%s%d", nameRun, nameSeq.Add(1))
	prefix = truncate(sanitize(prefix), 20)
	test := truncate(sanitize(t.Name()), nameLimit-len(prefix)-len(suffix)-1)
	return strings.Trim(prefix+"-"+test, "-") + suffix
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:max(n, 0)]
	}
	return s
}
