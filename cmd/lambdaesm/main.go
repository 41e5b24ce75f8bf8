package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmapi"
	"github.com/lambdaesm/lambdaesm/esm/esmprom"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

func main() {
	code, err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdaesm:", err)
	}
	os.Exit(code)
}

const usageText = `lambdaesm runs AWS Lambda event source mappings on this machine: it reads
Kinesis streams, DynamoDB streams and SQS queues and calls your functions
with batches exactly as Lambda does (batching, retries, bisect, partial batch
responses, filters, failure destinations). Your function can be written in
any language: an HTTP endpoint that takes the event JSON and answers the
response JSON, or a Lambda function (in AWS, or a container under the
Runtime Interface Emulator) reached with the Lambda Invoke API.

Mappings are managed with Lambda's own API, so the AWS CLI and SDKs work
unchanged against --listen:

  lambdaesm --function my-function=http://127.0.0.1:3000/ &
  aws lambda create-event-source-mapping --endpoint-url http://127.0.0.1:9001 \
      --function-name my-function --batch-size 10 \
      --event-source-arn arn:aws:sqs:us-east-1:123456789012:my-queue
  aws lambda list-event-source-mappings --endpoint-url http://127.0.0.1:9001

Mappings can also be given as files: the JSON that
'aws lambda get-event-source-mapping' prints (or a CreateEventSourceMapping
request). Each file's mapping is created, or updated to match the file:

  aws lambda get-event-source-mapping --uuid <uuid> > orders.json
  lambdaesm --function my-function=http://127.0.0.1:3000/ orders.json

Every mapping, however it was made, is kept in --state-dir and runs again
after a restart, from where it stopped. SIGTERM (or Ctrl-C) stops polling,
lets in-flight batches finish and writes the final checkpoints, within
--drain-timeout.

Several processes: give each the same DynamoDB tables and they share the
work. --mapping-table keeps the mapping definitions in a table instead of
--state-dir: a mapping created, updated or deleted through any process's API
reaches the others within --mapping-poll-interval, and every process runs
every mapping. --lease-table keeps stream checkpoints and shard leases in a
table: the processes split each stream's shards, and a process that stops
hands its shards to the others. An SQS queue needs no lease table. Both
tables are created on first use (on-demand billing):

  lambdaesm --mapping-table lambdaesm-mappings --lease-table lambdaesm-leases \
      --function my-function=http://127.0.0.1:3000/

Functions: a mapping's FunctionName (a name, name:alias, or ARN) is looked
up among the --function endpoints (the full name first, then name:alias,
then the bare name); a name not found there is invoked with the Lambda
Invoke API (set AWS_ENDPOINT_URL_LAMBDA for the Runtime Interface Emulator,
with --function-concurrency 1, or LocalStack), unless --lambda=false. An HTTP function gets a POST with the
event as its body; a 2xx answer is the function's response (for partial batch
responses: {"batchItemFailures": [{"itemIdentifier": "..."}]}); any other
status is a function error, retried as Lambda retries.

AWS access: the standard AWS configuration (environment, ~/.aws, the
instance or task role). AWS_REGION / --region, AWS_PROFILE / --profile, and
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_KINESIS,
AWS_ENDPOINT_URL_DYNAMODB_STREAMS, AWS_ENDPOINT_URL_LAMBDA, ... for
emulators, as in the AWS CLI.

API authentication: requests are verified with Signature Version 4 against
this process's own AWS credentials (so the AWS CLI, signing with the same
credentials, is accepted). With no credentials, or --auth none, any request
from this machine is accepted; that is refused unless --listen is a loopback
address.

Operations (--ops-listen): GET /healthz (200 when every enabled mapping
runs and has read its source; JSON details) and GET /metrics (Prometheus).
Logs: JSON lines on standard error.

Usage:
  lambdaesm [flags] [mapping.json ...]

Flags:
`

