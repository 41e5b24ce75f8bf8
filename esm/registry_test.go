package esm_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// regFixture is a registry over the three fakes, with functions the test
// defines by name.
type regFixture struct {
	k     *esmtest.Kinesis
	d     *esmtest.DynamoDBStreams
	q     *esmtest.SQS
	store esm.MappingStore
	cps   shard.Store
	mu    sync.Mutex
	fns   map[string]esm.Function
	reg   *esm.Registry
}

func newRegFixture(t *testing.T) *regFixture {
	t.Helper()
	return &regFixture{
		k: esmtest.NewKinesis(), d: esmtest.NewDynamoDBStreams(), q: esmtest.NewSQS(),
		store: esm.NewMemoryMappingStore(), cps: shard.NewMemoryStore(), fns: map[string]esm.Function{},
	}
}

// define makes name resolve to fn.
func (f *regFixture) define(name string, fn esm.Function) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fns[name] = fn
}

func (f *regFixture) resolve(_ context.Context, name string) (esm.Function, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":") // the qualifier
	fn, ok := f.fns[name]
	if !ok {
		return esm.Function{}, fmt.Errorf("%w: %s", esm.ErrFunctionNotFound, name)
	}
	return fn, nil
}

// open builds a registry over the fixture's stores.
func (f *regFixture) open(t *testing.T, opts ...esm.StreamOption) *esm.Registry {
	t.Helper()
	reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver:      f.resolve,
		Clients:       esm.SourceClients{Kinesis: f.k, DynamoDBStreams: f.d, SQS: f.q},
		Store:         f.store,
		Checkpoints:   f.cps,
		StreamOptions: append([]esm.StreamOption{esm.WithPolling(esm.FastestPolling), esm.WithCheckpointInterval(time.Millisecond)}, opts...),
		SQSOptions:    []esm.SQSOption{esm.WithLongPoll(time.Second)},
	})
	require.NoError(t, err)
	f.reg = reg
	return reg
}

