package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
	"github.com/lambdaesm/lambdaesm/queue"
	"github.com/lambdaesm/lambdaesm/shard"
)

// State is an event source mapping's state, as Lambda reports it.
type State string

// The states of a mapping. Creating, Enabling, Disabling, Updating and
// Deleting are transitional: the mapping is being started, stopped or
// restarted, and updates and deletes are refused until it is Enabled or
// Disabled again.
const (
	StateCreating  State = "Creating"
	StateEnabling  State = "Enabling"
	StateEnabled   State = "Enabled"
	StateDisabling State = "Disabling"
	StateDisabled  State = "Disabled"
	StateUpdating  State = "Updating"
	StateDeleting  State = "Deleting"
)

// Transitional reports whether s is a state a mapping passes through
// (Creating, Enabling, Disabling, Updating, Deleting).
func (s State) Transitional() bool { return s != StateEnabled && s != StateDisabled }

// Lambda's words in StateTransitionReason and LastProcessingResult.
const (
	// ReasonUserAction is the StateTransitionReason of stream mappings.
	ReasonUserAction = "User action"
	// ReasonUserInitiated is the StateTransitionReason of SQS mappings.
	ReasonUserInitiated = "USER_INITIATED"
	// ResultNoRecords is a stream mapping's LastProcessingResult before its
	// first invocation.
	ResultNoRecords = "No records processed"
	// ResultOK follows a successful invocation.
	ResultOK = "OK"
	// ResultFunctionFailed follows a failed invocation.
	ResultFunctionFailed = "PROBLEM: Function call failed"
)

// Function is what a FunctionName resolves to: a handler for each kind of
// source the function may be mapped to. A nil handler means the function
// cannot be mapped to sources of that kind. invoke.Function serves all of
// them for a Lambda function, or a function under the Runtime Interface
// Emulator.
type Function struct {
	Kinesis  Handler[events.KinesisEvent, events.KinesisEventResponse]
	DynamoDB Handler[events.DynamoDBEvent, events.DynamoDBEventResponse]
	SQS      Handler[events.SQSEvent, events.SQSEventResponse]
	// KinesisWindow and DynamoDBWindow serve the mappings of those kinds
	// with a TumblingWindowInSeconds (see NewKinesisWindowMapping).
	KinesisWindow  Handler[events.KinesisTimeWindowEvent, events.KinesisTimeWindowEventResponse]
	DynamoDBWindow Handler[events.DynamoDBTimeWindowEvent, events.DynamoDBTimeWindowEventResponse]
}

// ErrFunctionNotFound is what a [Resolver] returns (or wraps) for a name that
// names no function; the registry answers Lambda's ResourceNotFoundException
// "Function not found: <function ARN>".
var ErrFunctionNotFound = errors.New("esm: function not found")

// Resolver finds the function a mapping's FunctionName names: a name
// ("my-function"), a name with a version or alias ("my-function:live"), a
// partial ARN or a function ARN, as the mapping was given it. It is called
// when a mapping is created, when its FunctionName changes, and each time
// the mapping starts (so a function that is gone shows as a problem of the
// mapping, retried). It must be safe for concurrent use.
type Resolver func(ctx context.Context, functionName string) (Function, error)

// SourceClients are the clients through which a registry's mappings read
// their sources: AWS SDK clients, or esm/esmtest fakes. A nil client means
// the registry refuses mappings of that kind.
type SourceClients struct {
	Kinesis         shard.KinesisAPI
	DynamoDBStreams shard.DynamoDBStreamsAPI
	SQS             queue.SQSAPI
}

