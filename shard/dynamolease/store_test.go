package dynamolease_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

// newTable returns a fresh table name whose table (created by the stores on
// first use) is deleted when the test ends.
func newTable(t *testing.T) (string, *dynamodb.Client) {
	t.Helper()
	c := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "leases")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	})
	return name, c
}

func newStore(t *testing.T, c dynamolease.DynamoDBAPI, table, owner string, d time.Duration) *dynamolease.Store {
	t.Helper()
	opts := []dynamolease.Option{dynamolease.WithTable(table), dynamolease.WithOwner(owner)}
	if d != 0 {
		opts = append(opts, dynamolease.WithLeaseDuration(d))
	}
	s, err := dynamolease.New(c, opts...)
	require.NoError(t, err)
	return s
}

func shardList(n int) []shard.Info {
	out := make([]shard.Info, n)
	for i := range out {
		out[i] = shard.Info{ID: fmt.Sprintf("shardId-%012d", i)}
	}
	return out
}

func leases(t *testing.T, s *dynamolease.Store, mapping string, shards []shard.Info) []string {
	t.Helper()
	held, err := s.Leases(t.Context(), mapping, shards)
	require.NoError(t, err)
	return held
}

// owners reads each shard's lease owner from the table.
func owners(t *testing.T, c *dynamodb.Client, table, mapping string) map[string]string {
	t.Helper()
	out, err := c.Query(t.Context(), &dynamodb.QueryInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("mapping = :m AND begins_with(id, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: mapping}, ":p": &types.AttributeValueMemberS{Value: "shard/"}},
	})
	require.NoError(t, err)
	got := map[string]string{}
	for _, it := range out.Items {
		id := it["id"].(*types.AttributeValueMemberS).Value[len("shard/"):]
		got[id] = ""
		if o, ok := it["leaseOwner"].(*types.AttributeValueMemberS); ok {
			got[id] = o.Value
		}
	}
	return got
}

func count(m map[string]string) map[string]int {
	n := map[string]int{}
	for _, o := range m {
		n[o]++
	}
	return n
}

func TestIntegrationCreatesTheTableOnFirstUse(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	s := newStore(t, c, table, "a", 0)
	require.Equal(t, []string{"shardId-000000000000"}, leases(t, s, "m", shardList(1)))
	d, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &table})
	require.NoError(t, err)
	require.Equal(t, types.BillingModePayPerRequest, d.Table.BillingModeSummary.BillingMode)

	// A table of the same name with another key is refused, not used.
	other := awstest.UniqueName(t, "notleases")
	_, err = c.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: &other, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &other}) })
	_, err = newStore(t, c, other, "a", 0).Leases(t.Context(), "m", shardList(1))
	require.ErrorContains(t, err, "is not a lease table")
}