// run runs reg until the returned stop is called (or the test ends).
func runRegistry(t *testing.T, reg *esm.Registry) (stop func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- reg.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			require.NoError(t, reg.Shutdown(context.Background()))
			if err := <-errc; !errors.Is(err, lambdaesm.ErrClosed) { // ErrClosed: shut down before Run began
				require.NoError(t, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func waitState(t *testing.T, reg *esm.Registry, uuid string, want esm.State) esm.MappingInfo {
	t.Helper()
	var info esm.MappingInfo
	esmtest.WaitUntil(t, 10*time.Minute, "state "+string(want), func() bool {
		var err error
		info, err = reg.Get(uuid)
		return err == nil && info.State == want
	})
	return info
}

func waitGone(t *testing.T, reg *esm.Registry, uuid string) {
	t.Helper()
	esmtest.WaitUntil(t, 10*time.Minute, "the mapping to go", func() bool {
		_, err := reg.Get(uuid)
		return err != nil
	})
}

func apiErr(t *testing.T, err error) *esm.APIError {
	t.Helper()
	var ae *esm.APIError
	require.ErrorAs(t, err, &ae)
	return ae
}

var (
	nopKinesis  = esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
	nopDynamoDB = esm.HandleDynamoDB(func(context.Context, events.DynamoDBEvent) error { return nil })
	nopSQS      = esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil })
	allKinds    = esm.Function{Kinesis: nopKinesis, DynamoDB: nopDynamoDB, SQS: nopSQS}
)

func TestRegistryCreateAnswersAsLambda(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		stream := f.k.MustCreateStream(t, "orders", 1)
		_, queue := f.q.MustCreateQueue(t, "jobs", nil)
		table := f.d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewImage, "pk")
		reg := f.open(t)
		runRegistry(t, reg)

		info, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		require.Equal(t, esm.StateCreating, info.State)
		require.Equal(t, esm.ReasonUserAction, info.StateTransitionReason)
		require.Equal(t, esm.ResultNoRecords, info.LastProcessingResult)
		require.Len(t, info.UUID, 36)
		require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"+info.UUID, info.EventSourceMappingArn)
		require.Equal(t, "arn:aws:lambda:us-east-1:000000000000:function:fn", info.Config.FunctionArn)
		require.Equal(t, 100, info.Config.BatchSize, "defaults filled in")
		require.Equal(t, 1, info.Config.ParallelizationFactor)
		require.Equal(t, esm.Infinite, info.Config.RetryAttempts())
		require.False(t, info.LastModified.IsZero())
		got := waitState(t, reg, info.UUID, esm.StateEnabled)
		require.True(t, got.Health.Running)

		sq, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue})
		require.NoError(t, err)
		require.Equal(t, esm.ReasonUserInitiated, sq.StateTransitionReason)
		require.Empty(t, sq.LastProcessingResult, "Lambda shows none for SQS")
		require.Equal(t, 10, sq.Config.BatchSize)
		waitState(t, reg, sq.UUID, esm.StateEnabled)

		off, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: table, StartingPosition: esm.Latest, Enabled: new(false)})
		require.NoError(t, err)
		require.Equal(t, esm.StateDisabled, off.State)
		synctest.Wait()
		got, err = reg.Get(off.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateDisabled, got.State)
		require.False(t, got.Health.Running)

		recs, err := f.store.LoadMappings(t.Context())
		require.NoError(t, err)
		require.Len(t, recs, 3, "every definition is stored")

		// Enabled, the DynamoDB mapping reads what was written after it was
		// created (LATEST is fixed when it first starts).
		var mu sync.Mutex
		var keys []string
		f.define("fn", esm.Function{Kinesis: nopKinesis, SQS: nopSQS, DynamoDB: esm.HandleDynamoDB(func(_ context.Context, ev events.DynamoDBEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ev.Records {
				keys = append(keys, r.Change.Keys["pk"].String())
			}
			return nil
		})})
		on, err := reg.Enable(t.Context(), off.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateEnabling, on.State)
		waitState(t, reg, off.UUID, esm.StateEnabled)
		time.Sleep(2 * time.Second)
		require.NoError(t, f.d.PutItem("items", map[string]dstypes.AttributeValue{"pk": &dstypes.AttributeValueMemberS{Value: "a"}}))
		esmtest.WaitUntil(t, time.Minute, "the item", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(keys) == 1
		})
		require.Equal(t, []string{"a"}, keys)
	})
}

func TestRegistryErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		f.define("sqs-only", esm.Function{SQS: nopSQS})
		f.define("other", allKinds)
		stream := f.k.MustCreateStream(t, "orders", 1)
		queueURL, queue := f.q.MustCreateQueue(t, "jobs", nil)
		reg := f.open(t)
		runRegistry(t, reg)
		kin, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest})
		require.NoError(t, err)
		sq, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue})
		require.NoError(t, err)
		waitState(t, reg, kin.UUID, esm.StateEnabled)
		waitState(t, reg, sq.UUID, esm.StateEnabled)

		noKinesis, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{Resolver: f.resolve, Clients: esm.SourceClients{SQS: f.q}, Store: esm.NewMemoryMappingStore()})
		require.NoError(t, err)

		for _, tc := range []struct {
			name   string
			reg    *esm.Registry
			cfg    esm.Config
			typ    string
			status int
			msg    string
		}{
			{"no function", nil, esm.Config{EventSourceArn: queue}, esm.ErrorValidation, 400,
				"1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null"},
			{"unknown starting position", nil, esm.Config{FunctionName: "other", EventSourceArn: stream, StartingPosition: "0"}, esm.ErrorValidation, 400,
				"1 validation error detected: Value '0' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"},
			{"starting position for SQS", nil, esm.Config{FunctionName: "other", EventSourceArn: queue, StartingPosition: esm.Latest}, esm.ErrorInvalidParameterValue, 400,
				"StartingPosition is not valid for SQS event sources."},
			{"batch window for large SQS batches", nil, esm.Config{FunctionName: "other", EventSourceArn: queue, BatchSize: 11}, esm.ErrorInvalidParameterValue, 400,
				"Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"},
			{"several violations", nil, esm.Config{FunctionName: "other", EventSourceArn: stream, StartingPosition: esm.Latest, BatchSize: 20000, ParallelizationFactor: 11}, esm.ErrorInvalidParameterValue, 400,
				"BatchSize = 20000: must be between 1 and 10000; ParallelizationFactor = 11: must be between 1 and 10"},
			{"tumbling window without a window handler", nil, esm.Config{FunctionName: "other", EventSourceArn: stream, StartingPosition: esm.Latest, TumblingWindow: time.Minute}, esm.ErrorInvalidParameterValue, 400,
				"Function other has no handler for Kinesis sources with a tumbling window."},
			{"tumbling window with a ParallelizationFactor", nil, esm.Config{FunctionName: "other", EventSourceArn: stream, StartingPosition: esm.Latest, TumblingWindow: time.Minute, ParallelizationFactor: 2}, esm.ErrorInvalidParameterValue, 400,
				"ParallelizationFactor = 2: must be 1 with a TumblingWindow (a tumbling window's state is one per shard)"},
			{"unknown function", nil, esm.Config{FunctionName: "nope", EventSourceArn: queue}, esm.ErrorResourceNotFound, 404,
				"Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"},
			{"no handler for the kind", nil, esm.Config{FunctionName: "sqs-only", EventSourceArn: stream, StartingPosition: esm.Latest}, esm.ErrorInvalidParameterValue, 400,
				"Function sqs-only has no handler for Kinesis sources."},
			{"no client for the kind", noKinesis, esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest}, esm.ErrorInvalidParameterValue, 400,
				"This lambdaesm process has no Kinesis client, so it cannot map " + stream + "."},
			{"same function and stream", nil, esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon}, esm.ErrorResourceConflict, 409,
				`The event source arn (" ` + stream + ` ") and function (" fn ") provided mapping already exists. Please update or delete the existing mapping with UUID ` + kin.UUID},
			{"same function ARN and stream", nil, esm.Config{FunctionName: "arn:aws:lambda:us-east-1:000000000000:function:fn", EventSourceArn: stream, StartingPosition: esm.Latest}, esm.ErrorResourceConflict, 409,
				`The event source arn (" ` + stream + ` ") and function (" fn ") provided mapping already exists. Please update or delete the existing mapping with UUID ` + kin.UUID},
			{"same function and queue", nil, esm.Config{FunctionName: "fn", EventSourceArn: queue}, esm.ErrorResourceConflict, 409,
				`An event source mapping with SQS arn (" ` + queue + ` ") and function (" fn ") already exists. Please update or delete the existing mapping with UUID ` + sq.UUID},
			{"same queue by URL", nil, esm.Config{FunctionName: "fn", QueueURL: queueURL}, esm.ErrorResourceConflict, 409,
				`An event source mapping with SQS arn (" ` + queueURL + ` ") and function (" fn ") already exists. Please update or delete the existing mapping with UUID ` + sq.UUID},
		} {
			r := tc.reg
			if r == nil {
				r = reg
			}
			_, err := r.Create(t.Context(), tc.cfg)
			ae := apiErr(t, err)
			require.Equal(t, tc.typ, ae.Type, tc.name)
			require.Equal(t, tc.status, ae.HTTPStatus, tc.name)
			require.Equal(t, tc.msg, ae.Message, tc.name)
		}

		// Another function, or a version of the same, maps the same source.
		other, err := reg.Create(t.Context(), esm.Config{FunctionName: "other", EventSourceArn: queue})
		require.NoError(t, err)
		alias, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn:live", EventSourceArn: queue})
		require.NoError(t, err)
		waitState(t, reg, other.UUID, esm.StateEnabled)
		waitState(t, reg, alias.UUID, esm.StateEnabled)

		const unknown = "00000000-0000-4000-8000-000000000000"
		for _, tc := range []struct {
			name string
			call func() error
			typ  string
			msg  string
		}{
			{"get unknown", func() error { _, err := reg.Get(unknown); return err }, esm.ErrorResourceNotFound, "The resource you requested does not exist."},
			{"update unknown", func() error {
				_, err := reg.Update(t.Context(), unknown, func(c *esm.Config) error { c.BatchSize = 5; return nil })
				return err
			}, esm.ErrorResourceNotFound, "The resource you requested does not exist."},
			{"delete unknown", func() error { _, err := reg.Delete(t.Context(), unknown); return err }, esm.ErrorResourceNotFound, "The resource you requested does not exist."},
			{"update the source", func() error {
				_, err := reg.Update(t.Context(), kin.UUID, func(c *esm.Config) error {
					c.EventSourceArn = strings.Replace(stream, "orders", "other", 1)
					return nil
				})
				return err
			}, esm.ErrorInvalidParameterValue, "EventSourceArn cannot be updated: create a new event source mapping for another source."},
			{"update the starting position", func() error {
				_, err := reg.Update(t.Context(), kin.UUID, func(c *esm.Config) error { c.StartingPosition = esm.TrimHorizon; return nil })
				return err
			}, esm.ErrorInvalidParameterValue, "StartingPosition cannot be updated: the mapping resumes from its checkpoints; create a new event source mapping to start elsewhere."},
			{"update a stream-only setting of a queue", func() error {
				_, err := reg.Update(t.Context(), sq.UUID, func(c *esm.Config) error { c.ParallelizationFactor = 2; return nil })
				return err
			}, esm.ErrorInvalidParameterValue, "Unsupported 'parallelizationFactor' parameter for given event source mapping type. (Kinesis and DynamoDB Streams only)"},
			{"update to an out-of-range value", func() error {
				_, err := reg.Update(t.Context(), kin.UUID, func(c *esm.Config) error { c.BatchSize = 10001; return nil })
				return err
			}, esm.ErrorInvalidParameterValue, "BatchSize = 10001: must be between 1 and 10000"},
			{"update to an unknown function", func() error {
				_, err := reg.Update(t.Context(), kin.UUID, func(c *esm.Config) error { c.FunctionName = "nope"; return nil })
				return err
			}, esm.ErrorResourceNotFound, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"},
			{"update to the function of another mapping of the source", func() error {
				_, err := reg.Update(t.Context(), other.UUID, func(c *esm.Config) error { c.FunctionName = "fn"; return nil })
				return err
			}, esm.ErrorResourceConflict, `An event source mapping with SQS arn (" ` + queue + ` ") and function (" fn ") already exists. Please update or delete the existing mapping with UUID ` + sq.UUID},
			{"update to no function", func() error {
				_, err := reg.Update(t.Context(), other.UUID, func(c *esm.Config) error { c.FunctionName = ""; return nil })
				return err
			}, esm.ErrorInvalidParameterValue, "FunctionName cannot be empty."},
		} {
			ae := apiErr(t, tc.call())
			require.Equal(t, tc.typ, ae.Type, tc.name)
			require.Equal(t, tc.msg, ae.Message, tc.name)
		}
		got, err := reg.Get(kin.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateEnabled, got.State, "a refused update changes nothing")
		require.Equal(t, 100, got.Config.BatchSize)
	})
}