// RegistryConfig is what [NewRegistry] needs.
type RegistryConfig struct {
	// Resolver turns a FunctionName into handlers. Required.
	Resolver Resolver
	// Clients read the sources. At least one is required.
	Clients SourceClients
	// Store keeps the definitions; default
	// NewFileMappingStore(DefaultMappingFile). A [SharedMappingStore] (a
	// DynamoDBMappingStore) shares them with the registries of other
	// processes: see PollInterval.
	Store MappingStore
	// PollInterval is how often the registry reads a SharedMappingStore
	// for the changes of other registries, and starts, updates and stops
	// its mappings to match; default [DefaultPollInterval]. Unused with
	// other stores.
	PollInterval time.Duration
	// Checkpoints keeps stream checkpoints and start markers, per mapping
	// UUID; default shard.NewFileStore(DefaultCheckpointDir). A disabled,
	// updated or restarted mapping resumes from it.
	Checkpoints shard.Store
	// StreamOptions and SQSOptions are given to every mapping of those kinds
	// (hooks, polling, destination clients, …); options for Kinesis
	// mappings only (WithInvokeIdentityARN, WithStreamConsumer) skip
	// DynamoDB mappings. The registry adds its own, which win: WithName (the
	// mapping's UUID), WithStore (Checkpoints), WithLogger and a hook that
	// keeps LastProcessingResult.
	StreamOptions []StreamOption
	SQSOptions    []SQSOption
	// Logger receives the registry's logs and, with the mapping's UUID and
	// function, every mapping's. Default: none.
	Logger *slog.Logger
}

// MappingInfo is one mapping as Lambda reports it (GetEventSourceMapping):
// its configuration with every default filled in, its state and how its
// last invocation went.
type MappingInfo struct {
	// UUID identifies the mapping.
	UUID string
	// EventSourceMappingArn is arn:<partition>:lambda:<region>:<account>:
	// event-source-mapping:<UUID>, in the function's partition, region and
	// account.
	EventSourceMappingArn string
	// Config is the configuration with defaults filled in (WithDefaults),
	// FunctionName and FunctionArn included.
	Config Config
	// Kind is the kind of source.
	Kind SourceKind
	// State is the mapping's state; StateTransitionReason why it is in it
	// (ReasonUserAction for streams, ReasonUserInitiated for SQS).
	State                 State
	StateTransitionReason string
	// LastModified is when the mapping was created or last updated;
	// Created when it was created (lists are in that order).
	LastModified time.Time
	Created      time.Time
	// LastProcessingResult is ResultNoRecords, ResultOK or
	// ResultFunctionFailed, or "PROBLEM: " and why the mapping cannot run
	// (its function or source missing, say), which it retries. For SQS
	// mappings it is empty unless it is a problem (Lambda shows none).
	LastProcessingResult string
	// Health is the running mapping's health; zero when it does not run.
	Health Health
}

// ListFilter selects mappings in [Registry.List]; empty fields select all.
type ListFilter struct {
	// EventSourceArn selects the mappings of one source; a queue may be
	// named by ARN or by URL, whichever the mappings were created with.
	EventSourceArn string
	// FunctionName selects the mappings of one function: a name, a name
	// with a version or alias, a partial ARN or an ARN. An unqualified name
	// selects the unqualified function only, as in Lambda.
	FunctionName string
}