// Many processes race for one lease, new and then lapsed: exactly one wins
// each time.
func TestIntegrationTakeRaceHasOneWinner(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	const n = 16
	shards := shardList(1)
	race := func(mapping string, d time.Duration) []string {
		stores := make([]*dynamolease.Store, n)
		for i := range stores {
			stores[i] = newStore(t, c, table, fmt.Sprintf("w%02d", i), d)
		}
		var mu sync.Mutex
		var winners []string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, s := range stores {
			wg.Go(func() {
				<-start
				held, err := s.Leases(t.Context(), mapping, shards)
				if err != nil {
					t.Error(err)
					return
				}
				if len(held) > 0 {
					mu.Lock()
					winners = append(winners, s.Owner())
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return winners
	}
	// Warm the table up so that the race is on the item, not the creation.
	_ = leases(t, newStore(t, c, table, "warm", 0), "warm", shardList(1))

	require.Len(t, race("fresh", time.Second), 1, "a new lease")
	// The winner is gone: its heartbeat and its lease lapse.
	time.Sleep(1100 * time.Millisecond)
	winners := race("fresh", time.Second)
	require.Len(t, winners, 1, "a lapsed lease")
	require.Equal(t, map[string]string{"shardId-000000000000": winners[0]}, owners(t, c, table, "fresh"))
}

// A process whose heartbeats are delayed past expiry loses the lease to
// another, and its checkpoint writes, even one sent while it still held
// the lease, never land.
func TestIntegrationFencingDelayedRenewals(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	faults := awstest.NewFaults()
	ca := awstest.DynamoDB(t, awstest.WithFaults(faults), awstest.WithMaxAttempts(1))
	const d = 1500 * time.Millisecond
	a := newStore(t, ca, table, "a", d)
	b := newStore(t, c, table, "b", d)
	ctx := t.Context()
	shards := shardList(1)
	id := shards[0].ID

	require.Equal(t, []string{id}, leases(t, a, "m", shards))
	require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "10"}))
	require.Empty(t, leases(t, b, "m", shards), "b waits while a's lease holds")

	// Every UpdateItem of a (heartbeats and checkpoints) now takes 2d.
	faults.Fail("UpdateItem", awstest.Delay(2*d))
	renewed := make(chan []string, 1)
	go func() {
		held, _ := a.Leases(ctx, "m", shards) // its heartbeat is held up
		renewed <- held
	}()
	saved := make(chan error, 1)
	go func() {
		time.Sleep(d / 3) // a still holds the lease when it sends this write
		saved <- a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "20"})
	}()
	time.Sleep(d + 200*time.Millisecond)
	require.Equal(t, []string{id}, leases(t, b, "m", shards), "b takes the lapsed lease")
	require.NoError(t, b.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "15"}))

	require.ErrorIs(t, <-saved, shard.ErrLeaseLost, "the write sent before the take lands after it and is refused")
	require.Empty(t, <-renewed, "a learns it lost the lease when its late heartbeat lands")
	faults.Clear()
	require.ErrorIs(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "30"}), shard.ErrLeaseLost)
	cp, ok, err := b.Load(ctx, "m", id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "15", cp.SequenceNumber, "only the holder's checkpoint landed")
	require.Equal(t, map[string]string{id: "b"}, owners(t, c, table, "m"))
	require.Equal(t, []string{id}, leases(t, b, "m", shards))
	require.Empty(t, leases(t, a, "m", shards), "a does not take it back: b is alive and at its share")
}

// A process that cannot confirm its heartbeat refuses to save once the
// lease duration has passed, before any other process takes the lease.
func TestIntegrationSaveRefusedAfterUnconfirmedHeartbeat(t *testing.T) {
	awstest.Integration(t)
	table, _ := newTable(t)
	faults := awstest.NewFaults()
	ca := awstest.DynamoDB(t, awstest.WithFaults(faults), awstest.WithMaxAttempts(1))
	const d = time.Second
	a := newStore(t, ca, table, "a", d)
	shards := shardList(1)
	id := shards[0].ID
	require.Equal(t, []string{id}, leases(t, a, "m", shards))
	faults.FailNext("UpdateItem", 1, awstest.InternalError)
	_, err := a.Leases(t.Context(), "m", shards)
	require.Error(t, err)
	time.Sleep(d)
	require.ErrorIs(t, a.Save(t.Context(), "m", id, shard.Checkpoint{SequenceNumber: "1"}), shard.ErrLeaseLost)
	require.Equal(t, []string{id}, leases(t, a, "m", shards), "still its own once the heartbeat is back")
	require.NoError(t, a.Save(t.Context(), "m", id, shard.Checkpoint{SequenceNumber: "1"}))
}

func TestIntegrationCheckpointsNeverGoBackwards(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	a := newStore(t, c, table, "a", 0)
	ctx := t.Context()
	shards := shardList(1)
	id := shards[0].ID
	require.Equal(t, []string{id}, leases(t, a, "m", shards))
	load := func() shard.Checkpoint {
		cp, ok, err := a.Load(ctx, "m", id)
		require.NoError(t, err)
		require.True(t, ok)
		return cp
	}
	// Concurrent saves in any order: the largest wins (numeric order,
	// not string order: 9 < 10 < 100).
	seqs := []string{"9", "100", "10", "099", "49590338271490256608559692538361571095921575989136588898", "2"}
	var wg sync.WaitGroup
	for _, q := range seqs {
		wg.Go(func() { require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: q})) })
	}
	wg.Wait()
	require.Equal(t, seqs[4], load().SequenceNumber)
	require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "100"}))
	require.Equal(t, seqs[4], load().SequenceNumber, "an older checkpoint is a no-op")
	require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{ShardEnd: true}))
	require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "999999999999999999999999999999999999999999999999999999999999"}))
	require.True(t, load().ShardEnd, "nothing comes after the shard end")
}

