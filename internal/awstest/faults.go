package awstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fault is what [Faults] does to one call instead of (or on top of) passing
// it to the emulator. Build one with the constructors and variables below.
type Fault struct {
	kind    faultKind
	status  int
	code    string
	message string
	delay   time.Duration
	match   func(Entry) bool             // kindEntries: which entries fail
	rewrite func([]byte) ([]byte, error) // kindRewrite
}

type faultKind int

const (
	kindNone       faultKind = iota
	kindAPIError             // answer with an error; the emulator never sees the call
	kindReset                // the connection resets before the request is sent
	kindResetAfter           // the emulator handles the call, then the connection resets
	kindEntries              // some entries of a batch call fail
	kindRewrite              // the emulator's answer is rewritten
	kindDelay                // the call waits, then goes to the emulator
)

// Faults the emulators never produce on their own.
var (
	// ProvisionedThroughputExceeded is Kinesis' and DynamoDB's throttling
	// error (HTTP 400 ProvisionedThroughputExceededException). The SDK's
	// standard retryer retries it.
	ProvisionedThroughputExceeded = APIError(http.StatusBadRequest, "ProvisionedThroughputExceededException",
		"Rate exceeded for shard in stream under account 000000000000.")
	// Throttle is the generic throttling error (HTTP 400 ThrottlingException).
	// The SDK's standard retryer retries it.
	Throttle = APIError(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	// ExpiredIterator is the error of GetRecords with an iterator older than
	// 5 minutes (HTTP 400 ExpiredIteratorException), in Kinesis and DynamoDB
	// Streams. It is not retryable.
	ExpiredIterator = APIError(http.StatusBadRequest, "ExpiredIteratorException",
		"Iterator expired. The iterator was created more than 300000 milliseconds ago.")
	// InternalError is an HTTP 500 InternalFailure answer.
	InternalError = HTTPStatus(http.StatusInternalServerError)
	// ConnReset makes the call fail as if the connection was reset before the
	// request reached the emulator ("connection reset by peer"). The SDK
	// retries it.
	ConnReset = Fault{kind: kindReset}
	// ConnResetAfter lets the emulator handle the call, then fails it as if the
	// connection was reset before the answer arrived: the call took effect
	// but the caller sees an error.
	ConnResetAfter = Fault{kind: kindResetAfter}
)

// APIError returns a fault that answers the call with an AWS error: HTTP
// status, error code (as in the SDK's ErrorCode()) and message, in the wire
// format of the call's protocol (JSON for Kinesis, DynamoDB, DynamoDB Streams
// and SQS; XML for SNS). The SDK turns it into its typed error where the
// service defines one (such as *types.ProvisionedThroughputExceededException).
func APIError(status int, code, message string) Fault {
	return Fault{kind: kindAPIError, status: status, code: code, message: message}
}

// HTTPStatus returns a fault that answers the call with a server error of
// this status: 503 as ServiceUnavailable, any other as InternalFailure. The
// SDK retries 500, 502, 503 and 504.
func HTTPStatus(status int) Fault {
	code := "InternalFailure"
	if status == http.StatusServiceUnavailable {
		code = "ServiceUnavailable"
	}
	return APIError(status, code, http.StatusText(status))
}

// Entry is one entry of a batch call (the request's Entries list), as
// [FailedEntriesIf] sees it.
type Entry struct {
	Index         int    // position in the request's Entries, from 0
	ID            string // the entry's Id
	ReceiptHandle string // its ReceiptHandle (SQS), if any
}

// FailedEntries returns a fault for an SQS batch call (DeleteMessageBatch,
// ChangeMessageVisibilityBatch, SendMessageBatch) that fails the entries with
// these Ids, or every entry when no id is given, with this error code (for
// example "ReceiptHandleIsInvalid" or "InternalError"). As in SQS, a failed
// entry has no effect: it is taken out of the request before the emulator
// sees it, and added to the answer's Failed list.
func FailedEntries(code string, ids ...string) Fault {
	return FailedEntriesIf(code, func(e Entry) bool { return len(ids) == 0 || slices.Contains(ids, e.ID) })
}

// FailedEntriesIf is [FailedEntries] for the entries that match reports.
func FailedEntriesIf(code string, match func(Entry) bool) Fault {
	return Fault{kind: kindEntries, code: code, message: "injected by awstest", match: match}
}

// Rewrite returns a fault that passes the call to the emulator and replaces
// the body of its answer (any status) with fn's result. Use it for answers
// the emulators never give, such as shard lineage in DescribeStream.
func Rewrite(fn func(body []byte) ([]byte, error)) Fault {
	return Fault{kind: kindRewrite, rewrite: fn}
}

// Delay returns a fault that holds the call for d (or until its context
// ends), then passes it to the emulator.
func Delay(d time.Duration) Fault { return Fault{kind: kindDelay, delay: d} }

// Faults scripts faults per operation and per call number, and injects them
// into the requests of the SDK clients it is given to (with [WithFaults], or
// any http.RoundTripper through [Faults.Transport]). Operations are named as
// in the SDK ("GetRecords", "DeleteMessageBatch", "Publish"): from the
// X-Amz-Target header of JSON-protocol calls, or the Action of query-protocol
// (SNS) calls. Calls are counted per operation from 1, every HTTP attempt
// counting (the SDK's retries included). Use one Faults per client when two
// services share an operation name (Kinesis and DynamoDB Streams both have
// GetRecords). The zero value is not usable; call [NewFaults]. It is safe for
// concurrent use.
type Faults struct {
	mu       sync.Mutex
	rules    []rule
	calls    map[string]int
	injected map[string]int
}

type rule struct {
	op    string
	fault Fault
	calls map[int]bool // nil: every call
}

// NewFaults returns a Faults that injects nothing until scripted.
func NewFaults() *Faults {
	return &Faults{calls: map[string]int{}, injected: map[string]int{}}
}

// Fail injects fault into the given calls of op (numbers from 1, counted since
// NewFaults), or into every call of op when no call number is given. When
// several scripted faults match a call, the one scripted first wins.
func (f *Faults) Fail(op string, fault Fault, calls ...int) {
	var set map[int]bool
	if len(calls) > 0 {
		set = make(map[int]bool, len(calls))
		for _, c := range calls {
			set[c] = true
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{op: op, fault: fault, calls: set})
}

// FailNext injects fault into the next n calls of op.
func (f *Faults) FailNext(op string, n int, fault Fault) {
	f.mu.Lock()
	next := f.calls[op] + 1
	f.mu.Unlock()
	calls := make([]int, n)
	for i := range calls {
		calls[i] = next + i
	}
	if n > 0 {
		f.Fail(op, fault, calls...)
	}
}

// Clear removes every scripted fault; the call counts stay.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Calls reports how many calls (HTTP attempts) of op went through.
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Injected reports how many calls of op got a fault.
func (f *Faults) Injected(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected[op]
}

// next counts a call of op and returns the fault scripted for it, if any.
func (f *Faults) next(op string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	n := f.calls[op]
	for _, r := range f.rules {
		if r.op == op && (r.calls == nil || r.calls[n]) && r.fault.kind != kindNone {
			f.injected[op]++
			return r.fault, true
		}
	}
	return Fault{}, false
}

// Transport returns an http.RoundTripper that injects f's faults into the
// requests it carries to base (http.DefaultTransport when nil).
func (f *Faults) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &faultTransport{faults: f, base: base}
}

type faultTransport struct {
	faults *Faults
	base   http.RoundTripper
}

func (t *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req, op, query, err := operation(req)
	if err != nil {
		return nil, err
	}
	fault, ok := t.faults.next(op)
	if !ok {
		return t.base.RoundTrip(req)
	}
	switch fault.kind {
	case kindAPIError:
		closeBody(req)
		return errorResponse(req, query, fault), nil
	case kindReset:
		closeBody(req)
		return nil, resetError()
	case kindResetAfter:
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return nil, resetError()
	case kindDelay:
		if err := sleep(req.Context(), fault.delay); err != nil {
			closeBody(req)
			return nil, err
		}
		return t.base.RoundTrip(req)
	case kindRewrite:
		return t.rewrite(req, op, fault.rewrite)
	case kindEntries:
		if query {
			closeBody(req)
			return nil, fmt.Errorf("awstest: FailedEntries: %s is not a JSON-protocol batch call", op)
		}
		return t.failEntries(req, op, fault)
	}
	return t.base.RoundTrip(req)
}

// operation names the call: from X-Amz-Target ("Kinesis_20131202.GetRecords"
// → "GetRecords") or, for the query protocol, from the form's Action, in
// which case the body is read and the returned request carries a copy.
func operation(req *http.Request) (_ *http.Request, op string, query bool, _ error) {
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		return req, target[strings.LastIndex(target, ".")+1:], false, nil
	}
	if !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || req.Body == nil {
		return req, "", false, nil
	}
	body, err := readBody(req)
	if err != nil {
		return nil, "", false, err
	}
	req = withBody(req, body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		closeBody(req)
		return nil, "", false, fmt.Errorf("awstest: parse query-protocol request: %w", err)
	}
	return req, form.Get("Action"), true, nil
}

