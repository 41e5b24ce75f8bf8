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

	"github.com/lambdaesm/lambdaesm/shard"
)

// Leases implements [shard.LeaseStore]. One round: a heartbeat (one write,
// which renews every lease this process holds), one consistent Query of the
// mapping's items, then conditional writes only for what changes: leases
// taken, hand-offs asked for, leases adopted, finished parents removed.
func (s *Store) Leases(ctx context.Context, mapping string, shards []shard.ShardInfo) ([]string, error) {
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	if err := s.heartbeat(ctx, mapping); err != nil {
		return nil, err
	}
	items, workers, err := s.query(ctx, mapping)
	if err != nil {
		return nil, err
	}
	if w := workers[s.owner]; w != nil && w.session != s.session {
		// A newer process of this name wrote its heartbeat since ours:
		// leave its leases alone.
		return nil, s.replaced(mapping)
	}
	r := &round{s: s, mapping: mapping, now: s.now(), items: items, workers: workers}
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
// took it, this Store is replaced for good (see [ErrOwnerInUse]).
func (s *Store) heartbeat(ctx context.Context, mapping string) error {
	s.mu.Lock()
	m := s.state(mapping)
	first, gone := !m.beating, m.replaced
	s.mu.Unlock()
	if gone {
		return s.replaced(mapping)
	}
	start := s.now()
	in := &dynamodb.UpdateItemInput{
		TableName:        &s.table,
		Key:              key(mapping, workerPrefix+s.owner),
		UpdateExpression: aws.String("SET #w = :w, #s = :s, #u = :u ADD #b :one"),
		ExpressionAttributeNames: map[string]string{
			"#w": attrWorker, "#s": attrSession, "#u": attrBeatUntil, "#b": attrBeats,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":w": str(s.owner), ":s": str(s.session), ":u": num(ms(start.Add(s.dur))), ":one": num(1),
		},
	}
	if !first {
		in.ConditionExpression = aws.String("#s = :s")
	}
	_, err := s.c.UpdateItem(ctx, in)
	if failed, _ := conditionFailed(err); failed {
		return s.replaced(mapping)
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	s.mu.Lock()
	m = s.state(mapping)
	m.beating = true
	m.beatUntil = start.Add(s.dur)
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

// query reads every item of the mapping: shard leases and heartbeats.
func (s *Store) query(ctx context.Context, mapping string) (map[string]*leaseItem, map[string]*workerItem, error) {
	items := map[string]*leaseItem{}
	workers := map[string]*workerItem{}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#m = :m"),
		ExpressionAttributeNames:  map[string]string{"#m": attrMapping},
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": str(mapping)},
	}
	for {
		out, err := s.c.Query(ctx, in)
		if err != nil {
			return nil, nil, s.apiError("Query", err)
		}
		for _, it := range out.Items {
			id := getS(it, attrID)
			switch {
			case strings.HasPrefix(id, shardPrefix):
				items[id[len(shardPrefix):]] = decodeLease(it)
			case strings.HasPrefix(id, workerPrefix):
				workers[id[len(workerPrefix):]] = &workerItem{session: getS(it, attrSession), expires: getN(it, attrBeatUntil)}
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
	shards  []shard.ShardInfo
	listed  map[string]shard.ShardInfo
	// children of each shard, from the listing and from the items'
	// parentShardIds: a listing may be older than the table.
	children map[string][]string
	doneMemo map[string]bool
}

func (r *round) index(shards []shard.ShardInfo) {
	r.shards = shards
	r.listed = make(map[string]shard.ShardInfo, len(shards))
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
// heartbeat, whichever is later.
func (r *round) expires(it *leaseItem) time.Time {
	e := it.expires
	if w := r.workers[it.owner]; w != nil && w.expires > e {
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
		if err := s.release(ctx, r.mapping, p.id, p.counter, it.handoff); err != nil {
			return err
		}
		r.items[p.id] = &leaseItem{owner: it.handoff, counter: p.counter + 1, expires: ms(r.now.Add(s.dur)), cp: it.cp}
	}
	for _, id := range adopt {
		if err := r.take(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// balance plans with [shard.PlanLeases] and writes the takes and the
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
	var leases []shard.Lease
	for _, sh := range r.shards {
		if r.finished(sh.ID) {
			continue
		}
		l := shard.Lease{ShardID: sh.ID}
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
	take, steal := shard.PlanLeases(leases, s.owner, r.now, live)
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
		":me": str(s.owner), ":exp": num(ms(start.Add(s.dur))), ":sh": str(id),
	}
	var counter int64
	cond := "attribute_not_exists(#id)"
	names["#id"] = attrID
	if it != nil {
		counter = it.counter
		cond = "#c = :c"
		delete(names, "#id")
		vals[":c"] = num(counter)
	}
	vals[":next"] = num(counter + 1)
	if fromOther && (it == nil || it.owner != s.owner) {
		upd = "SET #o = :me, #c = :next, #e = :exp, #sh = :sh ADD #sw :one REMOVE #h"
		names["#sw"] = attrSwitches
		vals[":one"] = num(1)
	}
	if parents := r.listed[id].Parents; len(parents) > 0 {
		upd = strings.Replace(upd, "#sh = :sh", "#sh = :sh, #p = :p", 1)
		names["#p"] = attrParents
		vals[":p"] = &types.AttributeValueMemberSS{Value: parents}
	}
	_, err := s.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: key(r.mapping, shardPrefix+id),
		UpdateExpression: &upd, ConditionExpression: &cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	})
	if failed, _ := conditionFailed(err); failed {
		return nil
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	cp := ""
	if it != nil {
		cp = it.cp
	}
	s.mu.Lock()
	s.state(r.mapping).held[id] = &held{counter: counter + 1, until: start.Add(s.dur), cp: cp}
	s.mu.Unlock()
	r.items[id] = &leaseItem{owner: s.owner, counter: counter + 1, expires: ms(start.Add(s.dur)), cp: cp}
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
			":me": str(s.owner), ":o": str(it.owner), ":c": num(it.counter),
		},
	})
	if failed, _ := conditionFailed(err); failed {
		return nil
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	it.handoff = s.owner
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
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": num(it.counter)},
		})
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
