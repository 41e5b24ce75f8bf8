package dynamolease

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
	"github.com/lambdaesm/lambdaesm/internal/leaseplan"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Leases implements [shard.LeaseStore]. One round: a heartbeat (one write,
// which renews every lease this process holds) and a consistent read of the
// mapping's change counter (one item). Only when the counter moved does the
// round Query the mapping's items; only when a heartbeat this process knows
// may have lapsed does it Query the heartbeats. It then decides on its copy
// of the items and writes only what changes (leases taken, hand-offs asked
// for, leases adopted, finished parents removed), and announces any change
// by bumping the counter.
func (s *Store) Leases(ctx context.Context, mapping string, shards []shard.Info) ([]string, error) {
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	if err := s.heartbeat(ctx, mapping); err != nil {
		return nil, err
	}
	s.mu.Lock()
	pending := s.state(mapping).announce
	s.mu.Unlock()
	if pending {
		if err := s.announce(ctx, mapping); err != nil {
			return nil, err
		}
	}
	now := s.now()
	items, workers, err := s.refresh(ctx, mapping, now)
	if err != nil {
		return nil, err
	}
	if w := workers[s.owner]; w != nil && w.session != s.session {
		// A newer process of this name wrote its heartbeat since ours:
		// leave its leases alone.
		return nil, s.replaced(mapping)
	}
	if s.onRound != nil {
		s.onRound(mapping, items)
	}
	// The round decides at the time its reads were planned for: every
	// heartbeat it did not read again is live until after then.
	r := &round{s: s, mapping: mapping, now: now, items: items, workers: workers}
	defer func() {
		if r.changed {
			_ = s.announce(ctx, mapping) // retried at the next round if it fails
		}
	}()
	r.index(shards)
	if err := r.reconcile(ctx); err != nil {
		return nil, err
	}
	if err := r.balance(ctx); err != nil {
		return nil, err
	}
	if err := r.cleanup(ctx); err != nil {
		return nil, err
	}
	return r.result(), nil
}

// heartbeat writes this process's heartbeat item. The first one of a Store
// (for a mapping) takes the item over whoever wrote it before: the newest
// process with a name wins, so a process restarted under its old name need
// not wait for the old heartbeat to lapse. Every later one is conditional
// on the item still holding this Store's session; once another session
// took it, this Store is replaced for good (see [ErrOwnerInUse]). A first
// heartbeat, or one after the previous lapsed, is a change the others must
// hear of (a process joined, or came back): it is announced.
func (s *Store) heartbeat(ctx context.Context, mapping string) error {
	s.mu.Lock()
	m := s.state(mapping)
	first, gone := !m.beating, m.replaced
	s.mu.Unlock()
	if gone {
		return s.replaced(mapping)
	}
	start := s.now()
	until := ddbtable.N(ms(start.Add(s.dur)))
	in := &dynamodb.UpdateItemInput{
		TableName:        &s.table,
		Key:              key(mapping, workerPrefix+s.owner),
		UpdateExpression: aws.String("SET #w = :w, #s = :s, #u = :u, #a = :u ADD #b :one"),
		ExpressionAttributeNames: map[string]string{
			"#w": attrWorker, "#s": attrSession, "#u": attrBeatUntil, "#a": attrAnnounces, "#b": attrBeats,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":w": ddbtable.S(s.owner), ":s": ddbtable.S(s.session), ":u": until, ":one": ddbtable.N(1),
		},
		ReturnValues: types.ReturnValueUpdatedOld,
	}
	if !first {
		in.ConditionExpression = aws.String("#s = :s")
	}
	out, err := s.c.UpdateItem(ctx, in)
	if failed, _ := conditionFailed(err); failed {
		return s.replaced(mapping)
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	lapsed := out == nil || ddbtable.GetN(out.Attributes, attrBeatUntil) <= ms(start)
	s.mu.Lock()
	m = s.state(mapping)
	m.beating = true
	m.beatUntil = start.Add(s.dur)
	if first || lapsed {
		m.announce = true
	}
	s.mu.Unlock()
	return nil
}

// replaced records that a newer process took this Store's owner name over
// in the mapping: it holds no lease there any more, and every later round
// fails at once.
func (s *Store) replaced(mapping string) error {
	s.mu.Lock()
	m := s.state(mapping)
	m.replaced = true
	m.beatUntil = time.Time{}
	clear(m.held)
	s.mu.Unlock()
	return fmt.Errorf("%w: %q heartbeats for mapping %s from a newer process, which took its leases over; this process reads none of them any more: %w",
		ErrOwnerInUse, s.owner, mapping, shard.ErrLeaseLost)
}

// announce bumps the mapping's change counter, after this process changed
// lease items (or a write of its may have), so that every process reads the
// mapping again at its next round. Until it succeeds, each round tries
// again first.
func (s *Store) announce(ctx context.Context, mapping string) error {
	s.mu.Lock()
	m := s.state(mapping)
	m.announce, m.stale = true, true
	m.announcing++
	n := m.announcing
	s.mu.Unlock()
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(mapping, changesID),
		UpdateExpression:          aws.String("ADD #n :one"),
		ExpressionAttributeNames:  map[string]string{"#n": attrChanges},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": ddbtable.N(1)},
	})
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	s.mu.Lock()
	if m.announcing == n {
		m.announce = false // no change came after this announcement began
	}
	s.mu.Unlock()
	return nil
}

