package core

import (
	"time"

	"github.com/lambdaesm/lambdaesm"
)

// Hooks dispatches events to the hooks that implement them (each method is
// named after its hook interface, without "On"): the interface
// checks are done once, when it is built, so an event no hook hears costs a
// loop over an empty slice. Its zero value (and nil) hears nothing.
type Hooks struct {
	polled      []lambdaesm.HookRecordsPolled
	filtered    []lambdaesm.HookRecordsFilteredOut
	invoked     []lambdaesm.HookBatchInvoked
	age         []lambdaesm.HookIteratorAge
	dropped     []lambdaesm.HookRecordsDropped
	deleted     []lambdaesm.HookRecordsDeleted
	notDeleted  []lambdaesm.HookRecordsNotDeleted
	delivered   []lambdaesm.HookDestinationDelivered
	written     []lambdaesm.HookCheckpointWritten
	cpFailed    []lambdaesm.HookCheckpointFailed
	started     []lambdaesm.HookShardStarted
	ended       []lambdaesm.HookShardEnded
	acquired    []lambdaesm.HookLeaseAcquired
	lost        []lambdaesm.HookLeaseLost
	throttled   []lambdaesm.HookThrottled
	retried     []lambdaesm.HookBatchRetried
	split       []lambdaesm.HookBatchSplit
	async       []lambdaesm.HookAsyncResult
	refused     []lambdaesm.HookScheduleRefused
	leaseEvents bool
}

// NewHooks sorts hs by the events they hear; nil entries are skipped.
func NewHooks(hs ...lambdaesm.Hook) *Hooks {
	h := &Hooks{}
	for _, x := range hs {
		add(&h.polled, x)
		add(&h.filtered, x)
		add(&h.invoked, x)
		add(&h.age, x)
		add(&h.dropped, x)
		add(&h.deleted, x)
		add(&h.notDeleted, x)
		add(&h.delivered, x)
		add(&h.written, x)
		add(&h.cpFailed, x)
		add(&h.started, x)
		add(&h.ended, x)
		add(&h.acquired, x)
		add(&h.lost, x)
		add(&h.throttled, x)
		add(&h.retried, x)
		add(&h.split, x)
		add(&h.async, x)
		add(&h.refused, x)
	}
	h.leaseEvents = len(h.acquired) > 0 || len(h.lost) > 0
	return h
}

func add[I any](to *[]I, x lambdaesm.Hook) {
	if i, ok := x.(I); ok {
		*to = append(*to, i)
	}
}

// RecordsPolled calls the OnRecordsPolled method of each hook that has it.
func (h *Hooks) RecordsPolled(src lambdaesm.Source, n int) {
	if h == nil {
		return
	}
	for _, x := range h.polled {
		x.OnRecordsPolled(src, n)
	}
}

// RecordsFilteredOut calls the OnRecordsFilteredOut method of each hook that has it.
func (h *Hooks) RecordsFilteredOut(src lambdaesm.Source, n int) {
	if h == nil {
		return
	}
	for _, x := range h.filtered {
		x.OnRecordsFilteredOut(src, n)
	}
}

// BatchInvoked calls the OnBatchInvoked method of each hook that has it.
func (h *Hooks) BatchInvoked(inv lambdaesm.Invocation) {
	if h == nil {
		return
	}
	for _, x := range h.invoked {
		x.OnBatchInvoked(inv)
	}
}

// IteratorAge calls the OnIteratorAge method of each hook that has it.
func (h *Hooks) IteratorAge(src lambdaesm.Source, age time.Duration) {
	if h == nil {
		return
	}
	for _, x := range h.age {
		x.OnIteratorAge(src, age)
	}
}

// RecordsDropped calls the OnRecordsDropped method of each hook that has it.
func (h *Hooks) RecordsDropped(src lambdaesm.Source, n int, c lambdaesm.Condition) {
	if h == nil {
		return
	}
	for _, x := range h.dropped {
		x.OnRecordsDropped(src, n, c)
	}
}

