package esmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// Enhanced fan-out limits and durations of Kinesis Data Streams.
const (
	// kinesisSubscriptionTTL is how long a SubscribeToShard stream lasts.
	kinesisSubscriptionTTL = 5 * time.Minute
	// kinesisSubscribeSpacing is the least time between two SubscribeToShard
	// calls of one consumer on one shard.
	kinesisSubscribeSpacing = time.Second
	// kinesisTakeOverAfter is how long a subscription is protected from
	// another of the same consumer on the same shard: a call within it
	// fails with ResourceInUseException, a later one takes over.
	kinesisTakeOverAfter = 5 * time.Second
	// kinesisEventBytes bounds the data of one SubscribeToShardEvent.
	kinesisEventBytes = 1 << 20
)

// kSub is one SubscribeToShard stream.
type kSub struct {
	k   *Kinesis
	s   *kStream
	sh  *kShard
	c   *kConsumer
	pos int // index in sh.recs of the next record to push
	// started is when the subscription was made, by the fake's Clock.
	started time.Time

	stopOnce sync.Once
	stopped  chan struct{} // closed by end
	reason   error         // why it ended early: an exception to send, or nil
}

// end stops the subscription: reason (an SDK error such as
// *types.ResourceInUseException) is sent as the stream's last message, or
// nothing when nil (the caller closed it).
func (sub *kSub) end(reason error) {
	sub.stopOnce.Do(func() {
		sub.reason = reason
		close(sub.stopped)
	})
}

// SubscribeToShard starts an enhanced fan-out subscription of a registered,
// ACTIVE consumer to a shard, from StartingPosition (any type
// GetShardIterator takes). It returns a real *kinesis.SubscribeToShardOutput
// whose event stream (GetStream) is decoded by the SDK from the same bytes
// Kinesis sends: the first event comes at once (it may hold no records),
// then one whenever records arrive (at most 1 MB of data each), each with
// ContinuationSequenceNumber (the last record's sequence number, or where
// the subscription stands) and MillisBehindLatest. At the end of a closed
// shard, the last event carries ChildShards and no
// ContinuationSequenceNumber, and the stream ends. A stream ends cleanly
// (Events closes with Err nil) after 5 minutes, as Kinesis ends each
// subscription; that time follows package time (the bubble's clock under
// testing/synctest), not [WithKinesisClock].
//
// As Kinesis: one call per second per consumer and shard (a sooner one
// fails with *types.LimitExceededException); a call within 5 seconds of the
// shard's active subscription for the same consumer fails with
// *types.ResourceInUseException, and a later one takes over, ending the
// earlier stream with a ResourceInUseException in it (Err). A consumer not
// yet ACTIVE fails with *types.ResourceInUseException, an unknown consumer or
// shard with *types.ResourceNotFoundException.
//
// Each stream runs one goroutine of the fake (besides the SDK's readers)
// until the stream ends, ctx ends or the stream is closed: close it (Close)
// when done, as with the SDK client.
func (k *Kinesis) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, _ ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	const op = "SubscribeToShard"
	if err := begin(ctx, &k.Faults, kinesisService, op); err != nil {
		return nil, err
	}
	if in == nil {
		in = &kinesis.SubscribeToShardInput{}
	}
	sub, err := k.subscribe(in)
	if err != nil {
		return nil, sdkError(kinesisService, op, err)
	}
	return k.openStream(ctx, in, sub)
}

