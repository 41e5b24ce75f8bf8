package retry_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/retry"
)

// sim drives a policy over n records the way the engine does, with a handler
// that fails on the records for which bad returns true, and returns the
// invocations (as "lo-hi" spans) and the discards.
type sim struct {
	invocations []string
	discards    []string
	done        []int // record indexes in the order they succeeded
}

func simulate(p retry.Policy, n int, bad func(i int) bool) sim {
	var s sim
	queue := []retry.Batch{{Lo: 0, Hi: n}}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100000 {
			panic("no progress")
		}
		r := queue[0]
		queue = queue[1:]
		s.invocations = append(s.invocations, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
		out := retry.Success
		for i := r.Lo; i < r.Hi; i++ {
			if bad(i) {
				if p.ReportBatchItemFailures {
					out.FirstFailure = i - r.Lo
				} else {
					out.Err = errors.New("boom")
				}
				break
			}
		}
		d := p.Decide(r, out)
		for i := r.Lo; i < r.Lo+d.Done; i++ {
			s.done = append(s.done, i)
		}
		if d.Discard != nil {
			s.discards = append(s.discards, fmt.Sprintf("%d-%d %s x%d", d.Discard.Batch.Lo, d.Discard.Batch.Hi, d.Discard.Condition, d.Discard.InvokeCount))
		}
		queue = append(append([]retry.Batch{}, d.Next...), queue...)
	}
	return s
}

func poison(idx ...int) func(int) bool {
	return func(i int) bool {
		for _, p := range idx {
			if i == p {
				return true
			}
		}
		return false
	}
}

func TestDecideSequences(t *testing.T) {
	tests := []struct {
		name        string
		policy      retry.Policy
		n           int
		bad         func(int) bool
		invocations []string
		discards    []string
	}{
		{
			name:   "success",
			policy: retry.Policy{MaximumRetryAttempts: retry.Infinite},
			n:      4, bad: poison(),
			invocations: []string{"0-4"},
		},
		{
			name:   "retry twice then discard whole batch",
			policy: retry.Policy{MaximumRetryAttempts: 2},
			n:      4, bad: poison(2),
			invocations: []string{"0-4", "0-4", "0-4"},
			discards:    []string{"0-4 RetryAttemptsExhausted x3"},
		},
		{
			name:   "zero retries",
			policy: retry.Policy{MaximumRetryAttempts: 0},
			n:      3, bad: poison(0),
			invocations: []string{"0-3"},
			discards:    []string{"0-3 RetryAttemptsExhausted x1"},
		},
		{
			name:   "bisect isolates the poison record, split does not count",
			policy: retry.Policy{MaximumRetryAttempts: 1, BisectBatchOnFunctionError: true},
			n:      4, bad: poison(2),
			invocations: []string{"0-4", "0-2", "2-4", "2-3", "2-3", "3-4"},
			discards:    []string{"2-3 RetryAttemptsExhausted x2"},
		},
		{
			name:   "partial batch response retries from the lowest failure",
			policy: retry.Policy{MaximumRetryAttempts: 1, ReportBatchItemFailures: true},
			n:      5, bad: poison(3),
			invocations: []string{"0-5", "3-5", "3-5"},
			discards:    []string{"3-5 RetryAttemptsExhausted x2"},
		},
		{
			// AWS's recording (Kinesis and DynamoDB, 2024-09 to 2025-11):
			// BatchSize 3, MaximumRetryAttempts 3, the 6th record always
			// failing: once in its batch, then 4 times alone, count 4.
			name:   "a partial batch response starts a new batch",
			policy: retry.Policy{MaximumRetryAttempts: 3, ReportBatchItemFailures: true},
			n:      3, bad: poison(2),
			invocations: []string{"0-3", "2-3", "2-3", "2-3", "2-3"},
			discards:    []string{"2-3 RetryAttemptsExhausted x4"},
		},
		{
			name:   "partial batch response with bisect splits at the failure",
			policy: retry.Policy{MaximumRetryAttempts: 0, ReportBatchItemFailures: true, BisectBatchOnFunctionError: true},
			n:      6, bad: poison(3),
			invocations: []string{"0-6", "3-6", "3-4", "4-6"},
			discards:    []string{"3-4 RetryAttemptsExhausted x1"},
		},
		{
			name:   "first record failing in a partial response falls back to bisect",
			policy: retry.Policy{MaximumRetryAttempts: 0, ReportBatchItemFailures: true, BisectBatchOnFunctionError: true},
			n:      2, bad: poison(0),
			invocations: []string{"0-2", "0-1", "1-2"},
			discards:    []string{"0-1 RetryAttemptsExhausted x1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := simulate(tc.policy, tc.n, tc.bad)
			require.Equal(t, tc.invocations, s.invocations)
			require.Equal(t, tc.discards, s.discards)
		})
	}
}