// RecordsDeleted calls the OnRecordsDeleted method of each hook that has it.
func (h *Hooks) RecordsDeleted(src lambdaesm.Source, n int) {
	if h == nil {
		return
	}
	for _, x := range h.deleted {
		x.OnRecordsDeleted(src, n)
	}
}

// RecordsNotDeleted calls the OnRecordsNotDeleted method of each hook that has it.
func (h *Hooks) RecordsNotDeleted(src lambdaesm.Source, n int, err error) {
	if h == nil {
		return
	}
	for _, x := range h.notDeleted {
		x.OnRecordsNotDeleted(src, n, err)
	}
}

// DestinationDelivered calls the OnDestinationDelivered method of each hook that has it.
func (h *Hooks) DestinationDelivered(src lambdaesm.Source, arn string, err error) {
	if h == nil {
		return
	}
	for _, x := range h.delivered {
		x.OnDestinationDelivered(src, arn, err)
	}
}

// CheckpointWritten calls the OnCheckpointWritten method of each hook that has it.
func (h *Hooks) CheckpointWritten(src lambdaesm.Source, seq string) {
	if h == nil {
		return
	}
	for _, x := range h.written {
		x.OnCheckpointWritten(src, seq)
	}
}

// CheckpointFailed calls the OnCheckpointFailed method of each hook that has it.
func (h *Hooks) CheckpointFailed(src lambdaesm.Source, err error) {
	if h == nil {
		return
	}
	for _, x := range h.cpFailed {
		x.OnCheckpointFailed(src, err)
	}
}

// ShardStarted calls the OnShardStarted method of each hook that has it.
func (h *Hooks) ShardStarted(src lambdaesm.Source, position string) {
	if h == nil {
		return
	}
	for _, x := range h.started {
		x.OnShardStarted(src, position)
	}
}

// ShardEnded calls the OnShardEnded method of each hook that has it.
func (h *Hooks) ShardEnded(src lambdaesm.Source) {
	if h == nil {
		return
	}
	for _, x := range h.ended {
		x.OnShardEnded(src)
	}
}

// LeaseEvents tells whether any hook hears of leases (so the engine need not
// compare lease sets otherwise).
func (h *Hooks) LeaseEvents() bool { return h != nil && h.leaseEvents }

// LeaseAcquired calls the OnLeaseAcquired method of each hook that has it.
func (h *Hooks) LeaseAcquired(src lambdaesm.Source) {
	if h == nil {
		return
	}
	for _, x := range h.acquired {
		x.OnLeaseAcquired(src)
	}
}

// LeaseLost calls the OnLeaseLost method of each hook that has it.
func (h *Hooks) LeaseLost(src lambdaesm.Source) {
	if h == nil {
		return
	}
	for _, x := range h.lost {
		x.OnLeaseLost(src)
	}
}

// Throttled calls the OnThrottled method of each hook that has it.
func (h *Hooks) Throttled(src lambdaesm.Source, op string) {
	if h == nil {
		return
	}
	for _, x := range h.throttled {
		x.OnThrottled(src, op)
	}
}

// BatchRetried calls the OnBatchRetried method of each hook that has it.
func (h *Hooks) BatchRetried(src lambdaesm.Source, records, attempt int) {
	if h == nil {
		return
	}
	for _, x := range h.retried {
		x.OnBatchRetried(src, records, attempt)
	}
}

// BatchSplit calls the OnBatchSplit method of each hook that has it.
func (h *Hooks) BatchSplit(src lambdaesm.Source, records int) {
	if h == nil {
		return
	}
	for _, x := range h.split {
		x.OnBatchSplit(src, records)
	}
}

// AsyncResult calls the OnAsyncResult method of each hook that has it.
func (h *Hooks) AsyncResult(r lambdaesm.AsyncResult) {
	if h == nil {
		return
	}
	for _, x := range h.async {
		x.OnAsyncResult(r)
	}
}

// ScheduleRefused calls the OnScheduleRefused method of each hook that has it.
func (h *Hooks) ScheduleRefused(ruleARN string, at time.Time, err error) {
	if h == nil {
		return
	}
	for _, x := range h.refused {
		x.OnScheduleRefused(ruleARN, at, err)
	}
}
