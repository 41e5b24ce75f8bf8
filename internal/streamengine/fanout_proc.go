package streamengine

import (
	"context"
	"errors"
	"io"
	"time"
)

// subscribeSpacing is the least time between two subscriptions of one shard:
// Kinesis allows one SubscribeToShard call per second per consumer and
// shard.
const subscribeSpacing = time.Second

// quietInUse is how many ResourceInUseException answers in a row are
// expected (a hand-off: Kinesis lets a subscription take over after 5
// seconds) before they count as a failure in Health.
const quietInUse = 10

// readShard hands the shard's records to the lanes until the shard ends
// (true) or reading stops (false): with subscriptions when the source pushes
// (enhanced fan-out), with GetRecords otherwise.
func (p *proc[R]) readShard(ctx context.Context) bool {
	if src, ok := p.e.src.(subscriber[R]); ok {
		return p.subscribe(ctx, src)
	}
	return p.read(ctx)
}

// subscribe is read's counterpart for a pushing source. It subscribes from
// the shard's position (a checkpoint, or the start position with its
// marker), hands each event's records to the lanes, and subscribes again
// from the last event it handed on (AFTER_SEQUENCE_NUMBER of its
// continuation) when the service ends the subscription (Kinesis does every
// 5 minutes) or it fails: nothing is skipped or handed twice at the seam.
// While the lanes hold a full load it takes no event, so the subscription
// waits (its stream is not read) and memory stays bounded; if the service
// drops it meanwhile, the next one starts from the same place.
//
// A subscription refused because another one holds the shard
// (ResourceInUseException: a replica that just lost the lease, whose
// subscription Kinesis keeps for a few seconds) or throttled
// (LimitExceededException) is retried with backoff, and subscriptions of a
// shard are at least a second apart, the service's limit. The shard ends
// with the event that says so (Kinesis: ChildShards, no continuation),
// after its records, as read's shard end.
func (p *proc[R]) subscribe(ctx context.Context, src subscriber[R]) bool {
	e := p.e
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.halt, cancel)()
	pos := p.pos
	failures := 0
	var last time.Time // the last subscribe call
	for {
		if !p.wait(rctx, time.Until(last.Add(subscribeSpacing))) {
			return false
		}
		last = time.Now()
		p.notBefore = pos.NotBefore
		sub, err := src.subscribe(rctx, p.id, pos)
		if err == nil {
			from := pos
			var ended bool
			ended, err = p.events(rctx, sub, &pos)
			sub.close()
			if ended {
				return true
			}
			if pos != from {
				failures = 0 // events flowed: the next failure is a first one
			}
		}
		if rctx.Err() != nil || p.halted() {
			return false
		}
		if pos.Type == "LATEST" {
			// No event was handed on: a new LATEST would skip what
			// arrived meanwhile. Resume from the time LATEST was fixed.
			pos = e.resume(pos.Time)
		}
		switch {
		case errors.Is(err, io.EOF):
			// The service ended the subscription: renew it at once.
			failures = 0
			e.log.Debug("subscription ended; subscribing again", "shardId", p.id)
			continue
		case classify(err) == errTrimmed && pos.Type != "TRIM_HORIZON":
			e.log.Warn("shard position no longer readable; resuming at TRIM_HORIZON", "shardId", p.id, "position", pos.Type, "err", err)
			pos = position{Type: "TRIM_HORIZON"}
			continue
		}
		failures++
		switch {
		case errorCode(err) == "ResourceInUseException" && failures <= quietInUse:
			// Another subscription of this consumer holds the shard,
			// such as that of a replica that just lost the lease; Kinesis
			// lets a new one take over after 5 seconds.
			e.log.Info("another subscription holds the shard; retrying", "shardId", p.id, "err", err)
		case classify(err) == errThrottled:
			e.hook.Throttled(p.src, "SubscribeToShard")
			e.log.Debug("subscription throttled; backing off", "shardId", p.id, "err", err)
		default:
			// Health's LastError tells. A shard held by another
			// subscription this long means that another application
			// shares the consumer.
			e.health.Failed("", err)
			e.log.Warn("subscribing to the shard failed; retrying", "shardId", p.id, "err", err)
		}
		if !p.wait(rctx, e.backoff(failures)) {
			return false
		}
	}
}

// events hands a subscription's events to the lanes until the shard ends
// (true) or the subscription does (the error; io.EOF when the service ended
// it). *pos follows the events handed on.
func (p *proc[R]) events(ctx context.Context, sub subscription[R], pos *position) (bool, error) {
	e := p.e
	capacity := e.set.BatchSize * e.set.ParallelizationFactor
	perLane := make([][]ref[R], len(p.lanes))
	// spare is the array of the previous event when dispatch copied its
	// records out: the next event converts into it.
	var spare []R
	for {
		// Bounded memory: take no event while the lanes hold a full load,
		// nor while checkpoints cannot be written.
		for {
			_, inflight, changed := p.tr.state()
			if inflight <= capacity && !p.failing.Load() {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		ev, err := sub.next(ctx, spare)
		if spare != nil && len(ev.recs) > 0 && &ev.recs[:1][0] == &spare[:1][0] {
			clear(ev.recs[len(ev.recs):cap(ev.recs)]) // what the last event left past this one's end
		}
		spare = nil
		if err != nil {
			return false, err
		}
		e.health.Polled()
		e.hook.RecordsPolled(p.src, len(ev.recs))
		received := time.Now()
		if len(ev.recs) > 0 {
			last := e.src.arrival(&ev.recs[len(ev.recs)-1])
			if free := p.dispatch(ev.recs, perLane); free != nil {
				spare = free[:0]
			}
			p.readUpTo(last)
		} else {
			clear(perLane)
		}
		// Tumbling windows close by what was read, as with GetRecords
		// (see read): everything up to the last record, up to a little
		// before this event when it caught up with the shard, all at the
		// shard's end.
		if ev.caughtUp {
			p.readUpTo(received.Add(-windowCloseDelay))
		}
		if ev.ended {
			p.readUpTo(endOfTime)
			return true, nil
		}
		switch {
		case ev.cont != "":
			*pos = position{Type: "AFTER_SEQUENCE_NUMBER", Seq: ev.cont, NotBefore: p.notBefore}
		case len(ev.recs) > 0:
			*pos = position{Type: "AFTER_SEQUENCE_NUMBER", Seq: e.src.seq(&ev.recs[len(ev.recs)-1]), NotBefore: p.notBefore}
		}
	}
}
