package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/destination"
	"github.com/lambdaesm/lambdaesm/internal/core"
	"github.com/lambdaesm/lambdaesm/internal/streamengine"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
	"github.com/lambdaesm/lambdaesm/retry"
	"github.com/lambdaesm/lambdaesm/shard"

	"github.com/lambdaesm/lambdaesm/filter"
)

// Mapping is a running event source mapping.
type Mapping interface {
	// Run polls the source and calls the handler until ctx ends or
	// Shutdown is called, and returns nil after such a stop. It returns an
	// error when the source cannot be read at start-up, and ErrClosed when
	// called twice or after Shutdown.
	Run(ctx context.Context) error
	// Shutdown stops polling, lets in-flight batches finish (a stream
	// mapping also hands on, once each, the records it already read: see
	// package shard), writes final checkpoints and waits for Run to return, or returns ctx's error when
	// ctx ends first (in-flight handlers then see their context
	// cancelled). It is idempotent and safe to call concurrently; called
	// before Run, it makes Run return ErrClosed.
	Shutdown(ctx context.Context) error
}

// KinesisMapping runs a Kinesis data stream mapping.
type KinesisMapping struct {
	eng *streamengine.Engine[events.KinesisEventRecord]
}

// DynamoDBMapping runs a DynamoDB stream mapping.
type DynamoDBMapping struct {
	eng *streamengine.Engine[events.DynamoDBEventRecord]
}

var (
	_ Mapping = (*KinesisMapping)(nil)
	_ Mapping = (*DynamoDBMapping)(nil)
)

// NewKinesisMapping returns a mapping that reads the Kinesis stream
// cfg.EventSourceArn through client and calls h, as Lambda would. It checks
// the configuration (every violated rule at once) and starts nothing: call
// Run.
//
// A Config with a TumblingWindow needs [NewKinesisWindowMapping] instead: its
// handler receives the time-window event and returns the window's state.
//
// When cfg.EventSourceArn names a stream consumer, the mapping reads with
// enhanced fan-out (SubscribeToShard), and client must also implement
// shard.KinesisFanOutAPI (*kinesis.Client and esmtest.Kinesis do).
func NewKinesisMapping(cfg Config, client shard.KinesisAPI, h Handler[events.KinesisEvent, events.KinesisEventResponse], opts ...StreamOption) (*KinesisMapping, error) {
	cfg, set, o, err := streamSettings(cfg, Kinesis, client, h, streamOpts(opts))
	if err != nil {
		return nil, err
	}
	event := func(recs []events.KinesisEventRecord) events.KinesisEvent { return events.KinesisEvent{Records: recs} }
	inv := newInvoker(h, functionARNOf(cfg, o), event, func(r events.KinesisEventResponse) []string {
		return failureIDs(r.BatchItemFailures, func(f events.KinesisBatchItemFailure) string { return f.ItemIdentifier })
	})
	onDiscard := newOnDiscard(cfg, set, o, event)
	eng, err := newKinesisEngine(cfg, client, o, set, streamengine.Callbacks[events.KinesisEventRecord]{
		Invoke: inv, OnDiscard: onDiscard, Filter: recordFilter(o.filter, (*filter.Filter).MatchKinesisRecord),
	})
	if err != nil {
		return nil, err
	}
	return &KinesisMapping{eng: eng}, nil
}

