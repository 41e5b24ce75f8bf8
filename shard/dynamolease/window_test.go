package dynamolease_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A checkpoint's tumbling window (start and state) is kept with its
// sequence number in the lease item, replaced at the same sequence number,
// never by an older checkpoint, dropped by a checkpoint without one, and
// read by another process (a hand-off).
func TestIntegrationWindowRoundTrip(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	a := newStore(t, c, table, "a", 0)
	b := newStore(t, c, table, "b", 0)
	require.Equal(t, []string{"shardId-000000000000"}, leases(t, a, "m", shardList(1)))
	const id = "shardId-000000000000"
	load := func(s shard.Store) shard.Checkpoint {
		t.Helper()
		cp, ok, err := s.Load(t.Context(), "m", id)
		require.NoError(t, err)
		require.True(t, ok)
		return cp
	}
	save := func(cp shard.Checkpoint) {
		t.Helper()
		require.NoError(t, a.Save(t.Context(), "m", id, cp))
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	w1 := &shard.Window{Start: start, State: map[string]string{"count": "3", "key \"quoted\"\n": "ü"}}
	save(shard.Checkpoint{SequenceNumber: "100", Window: w1})
	require.Equal(t, shard.Checkpoint{SequenceNumber: "100", Window: w1}, load(a))
	require.Equal(t, shard.Checkpoint{SequenceNumber: "100", Window: w1}, load(b), "another process reads the window")

	w2 := &shard.Window{Start: start, State: map[string]string{"count": "5"}}
	save(shard.Checkpoint{SequenceNumber: "120", Window: w2})
	save(shard.Checkpoint{SequenceNumber: "110", Window: w1})
	require.Equal(t, shard.Checkpoint{SequenceNumber: "120", Window: w2}, load(a), "an older checkpoint moves neither the position nor the state")

	w3 := &shard.Window{Start: start, State: map[string]string{}}
	save(shard.Checkpoint{SequenceNumber: "120", Window: w3})
	require.Equal(t, shard.Checkpoint{SequenceNumber: "120", Window: w3}, load(a), "the state changes at the same sequence number")

	// A state as large as the store announces fits in the item.
	big := &shard.Window{Start: start, State: map[string]string{"k": strings.Repeat("x", a.MaxWindowState()-16)}}
	save(shard.Checkpoint{SequenceNumber: "130", Window: big})
	require.Equal(t, shard.Checkpoint{SequenceNumber: "130", Window: big}, load(b))

	save(shard.Checkpoint{SequenceNumber: "130"})
	require.Equal(t, shard.Checkpoint{SequenceNumber: "130"}, load(b), "the final invocation's checkpoint drops the window")
	save(shard.Checkpoint{ShardEnd: true})
	require.Equal(t, shard.Checkpoint{ShardEnd: true}, load(b))
}