// Start markers: Load returns one exactly (in UTC); the first one saved
// is kept; a sequence number or the shard end replaces it; it replaces
// nothing (a no-op, not an error); it is fenced like any checkpoint.
func TestIntegrationStartMarkers(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	t1 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	t2 := t1.Add(-time.Minute)
	marker := func(at time.Time) shard.Checkpoint { return shard.Checkpoint{Start: at} }
	seq := func(n string) shard.Checkpoint { return shard.Checkpoint{SequenceNumber: n} }
	end := shard.Checkpoint{ShardEnd: true}
	for _, tc := range []struct {
		name  string
		saves []shard.Checkpoint
		want  shard.Checkpoint
	}{
		{"marker saved and loaded", []shard.Checkpoint{marker(t1)}, marker(t1.UTC())},
		{"second marker ignored", []shard.Checkpoint{marker(t1), marker(t2)}, marker(t1.UTC())},
		{"sequence replaces marker", []shard.Checkpoint{marker(t1), seq("5")}, seq("5")},
		{"marker after sequence ignored", []shard.Checkpoint{seq("5"), marker(t1)}, seq("5")},
		{"shard end replaces marker", []shard.Checkpoint{marker(t1), end}, end},
		{"marker after shard end ignored", []shard.Checkpoint{end, marker(t1)}, end},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			a := newStore(t, c, table, "a", 0)
			shards := shardList(1)
			id := shards[0].ID
			require.Equal(t, []string{id}, leases(t, a, tc.name, shards))
			for _, cp := range tc.saves {
				require.NoError(t, a.Save(ctx, tc.name, id, cp))
			}
			// Loaded by the writer and by another process.
			for _, s := range []*dynamolease.Store{a, newStore(t, c, table, "other", 0)} {
				got, ok, err := s.Load(ctx, tc.name, id)
				require.NoError(t, err)
				require.True(t, ok)
				require.Equal(t, tc.want, got)
			}
			if !tc.want.ShardEnd {
				require.Equal(t, []string{id}, leases(t, a, tc.name, shards), "not finished: still leased")
			}
		})
	}

	t.Run("racing markers and sequence numbers", func(t *testing.T) {
		ctx := t.Context()
		a := newStore(t, c, table, "a", 0)
		shards := shardList(1)
		id := shards[0].ID
		require.Equal(t, []string{id}, leases(t, a, "race", shards))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { require.NoError(t, a.Save(ctx, "race", id, marker(t1.Add(time.Duration(i))))) })
			wg.Go(func() { require.NoError(t, a.Save(ctx, "race", id, seq(fmt.Sprint(10+i)))) })
		}
		wg.Wait()
		got, _, err := a.Load(ctx, "race", id)
		require.NoError(t, err)
		require.Equal(t, seq("17"), got, "no marker overwrote a sequence number")
	})

	t.Run("marker by a non-owner", func(t *testing.T) {
		ctx := t.Context()
		a := newStore(t, c, table, "a", 0)
		b := newStore(t, c, table, "b", 0)
		shards := shardList(1)
		id := shards[0].ID
		require.Equal(t, []string{id}, leases(t, a, "fenced", shards))
		require.Empty(t, leases(t, b, "fenced", shards))
		require.ErrorIs(t, b.Save(ctx, "fenced", id, marker(t1)), shard.ErrLeaseLost)
		_, ok, err := a.Load(ctx, "fenced", id)
		require.NoError(t, err)
		require.False(t, ok, "the fenced marker did not land")
		require.NoError(t, a.Save(ctx, "fenced", id, seq("3")))
		require.ErrorIs(t, b.Save(ctx, "fenced", id, marker(t1)), shard.ErrLeaseLost, "not a silent no-op either")
	})

	// A shard with only a marker is unfinished: balanced and handed over
	// like any other, marker included.
	t.Run("marked shards are balanced", func(t *testing.T) {
		ctx := t.Context()
		shards := shardList(2)
		a := newEngine(t, newStore(t, c, table, "a", 0), "balance")
		a.round(shards)
		for _, sh := range shards {
			require.NoError(t, a.s.Save(ctx, "balance", sh.ID, marker(t1)))
		}
		b := newEngine(t, newStore(t, c, table, "b", 0), "balance")
		for range 3 {
			b.round(shards)
			a.round(shards)
		}
		require.Equal(t, map[string]int{"a": 1, "b": 1}, count(owners(t, c, table, "balance")))
		for id := range b.reading {
			got, ok, err := b.s.Load(ctx, "balance", id)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, marker(t1.UTC()), got, "the marker moves with the lease")
		}
	})
}

