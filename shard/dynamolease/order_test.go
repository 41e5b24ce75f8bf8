package dynamolease

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
		return shard.CompareSequence(a.SequenceNumber, b.SequenceNumber)
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
	_, err := New(nil, Options{})
	require.ErrorContains(t, err, "client is nil")
	var c DynamoDBAPI = struct{ DynamoDBAPI }{}
	_, err = New(c, Options{LeaseDuration: -1})
	require.ErrorContains(t, err, "negative")
	s, err := New(c, Options{})
	require.NoError(t, err)
	require.Equal(t, DefaultTable, s.table)
	require.Equal(t, DefaultLeaseDuration, s.dur)
	require.NotEmpty(t, s.Owner())
	s2, err := New(c, Options{})
	require.NoError(t, err)
	require.NotEqual(t, s.Owner(), s2.Owner(), "default owners are unique per Store")
}
