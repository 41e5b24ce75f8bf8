package esm

import (
	"context"
	"errors"
	"time"
)

// DefaultPollInterval is how often a [Registry] over a [SharedMappingStore]
// looks for definitions that other registries changed, unless
// RegistryConfig.PollInterval says otherwise. A look that finds nothing
// changed reads the store's change counter only (one GetItem for
// [DynamoDBMappingStore]).
const DefaultPollInterval = 5 * time.Second

// syncTimeout bounds one look at the store; API operations wait for it.
const syncTimeout = 10 * time.Second

// updateAttempts bounds the attempts of an Update that keeps finding the
// mapping changed by another registry.
const updateAttempts = 3

// StoreHealth is how a registry keeps up with its mapping store.
type StoreHealth struct {
	// Shared tells that the store is a [SharedMappingStore], which the
	// registry polls every PollInterval for the changes of other
	// registries.
	Shared       bool
	PollInterval time.Duration
	// LastSync is when the registry last read the store successfully (when
	// it was built, then at each poll).
	LastSync time.Time
	// LastError is the last failure to read the store, or to use a
	// definition read from it, and LastErrorAt when; nil when there was
	// none.
	LastError   error
	LastErrorAt time.Time
}

// Healthy reports whether the registry is up to date with a shared store:
// it read it within the last three poll intervals. A store that is not
// shared is always healthy.
func (h StoreHealth) Healthy(now time.Time) bool {
	return !h.Shared || (!h.LastSync.IsZero() && now.Sub(h.LastSync) <= 3*h.PollInterval)
}

// StoreHealth reports how the registry keeps up with its mapping store.
func (r *Registry) StoreHealth() StoreHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	return StoreHealth{Shared: r.shared != nil, PollInterval: r.pollInterval, LastSync: r.lastSync, LastError: r.syncErr, LastErrorAt: r.syncErrAt}
}

// syncFailed records a failure of the background work on the store.
func (r *Registry) syncFailed(err error) {
	r.mu.Lock()
	r.syncErr, r.syncErrAt = err, time.Now()
	r.mu.Unlock()
}

// poll looks at the shared store every poll interval until the registry
// stops; it runs under r.sups.
func (r *Registry) poll(ctx context.Context) {
	t := time.NewTicker(r.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, syncTimeout)
		r.opMu.Lock()
		_ = r.syncLocked(sctx, false)
		r.opMu.Unlock()
		cancel()
	}
}

// syncLocked reads the store's change counter and, when it moved since the
// last look (or force), the definitions, and makes the registry's mappings
// match them: a mapping another registry created starts, one it updated
// restarts with the new definition (or stops, disabled), one it deleted
// stops and goes. The caller holds r.opMu, so that no change of this
// registry is under way. A failure is logged, kept for StoreHealth and
// returned.
func (r *Registry) syncLocked(ctx context.Context, force bool) error {
	n, err := r.shared.Changes(ctx)
	if err == nil && (force || n != r.lastChanges) {
		var recs []MappingRecord
		recs, err = r.store.LoadMappings(ctx)
		var skipped *skippedMappingsError
		switch {
		case errors.As(err, &skipped):
			// The readable mappings run; the counter is not taken, so the
			// definitions are read (and the rest reported) again.
			r.reconcile(recs)
			r.log.Error("the mapping store holds mappings that cannot be read; they are ignored", "err", err)
			r.syncFailed(err)
			return err
		case err == nil && r.reconcile(recs):
			r.lastChanges = n
		}
	}
	if err != nil {
		r.log.Warn("reading the mapping store failed; retrying at the next poll", "err", err, "pollInterval", r.pollInterval.String())
		r.syncFailed(err)
		return err
	}
	r.mu.Lock()
	r.lastSync = time.Now()
	r.mu.Unlock()
	return nil
}