func TestIntegrationAccessDeniedNamesTheAction(t *testing.T) {
	awstest.Integration(t)
	table, _ := newTable(t)
	faults := awstest.NewFaults()
	c := awstest.DynamoDB(t, awstest.WithFaults(faults))
	denied := awstest.APIError(400, "AccessDeniedException", "User: arn:aws:sts::000000000000:assumed-role/app is not authorized")
	for _, op := range []string{"DescribeTable", "UpdateItem", "Query"} {
		faults.Clear()
		faults.Fail(op, denied)
		_, err := newStore(t, c, table, "a", 0).Leases(t.Context(), "m", shardList(1))
		require.ErrorContains(t, err, "access denied: dynamodb:"+op+" on table ")
		require.ErrorContains(t, err, table)
	}
	faults.Clear()
	faults.Fail("GetItem", denied)
	_, _, err := newStore(t, c, table, "a", 0).Load(t.Context(), "m", "s")
	require.ErrorContains(t, err, "access denied: dynamodb:GetItem on table ")
}

// A process restarted under its owner name (a StatefulSet pod) holds its
// shards again at its first lease round, well before the old leases would
// lapse, and the old process, should it still run, is fenced: its Save
// fails, its rounds fail with ErrOwnerInUse, and its Release and Retire
// change nothing.
func TestIntegrationRestartUnderTheSameNameReclaimsLeases(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	ctx := t.Context()
	shards := shardList(4)
	old := newEngine(t, newStore(t, c, table, "pod-0", 0), "m") // leases last 10s
	other := newEngine(t, newStore(t, c, table, "pod-1", 0), "m")
	for range 3 {
		old.round(shards)
		other.round(shards)
	}
	require.Equal(t, map[string]int{"pod-0": 2, "pod-1": 2}, count(owners(t, c, table, "m")))
	var mine []string
	for id := range old.reading {
		mine = append(mine, id)
	}
	slices.Sort(mine)
	for _, id := range mine {
		require.NoError(t, old.s.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "1"}))
	}

	// pod-0 dies (it just stops calling) and comes back under its name.
	restarted := newStore(t, c, table, "pod-0", 0)
	start := time.Now()
	require.Equal(t, mine, leases(t, restarted, "m", shards), "the same shards, at the first round")
	require.Less(t, time.Since(start), dynamolease.DefaultLeaseDuration/4)
	for _, id := range mine {
		require.ErrorIs(t, old.s.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "2"}), shard.ErrLeaseLost)
		require.ErrorIs(t, old.s.Save(ctx, "m", id, shard.Checkpoint{Start: start}), shard.ErrLeaseLost)
		require.NoError(t, restarted.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "3"}))
	}
	for range 2 {
		_, err := old.s.Leases(ctx, "m", shards)
		require.ErrorIs(t, err, dynamolease.ErrOwnerInUse, "the old process's heartbeat fails: its session was replaced")
		require.ErrorIs(t, err, shard.ErrLeaseLost)
	}
	require.ErrorIs(t, old.s.Save(ctx, "m", mine[0], shard.Checkpoint{SequenceNumber: "4"}), shard.ErrLeaseLost)
	for _, id := range mine {
		require.NoError(t, old.s.Release(ctx, "m", id))
	}
	require.NoError(t, old.s.Retire(ctx, "m"))
	require.Equal(t, mine, leases(t, restarted, "m", shards), "its heartbeat and leases survive the old process's Release and Retire")
	other.round(shards)
	require.Len(t, other.reading, 2, "pod-1 keeps its share")
	require.Equal(t, map[string]int{"pod-0": 2, "pod-1": 2}, count(owners(t, c, table, "m")))
	for _, id := range mine {
		cp, ok, err := restarted.Load(ctx, "m", id)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "3", cp.SequenceNumber, "only the new process's checkpoints landed")
	}
}

// beforeQuery runs a function before the next Query of its client.
type beforeQuery struct {
	dynamolease.DynamoDBAPI
	mu   sync.Mutex
	next func()
}

func (c *beforeQuery) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.mu.Lock()
	f := c.next
	c.next = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return c.DynamoDBAPI.Query(ctx, in, o...)
}