func TestInvalidPartialResponseFailsWholeBatch(t *testing.T) {
	p := retry.Policy{MaximumRetryAttempts: 0, ReportBatchItemFailures: true}
	d := p.Decide(retry.Batch{Lo: 0, Hi: 3}, retry.Outcome{FirstFailure: -1, InvalidResponse: true})
	require.Equal(t, 0, d.Done)
	require.NotNil(t, d.Discard)
	require.False(t, d.Discard.FunctionError, "an invalid response is not a function error")

	// Without ReportBatchItemFailures the response is ignored, as AWS does.
	p.ReportBatchItemFailures = false
	d = p.Decide(retry.Batch{Lo: 0, Hi: 3}, retry.Outcome{FirstFailure: 1, InvalidResponse: true})
	require.Equal(t, 3, d.Done)
}

func TestFailedPositions(t *testing.T) {
	batch := []string{"a", "b", "c"}
	id := func(i int) string { return batch[i] }
	for _, tc := range []struct {
		ids  []string
		want []int
		err  string
	}{
		{nil, nil, ""},
		{[]string{}, nil, ""},
		{[]string{"c", "b"}, []int{2, 1}, ""},
		{[]string{""}, nil, "an itemIdentifier is empty or null"},
		{[]string{"b", "zzz"}, nil, `itemIdentifier "zzz" is not in the batch`},
	} {
		got, err := retry.FailedPositions(tc.ids, len(batch), id)
		require.Equal(t, tc.want, got, "%v", tc.ids)
		if tc.err == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, lambdaesm.ErrInvalidResponse)
		require.ErrorContains(t, err, tc.err)
	}
	// Many identifiers in a large batch (indexed by a map) give the same.
	large := make([]string, 100)
	for i := range large {
		large[i] = strconv.Itoa(i)
	}
	got, err := retry.FailedPositions([]string{"99", "5", "42", "7", "0"}, len(large), func(i int) string { return large[i] })
	require.NoError(t, err)
	require.Equal(t, []int{99, 5, 42, 7, 0}, got)
}

func TestExpired(t *testing.T) {
	now := time.Unix(1000, 0)
	arr := []time.Time{now.Add(-2 * time.Minute), now.Add(-61 * time.Second), now.Add(-time.Second)}
	p := retry.Policy{MaximumRecordAge: time.Minute}
	require.Equal(t, 2, p.Expired(retry.Batch{Lo: 0, Hi: 3}, now, func(i int) time.Time { return arr[i] }))
	require.Equal(t, 0, retry.Policy{}.Expired(retry.Batch{Lo: 0, Hi: 3}, now, func(i int) time.Time { return arr[i] }))
}

func TestBackoff(t *testing.T) {
	b := retry.Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0}
	require.Equal(t, time.Second, b.Delay(1, 0.9))
	require.Equal(t, 2*time.Second, b.Delay(2, 0.9))
	require.Equal(t, 10*time.Second, b.Delay(50, 0.9))
	j := retry.Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.5}
	require.Equal(t, 500*time.Millisecond, j.Delay(1, 1))
	require.Equal(t, 500*time.Millisecond, retry.Backoff{}.Delay(1, 0))
}

// FuzzPolicy checks that, whatever the failure pattern and policy, every
// record ends handled or discarded exactly once, and successes come in order.
func FuzzPolicy(f *testing.F) {
	f.Add(uint64(0b1010), uint8(16), int8(2), true, true)
	f.Add(uint64(1), uint8(1), int8(-1), false, true)
	f.Fuzz(func(t *testing.T, mask uint64, n uint8, maxRetry int8, bisect, rbif bool) {
		size := int(n%64) + 1
		p := retry.Policy{MaximumRetryAttempts: int(maxRetry), BisectBatchOnFunctionError: bisect, ReportBatchItemFailures: rbif}
		if p.MaximumRetryAttempts < 0 {
			// Infinite retries never end on a permanently bad record.
			p.MaximumRetryAttempts = 3
		}
		bad := func(i int) bool { return mask&(1<<uint(i)) != 0 }
		s := simulate(p, size, bad)
		seen := make([]int, size)
		for i, idx := range s.done {
			require.False(t, bad(idx), "a bad record never succeeds")
			if i > 0 {
				require.Less(t, s.done[i-1], idx, "successes in sequence order")
			}
			seen[idx]++
		}
		for _, d := range s.discards {
			var lo, hi int
			_, err := fmt.Sscanf(d, "%d-%d", &lo, &hi)
			require.NoError(t, err)
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		}
		for i, c := range seen {
			require.Equal(t, 1, c, "record %d ends exactly once", i)
		}
	})
}

// BenchmarkBisectPoison: a 10,000-record batch with one poison record, bisect
// on and no retries: invocations per batch should be about 2·log2(n)+1.
func BenchmarkBisectPoison(b *testing.B) {
	const n = 10000
	p := retry.Policy{MaximumRetryAttempts: 0, BisectBatchOnFunctionError: true}
	var inv int
	for b.Loop() {
		s := simulate(p, n, poison(n/3))
		inv = len(s.invocations)
	}
	b.ReportMetric(float64(inv), "invocations/batch")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