// options are the command line.
type options struct {
	listen       string
	opsListen    string
	functions    functionFlag
	lambda       bool
	stateDir     string
	auth         string
	region       string
	profile      string
	drainTimeout time.Duration
	sqsWait      int
	concurrency  int
	leaseTable   string
	mappingTable string
	mappingPoll  time.Duration
	logLevel     slog.Level
	files        []string
}

func parseFlags(args []string, out io.Writer) (options, error) {
	o := options{functions: functionFlag{}}
	fs := flag.NewFlagSet("lambdaesm", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageText)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  --%s", f.Name)
			if name != "" {
				fmt.Fprintf(out, " %s", name)
			}
			fmt.Fprintf(out, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "false" {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	fs.StringVar(&o.listen, "listen", envOr("LAMBDAESM_LISTEN", "127.0.0.1:9001"), "`address` of Lambda's event-source-mapping API: use http://<address> as --endpoint-url (env LAMBDAESM_LISTEN)")
	fs.StringVar(&o.opsListen, "ops-listen", envOr("LAMBDAESM_OPS_LISTEN", "127.0.0.1:9002"), "`address` of /healthz and /metrics; empty turns them off (env LAMBDAESM_OPS_LISTEN)")
	fs.Var(o.functions, "function", "send function NAME's events to an HTTP endpoint: `NAME=URL` (repeat the flag, or separate with commas; env LAMBDAESM_FUNCTIONS)")
	fs.BoolVar(&o.lambda, "lambda", true, "invoke functions not named by --function with the Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA for an emulator)")
	fs.StringVar(&o.stateDir, "state-dir", envOr("LAMBDAESM_STATE_DIR", ".lambdaesm"), "`directory` of the mapping definitions (mappings.json) and stream checkpoints (env LAMBDAESM_STATE_DIR)")
	fs.StringVar(&o.auth, "auth", envOr("LAMBDAESM_AUTH", "auto"), "API authentication: sigv4 (verify signatures against this process's AWS credentials), none (loopback only), or auto: sigv4 when there are credentials, else none")
	fs.StringVar(&o.region, "region", "", "AWS `region` (default AWS_REGION, or the AWS configuration)")
	fs.StringVar(&o.profile, "profile", "", "AWS configuration `profile` (default AWS_PROFILE)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long in-flight batches may take before their handlers are cancelled")
	fs.IntVar(&o.concurrency, "function-concurrency", 0, "at most `N` calls of one function at once, across its mappings (0: no bound beyond each mapping's own); the Runtime Interface Emulator runs one invocation at a time: use 1 there")
	fs.IntVar(&o.sqsWait, "sqs-wait-time-seconds", 20, "`seconds` an SQS receive waits for messages (long polling, 1 to 20; Lambda's is 20): shorter makes disabling, updating and SIGTERM quicker on an idle queue, at the cost of more receives")
	fs.StringVar(&o.leaseTable, "lease-table", envOr("LAMBDAESM_LEASE_TABLE", ""), "DynamoDB `table` of stream checkpoints and shard leases, shared by every process given it, which split the shards; created if missing (default: checkpoints in --state-dir, one process per stream; env LAMBDAESM_LEASE_TABLE)")
	fs.StringVar(&o.mappingTable, "mapping-table", envOr("LAMBDAESM_MAPPING_TABLE", ""), "DynamoDB `table` of the mapping definitions, shared by every process given it, each running every mapping; created if missing (default: mappings.json in --state-dir; env LAMBDAESM_MAPPING_TABLE)")
	fs.DurationVar(&o.mappingPoll, "mapping-poll-interval", esm.DefaultPollInterval, "how often a process reads --mapping-table for the changes made through the others")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "least `level` logged: DEBUG, INFO, WARN or ERROR")
	if env := os.Getenv("LAMBDAESM_FUNCTIONS"); env != "" {
		if err := o.functions.Set(env); err != nil {
			return o, fmt.Errorf("LAMBDAESM_FUNCTIONS: %w", err)
		}
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.files = fs.Args()
	var errs []error
	switch o.auth {
	case "auto", "sigv4", "none":
	default:
		errs = append(errs, fmt.Errorf("--auth %q: want sigv4, none or auto", o.auth))
	}
	if o.concurrency < 0 {
		errs = append(errs, fmt.Errorf("--function-concurrency %d: must not be negative", o.concurrency))
	}
	if o.sqsWait < 1 || o.sqsWait > 20 {
		errs = append(errs, fmt.Errorf("--sqs-wait-time-seconds %d: must be from 1 to 20", o.sqsWait))
	}
	if o.drainTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--drain-timeout %v: must be positive", o.drainTimeout))
	}
	if o.listen == "" {
		errs = append(errs, errors.New("--listen is empty: the API needs an address"))
	}
	if o.mappingPoll <= 0 {
		errs = append(errs, fmt.Errorf("--mapping-poll-interval %v: must be positive", o.mappingPoll))
	}
	return o, errors.Join(errs...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))

	// The first SIGTERM or SIGINT drains; stop() restores the default, so a
	// second one kills the process.
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var loadOpts []func(*config.LoadOptions) error
	if o.region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.region))
	}
	if o.profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(o.profile))
	}
	awsCfg, err := config.LoadDefaultConfig(sigCtx, loadOpts...)
	if err != nil {
		return 1, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		log.Warn("no AWS region: set AWS_REGION or --region, or the AWS clients cannot call anything")
	}

	metrics, err := esmprom.New("lambdaesm")
	if err != nil {
		return 1, err
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	fns := &functions{urls: o.functions, client: newHTTPClient(), limit: o.concurrency}
	if o.lambda {
		fns.lambda = lambda.NewFromConfig(awsCfg)
	}
	destClients := destination.Clients{SQS: sqs.NewFromConfig(awsCfg), SNS: sns.NewFromConfig(awsCfg), S3: s3.NewFromConfig(awsCfg), Lambda: lambda.NewFromConfig(awsCfg)}
	store, checkpoints, err := stores(o, awsCfg, log)
	if err != nil {
		return 1, err
	}
	reg, err := esm.NewRegistry(sigCtx, esm.RegistryConfig{
		Resolver: fns.resolve,
		Clients: esm.SourceClients{
			Kinesis:         kinesis.NewFromConfig(awsCfg),
			DynamoDBStreams: dynamodbstreams.NewFromConfig(awsCfg),
			SQS:             sqs.NewFromConfig(awsCfg),
		},
		Store:         store,
		PollInterval:  o.mappingPoll,
		Checkpoints:   checkpoints,
		StreamOptions: []esm.StreamOption{esm.WithHooks(metrics), esm.WithDestinationClients(destClients)},
		SQSOptions:    []esm.SQSOption{esm.WithHooks(metrics), esm.WithLongPoll(time.Duration(o.sqsWait) * time.Second)},
		Logger:        log,
	})
	if err != nil {
		return 1, err
	}
	promReg.MustRegister(stateCollector{reg})

	unauthenticated, err := apiAuth(sigCtx, o, awsCfg, log)
	if err != nil {
		return 2, err
	}
	auth := esmapi.WithCredentials(awsCfg.Credentials)
	if unauthenticated {
		auth = esmapi.WithUnauthenticated()
	}
	api, err := esmapi.NewHandler(reg, auth, esmapi.WithLogger(log))
	if err != nil {
		return 1, err
	}
	if err := applyFiles(sigCtx, reg, o.files, log); err != nil {
		return 1, err
	}

	apiLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return 1, err
	}
	apiSrv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = apiSrv.Serve(apiLn) }()
	log.Info("serving Lambda's event-source-mapping API", "endpointUrl", "http://"+apiLn.Addr().String())
	var opsSrv *http.Server
	if o.opsListen != "" {
		opsLn, err := net.Listen("tcp", o.opsListen)
		if err != nil {
			apiSrv.Close()
			return 1, err
		}
		opsSrv = &http.Server{Handler: opsRoutes(reg, promReg), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = opsSrv.Serve(opsLn) }()
		log.Info("serving /healthz and /metrics", "addr", "http://"+opsLn.Addr().String())
	}

	// The mappings run until Shutdown; their context is cancelled only once
	// the drain timeout has passed, which cancels the handlers still running.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- reg.Run(runCtx) }()

	select {
	case <-sigCtx.Done():
	case err := <-runErr:
		return 1, fmt.Errorf("registry stopped: %v", err)
	}
	stop()
	log.Info("draining: no new batches; in-flight batches finish and checkpoints are written", "timeout", o.drainTimeout.String())
	apiCtx, cancelAPI := context.WithTimeout(context.Background(), 5*time.Second)
	_ = apiSrv.Shutdown(apiCtx)
	cancelAPI()
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancelDrain()
	code := 0
	if err := reg.Shutdown(drainCtx); err != nil {
		log.Error("the drain timed out: in-flight handlers were cancelled; their records will be delivered again", "err", err)
		cancelRun()
		code = 1
	}
	<-runErr
	if opsSrv != nil {
		opsCtx, cancelOps := context.WithTimeout(context.Background(), 2*time.Second)
		_ = opsSrv.Shutdown(opsCtx)
		cancelOps()
	}
	log.Info("stopped")
	return code, nil
}

