package esmtest

// Pieces shared by the Kinesis and DynamoDB Streams fakes: SDK-shaped errors,
// 128-bit hash ranges, sequence-number search and shard-iterator tokens.

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var requestIDs atomic.Uint64

// sdkError wraps err the way the SDK client would return it from operation op
// of service: an API error inside an HTTP response error inside an operation
// error, so that errors.As finds the typed error and the message reads like
// the SDK's. Errors already shaped by the caller (faults that carry an HTTP
// response, context errors, client-side validation errors) only get the
// operation wrapper.
func sdkError(service, op string, err error) error {
	if err == nil {
		return nil
	}
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		return err
	}
	var respErr *smithyhttp.ResponseError
	var apiErr smithy.APIError
	if !errors.As(err, &respErr) && errors.As(err, &apiErr) {
		status := http.StatusBadRequest
		if apiErr.ErrorFault() == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
		err = &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
				Err:      err,
			},
			RequestID: "esmtest-" + strconv.FormatUint(requestIDs.Add(1), 10),
		}
	}
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: err}
}

// begin runs the scripted faults of op and shapes their error like the SDK.
func begin(ctx context.Context, f *Faults, service, op string) error {
	return sdkError(service, op, f.Before(ctx, op))
}

// param is one required input member and whether the caller set it.
type param struct {
	name string
	set  bool
}

// missingParams returns the SDK's client-side validation error for the
// required members of input that are not set, or nil.
func missingParams(input string, params ...param) error {
	e := smithy.InvalidParamsError{Context: input}
	for _, p := range params {
		if !p.set {
			e.Add(smithy.NewErrParamRequired(p.name))
		}
	}
	if e.Len() == 0 {
		return nil
	}
	return e
}

// limitOf reads an optional page-size member: def when unset, false when
// outside [1, max].
func limitOf(v *int32, def, max int) (int, bool) {
	if v == nil {
		return def, true
	}
	return int(*v), *v >= 1 && int(*v) <= max
}

// sdkTime is t as the SDK decodes a JSON timestamp: millisecond precision, UTC.
func sdkTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// hash128 is an unsigned 128-bit hash key: Kinesis maps a partition key to
// the MD5 of its UTF-8 bytes read as a big-endian integer.
type hash128 struct{ hi, lo uint64 }

var (
	maxHash = hash128{^uint64(0), ^uint64(0)}
	bigOne  = big.NewInt(1)
)

func md5Hash(s string) hash128 {
	sum := md5.Sum([]byte(s))
	return hash128{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

func (a hash128) cmp(b hash128) int {
	switch {
	case a.hi < b.hi, a.hi == b.hi && a.lo < b.lo:
		return -1
	case a == b:
		return 0
	}
	return 1
}

func (a hash128) big() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return new(big.Int).SetBytes(b[:])
}

func (a hash128) String() string { return a.big().String() }

func hashFromBig(b *big.Int) hash128 {
	var buf [16]byte
	b.FillBytes(buf[:])
	return hash128{binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])}
}

// add returns a+d, wrapping around (callers stay inside the 128-bit space).
func (a hash128) add(d int64) hash128 {
	return hashFromBig(new(big.Int).Add(a.big(), big.NewInt(d)))
}

// parseHash parses a decimal hash key as Kinesis accepts it: no sign, no
// leading zeros, at most 2^128-1.
func parseHash(s string) (hash128, bool) {
	if !isDecimal(s) || len(s) > 39 {
		return hash128{}, false
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.BitLen() > 128 {
		return hash128{}, false
	}
	return hashFromBig(b), true
}

// isDecimal reports whether s is a canonical unsigned decimal number: "0" or
// digits without a leading zero.
func isDecimal(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// owner returns the open shard whose hash range holds h.
func owner[S interface{ owns(hash128) bool }](shards []S, h hash128) S {
	for _, sh := range shards {
		if sh.owns(h) {
			return sh
		}
	}
	var none S
	return none
}

// hashRange is an inclusive range of hash keys owned by one shard.
type hashRange struct{ start, end hash128 }

func (r hashRange) contains(h hash128) bool { return r.start.cmp(h) <= 0 && h.cmp(r.end) <= 0 }

// evenRanges divides the hash key space into n contiguous ranges the way
// CreateStream does: each but the last is 2^128/n keys wide.
func evenRanges(n int) []hashRange {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]hashRange, n)
	start := new(big.Int)
	for i := range out {
		end := new(big.Int).Add(start, step)
		end.Sub(end, bigOne)
		if i == n-1 {
			end.Sub(space, bigOne)
		}
		out[i] = hashRange{hashFromBig(start), hashFromBig(end)}
		start.Add(end, bigOne)
	}
	return out
}

// seqLog is the position index of one shard: the sequence counter of each
// stored record, in order, so a sequence number maps to a slice index by
// binary search.
type seqLog []uint64

// at returns the index of the first record whose counter is ≥ c (after: > c).
func (l seqLog) at(c uint64, after bool) int {
	return sort.Search(len(l), func(i int) bool { return l[i] > c || (!after && l[i] == c) })
}

// iterToken is what a shard iterator encodes: the stream (by its ordinal in
// the fake), the shard (by index in the stream), the position (an index into
// the shard's records) and when the iterator was issued. ListShards tokens
// reuse it, with the filter in pos and its time in at.
type iterToken struct {
	stream, shard, pos int
	issued, at         int64 // Unix milliseconds
}

// iterHeader is the first bytes of every token; real Kinesis iterators start
// the same way ("AAAAAAAAAAE…" once base64-encoded).
var iterHeader = [8]byte{7: 1}

func (t iterToken) encode(kind byte) string {
	var buf [64]byte
	b := append(buf[:0], iterHeader[:]...)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(t.stream))
	b = binary.AppendUvarint(b, uint64(t.shard))
	b = binary.AppendUvarint(b, uint64(t.pos))
	b = binary.AppendVarint(b, t.issued)
	b = binary.AppendVarint(b, t.at)
	return base64.StdEncoding.EncodeToString(b)
}

func decodeIter(s string, kind byte) (iterToken, bool) {
	var buf [64]byte
	if base64.StdEncoding.DecodedLen(len(s)) > len(buf) {
		return iterToken{}, false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(s))
	h := len(iterHeader)
	if err != nil || n <= h || [8]byte(buf[:h]) != iterHeader || buf[h] != kind {
		return iterToken{}, false
	}
	b := buf[h+1 : n]
	var v [3]uint64
	for i := range v {
		x, k := binary.Uvarint(b)
		if k <= 0 || x > 1<<31 {
			return iterToken{}, false
		}
		v[i], b = x, b[k:]
	}
	var w [2]int64
	for i := range w {
		x, k := binary.Varint(b)
		if k <= 0 {
			return iterToken{}, false
		}
		w[i], b = x, b[k:]
	}
	if len(b) != 0 {
		return iterToken{}, false
	}
	return iterToken{stream: int(v[0]), shard: int(v[1]), pos: int(v[2]), issued: w[0], at: w[1]}, true
}
