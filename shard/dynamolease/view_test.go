package dynamolease

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Every round decides on the items as they are in the table (in all that a
// round reads of them), though it reads the table only after an announced
// change or a heartbeat it knows of could lapse: through processes that
// join, a process that dies, one that leaves gracefully, one restarted under
// its name, one that joins alone, and a split whose parent ends, whose children start and whose
// parent's item is removed; with checkpoints at every round.
func TestIntegrationRoundsDecideOnTheTable(t *testing.T) {
	awstest.Integration(t)
	c := awstest.DynamoDB(t)
	table := awstest.UniqueName(t, "leaseview")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
	})
	mapping := "view"
	s := &costSim{
		t: t, c: c, table: table, mapping: mapping, meter: &meter{DynamoDBAPI: c}, clock: &clock{t: time.Now()},
		saves: true, ended: map[string]bool{}, stopping: 1500 * time.Millisecond,
	}
	rounds, copies := 0, 0
	s.check = func(owner string, items map[string]*leaseItem) {
		rounds++
		got, exp := describeItems(items), describeItems(tableItems(t, c, table, mapping))
		if got != exp {
			t.Errorf("round of %s at %s decided on\n%s\nwhere the table holds\n%s", owner, s.clock.now().Format(time.StampMilli), got, exp)
		}
	}
	// Count the rounds that read no lease item: they decided on a copy.
	quiet := func(d time.Duration) {
		for range int(d / time.Second) {
			for _, r := range slices.Clone(s.reps) {
				before := s.meter.leaseReads.Load()
				s.clock.add(time.Second / time.Duration(len(s.reps)))
				s.step(r)
				if s.meter.leaseReads.Load() == before {
					copies++
				}
			}
		}
	}
	for i := range 8 {
		s.shards = append(s.shards, shard.Info{ID: fmt.Sprintf("shardId-%012d", i)})
	}
	for i := range 3 {
		s.add(fmt.Sprintf("r%02d", i))
	}
	s.settle()
	quiet(5 * time.Second)

	// Two join.
	s.add("j00")
	s.add("j01")
	quiet(10 * time.Second)
	require.True(t, s.balanced(), "spread over five")

	// r01 dies.
	s.reps = slices.DeleteFunc(s.reps, func(r *costReplica) bool { return r.name == "r01" })
	quiet(DefaultLeaseDuration + 3*time.Second)
	require.True(t, s.balanced(), "spread over four")

	// r02 leaves gracefully.
	i := slices.IndexFunc(s.reps, func(r *costReplica) bool { return r.name == "r02" })
	leaving := s.reps[i]
	s.reps = slices.Delete(s.reps, i, i+1)
	for id := range leaving.held {
		require.NoError(t, leaving.store.Release(context.Background(), mapping, id))
	}
	require.NoError(t, leaving.store.Retire(context.Background(), mapping))
	quiet(3 * time.Second)
	require.True(t, s.balanced(), "spread over three")

	// r00 restarts under its name.
	s.start(s.reps[0])
	quiet(3 * time.Second)
	require.True(t, s.balanced(), "r00 reads its shards again")

	// One more joins, alone: the hand-offs it asks for are all there is
	// to see.
	s.add("j02")
	quiet(5 * time.Second)
	require.True(t, s.balanced(), "spread over four again")

	// Shard 0 splits.
	parent := s.shards[0].ID
	s.shards[0].Closed = true
	for i := 8; i < 10; i++ {
		s.shards = append(s.shards, shard.Info{ID: fmt.Sprintf("shardId-%012d", i), Parents: []string{parent}})
	}
	s.ended[parent] = true
	quiet(5 * time.Second)
	_, ok := tableItems(t, c, table, mapping)[parent]
	require.False(t, ok, "the parent's item is removed once both children started")
	read := map[string]int{}
	for _, r := range s.reps {
		for id := range r.reading {
			read[id]++
		}
	}
	for _, sh := range s.shards[1:] {
		require.Equal(t, 1, read[sh.ID], "%s read by one process", sh.ID)
	}
	t.Logf("%d rounds, %d of them on their copy of the items", rounds, copies)
	require.Greater(t, copies, rounds/2, "most rounds read no lease item")
}