// Registry runs many event source mappings in one process and manages them
// as Lambda does: create, get, list, update (enable and disable among
// them) and delete, each mapping with a UUID and a [State], and Lambda's
// errors ([*APIError]). Definitions persist in a [MappingStore], so a
// restarted process runs the same mappings; stream positions persist in the
// checkpoint store, per UUID, so a disabled, updated or restarted mapping
// resumes where it stopped.
//
// Disabling a mapping stops its polling once in-flight batches have
// finished and their checkpoints are written (state Disabling, then
// Disabled); enabling it starts it again from there (Enabling, then Enabled).
// Any other update (BatchSize, windows, ParallelizationFactor, retry, age
// and bisect settings, FunctionResponseTypes, DestinationConfig,
// FilterCriteria, ScalingConfig, FunctionName) is applied the same way: the
// running mapping stops gracefully and a new one starts from its
// checkpoints, so no record is lost (state Updating, then Enabled). What is
// delivered again is what the engines deliver again after any graceful
// stop: nothing for SQS (handled messages are deleted, the others made
// visible again); for a stream, the records finished beyond the shard's
// checkpoint, which happens when, with a ParallelizationFactor above 1, a
// lane ran ahead of a record another lane had read but not yet invoked.
// EventSourceArn, StartingPosition and StartingPositionTimestamp cannot
// change, as in Lambda: create a new mapping.
//
// Build it with [NewRegistry], run it with Run, stop it with Shutdown (the
// mappings drain, their definitions stay). Operations are safe for
// concurrent use and may be called before Run: mappings then start when Run
// does.
//
// Differences from AWS:
//
//   - Create refuses a source that does not exist, as Lambda does; a
//     source that goes missing later (or is missing when a stored
//     definition is loaded) leaves the mapping Enabled with a
//     LastProcessingResult of "PROBLEM: " and the reason, retried with
//     backoff. When Create cannot ask (the source's service unreachable),
//     it answers ServiceException, which SDKs retry.
//   - AWS's words are used where they were recorded (the conflict messages,
//     ResourceNotFoundException's "The resource you requested does not
//     exist.", a missing source's, the configuration rules); the messages
//     of ResourceInUseException, of "Function not found: <ARN>", of a
//     source whose check was refused access and of the refused updates of
//     EventSourceArn and StartingPosition are ours.
//   - A mapping that Lambda would run as a Kafka, MQ or DocumentDB mapping
//     is refused (Unrecognized event source).
//
// Several processes (replicas) share definitions through a
// [SharedMappingStore] ([DynamoDBMappingStore]): each runs every mapping,
// its changes are conditional writes (two processes cannot both create a
// mapping of one function and source, or both update one mapping from the
// same revision), and each polls the store every PollInterval for the
// changes of the others, which then reach its mappings as its own do. The
// states a process reports are those of its own mappings. Give stream
// mappings a lease store shared as well (Checkpoints: a
// shard/dynamolease.Store), so that the processes split the shards rather
// than each reading all of them; an SQS queue needs nothing more.
type Registry struct {
	cfg          RegistryConfig
	store        MappingStore
	shared       SharedMappingStore // store, when it is shared; else nil
	pollInterval time.Duration
	cps          shard.Store
	log          *slog.Logger
	opMu         sync.Mutex // serialises changes: conflict checks, store writes and reads of a shared store
	lastChanges  int64      // the shared store's change counter at the last read; guarded by opMu
	mu           sync.Mutex // guards what follows
	entries      map[string]*entry
	lastSync     time.Time
	syncErr      error
	syncErrAt    time.Time
	running      bool
	closed       bool
	runCtx       context.Context
	stopCtx      context.Context // Shutdown's context, once called
	stopCh       chan struct{}
	runDone      chan struct{}
	sups         sync.WaitGroup
}

// entry is one mapping: its definition, state and supervisor.
type entry struct {
	uuid     string
	created  time.Time
	modified time.Time
	def      Config // as given, FunctionName set
	src      EventSource
	gen      uint64 // counts changes of def and of deleting
	rev      int64  // the definition's Revision in a shared store
	state    State
	deleting bool
	wake     chan struct{}
	started  bool // the supervisor runs
	cur      *instance
	result   atomic.Pointer[string]
}