// A mapping in a transitional state refuses updates and deletes, as Lambda
// does (ResourceInUseException).
func TestRegistryRefusesChangesInTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		f.define("slow", esm.Function{SQS: esm.HandleSQS(func(ctx context.Context, _ events.SQSEvent) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return nil
		})})
		url, queue := f.q.MustCreateQueue(t, "jobs", map[string]string{"VisibilityTimeout": "600"})
		reg := f.open(t)
		runRegistry(t, reg)
		m, err := reg.Create(t.Context(), esm.Config{FunctionName: "slow", EventSourceArn: queue, FunctionTimeout: 300 * time.Second})
		require.NoError(t, err)
		waitState(t, reg, m.UUID, esm.StateEnabled)
		f.q.Send(t, url, "hello")
		<-entered // a batch is in flight

		info, err := reg.Disable(t.Context(), m.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateDisabling, info.State)
		time.Sleep(10 * time.Second)
		got, err := reg.Get(m.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateDisabling, got.State, "the in-flight batch is still running")

		_, err = reg.Update(t.Context(), m.UUID, func(c *esm.Config) error { c.BatchSize = 5; return nil })
		ae := apiErr(t, err)
		require.Equal(t, esm.ErrorResourceInUse, ae.Type)
		require.Contains(t, ae.Message, "Cannot update the event source mapping because it is in use.")
		_, err = reg.Delete(t.Context(), m.UUID)
		require.Equal(t, esm.ErrorResourceInUse, apiErr(t, err).Type)

		close(release)
		waitState(t, reg, m.UUID, esm.StateDisabled)
		require.Empty(t, f.q.Messages(url), "the in-flight batch finished and its message was deleted")

		info, err = reg.Delete(t.Context(), m.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateDeleting, info.State)
		waitGone(t, reg, m.UUID)
		recs, err := f.store.LoadMappings(t.Context())
		require.NoError(t, err)
		require.Empty(t, recs)
	})
}

