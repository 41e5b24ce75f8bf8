package dynamolease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

// counting counts the writes (billed write requests) a Store makes, and
// the items it reads.
type counting struct {
	dynamolease.DynamoDBAPI
	writes atomic.Int64
	reads  atomic.Int64
}

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (c *counting) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.DynamoDBAPI.Query(ctx, in, o...)
	if err == nil {
		c.reads.Add(int64(len(out.Items)))
	}
	return out, err
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func (c *counting) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.writes.Add(1)
	return c.DynamoDBAPI.DeleteItem(ctx, in, o...)
}

// The lease table's cost at steady state: once the leases are balanced,
// each round is one heartbeat write per process whatever its number of
// shards, and one item read (the change counter) while no heartbeat may
// lapse; the rest is checkpoints.
func TestIntegrationSteadyStateWrites(t *testing.T) {
	awstest.Integration(t)
	table, c := newTable(t)
	shards := shardList(12)
	var clients []*counting
	var engines []*engine
	for _, name := range []string{"a", "b", "c"} {
		cc := &counting{DynamoDBAPI: c}
		clients = append(clients, cc)
		engines = append(engines, newEngine(t, newStore(t, cc, table, name, 0), "m"))
	}
	for range 3 { // balance
		for _, e := range engines {
			e.round(shards)
		}
	}
	require.Equal(t, map[string]int{"a": 4, "b": 4, "c": 4}, count(owners(t, c, table, "m")))
	before := make([]int64, len(clients))
	readsBefore := make([]int64, len(clients))
	for i, cc := range clients {
		before[i] = cc.writes.Load()
		readsBefore[i] = cc.reads.Load()
	}
	const rounds = 5
	for range rounds {
		for _, e := range engines {
			e.round(shards)
		}
	}
	var writes int64
	for i, cc := range clients {
		n := cc.writes.Load() - before[i]
		require.Equal(t, int64(rounds), n, "one heartbeat per round and process")
		require.Equal(t, int64(rounds), cc.reads.Load()-readsBefore[i], "one item read per round and process")
		writes += n
	}
	interval := dynamolease.DefaultLeaseDuration / 3
	perRound := float64(writes) / rounds
	perShardMinute := perRound * float64(time.Minute/interval) / float64(len(shards))
	t.Logf("steady state: %.0f writes per lease round for %d processes and %d shards; at the default round of %v: %.1f lease writes per shard per minute (KCL-style per-lease renewal: %.0f), plus one per checkpoint",
		perRound, len(engines), len(shards), interval, perShardMinute, float64(time.Minute/interval))
}