// NewDynamoDBMapping returns a mapping that reads the DynamoDB stream
// cfg.EventSourceArn through client and calls h, as Lambda would. It checks
// the configuration (every violated rule at once) and starts nothing: call
// Run.
//
// A Config with a TumblingWindow needs [NewDynamoDBWindowMapping] instead.
func NewDynamoDBMapping(cfg Config, client shard.DynamoDBStreamsAPI, h Handler[events.DynamoDBEvent, events.DynamoDBEventResponse], opts ...StreamOption) (*DynamoDBMapping, error) {
	cfg, set, o, err := streamSettings(cfg, DynamoDBStreams, client, h, streamOpts(opts))
	if err != nil {
		return nil, err
	}
	event := func(recs []events.DynamoDBEventRecord) events.DynamoDBEvent {
		return events.DynamoDBEvent{Records: recs}
	}
	inv := newInvoker(h, functionARNOf(cfg, o), event, func(r events.DynamoDBEventResponse) []string {
		return failureIDs(r.BatchItemFailures, func(f events.DynamoDBBatchItemFailure) string { return f.ItemIdentifier })
	})
	onDiscard := newOnDiscard(cfg, set, o, event)
	eng, err := streamengine.NewDynamoDB(client, cfg.EventSourceArn, set, streamengine.Callbacks[events.DynamoDBEventRecord]{
		Invoke: inv, OnDiscard: onDiscard, Filter: recordFilter(o.filter, (*filter.Filter).MatchDynamoDBRecord),
	})
	if err != nil {
		return nil, err
	}
	return &DynamoDBMapping{eng: eng}, nil
}

// NewKinesisWindowMapping returns a mapping with a tumbling window
// (Config.TumblingWindow, 1s to 900s): it reads the Kinesis stream
// cfg.EventSourceArn through client and calls h with each shard's records
// window by window, as Lambda would, carrying the state h returns from one
// invocation of a window to the next and calling h once more, with no
// records and IsFinalInvokeForWindow, when the window closes (see the
// package documentation, "Tumbling windows"). The state is kept in the
// checkpoint store, so a restart or another replica resumes it. A Config
// without a TumblingWindow is an error: use [NewKinesisMapping].
func NewKinesisWindowMapping(cfg Config, client shard.KinesisAPI, h Handler[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse], opts ...StreamOption) (*KinesisMapping, error) {
	cfg, set, o, err := streamSettings(cfg, Kinesis, client, h, streamOpts(opts))
	if err != nil {
		return nil, err
	}
	arn := streamARNOf(cfg) // the stream's, also for a consumer (enhanced fan-out)
	inv := newWindowInvoker(h, functionARNOf(cfg, o), func(w streamengine.WindowCall, recs []events.KinesisEventRecord) events.KinesisTimeWindowEvent {
		if recs == nil {
			recs = []events.KinesisEventRecord{} // "Records": [], as in any event
		}
		return events.KinesisTimeWindowEvent{KinesisEvent: events.KinesisEvent{Records: recs}, TimeWindowProperties: windowProperties(w, arn)}
	}, func(r events.KinesisTimeWindowEventResponse) (map[string]string, []string) {
		return r.State, failureIDs(r.BatchItemFailures, func(f events.KinesisBatchItemFailure) string { return f.ItemIdentifier })
	})
	event := func(recs []events.KinesisEventRecord) events.KinesisEvent { return events.KinesisEvent{Records: recs} }
	onDiscard := newOnDiscard(cfg, set, o, event)
	eng, err := newKinesisEngine(cfg, client, o, set, streamengine.Callbacks[events.KinesisEventRecord]{
		InvokeWindow: inv, OnDiscard: onDiscard, Filter: recordFilter(o.filter, (*filter.Filter).MatchKinesisRecord),
	})
	if err != nil {
		return nil, err
	}
	return &KinesisMapping{eng: eng}, nil
}