// NewRegistry loads the definitions from cfg.Store and returns a registry
// that runs them once Run is called. A definition that no longer validates
// is an error naming it.
func NewRegistry(ctx context.Context, cfg RegistryConfig) (*Registry, error) {
	var errs []error
	if cfg.Resolver == nil {
		errs = append(errs, errors.New("esm: NewRegistry: the Resolver is nil"))
	}
	c := cfg.Clients
	if isNil(c.Kinesis) && isNil(c.DynamoDBStreams) && isNil(c.SQS) {
		errs = append(errs, errors.New("esm: NewRegistry: no source client (Kinesis, DynamoDBStreams or SQS)"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Registry{cfg: cfg, store: cfg.Store, cps: cfg.Checkpoints, log: cfg.Logger,
		entries: map[string]*entry{}, stopCh: make(chan struct{}), runDone: make(chan struct{})}
	if r.store == nil {
		r.store = NewFileMappingStore(DefaultMappingFile)
	}
	if r.cps == nil {
		r.cps = shard.NewFileStore(DefaultCheckpointDir)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval < 0 {
		return nil, fmt.Errorf("esm: NewRegistry: PollInterval %v is negative", cfg.PollInterval)
	}
	r.pollInterval = cfg.PollInterval
	if r.pollInterval == 0 {
		r.pollInterval = DefaultPollInterval
	}
	if ss, ok := r.store.(SharedMappingStore); ok && !isNil(ss) {
		r.shared = ss
		n, err := ss.Changes(ctx)
		if err != nil {
			return nil, err
		}
		r.lastChanges = n
	}
	recs, err := r.store.LoadMappings(ctx)
	var skipped *skippedMappingsError
	switch {
	case errors.As(err, &skipped):
		r.log.Error("the mapping store holds mappings that cannot be read; they are ignored", "err", err)
		r.syncErr, r.syncErrAt = err, time.Now()
	case err != nil:
		return nil, err
	}
	r.lastSync = time.Now()
	for _, rec := range recs {
		full, err := rec.Config.WithDefaults()
		if err != nil {
			return nil, fmt.Errorf("esm: NewRegistry: stored mapping %s: %w", rec.UUID, err)
		}
		src, _ := full.EventSource()
		e := &entry{uuid: rec.UUID, created: rec.Created, modified: rec.LastModified, def: rec.Config.clone(), src: src, rev: rec.Revision, state: StateDisabled}
		if e.def.FunctionName == "" {
			e.def.FunctionName = full.FunctionArn
		}
		if e.def.IsEnabled() {
			e.state = StateEnabling
		}
		e.initResult()
		r.entries[e.uuid] = e
	}
	return r, nil
}

func (e *entry) initResult() {
	s := ""
	if e.src.Kind.IsStream() {
		s = ResultNoRecords
	}
	e.result.Store(&s)
}

// Run starts every enabled mapping and manages them until ctx ends or
// Shutdown is called; it returns nil after such a stop, once every mapping
// has stopped, and lambdaesm.ErrClosed when called twice or after Shutdown.
// When ctx ends, in-flight handlers see their context cancelled.
func (r *Registry) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running || r.closed {
		r.mu.Unlock()
		return lambdaesm.ErrClosed
	}
	r.running = true
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.runCtx = runCtx
	for _, e := range r.entries {
		r.startSupervisor(e)
	}
	pollCtx, stopPolling := context.WithCancel(runCtx)
	defer stopPolling()
	if r.shared != nil {
		r.sups.Add(1)
		go func() {
			defer r.sups.Done()
			r.poll(pollCtx)
		}()
	}
	n := len(r.entries)
	r.mu.Unlock()
	r.log.Info("registry running", "mappings", n)
	select {
	case <-ctx.Done():
		r.mu.Lock()
		r.closed = true
		r.wakeAll()
		r.mu.Unlock()
	case <-r.stopCh:
	}
	stopPolling()
	r.sups.Wait()
	close(r.runDone)
	return nil
}

// Shutdown stops every mapping gracefully (in-flight batches finish, final
// checkpoints are written) and waits for Run to return, or returns ctx's
// error when ctx ends first (in-flight handlers then see their context
// cancelled). Definitions stay in the store, and Update and Delete still
// change them afterwards: a mapping then settles at once (Enabled or
// Disabled, as its definition says), since nothing runs it. It is
// idempotent; before Run, it makes Run return lambdaesm.ErrClosed.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.stopCtx = ctx
		close(r.stopCh)
		r.wakeAll()
	}
	running := r.running
	r.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-r.runDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeAll wakes every supervisor; the caller holds r.mu.
func (r *Registry) wakeAll() {
	for _, e := range r.entries {
		e.poke()
	}
}

func (e *entry) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Create creates a mapping of cfg (CreateEventSourceMapping) and starts it,
// unless cfg.Enabled is false. FunctionName is required (a FunctionArn alone
// serves as one, as in the output of get-event-source-mapping). The answer
// has State Creating, or Disabled. Errors are [*APIError]s: an invalid
// configuration (InvalidParameterValueException or ValidationException), a
// function the resolver does not know (ResourceNotFoundException), a source
// that does not exist (InvalidParameterValueException, with AWS's message:
// "Stream not found: <ARN>", or for a queue "Error occurred while
// ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue.
// …"), a mapping of the same function and source
// (ResourceConflictException, with AWS's message), a source that could not
// be checked or a failing store (ServiceException).
func (r *Registry) Create(ctx context.Context, cfg Config) (MappingInfo, error) {
	return r.create(ctx, "", cfg)
}

// CreateWithUUID is [Registry.Create] with the mapping's UUID given rather
// than drawn: to run a mapping saved from Lambda (`aws lambda
// get-event-source-mapping`) under the UUID it has there. The UUID must be
// 1 to 64 letters, digits and '-', and not taken (ResourceConflictException).
func (r *Registry) CreateWithUUID(ctx context.Context, id string, cfg Config) (MappingInfo, error) {
	if id == "" || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return MappingInfo{}, errInvalid("UUID %q: must be 1 to 64 letters, digits and '-'.", id)
	}
	return r.create(ctx, id, cfg)
}

func (r *Registry) create(ctx context.Context, id string, cfg Config) (MappingInfo, error) {
	cfg = cfg.clone()
	if cfg.FunctionName == "" {
		cfg.FunctionName = cfg.FunctionArn
	}
	if cfg.FunctionName == "" {
		return MappingInfo{}, apiError(ErrorValidation, 400, nil,
			"1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null")
	}
	full, src, err := r.check(ctx, cfg, true)
	if err != nil {
		return MappingInfo{}, err
	}
	if err := r.checkSource(ctx, full, src); err != nil {
		return MappingInfo{}, err
	}
	r.opMu.Lock()
	defer r.opMu.Unlock()
	if err := r.conflict(src, full, ""); err != nil {
		return MappingInfo{}, err
	}
	if id == "" {
		id = uuid.New()
	} else if _, taken := r.entry(id); taken {
		return MappingInfo{}, apiError(ErrorResourceConflict, 409, nil, "An event source mapping with UUID %s already exists.", id)
	}
	now := time.Now()
	e := &entry{uuid: id, created: now, modified: now, def: cfg, src: src, state: StateCreating}
	if !cfg.IsEnabled() {
		e.state = StateDisabled
	}
	e.initResult()
	rec := MappingRecord{UUID: e.uuid, Config: cfg, Created: now, LastModified: now}
	if r.shared == nil {
		if err := r.store.PutMapping(ctx, rec); err != nil {
			return MappingInfo{}, errService(err, "The mapping could not be saved: %v", err)
		}
	} else {
		stored, err := r.shared.CreateMapping(ctx, rec)
		var ce *MappingConflictError
		switch {
		case errors.As(err, &ce):
			_ = r.syncLocked(ctx, true) // another process's mapping: show it here too
			if ce.Key == "" {
				return MappingInfo{}, apiError(ErrorResourceConflict, 409, err, "An event source mapping with UUID %s already exists.", id)
			}
			return MappingInfo{}, apiError(ErrorResourceConflict, 409, err, "%s", errConflict(src.Kind, sourceName(full), functionBareName(full.FunctionArn), ce.UUID).Message)
		case err != nil:
			return MappingInfo{}, errService(err, "The mapping could not be saved: %v", err)
		}
		e.rev = stored.Revision
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[e.uuid] = e
	if r.running && !r.closed {
		r.startSupervisor(e)
	}
	r.log.Info("mapping created", "uuid", e.uuid, "functionName", cfg.FunctionName, "eventSourceArn", full.EventSourceArn, "enabled", cfg.IsEnabled())
	return r.info(e), nil
}

// check validates cfg for the registry: Lambda's rules, features this
// library lacks, a client for the source, a function that resolves with a
// handler for it. resolve=false skips the resolver.
func (r *Registry) check(ctx context.Context, cfg Config, resolve bool) (Config, EventSource, error) {
	full, err := cfg.WithDefaults()
	if err != nil {
		return Config{}, EventSource{}, configAPIError(err)
	}
	if _, err := cfg.MarshalJSON(); err != nil { // the store writes it
		return Config{}, EventSource{}, configAPIError(err)
	}
	src, _ := full.EventSource()
	if !r.hasClient(src.Kind) {
		return Config{}, EventSource{}, errInvalid("This lambdaesm process has no %s client, so it cannot map %s.", src.Kind, sourceName(full))
	}
	if resolve {
		if _, err := r.resolve(ctx, full, src.Kind); err != nil {
			return Config{}, EventSource{}, err
		}
	}
	return full, src, nil
}

func (r *Registry) hasClient(k SourceKind) bool {
	c := r.cfg.Clients
	switch k {
	case Kinesis:
		return !isNil(c.Kinesis)
	case DynamoDBStreams:
		return !isNil(c.DynamoDBStreams)
	case SQS:
		return !isNil(c.SQS)
	}
	return false
}

// resolve asks the resolver for full.FunctionName's handler of kind.
func (r *Registry) resolve(ctx context.Context, full Config, kind SourceKind) (Function, error) {
	fn, err := r.cfg.Resolver(ctx, full.FunctionName)
	if err != nil {
		var ae *APIError
		switch {
		case errors.As(err, &ae):
			return Function{}, ae
		case errors.Is(err, ErrFunctionNotFound):
			return Function{}, errFunctionNotFound(full.FunctionArn, err)
		}
		return Function{}, apiError(ErrorInvalidParameterValue, 400, err, "Function %s cannot be resolved: %v", full.FunctionName, err)
	}
	var h any
	window := full.TumblingWindow > 0
	switch {
	case kind == Kinesis && window:
		h = fn.KinesisWindow
	case kind == Kinesis:
		h = fn.Kinesis
	case kind == DynamoDBStreams && window:
		h = fn.DynamoDBWindow
	case kind == DynamoDBStreams:
		h = fn.DynamoDB
	case kind == SQS:
		h = fn.SQS
	}
	switch {
	case isNil(h) && window:
		return Function{}, errInvalid("Function %s has no handler for %s sources with a tumbling window.", full.FunctionName, kind)
	case isNil(h):
		return Function{}, errInvalid("Function %s has no handler for %s sources.", full.FunctionName, kind)
	}
	return fn, nil
}

// sourceKey identifies a source across ARN and URL spellings of a queue.
func sourceKey(src EventSource) string {
	if src.Kind == SQS {
		return fmt.Sprintf("sqs|%s|%s", src.AccountID, src.Name)
	}
	return src.ARN
}

// sourceName is the source as Lambda names it in messages.
func sourceName(c Config) string {
	if c.EventSourceArn != "" {
		return c.EventSourceArn
	}
	return c.QueueURL
}

// conflict returns Lambda's ResourceConflictException when another mapping
// than skip maps the same function to the same source; the caller holds
// r.opMu.
func (r *Registry) conflict(src EventSource, full Config, skip string) error {
	key := sourceKey(src)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.uuid == skip || sourceKey(e.src) != key {
			continue
		}
		other, err := e.def.WithDefaults()
		if err == nil && other.FunctionArn == full.FunctionArn {
			return errConflict(src.Kind, sourceName(full), functionBareName(full.FunctionArn), e.uuid)
		}
	}
	return nil
}

// functionBareName is the function's name without ARN or qualifier, as
// Lambda writes it in its conflict message.
func functionBareName(functionARN string) string {
	if a, err := arn.Parse(functionARN); err == nil {
		parts := strings.Split(a.Resource, ":")
		if len(parts) >= 2 {
			return parts[1]
		}
	}
	return functionARN
}

func (r *Registry) entry(id string) (*entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	return e, ok
}

// Get returns the mapping (GetEventSourceMapping), or a
// ResourceNotFoundException.
func (r *Registry) Get(uuid string) (MappingInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[uuid]
	if !ok {
		return MappingInfo{}, errNotFound()
	}
	return r.info(e), nil
}

// List returns the mappings f selects (ListEventSourceMappings), oldest
// first.
func (r *Registry) List(f ListFilter) []MappingInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	es := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmpString(a.uuid, b.uuid)
	})
	// A queue is the same source by ARN or by URL: a mapping created with
	// a QueueURL is listed by the ARN Get shows.
	filterKey := ""
	if f.EventSourceArn != "" {
		if src, err := (Config{EventSourceArn: f.EventSourceArn}).EventSource(); err == nil {
			filterKey = sourceKey(src)
		} else if src, err := (Config{QueueURL: f.EventSourceArn}).EventSource(); err == nil {
			filterKey = sourceKey(src)
		}
	}
	var out []MappingInfo
	for _, e := range es {
		info := r.info(e)
		if f.EventSourceArn != "" && f.EventSourceArn != info.Config.EventSourceArn && f.EventSourceArn != info.Config.QueueURL &&
			(filterKey == "" || filterKey != sourceKey(e.src)) {
			continue
		}
		if f.FunctionName != "" && !sameFunction(f.FunctionName, info) {
			continue
		}
		out = append(out, info)
	}
	return out
}