// subscribe checks a SubscribeToShard call and records the subscription.
func (k *Kinesis) subscribe(in *kinesis.SubscribeToShardInput) (*kSub, error) {
	if err := missingParams("SubscribeToShardInput", param{"ConsumerARN", in.ConsumerARN != nil}, param{"ShardId", in.ShardId != nil},
		param{"StartingPosition", in.StartingPosition != nil}); err != nil {
		return nil, err
	}
	if in.StartingPosition.Type == "" {
		return nil, missingParams("SubscribeToShardInput", param{"StartingPosition.Type", false})
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.clock.Now()
	s, c, err := k.consumerByARN(*in.ConsumerARN)
	if err != nil {
		return nil, err
	}
	sh := s.shard(*in.ShardId)
	if sh == nil {
		return nil, k.shardNotFound(s, *in.ShardId)
	}
	if c.status(now) != types.ConsumerStatusActive {
		return nil, inUse("Consumer %s is not ACTIVE, instead in state %s.", c.arn, c.status(now))
	}
	if last, ok := c.lastCall[sh.index]; ok && now.Sub(last) < kinesisSubscribeSpacing {
		return nil, &types.LimitExceededException{Message: new(fmt.Sprintf(
			"Rate exceeded for consumer %s and shard %s: one SubscribeToShard call per second.", c.arn, sh.id))}
	}
	c.lastCall[sh.index] = now
	sp := in.StartingPosition
	pos, err := k.startIndex(s, sh, sp.Type, sp.SequenceNumber, sp.Timestamp, "SubscribeToShard", now)
	if err != nil {
		return nil, err
	}
	if cur := c.subs[sh.index]; cur != nil {
		if now.Sub(cur.started) < kinesisTakeOverAfter {
			return nil, inUse("Another active subscription exists for consumer %s on shard %s.", c.arn, sh.id)
		}
		cur.end(inUse("Another active subscription exists for consumer %s on shard %s.", c.arn, sh.id))
	}
	sub := &kSub{k: k, s: s, sh: sh, c: c, pos: pos, started: now, stopped: make(chan struct{})}
	c.subs[sh.index] = sub
	return sub, nil
}

// openStream starts the subscription's pump and hands its bytes to the SDK,
// which decodes them into the output's event stream.
func (k *Kinesis) openStream(ctx context.Context, in *kinesis.SubscribeToShardInput, sub *kSub) (*kinesis.SubscribeToShardOutput, error) {
	pr, pw := io.Pipe()
	body := &subBody{PipeReader: pr, sub: sub}
	// The stream ends with the call's context, as an HTTP stream does: its
	// reads fail with the context's error.
	stop := context.AfterFunc(ctx, func() {
		sub.end(nil)
		_ = pw.CloseWithError(ctx.Err())
	})
	body.mu.Lock()
	body.stop = stop
	body.mu.Unlock()
	go sub.pump(pw)
	// Each call gets its own protocol: the SDK's event-stream decoder is
	// kept in the protocol, and two streams must not share one.
	out, err := k.sdk().SubscribeToShard(ctx, in, func(o *kinesis.Options) {
		o.Protocol = awsjson.New11(schemas.Kinesis_20131202)
		o.HTTPClient = smithyhttp.ClientDoFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/2.0", ProtoMajor: 2,
				Header: http.Header{
					"Content-Type":     {"application/vnd.amazon.eventstream"},
					"X-Amzn-Requestid": {"esmtest-" + strconv.FormatUint(requestIDs.Add(1), 10)},
				},
				Body: body, ContentLength: -1, Request: r,
			}, nil
		})
	})
	if err != nil {
		_ = body.Close()
		return nil, err
	}
	return out, nil
}

// sdk returns the SDK client that decodes the fake's subscription streams:
// it never reaches the network (every call gets its own in-memory HTTP
// client from openStream).
func (k *Kinesis) sdk() *kinesis.Client {
	k.sdkOnce.Do(func() {
		k.sdkClient = kinesis.New(kinesis.Options{
			Region:       k.region,
			BaseEndpoint: aws.String("https://kinesis.esmtest.invalid"),
			Credentials:  aws.AnonymousCredentials{},
			Retryer:      aws.NopRetryer{},
		})
	})
	return k.sdkClient
}

// subBody is the body of a subscription's HTTP response: closing it (the
// SDK does when the stream is closed) ends the subscription.
type subBody struct {
	*io.PipeReader
	sub  *kSub
	mu   sync.Mutex
	stop func() bool // unregisters the context hook
}

func (b *subBody) Close() error {
	b.sub.end(nil)
	b.mu.Lock()
	stop := b.stop
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
	return b.PipeReader.Close()
}

// pump writes the subscription's messages: the initial response, then the
// events, until the shard ends, the subscription expires or is ended, or the
// reader goes away.
func (sub *kSub) pump(w *io.PipeWriter) {
	k := sub.k
	defer func() {
		k.mu.Lock()
		if sub.c.subs[sub.sh.index] == sub {
			delete(sub.c.subs, sub.sh.index)
		}
		k.mu.Unlock()
		sub.end(nil)
	}()
	expire := time.NewTimer(kinesisSubscriptionTTL)
	defer expire.Stop()
	enc := eventstream.NewEncoder()
	write := func(m eventstream.Message) bool { return enc.Encode(w, m) == nil }
	// finish sends the reason the subscription was ended, if any, and
	// closes the stream.
	finish := func() {
		if sub.reason != nil {
			write(exceptionMessage(sub.reason))
		}
		_ = w.Close()
	}
	if !write(initialResponse()) {
		return
	}
	first := true
	for {
		select {
		case <-sub.stopped:
			finish()
			return
		case <-expire.C:
			_ = w.Close() // a clean end: the consumer subscribes again
			return
		default:
		}
		k.mu.Lock()
		ev, more, end := sub.next(k.clock.Now())
		changed := sub.sh.watch()
		k.mu.Unlock()
		if len(ev.Records) > 0 || first || end {
			if !write(eventMessage(ev)) {
				return // the reader went away
			}
			first = false
		}
		if end {
			_ = w.Close()
			return
		}
		if more {
			continue
		}
		select {
		case <-changed:
		case <-sub.stopped:
			finish()
			return
		case <-expire.C:
			_ = w.Close()
			return
		}
	}
}