// NewDynamoDBWindowMapping is [NewKinesisWindowMapping] for the DynamoDB
// stream cfg.EventSourceArn. A Config without a TumblingWindow is an error:
// use [NewDynamoDBMapping].
func NewDynamoDBWindowMapping(cfg Config, client shard.DynamoDBStreamsAPI, h Handler[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse], opts ...StreamOption) (*DynamoDBMapping, error) {
	cfg, set, o, err := streamSettings(cfg, DynamoDBStreams, client, h, streamOpts(opts))
	if err != nil {
		return nil, err
	}
	arn := cfg.EventSourceArn
	inv := newWindowInvoker(h, functionARNOf(cfg, o), func(w streamengine.WindowCall, recs []events.DynamoDBEventRecord) events.DynamoDBTimeWindowEvent {
		if recs == nil {
			recs = []events.DynamoDBEventRecord{}
		}
		return events.DynamoDBTimeWindowEvent{DynamoDBEvent: events.DynamoDBEvent{Records: recs}, TimeWindowProperties: windowProperties(w, arn)}
	}, func(r events.DynamoDBTimeWindowEventResponse) (map[string]string, []string) {
		return r.State, failureIDs(r.BatchItemFailures, func(f events.DynamoDBBatchItemFailure) string { return f.ItemIdentifier })
	})
	event := func(recs []events.DynamoDBEventRecord) events.DynamoDBEvent {
		return events.DynamoDBEvent{Records: recs}
	}
	onDiscard := newOnDiscard(cfg, set, o, event)
	eng, err := streamengine.NewDynamoDB(client, arn, set, streamengine.Callbacks[events.DynamoDBEventRecord]{
		InvokeWindow: inv, OnDiscard: onDiscard, Filter: recordFilter(o.filter, (*filter.Filter).MatchDynamoDBRecord),
	})
	if err != nil {
		return nil, err
	}
	return &DynamoDBMapping{eng: eng}, nil
}

// windowProperties are the time-window event's fields of an invocation.
func windowProperties(w streamengine.WindowCall, eventSourceARN string) events.TimeWindowProperties {
	return events.TimeWindowProperties{
		Window:                  events.Window{Start: events.RFC3339EpochTime{Time: w.Start.UTC()}, End: events.RFC3339EpochTime{Time: w.End.UTC()}},
		State:                   w.State,
		ShardID:                 w.ShardID,
		EventSourceARN:          eventSourceARN,
		IsFinalInvokeForWindow:  w.Final,
		IsWindowTerminatedEarly: w.TerminatedEarly,
	}
}

// Run implements [Mapping].
func (m *KinesisMapping) Run(ctx context.Context) error { return m.eng.Run(ctx) }

// Shutdown implements [Mapping].
func (m *KinesisMapping) Shutdown(ctx context.Context) error { return m.eng.Shutdown(ctx) }

// Run implements [Mapping].
func (m *DynamoDBMapping) Run(ctx context.Context) error { return m.eng.Run(ctx) }

// Shutdown implements [Mapping].
func (m *DynamoDBMapping) Shutdown(ctx context.Context) error { return m.eng.Shutdown(ctx) }

// prepare runs the checks every mapping shares: client and handler given
// (not nil, nor a typed nil), a valid Config for a source of kind (defaults
// filled in), features not implemented yet refused, options that apply to
// kind with arguments in range, and the on-failure destination reachable.
// Every problem is reported at once.
func prepare(cfg Config, kind SourceKind, client, h any, opts []*option) (Config, options, error) {
	var errs []error
	switch {
	case client == nil:
		errs = append(errs, errors.New("esm: the client is nil"))
	case isNil(client):
		errs = append(errs, fmt.Errorf("esm: the client is nil (a nil %T)", client))
	}
	switch {
	case h == nil:
		errs = append(errs, errors.New("esm: the handler is nil"))
	case isNil(h):
		errs = append(errs, fmt.Errorf("esm: the handler is nil (a nil %T)", h))
	}
	o, oerr := buildOptions(kind, opts)
	if oerr != nil {
		errs = append(errs, oerr)
	}
	cfg, err := cfg.withDefaults(o.filterQuota)
	if err != nil {
		errs = append(errs, err)
	} else if src, _ := cfg.EventSource(); src.Kind != kind {
		errs = append(errs, fmt.Errorf("esm: EventSourceArn %s is a %s source, not %s", cfg.EventSourceArn, src.Kind, kind))
	}
	if err == nil {
		if werr := checkWindow(cfg, kind, h); werr != nil {
			errs = append(errs, werr)
		}
		// Valid patterns (withDefaults checked them) compile.
		o.filter, _ = filter.Compile(cfg.FilterPatterns(), filter.WithMaxFilters(filter.MaxFiltersLimit))
	}
	if err == nil && oerr == nil && o.onFailure == nil && cfg.OnFailureDestination() != "" {
		s, serr := destination.ForARN(cfg.OnFailureDestination(), o.destClients)
		if serr != nil {
			errs = append(errs, fmt.Errorf("esm: DestinationConfig.OnFailure: %w (pass its client with WithDestinationClients)", serr))
		}
		o.onFailure = s
	}
	return cfg, o, errors.Join(errs...)
}