// sameFunction reports whether name (a name, partial ARN or ARN, with or
// without qualifier) names the mapping's function.
func sameFunction(name string, info MappingInfo) bool {
	if strings.HasPrefix(name, "arn:") {
		return name == info.Config.FunctionArn
	}
	src, _ := info.Config.EventSource()
	want := src.FunctionARN(name)
	return functionResource(want) == functionResource(info.Config.FunctionArn) && accountOf(want) == accountOf(info.Config.FunctionArn)
}

func functionResource(s string) string {
	if a, err := arn.Parse(s); err == nil {
		return a.Resource
	}
	return s
}

func accountOf(s string) string {
	if a, err := arn.Parse(s); err == nil {
		return a.AccountID
	}
	return ""
}

// Update changes a mapping (UpdateEventSourceMapping): change edits a copy
// of its configuration as given (defaults not filled in), and the result
// replaces it once valid; an error of change aborts the update and is
// returned (an InvalidParameterValueException unless it is an [*APIError]).
// [ApplyUpdateJSON] applies the body of an UpdateEventSourceMapping
// request. Setting Enabled to false disables the mapping,
// to true enables it. The answer's State is Disabling, Enabling or
// Updating. Errors are [*APIError]s: an unknown UUID
// (ResourceNotFoundException), a mapping in a transitional state
// (ResourceInUseException), a change of EventSourceArn, QueueURL,
// StartingPosition or StartingPositionTimestamp, or an invalid result
// (InvalidParameterValueException, ValidationException), a FunctionName
// that resolves to nothing (ResourceNotFoundException) or that another
// mapping of the source has (ResourceConflictException).
//
// Over a [SharedMappingStore], an update made while another process changed
// the mapping is applied again to the new definition (change may thus be
// called more than once), and answered ResourceConflictException if that
// keeps happening.
func (r *Registry) Update(ctx context.Context, uuid string, change func(*Config) error) (MappingInfo, error) {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	for attempt := 1; ; attempt++ {
		info, err := r.update(ctx, uuid, change)
		if !errors.Is(err, ErrMappingChanged) {
			return info, err
		}
		_ = r.syncLocked(ctx, true) // take the other process's change, and apply this one to it
		if attempt == updateAttempts {
			return MappingInfo{}, apiError(ErrorResourceConflict, 409, err,
				"The event source mapping %s kept being changed by other lambdaesm processes; retry.", uuid)
		}
	}
}

