package dynamolease

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/seqnum"
	"github.com/lambdaesm/lambdaesm/shard"
)

// The byte order of checkpointOrder is the checkpoint order, so that a
// condition expression can refuse a move back.
func TestOrderSortsLikeCheckpoints(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var cps []shard.Checkpoint
	for range 500 {
		n := 1 + r.IntN(60)
		var b strings.Builder
		for range r.IntN(3) {
			b.WriteByte('0') // zero padding does not change the number
		}
		for range n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		cps = append(cps, shard.Checkpoint{SequenceNumber: b.String()})
	}
	cps = append(cps, shard.Checkpoint{ShardEnd: true}, shard.Checkpoint{SequenceNumber: "0"})
	cmp := func(a, b shard.Checkpoint) int {
		switch {
		case a.ShardEnd && b.ShardEnd:
			return 0
		case a.ShardEnd:
			return 1
		case b.ShardEnd:
			return -1
		}
		return seqnum.Compare(a.SequenceNumber, b.SequenceNumber)
	}
	for _, a := range cps {
		for _, b := range cps[:50] {
			require.Equal(t, cmp(a, b), strings.Compare(order(a), order(b)), "%v vs %v", a, b)
		}
	}
	require.True(t, slices.IsSortedFunc(slices.SortedFunc(slices.Values(cps), cmp), func(a, b shard.Checkpoint) int {
		return strings.Compare(order(a), order(b))
	}))
}

func TestNewDefaultsAndRefusals(t *testing.T) {
	_, err := New(nil, WithLeaseDuration(-1), WithTable(""), nil)
	require.ErrorContains(t, err, "client is nil")
	require.ErrorContains(t, err, "WithLeaseDuration: -1ns is not positive")
	require.ErrorContains(t, err, "WithTable: the table name is empty")
	require.ErrorContains(t, err, "a nil Option")
	var c DynamoDBAPI = struct{ DynamoDBAPI }{}
	s, err := New(c)
	require.NoError(t, err)
	require.Equal(t, DefaultTable, s.table)
	require.Equal(t, DefaultLeaseDuration, s.dur)
	require.NotEmpty(t, s.Owner())
	s2, err := New(c)
	require.NoError(t, err)
	require.NotEqual(t, s.Owner(), s2.Owner(), "default owners are unique per Store")
}

// The checkpoint attribute keeps a start marker exactly, in UTC, and is
// never mistaken for a sequence number or SHARD_END.
func TestCheckpointAttributeRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", -7*3600))
	for _, cp := range []shard.Checkpoint{
		{SequenceNumber: "49590338271490256608559692538361571095921575989136588898"},
		{ShardEnd: true},
		{Start: at},
		{Start: at.Truncate(time.Second)},
		{Start: time.Unix(0, 1)},
	} {
		v, err := encode(cp)
		require.NoError(t, err)
		got, ok, err := (&leaseItem{cp: v}).checkpoint()
		require.NoError(t, err)
		require.True(t, ok)
		want := cp
		want.Start = cp.Start.UTC()
		if cp.Start.IsZero() {
			want.Start = time.Time{}
		}
		require.Equal(t, want, got, v)
		require.Equal(t, !cp.Start.IsZero(), isMarker(v), v)
	}
	_, err := encode(shard.Checkpoint{})
	require.ErrorContains(t, err, "empty checkpoint")

	// A tumbling window: its start exactly, in UTC, and its state.
	for _, w := range []*shard.Window{
		{Start: at, State: map[string]string{"a": "1", "quote\"": "\n"}},
		{Start: at.Truncate(time.Minute), State: map[string]string{}},
		{Start: at, State: nil},
	} {
		start, state, err := encodeWindow(w)
		require.NoError(t, err)
		got, ok, err := (&leaseItem{cp: "7", winStart: start, winState: state}).checkpoint()
		require.NoError(t, err)
		require.True(t, ok)
		want := &shard.Window{Start: w.Start.UTC(), State: w.State}
		if w.State == nil {
			want.State = map[string]string{} // a state is never null
		}
		require.Equal(t, shard.Checkpoint{SequenceNumber: "7", Window: want}, got)
	}
	_, _, err = (&leaseItem{cp: "7", winStart: "now", winState: "{}"}).checkpoint()
	require.ErrorContains(t, err, "is not a time")
	_, _, err = (&leaseItem{cp: "7", winStart: at.Format(time.RFC3339), winState: `{"a":1}`}).checkpoint()
	require.ErrorContains(t, err, "is not a state")
	_, _, err = (&leaseItem{cp: "AT_TIMESTAMP:yesterday"}).checkpoint()
	require.ErrorContains(t, err, "not a start marker")
}