// checkWindow refuses a tumbling window's handler (given to
// NewKinesisWindowMapping or NewDynamoDBWindowMapping) without a
// TumblingWindow, and another handler with one: the handler's types say
// which constructor it needs.
func checkWindow(cfg Config, kind SourceKind, h any) error {
	var window bool
	switch h.(type) {
	case Handler[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse],
		Handler[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse]:
		window = true
	}
	plain, windowed, adapter, ev := "NewKinesisMapping", "NewKinesisWindowMapping", "HandleKinesisWindow", "events.KinesisTimeWindowEvent"
	if kind == DynamoDBStreams {
		plain, windowed, adapter, ev = "NewDynamoDBMapping", "NewDynamoDBWindowMapping", "HandleDynamoDBWindow", "events.DynamoDBTimeWindowEvent"
	}
	switch {
	case window && cfg.TumblingWindow == 0:
		return fmt.Errorf("esm: %s needs Config.TumblingWindow (1s to 900s; AWS: TumblingWindowInSeconds): without a tumbling window, use %s", windowed, plain)
	case !window && cfg.TumblingWindow > 0 && kind.IsStream():
		return fmt.Errorf("esm: Config.TumblingWindow is %s: a tumbling window's handler receives %s and returns the window's state; use %s (with %s)",
			seconds(cfg.TumblingWindow), ev, windowed, adapter)
	}
	return nil
}

// streamSettings runs the shared checks and turns cfg into the stream
// engine's settings.
func streamSettings(cfg Config, kind SourceKind, client, h any, opts []*option) (Config, streamengine.Settings, options, error) {
	cfg, o, err := prepare(cfg, kind, client, h, opts)
	if err != nil {
		return cfg, streamengine.Settings{}, options{}, err
	}
	store := o.store
	if store == nil {
		store = shard.NewFileStore(DefaultCheckpointDir)
	}
	set := o.tuning
	set.Mapping = o.name + "|" + cfg.EventSourceArn
	set.BatchSize = cfg.BatchSize
	set.BatchingWindow = cfg.MaximumBatchingWindow
	set.ParallelizationFactor = cfg.ParallelizationFactor
	set.TumblingWindow = cfg.TumblingWindow
	set.StartingPosition = string(cfg.StartingPosition)
	set.StartingTimestamp = cfg.StartingPositionTimestamp
	set.FunctionTimeout = cfg.FunctionTimeout
	set.Policy = &retry.Policy{
		MaximumRetryAttempts:       cfg.RetryAttempts(),
		MaximumRecordAge:           cfg.RecordAgeLimit(),
		BisectBatchOnFunctionError: cfg.BisectBatchOnFunctionError,
		ReportBatchItemFailures:    cfg.ReportsBatchItemFailures(),
		Backoff:                    o.retryBackoff,
	}
	set.Store = store
	set.Disabled = !cfg.IsEnabled()
	set.Hooks = o.hooks
	set.Logger = o.logger.With("mapping", o.name)
	return cfg, set, o, nil
}