// stores chooses where the mapping definitions and the stream checkpoints
// live: files in --state-dir, or the DynamoDB tables that several processes
// share.
func stores(o options, awsCfg aws.Config, log *slog.Logger) (esm.MappingStore, shard.Store, error) {
	var store esm.MappingStore = esm.NewFileMappingStore(filepath.Join(o.stateDir, "mappings.json"))
	var checkpoints shard.Store = shard.NewFileStore(filepath.Join(o.stateDir, "checkpoints"))
	if o.mappingTable == "" && o.leaseTable == "" {
		return store, checkpoints, nil
	}
	ddb := dynamodb.NewFromConfig(awsCfg)
	if o.mappingTable != "" {
		s, err := esm.NewDynamoDBMappingStore(ddb, o.mappingTable)
		if err != nil {
			return nil, nil, err
		}
		store = s
		log.Info("mapping definitions are shared in a DynamoDB table", "mappingTable", o.mappingTable, "pollInterval", o.mappingPoll.String())
	}
	if o.leaseTable != "" {
		s, err := dynamolease.New(ddb, dynamolease.WithTable(o.leaseTable))
		if err != nil {
			return nil, nil, err
		}
		checkpoints = s
		log.Info("stream checkpoints and shard leases are shared in a DynamoDB table", "leaseTable", o.leaseTable, "owner", s.Owner())
	} else {
		log.Warn("--mapping-table without --lease-table: every process reads every shard of a stream mapping in full (its checkpoints in its own --state-dir); give the processes a --lease-table to split the shards")
	}
	return store, checkpoints, nil
}