// update is one attempt of Update; the caller holds r.opMu. It returns
// ErrMappingChanged when the shared store had a newer definition.
func (r *Registry) update(ctx context.Context, uuid string, change func(*Config) error) (MappingInfo, error) {
	r.mu.Lock()
	e, ok := r.entries[uuid]
	if !ok {
		r.mu.Unlock()
		return MappingInfo{}, errNotFound()
	}
	prev, state, supervised, prevRec := e.def.clone(), e.state, e.started, e.record()
	r.mu.Unlock()
	if supervised && state.Transitional() {
		return MappingInfo{}, errInUse("update", state)
	}
	next := prev.clone()
	if err := change(&next); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return MappingInfo{}, ae
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			return MappingInfo{}, configAPIError(err)
		}
		return MappingInfo{}, apiError(ErrorInvalidParameterValue, 400, err, "%s", strings.TrimPrefix(err.Error(), "esm: "))
	}
	if err := immutable(prev, next); err != nil {
		return MappingInfo{}, err
	}
	if next.FunctionName == "" {
		return MappingInfo{}, errInvalid("FunctionName cannot be empty.")
	}
	fnChanged := next.FunctionName != prev.FunctionName || next.FunctionArn != prev.FunctionArn
	if next.FunctionName != prev.FunctionName && next.FunctionArn == prev.FunctionArn {
		next.FunctionArn = "" // derived from the new name
	}
	full, src, err := r.check(ctx, next, fnChanged)
	if err != nil {
		return MappingInfo{}, err
	}
	if fnChanged {
		if err := r.conflict(src, full, uuid); err != nil {
			return MappingInfo{}, err
		}
	}
	now := time.Now()
	rec := MappingRecord{UUID: uuid, Config: next, Created: prevRec.Created, LastModified: now}
	if r.shared == nil {
		if err := r.store.PutMapping(ctx, rec); err != nil {
			return MappingInfo{}, errService(err, "The mapping could not be saved: %v", err)
		}
	} else {
		stored, err := r.shared.UpdateMapping(ctx, prevRec, rec)
		var ce *MappingConflictError
		switch {
		case errors.Is(err, ErrMappingChanged):
			return MappingInfo{}, err
		case errors.Is(err, ErrMappingNotFound): // deleted by another process
			_ = r.syncLocked(ctx, true)
			return MappingInfo{}, errNotFound()
		case errors.As(err, &ce) && ce.Key != "":
			_ = r.syncLocked(ctx, true)
			return MappingInfo{}, apiError(ErrorResourceConflict, 409, err, "%s", errConflict(src.Kind, sourceName(full), functionBareName(full.FunctionArn), ce.UUID).Message)
		case err != nil:
			return MappingInfo{}, errService(err, "The mapping could not be saved: %v", err)
		}
		rec.Revision = stored.Revision
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e.def, e.modified, e.rev = next, now, rec.Revision
	e.gen++
	r.transition(e, prev.IsEnabled())
	r.log.Info("mapping updated", "uuid", uuid, "state", e.state)
	return r.info(e), nil
}

