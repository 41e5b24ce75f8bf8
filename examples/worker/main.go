package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lambdaesm/lambdaesm/esm"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// flags are the command line.
type flags struct {
	listen        string
	grace         time.Duration
	logLevel      slog.Level
	kinesisARN    string
	sqsARN        string
	kinesisConfig string
	sqsConfig     string
	// kinesis and sqs are the mappings' settings: from the files, with
	// the ARNs of the flags.
	kinesis, sqs  esm.Config
	hasKinesisCfg bool
	hasSQSCfg     bool
	region        string
	checkpointDir string
	leaseTable    string
	produceEvery  time.Duration
	work          time.Duration
}

const usageIntro = `worker runs two AWS Lambda event source mappings in one process, the way a
service outside Lambda would: a Kinesis stream ("orders") and an SQS queue
("emails"), each calling a handler with batches exactly as Lambda does.

With no flags it runs on an in-memory stream and queue with a small producer:
no AWS account needed. Open http://127.0.0.1:8080/metrics and /healthz, and
press Ctrl-C to stop it gracefully.

To read real AWS (or an emulator), name the stream and/or the queue; only
the mappings named run:

  worker -kinesis-arn arn:aws:kinesis:us-east-1:123456789012:stream/orders \
         -sqs-arn arn:aws:sqs:us-east-1:123456789012:emails

or give a mapping's whole settings as the JSON of CreateEventSourceMapping:

  aws lambda get-event-source-mapping --uuid <uuid> > orders.json
  worker -kinesis-config orders.json

Credentials and region come from the standard AWS configuration (environment,
~/.aws, the task role); AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_SQS and
AWS_ENDPOINT_URL_DYNAMODB point the clients at an emulator.

Endpoints:
  GET /metrics   Prometheus metrics (lambdaesm_*, go_*, process_*)
  GET /healthz   200 when every mapping is healthy, else 503; JSON body

Flags:
`

func parseFlags(args []string, out io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageIntro)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "`address` for /metrics and /healthz (\":8080\" to serve every interface, as in a container)")
	fs.DurationVar(&f.grace, "grace", 25*time.Second, "how long a graceful shutdown may take before in-flight batches are cancelled (keep it below the orchestrator's: Kubernetes kills after 30s by default)")
	fs.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "least `level` logged: DEBUG (every batch), INFO, WARN or ERROR")
	fs.StringVar(&f.kinesisARN, "kinesis-arn", "", "Kinesis stream `ARN` to read with the AWS SDK (none: the in-memory stream, or no Kinesis mapping when another source is named)")
	fs.StringVar(&f.sqsARN, "sqs-arn", "", "SQS queue `ARN` to read with the AWS SDK (none: the in-memory queue, or no SQS mapping when another source is named)")
	fs.StringVar(&f.kinesisConfig, "kinesis-config", "", "`file` with the Kinesis mapping's settings as CreateEventSourceMapping JSON (what 'aws lambda get-event-source-mapping' prints); its EventSourceArn names the stream like -kinesis-arn, which wins")
	fs.StringVar(&f.sqsConfig, "sqs-config", "", "`file` with the SQS mapping's settings as CreateEventSourceMapping JSON; its EventSourceArn (or QueueURL) names the queue like -sqs-arn, which wins")
	fs.StringVar(&f.region, "region", "", "AWS `region` (default: AWS_REGION or the AWS configuration)")
	fs.StringVar(&f.checkpointDir, "checkpoint-dir", esm.DefaultCheckpointDir, "`directory` of the Kinesis checkpoints, so a restart resumes where it stopped (AWS mode, without -lease-table)")
	fs.StringVar(&f.leaseTable, "lease-table", "", "DynamoDB `table` of shard leases and checkpoints, for several replicas sharing the stream (AWS mode; created if missing)")
	fs.DurationVar(&f.produceEvery, "produce-every", 20*time.Millisecond, "in-memory mode: how often the producer puts a record and sends a message")
	fs.DurationVar(&f.work, "work", 5*time.Millisecond, "how long the example handlers pretend to work on a batch")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q (flags only; see -help)", fs.Arg(0))
	}
	var errs []error
	var err error
	if f.kinesis, f.hasKinesisCfg, err = loadConfig(f.kinesisConfig); err != nil {
		errs = append(errs, err)
	}
	if f.sqs, f.hasSQSCfg, err = loadConfig(f.sqsConfig); err != nil {
		errs = append(errs, err)
	}
	if f.kinesisARN != "" {
		f.kinesis.EventSourceArn = f.kinesisARN
	}
	if f.sqsARN != "" {
		f.sqs.EventSourceArn, f.sqs.QueueURL = f.sqsARN, ""
	}
	if f.grace <= 0 {
		errs = append(errs, fmt.Errorf("-grace %v: must be positive", f.grace))
	}
	if f.produceEvery <= 0 {
		errs = append(errs, fmt.Errorf("-produce-every %v: must be positive", f.produceEvery))
	}
	if f.work < 0 {
		errs = append(errs, fmt.Errorf("-work %v: must not be negative", f.work))
	}
	if !f.useAWS() {
		for name, v := range map[string]string{"-lease-table": f.leaseTable, "-region": f.region} {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s applies to AWS mode: name a stream or queue with -kinesis-arn or -sqs-arn", name))
			}
		}
	}
	return f, errors.Join(errs...)
}