// apiAuth chooses how the API verifies requests.
// It answers whether requests go unauthenticated (loopback only); otherwise
// they are verified against this process's AWS credentials.
func apiAuth(ctx context.Context, o options, awsCfg aws.Config, log *slog.Logger) (unauthenticated bool, err error) {
	loopback := isLoopback(o.listen)
	var haveCreds bool
	if awsCfg.Credentials != nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := awsCfg.Credentials.Retrieve(cctx)
		cancel()
		haveCreds = err == nil && c.AccessKeyID != ""
	}
	mode := o.auth
	if mode == "auto" {
		mode = "none"
		if haveCreds {
			mode = "sigv4"
		}
	}
	switch {
	case mode == "sigv4" && !haveCreds:
		return false, errors.New("--auth sigv4: this process has no AWS credentials to verify signatures with (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)")
	case mode == "sigv4":
		log.Info("API requests must be signed (SigV4) with this process's AWS credentials")
		return false, nil
	case !loopback:
		return false, fmt.Errorf("--listen %s is not a loopback address: unauthenticated access (--auth none, or no AWS credentials) is allowed on 127.0.0.1 or ::1 only", o.listen)
	}
	log.Warn("the API is UNAUTHENTICATED: any process on this machine can manage the mappings (give this process AWS credentials, or --auth sigv4, to require signatures)", "listen", o.listen)
	return true, nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fileMapping is what a mapping file may hold beyond a