// changed records the outcome of a write that changes lease items: done
// (err nil) or uncertain (an error other than a failed condition), it must
// be announced; either way, and when the condition failed (the copy of
// the items was wrong), the next round reads the mapping again.
func (s *Store) changed(mapping string, err error) (announce bool) {
	failed, _ := conditionFailed(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state(mapping)
	m.stale = true
	return !failed
}

// refresh returns the items and heartbeats a round decides on: this
// process's copy, read again where it may be out of date. The change
// counter is read first, and the copy is current when it has not moved
// since the items were last read: every process announces its changes to
// lease items after making them. Heartbeats change without announcement
// (that is what renews the leases), but one can only lapse at its expiry:
// they are read again once the earliest expiry known passes. A process that
// joined, came back, left or lapsed since the last read is a change too
// (the items are read again); so is a live process of an earlier version,
// which announces nothing.
func (s *Store) refresh(ctx context.Context, mapping string, now time.Time) (map[string]*leaseItem, map[string]*workerItem, error) {
	changes, err := s.changeCount(ctx, mapping)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	m := s.state(mapping)
	full := m.view == nil || m.stale || m.legacy || changes != m.changes
	beats := !now.Before(m.beatCheck)
	s.mu.Unlock()
	if !full && beats {
		workers, err := s.queryWorkers(ctx, mapping)
		if err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		if m.stale || !sameMembers(m.workers, m.readAt, workers, now) || s.isLegacy(workers, now) {
			full = true
		} else {
			s.viewed(m, nil, workers, changes, now)
		}
		s.mu.Unlock()
	}
	if full {
		s.mu.Lock()
		m.stale = false // a write from now on is in the Query, or makes it stale again
		s.mu.Unlock()
		items, workers, err := s.query(ctx, mapping)
		if err != nil {
			s.mu.Lock()
			m.stale = true
			s.mu.Unlock()
			return nil, nil, err
		}
		s.mu.Lock()
		s.viewed(m, items, workers, changes, now)
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The round adds, replaces and removes items as it writes, never
	// changes one in place.
	return maps.Clone(m.view), m.workers, nil
}

// viewed records a read: the items (nil: only the heartbeats were read),
// the heartbeats, and the change counter read before them; s.mu is held.
func (s *Store) viewed(m *mapState, items map[string]*leaseItem, workers map[string]*workerItem, changes int64, now time.Time) {
	if items != nil {
		m.view = items
	}
	m.workers, m.changes, m.readAt = workers, changes, now
	m.legacy = s.isLegacy(workers, now)
	// Read the heartbeats again when the first of the others' may lapse,
	// and at least every lease duration.
	m.beatCheck = now.Add(s.dur)
	for w, it := range workers {
		if e := time.UnixMilli(it.expires); w != s.owner && e.After(now) && e.Before(m.beatCheck) {
			m.beatCheck = e
		}
	}
}

// isLegacy tells whether a live heartbeat was written by a process that
// does not announce its changes.
func (s *Store) isLegacy(workers map[string]*workerItem, now time.Time) bool {
	for w, it := range workers {
		if w != s.owner && now.Before(time.UnixMilli(it.expires)) && it.announcing != it.expires {
			return true
		}
	}
	return false
}

// sameMembers tells whether the same processes are live under the same
// sessions now as at the previous read.
func sameMembers(prev map[string]*workerItem, then time.Time, cur map[string]*workerItem, now time.Time) bool {
	if len(prev) != len(cur) {
		return false
	}
	for w, p := range prev {
		c := cur[w]
		if c == nil || c.session != p.session ||
			then.Before(time.UnixMilli(p.expires)) != now.Before(time.UnixMilli(c.expires)) {
			return false
		}
	}
	return true
}

// changeCount reads the mapping's change counter (0 while there is none).
func (s *Store) changeCount(ctx context.Context, mapping string) (int64, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(mapping, changesID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, s.apiError("GetItem", err)
	}
	return ddbtable.GetN(out.Item, attrChanges), nil
}

// queryWorkers reads the mapping's heartbeats.
func (s *Store) queryWorkers(ctx context.Context, mapping string) (map[string]*workerItem, error) {
	workers := map[string]*workerItem{}
	in := &dynamodb.QueryInput{
		TableName:                &s.table,
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#m = :m AND begins_with(#id, :w)"),
		ExpressionAttributeNames: map[string]string{"#m": attrMapping, "#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": ddbtable.S(mapping), ":w": ddbtable.S(workerPrefix),
		},
	}
	for {
		out, err := s.c.Query(ctx, in)
		if err != nil {
			return nil, s.apiError("Query", err)
		}
		for _, it := range out.Items {
			workers[ddbtable.GetS(it, attrID)[len(workerPrefix):]] = decodeWorker(it)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return workers, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// query reads every item of the mapping: shard leases and heartbeats.
func (s *Store) query(ctx context.Context, mapping string) (map[string]*leaseItem, map[string]*workerItem, error) {
	items := map[string]*leaseItem{}
	workers := map[string]*workerItem{}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#m = :m"),
		ExpressionAttributeNames:  map[string]string{"#m": attrMapping},
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": ddbtable.S(mapping)},
	}
	for {
		out, err := s.c.Query(ctx, in)
		if err != nil {
			return nil, nil, s.apiError("Query", err)
		}
		for _, it := range out.Items {
			id := ddbtable.GetS(it, attrID)
			switch {
			case strings.HasPrefix(id, shardPrefix):
				items[id[len(shardPrefix):]] = decodeLease(it)
			case strings.HasPrefix(id, workerPrefix):
				workers[id[len(workerPrefix):]] = decodeWorker(it)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return items, workers, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// round is one Leases call's view of the table.
type round struct {
	s       *Store
	mapping string
	now     time.Time
	items   map[string]*leaseItem
	workers map[string]*workerItem
	shards  []shard.Info
	listed  map[string]shard.Info
	// changed: the round changed lease items (or may have): it announces
	// it when it ends.
	changed bool
	// children of each shard, from the listing and from the items'
	// parentShardIds: a listing may be older than the table.
	children map[string][]string
	doneMemo map[string]bool
}

func (r *round) index(shards []shard.Info) {
	r.shards = shards
	r.listed = make(map[string]shard.Info, len(shards))
	r.children = map[string][]string{}
	r.doneMemo = map[string]bool{}
	link := func(parent, child string) {
		if !slices.Contains(r.children[parent], child) {
			r.children[parent] = append(r.children[parent], child)
		}
	}
	for _, sh := range shards {
		r.listed[sh.ID] = sh
		for _, p := range sh.Parents {
			link(p, sh.ID)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.items)) {
		for _, p := range r.items[id].parents {
			link(p, id)
		}
	}
}

// done tells whether a shard was started: it has a checkpoint (a start
// marker counts: the engine writes it as it starts reading), or one of its
// descendants has (its own item may be gone).
func (r *round) done(id string) bool {
	if v, ok := r.doneMemo[id]; ok {
		return v
	}
	r.doneMemo[id] = false // lineage has no cycle; this only guards
	it := r.items[id]
	v := (it != nil && it.cp != "") || slices.ContainsFunc(r.children[id], r.done)
	r.doneMemo[id] = v
	return v
}

// finishedByChild: a child was started, which the engine does only once
// every listed parent is at its end (or was skipped as closed before the
// mapping started), so this shard needs no more reading.
func (r *round) finishedByChild(id string) bool {
	return slices.ContainsFunc(r.children[id], r.done)
}

// finished: read to its end (SHARD_END; a start marker is not an end), or
// finished by a child.
func (r *round) finished(id string) bool {
	it := r.items[id]
	return (it != nil && it.cp == shardEnd) || r.finishedByChild(id)
}

// blocked tells whether a listed parent of the shard is unfinished: no
// process reads it yet.
func (r *round) blocked(id string) bool {
	for _, p := range r.listed[id].Parents {
		if _, ok := r.listed[p]; ok && !r.finished(p) {
			return true
		}
	}
	return false
}

// expires is when a lease lapses: its item's leaseExpires or its owner's
// heartbeat, whichever is later. A lease of another process that has no
// heartbeat item has lapsed: that process retired (Retire deletes the item),
// possibly while a process that still counted it live handed it the lease
// (see [Store.Release]), and it will never read the shard.
func (r *round) expires(it *leaseItem) time.Time {
	w := r.workers[it.owner]
	if w == nil && it.owner != r.s.owner {
		return time.Time{}
	}
	e := it.expires
	if w != nil && w.expires > e {
		e = w.expires
	}
	return time.UnixMilli(e)
}

func (r *round) live(owner string) bool {
	if owner == r.s.owner {
		return true
	}
	w := r.workers[owner]
	return w != nil && r.now.Before(time.UnixMilli(w.expires))
}

// reconcile brings this Store's view of its leases in line with the table:
// leases lost to others are forgotten, and leases under this process's name
// that this Store did not take (handed over by another process, or left by
// a previous process of the same name) are adopted with a counter bump, so
// that no other holder of the old counter can write. A lease asked for by a
// live process that the engine has not started reading is handed over at
// once: the engine releases only the shards it reads.
func (r *round) reconcile(ctx context.Context) error {
	s := r.s
	s.mu.Lock()
	m := s.state(r.mapping)
	clear(m.finished)
	clear(m.blocked)
	for id := range r.children {
		if r.finishedByChild(id) {
			m.finished[id] = true
		}
	}
	for _, sh := range r.shards {
		if r.blocked(sh.ID) {
			m.blocked[sh.ID] = true
		}
	}
	var adopt []string
	type pass struct {
		id      string
		counter int64
	}
	var passOn []pass
	for id, h := range m.held {
		if it := r.items[id]; it == nil || it.owner != s.owner || it.counter != h.counter {
			delete(m.held, id)
		}
	}
	for _, sh := range r.shards {
		it := r.items[sh.ID]
		if it == nil || it.owner != s.owner || r.finished(sh.ID) {
			continue
		}
		asked := r.live(it.handoff) && it.handoff != s.owner
		h := m.held[sh.ID]
		switch {
		case asked && (h == nil || !h.started):
			delete(m.held, sh.ID)
			passOn = append(passOn, pass{sh.ID, it.counter})
		case h != nil:
			h.cp, h.handoff = it.cp, ""
			if asked {
				h.handoff = it.handoff
			}
		default:
			adopt = append(adopt, sh.ID)
		}
	}
	s.mu.Unlock()
	for _, p := range passOn {
		it := r.items[p.id]
		announce, err := s.release(ctx, r.mapping, p.id, p.counter, it.handoff)
		r.changed = r.changed || announce
		if err != nil {
			return err
		}
		r.items[p.id] = &leaseItem{owner: it.handoff, counter: p.counter + 1, expires: ms(r.now.Add(s.dur)), cp: it.cp, parents: it.parents}
	}
	for _, id := range adopt {
		if err := r.take(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// balance plans with [leaseplan.Plan] and writes the takes and the
// hand-off requests.
func (r *round) balance(ctx context.Context) error {
	s := r.s
	var live []string
	for w := range r.workers {
		if w != s.owner && r.live(w) {
			live = append(live, w)
		}
	}
	slices.Sort(live)
	load := make(map[string]int, len(live))
	for _, w := range live {
		load[w] = 0
	}
	var leases []leaseplan.Lease
	for _, sh := range r.shards {
		if r.finished(sh.ID) {
			continue
		}
		l := leaseplan.Lease{ShardID: sh.ID}
		if it := r.items[sh.ID]; it != nil && it.owner != "" {
			l.Owner, l.Expires = it.owner, r.expires(it)
			if it.handoff != "" && r.live(it.handoff) && r.now.Before(l.Expires) {
				l.Owner = it.handoff // being handed over: count it for the taker
			}
			if _, ok := load[l.Owner]; ok && r.now.Before(l.Expires) {
				load[l.Owner]++
			}
		}
		leases = append(leases, l)
	}
	s.mu.Lock()
	s.state(r.mapping).load = load
	s.mu.Unlock()
	take, steal := leaseplan.Plan(leases, s.owner, r.now, live)
	for _, id := range take {
		if err := r.take(ctx, id, true); err != nil {
			return err
		}
	}
	for _, id := range steal {
		// A lease whose parents are still being read is not read
		// anywhere yet: moving it gains nothing. It is balanced once
		// its parents end.
		if r.blocked(id) {
			continue
		}
		if err := r.askHandoff(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// take writes this process as the owner of a free, expired or adopted
// lease, bumping the counter it saw; a failed condition means another
// process was first, and is not an error.
func (r *round) take(ctx context.Context, id string, fromOther bool) error {
	s := r.s
	it := r.items[id]
	start := s.now()
	upd := "SET #o = :me, #c = :next, #e = :exp, #sh = :sh REMOVE #h"
	names := map[string]string{"#o": attrOwner, "#c": attrCounter, "#e": attrExpires, "#sh": attrShard, "#h": attrHandoff}
	vals := map[string]types.AttributeValue{
		":me": ddbtable.S(s.owner), ":exp": ddbtable.N(ms(start.Add(s.dur))), ":sh": ddbtable.S(id),
	}
	var counter int64
	cond := "attribute_not_exists(#id)"
	names["#id"] = attrID
	if it != nil {
		counter = it.counter
		cond = "#c = :c"
		delete(names, "#id")
		vals[":c"] = ddbtable.N(counter)
	}
	vals[":next"] = ddbtable.N(counter + 1)
	if fromOther && (it == nil || it.owner != s.owner) {
		upd = "SET #o = :me, #c = :next, #e = :exp, #sh = :sh ADD #sw :one REMOVE #h"
		names["#sw"] = attrSwitches
		vals[":one"] = ddbtable.N(1)
	}
	parents := r.listed[id].Parents
	if len(parents) > 0 {
		upd = strings.Replace(upd, "#sh = :sh", "#sh = :sh, #p = :p", 1)
		names["#p"] = attrParents
		vals[":p"] = &types.AttributeValueMemberSS{Value: parents}
	}
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(r.mapping, shardPrefix+id),
		UpdateExpression: &upd, ConditionExpression: &cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	})
	r.changed = s.changed(r.mapping, err) || r.changed
	if failed, _ := conditionFailed(err); failed {
		return nil
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	cp := ""
	if it != nil {
		cp = it.cp
		if len(parents) == 0 {
			parents = it.parents
		}
	}
	s.mu.Lock()
	s.state(r.mapping).held[id] = &held{counter: counter + 1, until: start.Add(s.dur), cp: cp, child: len(parents) > 0}
	s.mu.Unlock()
	r.items[id] = &leaseItem{owner: s.owner, counter: counter + 1, expires: ms(start.Add(s.dur)), cp: cp, parents: parents}
	return nil
}

// askHandoff asks the live owner of a lease to hand it over: the owner
// stops reading the shard after its in-flight batch, checkpoints and
// releases the lease to this process.
func (r *round) askHandoff(ctx context.Context, id string) error {
	s := r.s
	it := r.items[id]
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(r.mapping, shardPrefix+id),
		UpdateExpression:    aws.String("SET #h = :me"),
		ConditionExpression: aws.String("#o = :o AND #c = :c"),
		ExpressionAttributeNames: map[string]string{
			"#h": attrHandoff, "#o": attrOwner, "#c": attrCounter,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": ddbtable.S(s.owner), ":o": ddbtable.S(it.owner), ":c": ddbtable.N(it.counter),
		},
	})
	r.changed = s.changed(r.mapping, err) || r.changed
	if failed, _ := conditionFailed(err); failed {
		return nil
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	asked := *it // the round's items are shared with this process's copy
	asked.handoff = s.owner
	r.items[id] = &asked
	return nil
}

// cleanup removes the items of finished parents once every child (listed, or
// named as a child by its item's parentShardIds) was started: a restart
// cannot read them again, as Load reports them at their end through their
// descendants. The process holding a child does it, or anyone when no live
// process holds one.
func (r *round) cleanup(ctx context.Context) error {
	s := r.s
	for _, sh := range r.shards {
		it, kids := r.items[sh.ID], r.children[sh.ID]
		if it == nil || len(kids) == 0 || !r.finished(sh.ID) {
			continue
		}
		mine, owned := false, false
		for _, c := range kids {
			if !r.done(c) {
				it = nil
				break
			}
			if ci := r.items[c]; ci != nil {
				mine = mine || ci.owner == s.owner
				owned = owned || (ci.owner != "" && r.live(ci.owner))
			}
		}
		if it == nil || (!mine && owned) {
			continue
		}
		_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 &s.table,
			Key:                       key(r.mapping, shardPrefix+sh.ID),
			ConditionExpression:       aws.String("#c = :c"),
			ExpressionAttributeNames:  map[string]string{"#c": attrCounter},
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": ddbtable.N(it.counter)},
		})
		r.changed = s.changed(r.mapping, err) || r.changed
		if failed, _ := conditionFailed(err); !failed && err != nil {
			return s.apiError("DeleteItem", err)
		}
		delete(r.items, sh.ID)
	}
	return nil
}

// result lists the listed shards this process holds and may read: taken by
// this Store and not being handed over.
func (r *round) result() []string {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state(r.mapping)
	var out []string
	for _, sh := range r.shards {
		if h := m.held[sh.ID]; h != nil && h.handoff == "" {
			out = append(out, sh.ID)
		}
	}
	return out
}