// recordFilter is an engine's filter callback: nil (keep every record)
// without FilterCriteria. match is the filter's method for the source, which
// builds only what the patterns read.
func recordFilter[R any](f *filter.Filter, match func(*filter.Filter, R) bool) func(*R) bool {
	if f.Len() == 0 {
		return nil
	}
	return func(r *R) bool { return match(f, *r) }
}

func failureIDs[F any](fs []F, id func(F) string) []string {
	if len(fs) == 0 {
		return nil
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = id(f)
	}
	return ids
}

// newInvoker turns a handler into the engine's invoker: it builds the event,
// recovers panics, and returns the batchItemFailures identifiers (the engine
// applies AWS's rules to them).
func newInvoker[E, R, Rec any](h Handler[E, R], functionARN string, event func([]Rec) E, ids func(R) []string) streamengine.Invoker[Rec] {
	return func(ctx context.Context, batch []Rec) streamengine.Result {
		resp, err := invoke(withLambdaContext(ctx, functionARN), h, event(batch))
		if err != nil {
			return streamengine.Result{Err: err}
		}
		return streamengine.Result{ItemFailures: ids(resp)}
	}
}

// newWindowInvoker is newInvoker for a tumbling window's handler: the event
// carries the window and its state, and the response's state goes back to
// the engine (nil when the response has none, a failed invocation).
func newWindowInvoker[E, R, Rec any](h Handler[E, R], functionARN string, event func(streamengine.WindowCall, []Rec) E, out func(R) (map[string]string, []string)) streamengine.WindowInvoker[Rec] {
	return func(ctx context.Context, w streamengine.WindowCall, batch []Rec) streamengine.WindowResult {
		resp, err := invoke(withLambdaContext(ctx, functionARN), h, event(w, batch))
		if err != nil {
			return streamengine.WindowResult{Result: streamengine.Result{Err: err}}
		}
		state, ids := out(resp)
		return streamengine.WindowResult{Result: streamengine.Result{ItemFailures: ids}, State: state}
	}
}

// newOnDiscard returns the engine's callback for discarded records: it builds
// the AWS on-failure record and sends it to the destination; nil without a
// destination (the engine then logs and counts the discard).
func newOnDiscard[Rec, E any](cfg Config, set streamengine.Settings, o options, event func([]Rec) E) func(context.Context, streamengine.Discarded[Rec]) error {
	if o.onFailure == nil {
		return nil
	}
	functionARN := functionARNOf(cfg, o)
	// Stands in for the ESM UUID AWS puts in S3 object keys: stable across
	// restarts of the same mapping.
	mappingID := uuid.FromName(set.Mapping)
	wantsPayload := destination.WantsPayload(o.onFailure)
	hooks := core.NewHooks(o.hooks...)
	return func(ctx context.Context, d streamengine.Discarded[Rec]) error {
		// The invocations the records had; records that expired before
		// the first one count 1, as AWS records them.
		count := max(d.InvokeCount, 1)
		rec := destination.NewStreamFailure(destination.StreamFailureInput{
			FunctionARN: functionARN, Condition: d.Condition,
			ApproximateInvokeCount: count, FunctionError: d.FunctionError,
			ShardID: d.ShardID, StreamARN: streamARNOf(cfg),
			StartSequenceNumber: d.StartSequenceNumber, EndSequenceNumber: d.EndSequenceNumber,
			FirstArrival: d.FirstArrival, LastArrival: d.LastArrival,
			BatchSize: len(d.Records),
		})
		var payload json.RawMessage
		if wantsPayload {
			p, err := json.Marshal(event(d.Records))
			if err != nil {
				return err
			}
			payload = p
		}
		msg, err := rec.Message(mappingID, payload)
		if err == nil {
			err = o.onFailure.Send(ctx, msg)
		}
		hooks.DestinationDelivered(lambdaesm.Source{EventSourceARN: cfg.EventSourceArn, ShardID: d.ShardID}, cfg.OnFailureDestination(), err)
		return err
	}
}
