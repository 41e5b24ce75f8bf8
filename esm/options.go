package esm

import (
	"log/slog"
	"time"

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
