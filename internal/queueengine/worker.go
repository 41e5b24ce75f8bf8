package queueengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdaesm/lambdaesm/internal/event"
)

// What every receive asks for: all system and message attributes, as Lambda.
var (
	allSystemAttributes  = []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}
	allMessageAttributes = []string{"All"}
)

// meta is the engine's own record of a received message. The engine reads
// identifiers and receipt handles from here, never from the event handed to
// the function (which the function may change).
type meta struct {
	id, handle string
	group      string    // MessageGroupId (FIFO)
	receives   int       // ApproximateReceiveCount
	size       int       // bytes of the message's JSON in the event
	receivedAt time.Time // when the receive returned
	deadline   time.Time // when it becomes visible again, as far as known
	capped     bool      // at SQS's 12-hour limit: cannot be extended
}

// worker receives messages into one batch at a time and hands it to the
// function; one worker is one concurrent batch.
type worker struct {
	e           *Engine
	ctx         context.Context     // Run's
	evs         []events.SQSMessage // received, not yet handed over
	meta        []meta              // parallel to evs
	in          sqs.ReceiveMessageInput
	attempt     string    // FIFO ReceiveRequestAttemptId to reuse on retry
	bytes       int       // JSON size of the records held, commas included
	failures    int       // receive errors in a row
	windowStart time.Time // when the previous invocation completed
}

// work is one worker's life: it ends when receiving stops or the scaler
// retires it.
func (e *Engine) work(ctx context.Context) {
	w := &worker{e: e, ctx: ctx, windowStart: time.Now()}
	w.in = sqs.ReceiveMessageInput{
		QueueUrl:                    &e.q.url,
		MessageSystemAttributeNames: allSystemAttributes,
		MessageAttributeNames:       allMessageAttributes,
		VisibilityTimeout:           e.q.recvVT,
	}
	for {
		b, stopped := w.collect()
		if b != nil {
			b.held = w.meta // extended by the heartbeat while b runs
			e.process(ctx, b)
			if e.q.fifo {
				w.releaseFailedGroups(b)
			}
			// Messages the payload cap held back were gathered in the
			// window that ended: they go next, at once, not after
			// another window (unless they would lapse first).
			w.releaseLapsing(time.Now())
			if len(w.meta) == 0 {
				w.windowStart = time.Now()
			}
		}
		if stopped {
			w.release()
			e.exited()
			return
		}
		if b == nil {
			return // retired: it held nothing
		}
	}
}

// collect receives until a batch is ready: BatchSize messages, the payload
// cap, or the batching window over with at least one message. It returns
// stopped when receiving stopped (the worker still holds what it received,
// including what a receive in flight at that moment returned), and neither a
// batch nor stopped when the worker retires.
func (w *worker) collect() (b *batch, stopped bool) {
	e := w.e
	set := &e.set
	for {
		if e.stopped() || w.ctx.Err() != nil {
			return nil, true
		}
		wait := int32(set.LongPoll / time.Second)
		if len(w.evs) > 0 {
			now := time.Now()
			if b := w.take(now); b != nil {
				return b, false
			}
			// Wait no longer than the window: the batch is invoked when it
			// ends.
			left := w.windowStart.Add(set.BatchingWindow).Sub(now)
			wait = min(int32((left+time.Second-1)/time.Second), wait)
		} else if e.retire() {
			return nil, false
		}
		ask := int32(min(set.BatchSize-len(w.evs), maxReceive))
		msgs, err := w.receive(ask, wait)
		if err != nil {
			if w.ctx.Err() != nil {
				continue // stopping
			}
			w.failures++
			e.health.Failed("", err)
			e.log.Warn("receiving messages failed; retrying", "attempt", w.failures, "err", err)
			e.wait(w.ctx, e.backoff(w.failures))
			continue
		}
		w.failures = 0
		e.health.Polled()
		e.observe(w.ctx, len(msgs), int(ask))
		w.add(msgs)
	}
}

// receive makes one ReceiveMessage call. A FIFO receive carries a
// ReceiveRequestAttemptId, the same one again when the call is retried after
// an error, so that SQS returns the same messages.
func (w *worker) receive(ask, wait int32) ([]types.Message, error) {
	w.in.MaxNumberOfMessages = ask
	w.in.WaitTimeSeconds = wait
	if w.e.q.fifo {
		if w.attempt == "" {
			w.attempt = newAttemptID()
		}
		w.in.ReceiveRequestAttemptId = &w.attempt
	}
	out, err := w.e.c.ReceiveMessage(w.ctx, &w.in)
	if err != nil {
		return nil, err
	}
	w.in.ReceiveRequestAttemptId = nil
	w.attempt = ""
	return out.Messages, nil
}

