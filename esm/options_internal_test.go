package esm

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/shard"
)

// The stream options reach the engine's settings.
func TestStreamOptionsReachTheEngineSettings(t *testing.T) {
	cfg := Config{EventSourceArn: "arn:aws:kinesis:us-east-1:123456789012:stream/s", StartingPosition: TrimHorizon}
	h := HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil })
	client := struct{ shard.KinesisAPI }{} // not called
	_, set, _, err := streamSettings(cfg, Kinesis, client, h, streamOpts([]StreamOption{
		WithStore(shard.NewMemoryStore()),
		WithCheckpointInterval(5 * time.Second),
		WithLeaseInterval(2 * time.Second),
		WithPolling(Polling{Idle: time.Second, Busy: 300 * time.Millisecond, Discovery: time.Minute}),
	}))
	require.NoError(t, err)
	require.Equal(t, 5*time.Second, set.CheckpointInterval)
	require.Equal(t, 2*time.Second, set.LeaseInterval)
	require.Equal(t, time.Second, set.PollInterval)
	require.Equal(t, 300*time.Millisecond, set.MinPollInterval)
	require.Equal(t, time.Minute, set.DiscoveryInterval)

	_, set, _, err = streamSettings(cfg, Kinesis, client, h, streamOpts([]StreamOption{WithStore(shard.NewMemoryStore())}))
	require.NoError(t, err)
	require.Zero(t, set.CheckpointInterval, "0: the engine's default, 1s")
}