// immutable refuses a change of what identifies a mapping's source and
// position.
func immutable(prev, next Config) error {
	switch {
	case next.EventSourceArn != prev.EventSourceArn || next.QueueURL != prev.QueueURL:
		return errInvalid("EventSourceArn cannot be updated: create a new event source mapping for another source.")
	case next.StartingPosition != prev.StartingPosition || !next.StartingPositionTimestamp.Equal(prev.StartingPositionTimestamp):
		return errInvalid("StartingPosition cannot be updated: the mapping resumes from its checkpoints; create a new event source mapping to start elsewhere.")
	}
	return nil
}

// Enable enables a mapping: [Registry.Update] with Enabled true.
func (r *Registry) Enable(ctx context.Context, uuid string) (MappingInfo, error) {
	return r.Update(ctx, uuid, func(c *Config) error { c.Enabled = new(true); return nil })
}

// Disable disables a mapping: [Registry.Update] with Enabled false. Polling
// stops once in-flight batches have finished; the position is kept.
func (r *Registry) Disable(ctx context.Context, uuid string) (MappingInfo, error) {
	return r.Update(ctx, uuid, func(c *Config) error { c.Enabled = new(false); return nil })
}

// Delete deletes a mapping (DeleteEventSourceMapping): its definition leaves
// the store at once, and it stops once in-flight batches have finished; the
// answer has State Deleting, and Get finds it until it has stopped.
// Checkpoints are left in their store: a new mapping (a new UUID) starts
// afresh, as in Lambda. Errors: ResourceNotFoundException,
// ResourceInUseException, ServiceException.
func (r *Registry) Delete(ctx context.Context, uuid string) (MappingInfo, error) {
	r.opMu.Lock()
	defer r.opMu.Unlock()
	r.mu.Lock()
	e, ok := r.entries[uuid]
	if !ok {
		r.mu.Unlock()
		return MappingInfo{}, errNotFound()
	}
	state, supervised := e.state, e.started
	r.mu.Unlock()
	if supervised && state.Transitional() {
		return MappingInfo{}, errInUse("delete", state)
	}
	if err := r.store.DeleteMapping(ctx, uuid); err != nil {
		return MappingInfo{}, errService(err, "The mapping could not be deleted: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e.deleting, e.state = true, StateDeleting
	e.gen++
	info := r.info(e)
	if !e.started {
		delete(r.entries, uuid)
	}
	e.poke()
	r.log.Info("mapping deleted", "uuid", uuid)
	return info, nil
}

// info describes e; the caller holds r.mu.
func (r *Registry) info(e *entry) MappingInfo {
	full, err := e.def.WithDefaults()
	if err != nil { // validated when stored: cannot happen
		full = e.def.clone()
	}
	info := MappingInfo{
		UUID: e.uuid, Config: full, Kind: e.src.Kind, State: e.state,
		StateTransitionReason: ReasonUserAction, LastModified: e.modified, Created: e.created,
		LastProcessingResult: *e.result.Load(),
	}
	if e.src.Kind == SQS {
		info.StateTransitionReason = ReasonUserInitiated
	}
	if a, err := arn.Parse(full.FunctionArn); err == nil {
		info.EventSourceMappingArn = arn.ARN{Partition: a.Partition, Service: "lambda", Region: a.Region, AccountID: a.AccountID,
			Resource: "event-source-mapping:" + e.uuid}.String()
	}
	if e.cur != nil {
		info.Health = e.cur.m.Health()
	}
	return info
}