func (t *faultTransport) rewrite(req *http.Request, op string, fn func([]byte) ([]byte, error)) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := responseBody(resp)
	if err != nil {
		return nil, err
	}
	body, err = fn(body)
	if err != nil {
		return nil, fmt.Errorf("awstest: rewrite the answer to %s: %w", op, err)
	}
	setBody(resp, body)
	return resp, nil
}

// failedEntry is an SQS BatchResultErrorEntry.
type failedEntry struct {
	ID          string `json:"Id"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
	SenderFault bool   `json:"SenderFault"`
}

func (t *faultTransport) failEntries(req *http.Request, op string, fault Fault) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	var in map[string]json.RawMessage
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("awstest: FailedEntries: %s request: %w", op, err)
	}
	if err := json.Unmarshal(in["Entries"], &entries); err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("awstest: FailedEntries: %s request has no Entries", op)
	}
	var keep []map[string]json.RawMessage
	var failed []failedEntry
	for i, e := range entries {
		var id, handle string
		_ = json.Unmarshal(e["Id"], &id)
		_ = json.Unmarshal(e["ReceiptHandle"], &handle)
		if fault.match(Entry{Index: i, ID: id, ReceiptHandle: handle}) {
			failed = append(failed, failedEntry{ID: id, Code: fault.code, Message: fault.message,
				SenderFault: fault.code != "InternalError"})
		} else {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 { // SQS refuses an empty batch: answer without the emulator
		out, err := json.Marshal(map[string]any{"Successful": []any{}, "Failed": failed})
		if err != nil {
			return nil, err
		}
		h := http.Header{}
		h.Set("Content-Type", contentType(req))
		h.Set("X-Amzn-Requestid", requestID())
		return newResponse(req, http.StatusOK, h, out), nil
	}
	if in["Entries"], err = json.Marshal(keep); err != nil {
		return nil, err
	}
	if body, err = json.Marshal(in); err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(withBody(req, body))
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	respBody, err := responseBody(resp)
	if err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	var already []failedEntry
	if err := json.Unmarshal(respBody, &out); err != nil {
		return nil, fmt.Errorf("awstest: FailedEntries: %s answer: %w", op, err)
	}
	if raw, ok := out["Failed"]; ok {
		if err := json.Unmarshal(raw, &already); err != nil {
			return nil, fmt.Errorf("awstest: FailedEntries: %s answer: %w", op, err)
		}
	}
	if out["Failed"], err = json.Marshal(append(already, failed...)); err != nil {
		return nil, err
	}
	if respBody, err = json.Marshal(out); err != nil {
		return nil, err
	}
	setBody(resp, respBody)
	return resp, nil
}

// errorResponse answers req with fault's AWS error in the call's protocol.
func errorResponse(req *http.Request, query bool, fault Fault) *http.Response {
	h := http.Header{}
	id := requestID()
	h.Set("X-Amzn-Requestid", id)
	var body []byte
	if query {
		h.Set("Content-Type", "text/xml")
		var b bytes.Buffer
		b.WriteString("<ErrorResponse><Error><Type>")
		if fault.status >= 500 {
			b.WriteString("Receiver")
		} else {
			b.WriteString("Sender")
		}
		b.WriteString("</Type><Code>")
		_ = xml.EscapeText(&b, []byte(fault.code))
		b.WriteString("</Code><Message>")
		_ = xml.EscapeText(&b, []byte(fault.message))
		b.WriteString("</Message></Error><RequestId>" + id + "</RequestId></ErrorResponse>")
		body = b.Bytes()
	} else {
		h.Set("Content-Type", contentType(req))
		body, _ = json.Marshal(map[string]string{"__type": fault.code, "message": fault.message}) // cannot fail
	}
	return newResponse(req, fault.status, h, body)
}

func contentType(req *http.Request) string {
	if ct := req.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "application/x-amz-json-1.0"
}

func newResponse(req *http.Request, status int, h http.Header, body []byte) *http.Response {
	resp := &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Request:    req,
	}
	setBody(resp, body)
	// DynamoDB clients check it; DynamoDB Local's own error answers lack it.
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	return resp
}

// setBody replaces resp's body, keeping its length and CRC32 headers true.
func setBody(resp *http.Response, body []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	if _, ok := resp.Header["X-Amz-Crc32"]; ok {
		resp.Header.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
}

func responseBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return nil, fmt.Errorf("awstest: cannot rewrite an answer with Content-Encoding %q", enc)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("awstest: read answer: %w", err)
	}
	return body, nil
}

func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	defer req.Body.Close()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("awstest: read request: %w", err)
	}
	return body, nil
}

// withBody returns a copy of req that sends body.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// resetError is what net/http returns when the peer resets the connection.
func resetError() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// IsConnReset reports whether err comes from a connection reset, real or
// injected with [ConnReset] or [ConnResetAfter].
func IsConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