// useAWS tells whether the worker reads AWS (or an emulator) rather than the
// in-memory fakes.
func (f flags) useAWS() bool { return f.runKinesis() || f.runSQS() }

// runKinesis and runSQS tell, in AWS mode, which mappings run.
func (f flags) runKinesis() bool { return f.kinesis.EventSourceArn != "" }
func (f flags) runSQS() bool     { return f.sqs.EventSourceArn != "" || f.sqs.QueueURL != "" }

// mapping is what the worker runs: every esm mapping has these methods.
type mapping interface {
	esm.Mapping
	Health() esm.Health
}

type namedMapping struct {
	name string
	m    mapping
}

// run is the whole program: it returns when ctx ends or a signal arrives
// and everything has shut down, or when something fails. Logs go to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	f, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: f.logLevel}))

	// The first SIGTERM or SIGINT starts a graceful shutdown; stop()
	// restores the default, so a second one kills the process.
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	w, err := setup(sigCtx, f, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: w.routes(), ReadHeaderTimeout: 5 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	log.Info("serving /metrics and /healthz", "addr", "http://"+ln.Addr().String())

	// The mappings run until Shutdown; runCtx is cancelled only when the
	// grace period is over, which cancels the handlers still running.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(w.mappings))
	for _, nm := range w.mappings {
		go func() { done <- result{nm.name, nm.m.Run(runCtx)} }()
	}
	prodCtx, stopProducer := context.WithCancel(runCtx)
	var producer sync.WaitGroup
	if w.produce != nil {
		producer.Go(func() { w.produce(prodCtx) })
	}
	log.Info("worker started", "mappings", names(w.mappings), "mode", w.mode)

	var errs []error
	running := len(w.mappings)
	select {
	case <-sigCtx.Done():
		log.Info("shutting down", "cause", cause(ctx, sigCtx), "grace", f.grace.String())
	case r := <-done:
		running--
		errs = append(errs, fmt.Errorf("mapping %s stopped: %w", r.name, r.err))
		log.Error("a mapping stopped; shutting down the others", "mapping", r.name, "err", r.err)
	case err := <-srvErr:
		errs = append(errs, fmt.Errorf("http server: %w", err))
		log.Error("the HTTP server stopped; shutting down", "err", err)
	}
	stop()

	graceCtx, cancelGrace := context.WithTimeout(context.WithoutCancel(ctx), f.grace)
	defer cancelGrace()
	stopProducer()
	producer.Wait()
	var shut sync.WaitGroup
	for _, nm := range w.mappings {
		shut.Go(func() {
			if err := nm.m.Shutdown(graceCtx); err != nil {
				log.Error("graceful shutdown did not finish in time; cancelling in-flight batches", "mapping", nm.name, "err", err)
			}
		})
	}
	shut.Wait()
	cancelRun() // after the grace period: whatever still runs is cancelled
	for ; running > 0; running-- {
		if r := <-done; r.err != nil {
			errs = append(errs, fmt.Errorf("mapping %s: %w", r.name, r.err))
		}
	}
	// The probes keep answering (503) while the mappings drain; the server
	// goes last, with what is left of the grace period.
	if err := srv.Shutdown(graceCtx); err != nil {
		srv.Close()
	}
	if graceCtx.Err() != nil {
		errs = append(errs, fmt.Errorf("shutdown took longer than -grace %v", f.grace))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

func cause(parent, sig context.Context) string {
	if parent.Err() != nil {
		return "context ended"
	}
	if c := context.Cause(sig); c != nil && c != context.Canceled {
		return c.Error() // "terminated signal received" and the like
	}
	return "signal"
}

func names(ms []namedMapping) string {
	var s []string
	for _, nm := range ms {
		s = append(s, nm.name)
	}
	return strings.Join(s, ",")
}