// reconcile makes the entries match the stored definitions; the caller
// holds r.opMu. It returns false when the definitions must be read again at
// the next poll even if the counter has not moved: a mapping was re-created
// under the UUID of one still stopping here.
func (r *Registry) reconcile(recs []MappingRecord) (complete bool) {
	complete = true
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(recs))
	for _, rec := range recs {
		seen[rec.UUID] = true
		e, ok := r.entries[rec.UUID]
		if ok && e.deleting {
			complete = false // the store has it again: adopt it once this one is gone
			continue
		}
		// A revision starts at 1 again when a mapping is created again
		// under its UUID: the creation time tells the two apart.
		if ok && e.rev == rec.Revision && e.created.Equal(rec.Created) {
			continue
		}
		def := rec.Config.clone()
		full, err := def.WithDefaults()
		if err != nil {
			err = errors.Join(errors.New("esm: a stored mapping does not validate; it is ignored"), err)
			r.log.Error("a stored mapping does not validate; it is ignored", "uuid", rec.UUID, "err", err)
			r.syncErr, r.syncErrAt = err, time.Now()
			continue
		}
		if def.FunctionName == "" {
			def.FunctionName = full.FunctionArn
		}
		src, _ := full.EventSource()
		switch {
		case !ok:
			r.adopt(rec, def, src)
		case !e.created.Equal(rec.Created), src.Kind != e.src.Kind || sourceKey(src) != sourceKey(e.src):
			// Another mapping under the same UUID (created again, or
			// of another source): this one goes first.
			r.markDeleted(e)
			complete = false
		default:
			prevEnabled := e.def.IsEnabled()
			e.def, e.created, e.modified, e.rev = def, rec.Created, rec.LastModified, rec.Revision
			e.gen++
			r.transition(e, prevEnabled)
			r.log.Info("mapping updated by another process", "uuid", e.uuid, "state", e.state)
		}
	}
	for id, e := range r.entries {
		if !seen[id] && !e.deleting {
			r.markDeleted(e)
		}
	}
	return complete
}

// adopt adds a mapping another registry created; the caller holds r.mu.
func (r *Registry) adopt(rec MappingRecord, def Config, src EventSource) {
	e := &entry{uuid: rec.UUID, created: rec.Created, modified: rec.LastModified, def: def, src: src, rev: rec.Revision, state: StateDisabled}
	switch {
	case def.IsEnabled() && r.running && !r.closed:
		e.state = StateCreating
	case def.IsEnabled():
		e.state = StateEnabling
	}
	e.initResult()
	r.entries[e.uuid] = e
	if r.running && !r.closed {
		r.startSupervisor(e)
	}
	r.log.Info("mapping created by another process", "uuid", e.uuid, "functionName", def.FunctionName, "eventSourceArn", sourceName(def), "enabled", def.IsEnabled())
}

// markDeleted stops and forgets a mapping another registry deleted; the
// caller holds r.mu.
func (r *Registry) markDeleted(e *entry) {
	e.deleting, e.state = true, StateDeleting
	e.gen++
	if !e.started {
		delete(r.entries, e.uuid)
	}
	e.poke()
	r.log.Info("mapping deleted by another process", "uuid", e.uuid)
}

// transition sets the state of a mapping whose definition changed; the
// caller holds r.mu and has bumped e.gen.
func (r *Registry) transition(e *entry, prevEnabled bool) {
	next := e.def.IsEnabled()
	switch {
	case prevEnabled && !next:
		e.state = StateDisabling
	case !prevEnabled && next:
		e.state = StateEnabling
	default:
		e.state = StateUpdating
	}
	switch {
	case !e.started && !r.running: // nothing runs yet: settle at once
		e.state = StateDisabled
		if next {
			e.state = StateEnabling
		}
	case !e.started && r.closed: // nothing runs any more
		e.state = restingState(e.def)
	}
	e.poke()
}

// restingState is the state of a mapping of definition def that no
// supervisor runs any more (the registry stopped): what it was set to be.
func restingState(def Config) State {
	if def.IsEnabled() {
		return StateEnabled
	}
	return StateDisabled
}

// record returns e's definition as stored; the caller holds r.mu.
func (e *entry) record() MappingRecord {
	return MappingRecord{UUID: e.uuid, Config: e.def.clone(), Created: e.created, LastModified: e.modified, Revision: e.rev}
}
