package esm_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// A source missing at start-up ends Run with Lambda's message.
func TestMissingSourceAtStartupInLambdasWords(t *testing.T) {
	k := esmtest.NewKinesis()
	missing := strings.Replace(k.MustCreateStream(t, "s", 1), "stream/s", "stream/gone", 1)
	km, err := esm.NewKinesisMapping(esm.Config{EventSourceArn: missing, StartingPosition: esm.TrimHorizon}, k,
		esm.HandleKinesis(func(context.Context, events.KinesisEvent) error { return nil }), esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	require.ErrorContains(t, km.Run(t.Context()), "Stream not found: "+missing)

	d := esmtest.NewDynamoDBStreams()
	arn := d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewAndOldImages, "id")
	missing = strings.Replace(arn, "table/items/", "table/gone/", 1)
	dm, err := esm.NewDynamoDBMapping(esm.Config{EventSourceArn: missing, StartingPosition: esm.Latest}, d,
		esm.HandleDynamoDB(func(context.Context, events.DynamoDBEvent) error { return nil }), esm.WithStore(shard.NewMemoryStore()))
	require.NoError(t, err)
	require.ErrorContains(t, dm.Run(t.Context()), "Stream not found: "+missing)

	q := esmtest.NewSQS()
	qm, err := esm.NewSQSMapping(esm.Config{EventSourceArn: q.QueueARN("gone")}, q,
		esm.HandleSQS(func(context.Context, events.SQSEvent) error { return nil }))
	require.NoError(t, err)
	require.ErrorContains(t, qm.Run(t.Context()),
		"Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.")
}