func newAttemptID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// add converts received messages to events, deletes those the filter
// rejects and keeps the rest for the batch.
func (w *worker) add(msgs []types.Message) {
	if len(msgs) == 0 {
		return
	}
	e := w.e
	e.hook.RecordsPolled(e.q.src, len(msgs))
	now := time.Now()
	var rejected []meta
	for i := range msgs {
		ev := event.SQS(&msgs[i], e.q.arn, e.q.region)
		m := meta{
			id: ev.MessageId, handle: ev.ReceiptHandle,
			receivedAt: now, deadline: now.Add(e.q.recvVisibility),
		}
		if e.cb.Filter != nil && !e.cb.Filter(&ev) {
			rejected = append(rejected, m)
			continue
		}
		m.group = ev.Attributes["MessageGroupId"]
		m.receives, _ = strconv.Atoi(ev.Attributes["ApproximateReceiveCount"])
		m.size = eventSize(&ev)
		w.bytes += m.size + 1
		w.evs = append(w.evs, ev)
		w.meta = append(w.meta, m)
	}
	if len(rejected) > 0 {
		e.hook.RecordsFilteredOut(e.q.src, len(rejected))
		ctx, cancel := callCtx(w.ctx)
		e.deleteMessages(ctx, rejected)
		cancel()
	}
}

// batchOverhead is the JSON around an event's records: {"Records":[]}.
const batchOverhead = len(`{"Records":[]}`)

// take removes the next batch from what the worker holds: up to BatchSize
// messages within the payload cap. It returns nil while the batch may still
// grow (fewer than BatchSize, under the cap, and the window not over).
func (w *worker) take(now time.Time) *batch {
	set := &w.e.set
	if len(w.evs) < set.BatchSize && batchOverhead+w.bytes <= set.MaxPayload && now.Before(w.windowStart.Add(set.BatchingWindow)) {
		return nil
	}
	n, bytes := 0, batchOverhead
	for n < len(w.evs) && n < set.BatchSize {
		sz := w.meta[n].size + 1 // and a comma
		if n > 0 && bytes+sz > set.MaxPayload {
			break
		}
		bytes += sz
		n++
	}
	w.bytes -= bytes - batchOverhead
	b := &batch{
		evs:   append([]events.SQSMessage(nil), w.evs[:n]...),
		meta:  append([]meta(nil), w.meta[:n]...),
		state: make([]state, n),
	}
	k := copy(w.evs, w.evs[n:])
	clear(w.evs[k:])
	w.evs = w.evs[:k]
	k = copy(w.meta, w.meta[n:])
	w.meta = w.meta[:k]
	return b
}

// release makes the messages the worker holds visible again at once, so that
// another consumer takes them without waiting for their visibility timeout.
func (w *worker) release() {
	if len(w.meta) == 0 {
		return
	}
	w.e.makeVisible(w.ctx, w.meta)
	w.evs, w.meta, w.bytes = nil, nil, 0
}

// releaseLapsing makes visible again, instead of handing over, the held
// messages whose visibility would lapse before the function could finish
// with them (without the heartbeat nothing extends it): handed over, they
// could be received again, by this worker or another, and handled twice —
// on a FIFO queue, their group twice at once. On a FIFO queue the later
// messages of their groups go with them, so SQS redelivers each group in
// order.
func (w *worker) releaseLapsing(now time.Time) {
	if len(w.meta) == 0 || w.e.q.heartbeat > 0 {
		return // with the heartbeat, they were extended while the batch ran and are in the next
	}
	need := now.Add(w.e.set.FunctionTimeout)
	groups := map[string]bool{}
	lapsing := func(m *meta) bool {
		return m.deadline.Before(need) || (w.e.q.fifo && groups[m.group])
	}
	var gone []meta
	k := 0
	for i := range w.meta {
		m := &w.meta[i]
		if lapsing(m) {
			if w.e.q.fifo {
				groups[m.group] = true
			}
			gone = append(gone, *m)
			w.bytes -= m.size + 1
			continue
		}
		w.evs[k], w.meta[k] = w.evs[i], w.meta[i]
		k++
	}
	if len(gone) == 0 {
		return
	}
	clear(w.evs[k:])
	w.evs, w.meta = w.evs[:k], w.meta[:k]
	w.e.log.Info("messages held back by the payload cap would lapse before they could be handled: made visible again", "messages", len(gone))
	w.e.makeVisible(w.ctx, gone)
}

// releaseFailedGroups keeps a FIFO group's order when a batch was cut by the
// payload cap: the messages the worker still holds of a group that failed in
// b are made visible again at once instead of being invoked, so SQS
// redelivers the group from its first failed message, in order.
func (w *worker) releaseFailedGroups(b *batch) {
	failedGroups := map[string]bool{}
	for i, st := range b.state {
		if st == failed {
			failedGroups[b.meta[i].group] = true
		}
	}
	if len(failedGroups) == 0 || len(w.meta) == 0 {
		return
	}
	var drop []meta
	k := 0
	for i, m := range w.meta {
		if failedGroups[m.group] {
			drop = append(drop, m)
			w.bytes -= m.size + 1
			continue
		}
		w.evs[k], w.meta[k] = w.evs[i], m
		k++
	}
	clear(w.evs[k:])
	w.evs, w.meta = w.evs[:k], w.meta[:k]
	if len(drop) > 0 {
		w.e.makeVisible(w.ctx, drop)
	}
}