func TestRegistryList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("a", allKinds)
		f.define("b", allKinds)
		s1 := f.k.MustCreateStream(t, "s1", 1)
		s2 := f.k.MustCreateStream(t, "s2", 1)
		_, q := f.q.MustCreateQueue(t, "q", nil)
		reg := f.open(t)
		var uuids []string
		for _, c := range []esm.Config{
			{FunctionName: "a", EventSourceArn: s1, StartingPosition: esm.Latest},
			{FunctionName: "b", EventSourceArn: s1, StartingPosition: esm.Latest},
			{FunctionName: "a", EventSourceArn: s2, StartingPosition: esm.Latest},
			{FunctionName: "a:live", EventSourceArn: q},
		} {
			info, err := reg.Create(t.Context(), c)
			require.NoError(t, err)
			uuids = append(uuids, info.UUID)
			time.Sleep(time.Millisecond) // creation order is list order
		}
		ids := func(infos []esm.MappingInfo) []string {
			var out []string
			for _, i := range infos {
				out = append(out, i.UUID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    esm.ListFilter
			want []string
		}{
			{"all", esm.ListFilter{}, uuids},
			{"by source", esm.ListFilter{EventSourceArn: s1}, uuids[:2]},
			{"by function name", esm.ListFilter{FunctionName: "a"}, []string{uuids[0], uuids[2]}},
			{"by function ARN", esm.ListFilter{FunctionName: "arn:aws:lambda:us-east-1:000000000000:function:a"}, []string{uuids[0], uuids[2]}},
			{"by partial ARN", esm.ListFilter{FunctionName: "000000000000:function:b"}, []string{uuids[1]}},
			{"by alias", esm.ListFilter{FunctionName: "a:live"}, []string{uuids[3]}},
			{"by source and function", esm.ListFilter{EventSourceArn: s1, FunctionName: "b"}, []string{uuids[1]}},
			{"nothing", esm.ListFilter{FunctionName: "c"}, nil},
		} {
			require.Equal(t, tc.want, ids(reg.List(tc.f)), tc.name)
		}
	})
}

