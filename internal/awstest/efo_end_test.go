package awstest

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// A stream cut after n events passes whole messages (the initial response
// and n events), then ends cleanly, whatever the reads' sizes.
func TestEndingBodyCutsAfterEvents(t *testing.T) {
	var stream bytes.Buffer
	enc := eventstream.NewEncoder()
	for i := range 6 {
		m := eventstream.Message{Payload: bytes.Repeat([]byte{'x'}, 10*i)}
		m.Headers.Set(":event-type", eventstream.StringValue("e"))
		if err := enc.Encode(&stream, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, oneByte := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(stream.Bytes())
		if oneByte {
			body = iotest.OneByteReader(body)
		}
		cut := &endingBody{body: io.NopCloser(body), left: 3 + 1}
		dec := eventstream.NewDecoder()
		n := 0
		for {
			m, err := dec.Decode(cut, nil)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("message %d: %v", n, err)
			}
			if len(m.Payload) != 10*n {
				t.Fatalf("message %d: payload of %d bytes", n, len(m.Payload))
			}
			n++
		}
		if n != 4 {
			t.Fatalf("one-byte reads %v: %d messages passed, want the initial response and 3 events", oneByte, n)
		}
	}
}
