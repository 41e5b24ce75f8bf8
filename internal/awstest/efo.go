package awstest

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// EFOShim wraps base (http.DefaultTransport when nil) so that kinesis-local's
// SubscribeToShard streams work with the current SDK: kinesis-local starts
// the event stream without the initial-response event the SDK waits for, so
// the shim puts one in front. Other requests pass through unchanged. Use it
// only against kinesis-local: real Kinesis sends the event itself.
func EFOShim(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return efoShim{base: base}
}

type efoShim struct{ base http.RoundTripper }

func (s efoShim) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		return resp, err
	}
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	m.Headers.Set(":event-type", eventstream.StringValue("initial-response"))
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = []byte("{}")
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		_ = resp.Body.Close()
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&buf, resp.Body), resp.Body}
	resp.ContentLength = -1
	return resp, nil
}