// A registry's definitions survive a restart: the same UUIDs, settings and
// enabled states, and streams resume from their checkpoints.
func TestRegistryRestartRunsTheSameMappings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		dir := t.TempDir()
		f.store = esm.NewFileMappingStore(filepath.Join(dir, "mappings.json"))
		f.cps = shard.NewFileStore(filepath.Join(dir, "checkpoints"))
		c := newCollector()
		f.define("fn", esm.Function{Kinesis: esm.HandleKinesis(c.handle), SQS: nopSQS})
		stream := f.k.MustCreateStream(t, "orders", 2)
		_, queue := f.q.MustCreateQueue(t, "jobs", nil)
		p := &producer{k: f.k, arn: stream, next: map[string]int{}}
		p.put(t, 5, 40)

		reg := f.open(t)
		stop := runRegistry(t, reg)
		kin, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon, BatchSize: 7})
		require.NoError(t, err)
		time.Sleep(time.Millisecond) // creation order is list order
		off, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: queue, Enabled: new(false)})
		require.NoError(t, err)
		waitFor(t, "the first records", func() bool { return c.count() == 40 })
		stop()

		// A new process over the same files.
		f.store = esm.NewFileMappingStore(filepath.Join(dir, "mappings.json"))
		f.cps = shard.NewFileStore(filepath.Join(dir, "checkpoints"))
		reg2 := f.open(t)
		list := reg2.List(esm.ListFilter{})
		require.Len(t, list, 2)
		require.Equal(t, kin.UUID, list[0].UUID)
		require.Equal(t, 7, list[0].Config.BatchSize)
		require.Equal(t, kin.LastModified.UTC(), list[0].LastModified.UTC())
		require.Equal(t, off.UUID, list[1].UUID)
		require.Equal(t, esm.StateDisabled, list[1].State)
		runRegistry(t, reg2)
		waitState(t, reg2, kin.UUID, esm.StateEnabled)
		p.put(t, 5, 40)
		waitFor(t, "the new records", func() bool { return c.count() == 80 })
		time.Sleep(5 * time.Second)
		c.mu.Lock()
		defer c.mu.Unlock()
		require.Empty(t, c.errs)
		require.Zero(t, c.dups, "the restarted mapping resumed after its checkpoints")
		got, err := reg2.Get(off.UUID)
		require.NoError(t, err)
		require.Equal(t, esm.StateDisabled, got.State, "a disabled mapping stays disabled")
	})
}

// A function error shows in LastProcessingResult, as in Lambda.
func TestRegistryLastProcessingResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		var mu sync.Mutex
		fail := true
		f.define("fn", esm.Function{Kinesis: esm.HandleKinesis(func(context.Context, events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				fail = false
				return errors.New("boom")
			}
			return nil
		})})
		stream := f.k.MustCreateStream(t, "orders", 1)
		reg := f.open(t)
		runRegistry(t, reg)
		m, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.TrimHorizon})
		require.NoError(t, err)
		waitState(t, reg, m.UUID, esm.StateEnabled)
		f.k.Put(t, stream, "k", []byte("one"))
		esmtest.WaitUntil(t, time.Minute, "a failed call", func() bool {
			info, _ := reg.Get(m.UUID)
			return info.LastProcessingResult == esm.ResultFunctionFailed
		})
		esmtest.WaitUntil(t, time.Minute, "the retry's success", func() bool {
			info, _ := reg.Get(m.UUID)
			return info.LastProcessingResult == esm.ResultOK
		})
	})
}

// A stored mapping whose source is missing (deleted since the mapping was
// created) is Enabled with a problem, retried with backoff until the source
// appears.
func TestRegistryRetriesAMappingThatCannotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		p := &esmtest.Progress{}
		f.define("fn", esm.Function{SQS: nopSQS})
		const id = "0f5d8a43-3c1e-4b7a-9d2e-6a1b2c3d4e5f"
		require.NoError(t, f.store.PutMapping(t.Context(), esm.MappingRecord{UUID: id,
			Config: esm.Config{FunctionName: "fn", EventSourceArn: f.q.QueueARN("later")}, Created: time.Now(), LastModified: time.Now()}))
		reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
			Resolver: f.resolve, Clients: esm.SourceClients{SQS: f.q}, Store: f.store,
			SQSOptions: []esm.SQSOption{esm.WithLongPoll(time.Second), esm.WithHooks(p)},
		})
		require.NoError(t, err)
		runRegistry(t, reg)
		m, err := reg.Get(id)
		require.NoError(t, err)
		info := waitState(t, reg, m.UUID, esm.StateEnabled)
		esmtest.WaitUntil(t, time.Minute, "the problem", func() bool {
			info, _ = reg.Get(m.UUID)
			return strings.HasPrefix(info.LastProcessingResult, "PROBLEM: ")
		})
		require.Contains(t, info.LastProcessingResult, "later")
		url, _ := f.q.MustCreateQueue(t, "later", nil)
		f.q.Send(t, url, "x")
		p.WaitFinished(t, 1, 5*time.Minute)
	})
}