// next takes the next event's records from the subscription's position. It
// reports whether more records are waiting, and end when the event is the
// shard's last (ChildShards, no ContinuationSequenceNumber). Callers hold
// k.mu.
func (sub *kSub) next(now time.Time) (ev efoEvent, more, end bool) {
	sh := sub.sh
	stop, size := sub.pos, 0
	for stop < len(sh.recs) && stop-sub.pos < kinesisMaxLimit {
		r := &sh.recs[stop]
		n := len(r.Data) + len(*r.PartitionKey)
		if stop > sub.pos && size+n > kinesisEventBytes {
			break
		}
		size += n
		stop++
	}
	ev.Records = make([]efoRecord, 0, stop-sub.pos)
	for i := sub.pos; i < stop; i++ {
		r := &sh.recs[i]
		ev.Records = append(ev.Records, efoRecord{
			SequenceNumber: *r.SequenceNumber, PartitionKey: *r.PartitionKey, Data: r.Data,
			ApproximateArrivalTimestamp: json.Number(strconv.FormatFloat(float64(r.ApproximateArrivalTimestamp.UnixMilli())/1000, 'f', 3, 64)),
		})
	}
	sub.pos = stop
	if stop < len(sh.recs) {
		ev.MillisBehindLatest = max(0, now.Sub(*sh.recs[stop].ApproximateArrivalTimestamp).Milliseconds())
		more = true
	}
	if !sh.open() && !more {
		for _, c := range sub.s.childShards(sh) {
			ev.ChildShards = append(ev.ChildShards, efoChild{ShardId: *c.ShardId, ParentShards: c.ParentShards,
				HashKeyRange: efoRange{StartingHashKey: *c.HashKeyRange.StartingHashKey, EndingHashKey: *c.HashKeyRange.EndingHashKey}})
		}
		return ev, false, true
	}
	cont := sh.startSeq
	if stop > 0 {
		cont = *sh.recs[stop-1].SequenceNumber
	}
	ev.ContinuationSequenceNumber = &cont
	return ev, more, false
}

// The JSON of a SubscribeToShardEvent, as Kinesis sends it.
type (
	efoEvent struct {
		Records                    []efoRecord
		ContinuationSequenceNumber *string `json:",omitempty"`
		MillisBehindLatest         int64
		ChildShards                []efoChild `json:",omitempty"`
	}
	efoRecord struct {
		SequenceNumber              string
		ApproximateArrivalTimestamp json.Number // epoch seconds
		Data                        []byte
		PartitionKey                string
	}
	efoChild struct {
		ShardId      string
		ParentShards []string
		HashKeyRange efoRange
	}
	efoRange struct{ StartingHashKey, EndingHashKey string }
)

// The event-stream messages of a subscription.

func initialResponse() eventstream.Message {
	m := eventstream.Message{Payload: []byte("{}")}
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue("initial-response"))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	return m
}

func eventMessage(ev efoEvent) eventstream.Message {
	payload, _ := json.Marshal(ev) // plain strings, numbers and bytes: cannot fail
	m := eventstream.Message{Payload: payload}
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue("SubscribeToShardEvent"))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	return m
}

// exceptionMessage encodes an SDK error (such as
// *types.ResourceInUseException) as an exception in the stream.
func exceptionMessage(err error) eventstream.Message {
	code, msg := "InternalFailure", err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	payload, _ := json.Marshal(map[string]string{"message": msg})
	m := eventstream.Message{Payload: payload}
	m.Headers.Set(":message-type", eventstream.StringValue("exception"))
	m.Headers.Set(":exception-type", eventstream.StringValue(code))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	return m
}