// CreateEventSourceMapping request: the UUID and State of `aws lambda
// get-event-source-mapping`.
type fileMapping struct {
	UUID  string `json:"UUID"`
	State string `json:"State"`
}

// applyFiles creates each file's mapping, or updates the mapping of the same
// function and source (or UUID) to match it. Processes sharing a mapping
// table may be given the same files: a creation that another process won
// meanwhile (ResourceConflictException) is looked at again, as an update.
func applyFiles(ctx context.Context, reg *esm.Registry, files []string, log *slog.Logger) error {
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cfg, err := esm.ParseConfig(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var fm fileMapping
		_ = json.Unmarshal(data, &fm)
		if cfg.Enabled == nil && (fm.State == string(esm.StateDisabled) || fm.State == string(esm.StateDisabling)) {
			cfg.Enabled = new(false) // get-event-source-mapping writes State, not Enabled
		}
		if cfg.FunctionName == "" {
			cfg.FunctionName = cfg.FunctionArn
		}
		info, err := applyFile(ctx, reg, cfg, fm)
		var ae *esm.APIError
		if errors.As(err, &ae) && (ae.Type == esm.ErrorResourceConflict || ae.Type == esm.ErrorResourceInUse) {
			log.Info("mapping from file: another process changed it meanwhile; looking again", "file", path, "err", err)
			if ae.Type == esm.ErrorResourceInUse {
				waitSettled(ctx, reg, existingMapping(reg, cfg, fm))
			}
			info, err = applyFile(ctx, reg, cfg, fm)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		log.Info("mapping from file", "file", path, "uuid", info.UUID, "state", info.State)
	}
	return nil
}

// existingMapping returns the UUID of the mapping a file describes: its
// UUID's, or that of the same function and source; "" when there is none.
func existingMapping(reg *esm.Registry, cfg esm.Config, fm fileMapping) string {
	if fm.UUID != "" {
		if _, err := reg.Get(fm.UUID); err == nil {
			return fm.UUID
		}
	}
	if cfg.FunctionName != "" {
		source := cfg.EventSourceArn
		if source == "" {
			source = cfg.QueueURL
		}
		if found := reg.List(esm.ListFilter{EventSourceArn: source, FunctionName: cfg.FunctionName}); len(found) > 0 {
			return found[0].UUID
		}
	}
	return ""
}

// waitSettled waits (a minute at most) until the mapping uuid is Enabled or
// Disabled.
func waitSettled(ctx context.Context, reg *esm.Registry, uuid string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if info, err := reg.Get(uuid); err != nil || !info.State.Transitional() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// applyFile creates cfg's mapping, or updates the existing one to match.
func applyFile(ctx context.Context, reg *esm.Registry, cfg esm.Config, fm fileMapping) (esm.MappingInfo, error) {
	existing := existingMapping(reg, cfg, fm)
	switch {
	case existing != "" && sameConfig(reg, existing, cfg):
		return reg.Get(existing)
	case existing != "":
		return reg.Update(ctx, existing, func(c *esm.Config) error {
			*c = cfg
			return nil
		})
	case fm.UUID != "":
		return reg.CreateWithUUID(ctx, fm.UUID, cfg)
	}
	return reg.Create(ctx, cfg)
}

// sameConfig reports whether the mapping uuid runs cfg already.
func sameConfig(reg *esm.Registry, uuid string, cfg esm.Config) bool {
	info, err := reg.Get(uuid)
	if err != nil {
		return false
	}
	want, err := cfg.WithDefaults()
	if err != nil {
		return false
	}
	a, errA := want.MarshalJSON()
	b, errB := info.Config.MarshalJSON()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
