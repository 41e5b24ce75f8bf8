package awstest

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// WithSubscriptionsEndingAfter makes every SubscribeToShard stream of the
// client end cleanly after d, as Kinesis ends each subscription after 5
// minutes: the body of the answer reaches its end (io.EOF) then, wherever
// the stream stands (an event cut in the middle is lost, as with a dropped
// connection). A test of subscription renewal needs no 5-minute wait.
func WithSubscriptionsEndingAfter(d time.Duration) Option {
	return func(o *options) { o.endAfter = d }
}

// subscriptionsEnding ends the bodies of SubscribeToShard answers after a
// while.
type subscriptionsEnding struct {
	base  http.RoundTripper
	after time.Duration
}

func (s subscriptionsEnding) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b := &endingBody{body: resp.Body}
	b.timer = time.AfterFunc(s.after, b.end)
	resp.Body = b
	return resp, nil
}

// endingBody reads its body until end is called, then reports io.EOF.
type endingBody struct {
	body  io.ReadCloser
	timer *time.Timer
	mu    sync.Mutex
	ended bool
}

func (b *endingBody) end() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
	_ = b.body.Close() // wakes a blocked Read
}

func (b *endingBody) isEnded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ended
}

func (b *endingBody) Read(p []byte) (int, error) {
	if b.isEnded() {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if b.isEnded() {
		return n, io.EOF
	}
	return n, err
}

func (b *endingBody) Close() error {
	b.timer.Stop()
	return b.body.Close()
}
