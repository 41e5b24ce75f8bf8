package streamengine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/smithy-go"
	"github.com/lambdaesm/lambdaesm/shard"
)

// position is where a reader starts in a shard.
type position struct {
	Type string // TRIM_HORIZON, LATEST, AT_TIMESTAMP, AFTER_SEQUENCE_NUMBER
	Seq  string
	// Time is the AT_TIMESTAMP time; for LATEST, the time the position
	// was fixed (its start marker), to resume from if the iterator expires
	// before a record is read.
	Time time.Time
	// NotBefore skips the records that arrived before it, up to the first
	// that did not: how a start marker is resumed on a stream without
	// AT_TIMESTAMP iterators (DynamoDB Streams).
	NotBefore time.Time
}

// source is what the engine needs from a stream service, with records
// already converted to the Lambda event record type R.
type source[R any] interface {
	// check verifies at start-up that the stream exists and can be read.
	check(ctx context.Context) error
	shards(ctx context.Context) ([]shard.Info, error)
	iterator(ctx context.Context, shardID string, pos position) (string, error)
	// read returns the records at iterator, the next iterator, and
	// ended=true when the shard is closed and read to its end.
	read(ctx context.Context, shardID, iterator string, limit int, into []R) (recs []R, next string, ended bool, err error)
	maxLimit() int
	// timestamps tells whether AT_TIMESTAMP iterators exist.
	timestamps() bool
	seq(r *R) string
	arrival(r *R) time.Time
	laneKey(r *R) uint32
	size(r *R) int
}

// fnv32 is the 32-bit FNV-1a hash of s (hash/fnv's New32a), without the
// hash.Hash32 and the []byte conversion per record.
func fnv32(s string) uint32 {
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime32
	}
	return h
}

// errKind classifies a service error for the reader.
type errKind int

const (
	errTransient       errKind = iota // retry with backoff
	errThrottled                      // back off with jitter; never a function error
	errExpiredIterator                // get a new iterator after the last record read
	errTrimmed                        // the position is gone: restart at TRIM_HORIZON
	errNotFound                       // stream or shard missing
	errAccessDenied                   // IAM refused the call
)

func classify(err error) errKind {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return errTransient
	}
	switch ae.ErrorCode() {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException",
		"Throttling", "RequestLimitExceeded", "TooManyRequestsException", "KMSThrottlingException":
		return errThrottled
	case "ExpiredIteratorException":
		return errExpiredIterator
	case "TrimmedDataAccessException":
		return errTrimmed
	case "ResourceNotFoundException":
		return errNotFound
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "KMSAccessDeniedException":
		return errAccessDenied
	}
	return errTransient
}

// serviceError names the resource and, for access denied, the IAM action that
// was refused.
func serviceError(action, resource string, err error) error {
	switch classify(err) {
	case errNotFound:
		return fmt.Errorf("%s: %s not found: %w", action, resource, err)
	case errAccessDenied:
		return fmt.Errorf("access denied: %s on %s was refused (grant it to the caller's IAM role): %w", action, resource, err)
	}
	return fmt.Errorf("%s on %s: %w", action, resource, err)
}

// checkError is the start-up check's error: a missing stream in Lambda's
// words ("Stream not found: <arn>"), with the service's error after it.
func checkError(action, streamARN string, err error) error {
	if classify(err) == errNotFound {
		return fmt.Errorf("Stream not found: %s (%s: %w)", streamARN, action, err)
	}
	return serviceError(action, "stream "+streamARN, err)
}

// permanent tells whether a start-up error is worth retrying.
func permanent(err error) bool {
	k := classify(err)
	return k == errNotFound || k == errAccessDenied
}

// parseStreamARN checks that a stream ARN belongs to service and returns its
// region.
func parseStreamARN(s, service, what string) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arn.ARN{}, fmt.Errorf("shard: %q is not an ARN: %w", s, err)
	}
	if a.Service != service {
		return arn.ARN{}, fmt.Errorf("shard: %s is a %s ARN, not a %s", s, a.Service, what)
	}
	return a, nil
}

// convert turns the records of a GetRecords response into event records and
// reports the next iterator, or ended when there is none (a closed shard
// read to its end).
func convert[S, R any](into []R, recs []S, conv func(*S) R, next *string) ([]R, string, bool) {
	into = slices.Grow(into, len(recs))
	for i := range recs {
		into = append(into, conv(&recs[i]))
	}
	if next == nil {
		return into, "", true
	}
	return into, *next, false
}