// The old process's round that began (heartbeat written) just before the
// restarted process took the name over does not take the leases back:
// it sees the newer session in its Query.
func TestIntegrationRestartDuringTheOldProcesssRound(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	ctx := t.Context()
	shards := shardList(2)
	hook := &beforeQuery{DynamoDBAPI: c}
	old := newStore(t, hook, table, "pod-0", 0)
	require.Len(t, leases(t, old, "m", shards), 2)
	restarted := newStore(t, c, table, "pod-0", 0)
	hook.next = func() { require.Len(t, leases(t, restarted, "m", shards), 2) }
	_, err := old.Leases(ctx, "m", shards)
	require.ErrorIs(t, err, dynamolease.ErrOwnerInUse)
	for _, sh := range shards {
		require.NoError(t, restarted.Save(ctx, "m", sh.ID, shard.Checkpoint{SequenceNumber: "1"}), "still the restarted process's")
	}
}

// engine simulates what the stream engine does with a Store each round:
// it reads exactly the shards held, and releases the ones it stops reading.
type engine struct {
	t       *testing.T
	s       *dynamolease.Store
	mapping string
	reading map[string]bool
}

func newEngine(t *testing.T, s *dynamolease.Store, mapping string) *engine {
	return &engine{t: t, s: s, mapping: mapping, reading: map[string]bool{}}
}

func (e *engine) round(shards []shard.Info) {
	held := leases(e.t, e.s, e.mapping, shards)
	for id := range e.reading {
		if !slices.Contains(held, id) {
			delete(e.reading, id)
			require.NoError(e.t, e.s.Release(e.t.Context(), e.mapping, id))
		}
	}
	for _, id := range held {
		if !e.reading[id] {
			// The engine loads the checkpoint as it starts reading.
			_, _, err := e.s.Load(e.t.Context(), e.mapping, id)
			require.NoError(e.t, err)
			e.reading[id] = true
		}
	}
}

func (e *engine) stop() {
	for id := range e.reading {
		require.NoError(e.t, e.s.Release(e.t.Context(), e.mapping, id))
	}
	require.NoError(e.t, e.s.Retire(e.t.Context(), e.mapping))
}

// Twelve shards spread evenly as a second and a third process join, with
// several leases moving per round; a process that shuts down hands its
// leases over in one round.
func TestIntegrationBalancingRounds(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	shards := shardList(12)
	a := newEngine(t, newStore(t, c, table, "a", 0), "m")
	b := newEngine(t, newStore(t, c, table, "b", 0), "m")
	cc := newEngine(t, newStore(t, c, table, "c", 0), "m")
	a.round(shards)
	require.Equal(t, map[string]int{"a": 12}, count(owners(t, c, table, "m")))

	rounds := func(want map[string]int, es ...*engine) int {
		for n := 1; n <= 6; n++ {
			for _, e := range es {
				e.round(shards)
			}
			if got := count(owners(t, c, table, "m")); fmt.Sprint(got) == fmt.Sprint(want) {
				return n
			}
		}
		t.Fatalf("not balanced after 6 rounds: %v", count(owners(t, c, table, "m")))
		return 0
	}
	n2 := rounds(map[string]int{"a": 6, "b": 6}, b, a)
	n3 := rounds(map[string]int{"a": 4, "b": 4, "c": 4}, cc, a, b)
	t.Logf("rounds to spread 12 shards evenly: %d as a second process joins, %d as a third joins", n2, n3)
	require.LessOrEqual(t, n2, 2)
	require.LessOrEqual(t, n3, 2)

	// b shuts down: its leases go straight to a and c.
	b.stop()
	require.Equal(t, map[string]int{"a": 6, "c": 6}, count(owners(t, c, table, "m")))
	a.round(shards)
	cc.round(shards)
	require.Len(t, a.reading, 6)
	require.Len(t, cc.reading, 6)
}

// Two processes stop at once: each hands its leases to the other, which it
// still counts live, and that one retires too. A lease held under the name
// of a process that retired (its heartbeat item deleted) is free at once: a
// process that joins takes every lease in its first round instead of
// waiting for them to expire.
func TestIntegrationLeasesHandedToARetiredProcessAreFree(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	shards := shardList(4)
	a := newEngine(t, newStore(t, c, table, "a", time.Minute), "m")
	b := newEngine(t, newStore(t, c, table, "b", time.Minute), "m")
	for range 3 {
		a.round(shards)
		b.round(shards)
	}
	require.Equal(t, map[string]int{"a": 2, "b": 2}, count(owners(t, c, table, "m")))
	a.stop() // hands a's leases to b
	b.stop() // hands b's leases to a, which it still counts live
	cc := newEngine(t, newStore(t, c, table, "c", time.Minute), "m")
	cc.round(shards)
	require.Len(t, cc.reading, 4, "leases of retired processes are taken at once: %v", owners(t, c, table, "m"))
}

