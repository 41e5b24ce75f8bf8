package esm

import (
	"log/slog"
	"time"

	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/queue"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"
)

// DefaultCheckpointDir is where stream mappings keep checkpoints unless
// [WithStore] says otherwise: a directory relative to the working directory,
// so a single process resumes after a restart with no AWS resources.
const DefaultCheckpointDir = ".lambdaesm/checkpoints"

// Option changes how a mapping runs (not what it maps: that is [Config]).
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	name           string
	logger         *slog.Logger
	hooks          Hooks
	store          shard.Store
	tuning         shard.Settings // only the timing fields are read
	invokeIdentity string
	retryBackoff   retry.Backoff
	destClients    destination.Clients
	onFailure      destination.Sender
	queue          queue.Settings // only the SQS tuning fields are read
}

func buildOptions(opts []Option) options {
	o := options{name: "esm"}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.hooks == nil {
		o.hooks = NopHooks{}
	}
	return o
}

// WithName names the mapping: checkpoints are kept per name and event source,
// and with no FunctionName or FunctionArn in the Config, failure records
// carry a function ARN ending in this name. Default "esm".
func WithName(name string) Option { return optionFunc(func(o *options) { o.name = name }) }

// WithLogger sends the mapping's logs to l. Default: none.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithHooks reports what the mapping does to h, for metrics.
func WithHooks(h Hooks) Option { return optionFunc(func(o *options) { o.hooks = h }) }

// WithStore keeps stream checkpoints in s instead of files under
// [DefaultCheckpointDir]. Use shard.NewMemoryStore() in tests.
func WithStore(s shard.Store) Option { return optionFunc(func(o *options) { o.store = s }) }

// WithInvokeIdentityARN fills the invokeIdentityArn of Kinesis events (the
// role Lambda would use). Default empty.
func WithInvokeIdentityARN(arn string) Option {
	return optionFunc(func(o *options) { o.invokeIdentity = arn })
}

// WithPolling overrides the stream polling cadence: idle is the wait after
// a read that returned nothing (Lambda: 1s for Kinesis, 250ms for DynamoDB),
// busy the least time between reads of one shard (default 200ms, Kinesis's
// 5 reads per second per shard), discovery how often shards are listed
// (default 30s). Zero keeps a default.
func WithPolling(idle, busy, discovery time.Duration) Option {
	return optionFunc(func(o *options) {
		o.tuning.PollInterval, o.tuning.MinPollInterval, o.tuning.DiscoveryInterval = idle, busy, discovery
	})
}

// WithRetryBackoff spaces retries of failed batches. Default
// [retry.DefaultBackoff].
func WithRetryBackoff(b retry.Backoff) Option {
	return optionFunc(func(o *options) { o.retryBackoff = b })
}

// WithDestinationClients gives the clients through which the on-failure
// destination named in Config.DestinationConfig (an SQS queue, SNS topic or S3
// bucket ARN) is reached. Only the client for the destination's service is
// needed.
func WithDestinationClients(c destination.Clients) Option {
	return optionFunc(func(o *options) { o.destClients = c })
}

// WithOnFailure sends on-failure records to s instead of the destination
// named in Config.DestinationConfig, for example a *destination.Memory in
// tests. The Config may then leave DestinationConfig empty.
func WithOnFailure(s destination.Sender) Option {
	return optionFunc(func(o *options) { o.onFailure = s })
}

// WithVisibilityHeartbeat turns on the visibility heartbeat of an SQS
// mapping, which Lambda does not have: while a batch is in the handler, its
// messages' visibility is extended with ChangeMessageVisibilityBatch every
// interval, each time to the queue's visibility timeout (never past SQS's
// 12-hour limit), so a handler may run longer than that timeout without its
// messages being delivered again. Zero means half the queue's visibility
// timeout; the interval must be shorter than that timeout. With the
// heartbeat, the queue's visibility timeout may be shorter than
// FunctionTimeout (Lambda refuses that), and a crashed process's messages come
// back sooner. If an extension fails, the handler's context is cancelled and
// context.Cause tells why (a *queue.HeartbeatError).
func WithVisibilityHeartbeat(interval time.Duration) Option {
	return optionFunc(func(o *options) {
		o.queue.VisibilityHeartbeat = true
		o.queue.HeartbeatInterval = interval
	})
}

// WithFailureBackoff makes an SQS mapping set the visibility of failed
// messages (a function error, or the batchItemFailures of a partial batch
// response) to b.Delay(ApproximateReceiveCount), rounded up to whole seconds,
// so they are retried sooner at first and later as they keep failing. Lambda
// does not do this: by default failed messages come back when their
// visibility timeout ends.
func WithFailureBackoff(b retry.Backoff) Option {
	return optionFunc(func(o *options) { o.queue.FailureBackoff = &b })
}

// WithScaling overrides how an SQS mapping scales its concurrent batches:
// initial at start (Lambda: 5), the most added per minute while receives come
// back full (Lambda: 300), and the least it shrinks to while they come back
// empty (Lambda: 2). Zero keeps a default. The cap is
// ScalingConfig.MaximumConcurrency, or 1250 (Lambda's) without one.
func WithScaling(initial, perMinute, min int) Option {
	return optionFunc(func(o *options) {
		o.queue.Scaling.Initial, o.queue.Scaling.PerMinute, o.queue.Scaling.Min = initial, perMinute, min
	})
}

// WithLongPoll sets the WaitTimeSeconds of an SQS mapping's receives, 1s to
// 20s in whole seconds (Lambda: 20s, the default). Shutdown lets the receives
// in flight finish rather than abandon them to SQS, so it waits up to this
// long; a shorter poll makes shutdown quicker (in tests, say) at the cost of
// more receive calls on an idle queue.
func WithLongPoll(wait time.Duration) Option {
	return optionFunc(func(o *options) { o.queue.LongPoll = wait })
}

// WithLeaseInterval sets how often a lease store (a [shard.LeaseStore] given
// with [WithStore]) is asked for this replica's shards: it bounds how long a
// hand-off between replicas takes. Each round also renews the replica's
// leases (one heartbeat write to a DynamoDB lease table), so a longer
// interval costs less; keep it at most a third of the lease duration.
// Default 1s.
func WithLeaseInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.tuning.LeaseInterval = d })
}