// tableItems reads the mapping's lease items.
func tableItems(t *testing.T, c *dynamodb.Client, table, mapping string) map[string]*leaseItem {
	t.Helper()
	out, err := c.Query(context.Background(), &dynamodb.QueryInput{
		TableName: &table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:   aws.String("#m = :m AND begins_with(#id, :p)"),
		ExpressionAttributeNames: map[string]string{"#m": attrMapping, "#id": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": ddbtable.S(mapping), ":p": ddbtable.S(shardPrefix),
		},
	})
	require.NoError(t, err)
	items := map[string]*leaseItem{}
	for _, it := range out.Items {
		items[ddbtable.GetS(it, attrID)[len(shardPrefix):]] = decodeLease(it)
	}
	return items
}

// describeItems lists what a round reads of the items: owner, counter,
// expiry, hand-off, whether there is a checkpoint and whether it is the end
// (not the sequence number: a round does not read it), parents.
func describeItems(items map[string]*leaseItem) string {
	var out string
	for _, id := range slices.Sorted(maps.Keys(items)) {
		it := items[id]
		cp := "none"
		switch {
		case it.cp == shardEnd:
			cp = "end"
		case it.cp != "":
			cp = "started"
		}
		out += fmt.Sprintf("  %s owner=%q counter=%d expires=%d handoff=%q cp=%s parents=%v\n",
			id, it.owner, it.counter, it.expires, it.handoff, cp, slices.Sorted(slices.Values(it.parents)))
	}
	return out
}

// A live process of an earlier version, which announces nothing (its
// heartbeat has no announcingUntil), makes every round read the mapping,
// from the round that first reads its heartbeat (within a lease duration)
// until it lapses.
func TestIntegrationEarlierVersionMakesRoundsReadEverything(t *testing.T) {
	awstest.Integration(t)
	c := awstest.DynamoDB(t)
	table := awstest.UniqueName(t, "leaselegacy")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table})
	})
	const mapping = "legacy"
	s := &costSim{t: t, c: c, table: table, mapping: mapping, meter: &meter{DynamoDBAPI: c}, clock: &clock{t: time.Now()}}
	for i := range 4 {
		s.shards = append(s.shards, shard.Info{ID: fmt.Sprintf("shardId-%012d", i)})
	}
	s.add("new")
	s.settle()
	// fullRounds runs n rounds a second apart and counts those that read
	// the lease items.
	fullRounds := func(n int) int {
		full := 0
		for range n {
			before := s.meter.leaseReads.Load()
			s.second(nil)
			if s.meter.leaseReads.Load() > before {
				full++
			}
		}
		return full
	}
	require.Zero(t, fullRounds(3), "alone and quiet: no round reads the leases")

	// An earlier version's heartbeat, as it wrote them: no announcingUntil.
	beat := func() {
		_, err := c.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName: &table, Key: key(mapping, workerPrefix+"old"),
			UpdateExpression:          aws.String("SET #w = :w, #s = :s, #u = :u ADD #b :one"),
			ExpressionAttributeNames:  map[string]string{"#w": attrWorker, "#s": attrSession, "#u": attrBeatUntil, "#b": attrBeats},
			ExpressionAttributeValues: map[string]types.AttributeValue{":w": ddbtable.S("old"), ":s": ddbtable.S("x"), ":u": ddbtable.N(ms(s.clock.now().Add(DefaultLeaseDuration))), ":one": ddbtable.N(1)},
		})
		require.NoError(t, err)
	}
	beat()
	seen := 0
	for range int(DefaultLeaseDuration/time.Second) + 1 {
		beat()
		if fullRounds(1) > 0 {
			break
		}
		seen++
	}
	require.Less(t, seen, int(DefaultLeaseDuration/time.Second)+1, "its heartbeat read within a lease duration")
	for range 5 {
		beat()
		require.Equal(t, 1, fullRounds(1), "every round reads the mapping while it lives")
	}
	// It stops: once its heartbeat lapsed, rounds read the copy again.
	fullRounds(int(DefaultLeaseDuration/time.Second) + 1)
	require.Zero(t, fullRounds(3))
}