// A parent is read before its children by whoever holds them; its lease is
// kept until both children have a checkpoint, then removed, and a restart
// does not read it again.
func TestIntegrationResharding(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	ctx := t.Context()
	p := shard.Info{ID: "shardId-000000000000", Closed: true}
	c1 := shard.Info{ID: "shardId-000000000001", Parents: []string{p.ID}}
	c2 := shard.Info{ID: "shardId-000000000002", Parents: []string{p.ID}}
	shards := []shard.Info{p, c1, c2}
	a := newStore(t, c, table, "a", 0)
	b := newStore(t, c, table, "b", 0)
	require.Len(t, leases(t, a, "m", shards), 3)
	require.Len(t, leases(t, b, "m", shards), 0, "b may not ask for children still waiting on their parent")
	require.NoError(t, a.Save(ctx, "m", p.ID, shard.Checkpoint{SequenceNumber: "5"}))
	require.NoError(t, a.Save(ctx, "m", p.ID, shard.Checkpoint{ShardEnd: true}))
	require.NoError(t, a.Release(ctx, "m", p.ID))
	_ = leases(t, b, "m", shards) // now b asks for a child
	heldA := leases(t, a, "m", shards)
	require.Len(t, heldA, 1, "a hands one child over, at once: its engine never started it")
	heldB := leases(t, b, "m", shards)
	require.Len(t, heldB, 1)
	require.NotEqual(t, heldA, heldB)
	require.NoError(t, a.Save(ctx, "m", heldA[0], shard.Checkpoint{SequenceNumber: "7"}))
	_ = leases(t, a, "m", shards)
	require.Contains(t, owners(t, c, table, "m"), p.ID, "kept while a child has not started")
	require.NoError(t, b.Save(ctx, "m", heldB[0], shard.Checkpoint{SequenceNumber: "8"}))
	_ = leases(t, a, "m", shards)
	_ = leases(t, b, "m", shards)
	require.NotContains(t, owners(t, c, table, "m"), p.ID, "removed once both children started")

	// A new process finds the parent at its end through its children.
	n := newStore(t, c, table, "n", 0)
	_ = leases(t, n, "m", shards)
	cp, ok, err := n.Load(ctx, "m", p.ID)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, cp.ShardEnd)
}

// Removed parents stay finished: through their children's items when a
// process's listing predates the split, and through their grandchildren
// when their children's items are gone too.
func TestIntegrationRemovedParentsAreNeverReadAgain(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	ctx := t.Context()
	p := shard.Info{ID: "shardId-000000000000", Closed: true}
	ch := shard.Info{ID: "shardId-000000000001", Parents: []string{p.ID}, Closed: true}
	g := shard.Info{ID: "shardId-000000000002", Parents: []string{ch.ID}}
	all := []shard.Info{p, ch, g}
	a := newStore(t, c, table, "a", 0)
	require.Len(t, leases(t, a, "m", all), 3)
	finish := func(id string) {
		require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{SequenceNumber: "1"}))
		require.NoError(t, a.Save(ctx, "m", id, shard.Checkpoint{ShardEnd: true}))
		require.NoError(t, a.Release(ctx, "m", id))
	}
	finish(p.ID)
	require.NoError(t, a.Save(ctx, "m", ch.ID, shard.Checkpoint{SequenceNumber: "1"}))
	_ = leases(t, a, "m", all)
	require.NotContains(t, owners(t, c, table, "m"), p.ID)

	// A process whose listing predates the split sees only the parent,
	// still open: it neither takes it nor reads it from the start.
	stale := []shard.Info{{ID: p.ID}}
	s := newStore(t, c, table, "stale", 0)
	require.Empty(t, leases(t, s, "m", stale))
	cp, ok, err := s.Load(ctx, "m", p.ID)
	require.NoError(t, err)
	require.True(t, ok && cp.ShardEnd)

	finish(ch.ID)
	require.NoError(t, a.Save(ctx, "m", g.ID, shard.Checkpoint{SequenceNumber: "1"}))
	_ = leases(t, a, "m", all)
	require.Equal(t, map[string]string{g.ID: "a"}, owners(t, c, table, "m"), "only the grandchild's item is left")
	n := newStore(t, c, table, "n", 0)
	require.Empty(t, leases(t, n, "m", all))
	for _, id := range []string{p.ID, ch.ID} {
		cp, ok, err := n.Load(ctx, "m", id)
		require.NoError(t, err)
		require.True(t, ok && cp.ShardEnd, id)
	}
}