var _ lambdaesm.Hook = (*esmtest.Progress)(nil)

func TestRegistryCreateWithUUID(t *testing.T) {
	f := newRegFixture(t)
	f.define("fn", allKinds)
	f.define("other", allKinds)
	_, queue := f.q.MustCreateQueue(t, "jobs", nil)
	reg := f.open(t)
	const id = "14e0db71-5d35-4eb5-b481-8945cf9d10c2"
	info, err := reg.CreateWithUUID(t.Context(), id, esm.Config{FunctionName: "fn", EventSourceArn: queue})
	require.NoError(t, err)
	require.Equal(t, id, info.UUID)
	_, err = reg.CreateWithUUID(t.Context(), id, esm.Config{FunctionName: "other", EventSourceArn: queue})
	ae := apiErr(t, err)
	require.Equal(t, esm.ErrorResourceConflict, ae.Type)
	require.Equal(t, "An event source mapping with UUID "+id+" already exists.", ae.Message)
	_, err = reg.CreateWithUUID(t.Context(), "a/b", esm.Config{FunctionName: "other", EventSourceArn: queue})
	require.Equal(t, `UUID "a/b": must be 1 to 64 letters, digits and '-'.`, apiErr(t, err).Message)
}

// Kinesis-only stream options in RegistryConfig.StreamOptions do not stop a
// DynamoDB mapping: the registry gives them to Kinesis mappings only.
func TestRegistryKinesisOnlyOptionsSkipDynamoDB(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		stream := f.k.MustCreateStream(t, "orders", 1)
		table := f.d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewImage, "pk")
		reg := f.open(t, esm.WithInvokeIdentityARN("arn:aws:iam::000000000000:role/reader"))
		runRegistry(t, reg)
		for _, src := range []string{stream, table} {
			info, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: src, StartingPosition: esm.TrimHorizon})
			require.NoError(t, err)
			got := waitState(t, reg, info.UUID, esm.StateEnabled)
			synctest.Wait()
			got, err = reg.Get(got.UUID)
			require.NoError(t, err)
			require.True(t, got.Health.Running, src)
			require.NotContains(t, got.LastProcessingResult, "PROBLEM", src)
		}
	})
}

// Create applies Lambda's create-time rule to a queue: a visibility timeout
// shorter than the function timeout is refused, in AWS's words.
func TestRegistryCreateChecksQueueVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		_, short := f.q.MustCreateQueue(t, "short", map[string]string{"VisibilityTimeout": "2"})
		reg := f.open(t)
		runRegistry(t, reg)
		_, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: short, FunctionTimeout: 5 * time.Second})
		require.EqualError(t, err, "InvalidParameterValueException: Queue visibility timeout: 2 seconds is less than Function timeout: 5 seconds")
		_, err = reg.Create(t.Context(), esm.Config{FunctionName: "fn", EventSourceArn: short, FunctionTimeout: 2 * time.Second})
		require.NoError(t, err)
	})
}

// A mapping created with a QueueURL is listed by the queue's ARN, the
// EventSourceArn that Get shows, as Lambda lists it.
func TestListByTheARNOfAQueueNamedByURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newRegFixture(t)
		f.define("fn", allKinds)
		qurl, qarn := f.q.MustCreateQueue(t, "jobs", nil)
		reg := f.open(t)
		m, err := reg.Create(t.Context(), esm.Config{FunctionName: "fn", QueueURL: qurl})
		require.NoError(t, err)
		t.Logf("queue ARN %s URL %s; mapping EventSourceArn %q", qarn, qurl, m.Config.EventSourceArn)
		require.Len(t, reg.List(esm.ListFilter{EventSourceArn: qarn}), 1, "ListEventSourceMappings --event-source-arn <the ARN GET shows>")
	})
}
