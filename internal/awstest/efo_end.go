package awstest

import (
	"encoding/binary"
	"io"
	"net/http"
)

// WithSubscriptionsEndingAfter makes every SubscribeToShard stream of the
// client end cleanly after n events, as Kinesis ends each subscription after
// 5 minutes: the body of the answer reaches its end (io.EOF) at the message
// boundary after the n-th event. A test of subscription renewal then needs
// no 5-minute wait, and crosses the seam however slow the emulator is.
func WithSubscriptionsEndingAfter(n int) Option {
	return func(o *options) { o.endAfter = n }
}

// subscriptionsEnding ends the bodies of SubscribeToShard answers after a
// number of events.
type subscriptionsEnding struct {
	base  http.RoundTripper
	after int
}

func (s subscriptionsEnding) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	// The first message is the initial response, not an event.
	resp.Body = &endingBody{body: resp.Body, left: s.after + 1}
	return resp, nil
}

// endingBody passes whole event-stream messages through, left of them, and
// then reports io.EOF.
type endingBody struct {
	body    io.ReadCloser
	left    int    // messages still to pass
	inMsg   int    // bytes of the current message still to pass
	prelude []byte // the start of the next message, read but not passed
}

func (b *endingBody) Read(p []byte) (int, error) {
	if b.inMsg == 0 {
		if b.left == 0 {
			return 0, io.EOF
		}
		// A message starts with its total length (4 bytes, big-endian).
		for len(b.prelude) < 4 {
			var buf [4]byte
			n, err := b.body.Read(buf[:4-len(b.prelude)])
			b.prelude = append(b.prelude, buf[:n]...)
			if err != nil && len(b.prelude) < 4 {
				return 0, err
			}
		}
		b.inMsg = int(binary.BigEndian.Uint32(b.prelude))
		b.left--
	}
	if len(b.prelude) > 0 {
		n := copy(p, b.prelude)
		b.prelude = b.prelude[n:]
		b.inMsg -= n
		if len(b.prelude) == 0 {
			b.prelude = nil
		}
		return n, nil
	}
	if len(p) > b.inMsg {
		p = p[:b.inMsg]
	}
	n, err := b.body.Read(p)
	b.inMsg -= n
	if err == io.EOF && b.inMsg > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *endingBody) Close() error { return b.body.Close() }
