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

// counting counts the writes (billed write requests) a Store makes.
type counting struct {
	dynamolease.DynamoDBAPI
	writes atomic.Int64
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
// shards; the rest is checkpoints.
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
	for i, cc := range clients {
		before[i] = cc.writes.Load()
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
		writes += n
	}
	interval := dynamolease.DefaultLeaseDuration / 3
	perRound := float64(writes) / rounds
	perShardMinute := perRound * float64(time.Minute/interval) / float64(len(shards))
	t.Logf("steady state: %.0f writes per lease round for %d processes and %d shards; at the default round of %v: %.1f lease writes per shard per minute (KCL-style per-lease renewal: %.0f), plus one per checkpoint",
		perRound, len(engines), len(shards), interval, perShardMinute, float64(time.Minute/interval))
}
