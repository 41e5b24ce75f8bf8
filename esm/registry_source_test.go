package esm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// Create refuses a source that does not exist, in Lambda's words, as Lambda
// does; access refused and a service that cannot be reached are errors too,
// and nothing is stored.
func TestRegistryCreateRefusesAMissingSource(t *testing.T) {
	f := newRegFixture(t)
	f.define("fn", allKinds)
	stream := f.k.MustCreateStream(t, "orders", 1)
	table := f.d.MustCreateStream(t, "items", dstypes.StreamViewTypeNewImage, "pk")
	queueURL, queue := f.q.MustCreateQueue(t, "jobs", nil)
	reg := f.open(t)

	goneStream := strings.Replace(stream, "stream/orders", "stream/gone", 1)
	goneTable := strings.Replace(table, "table/items/", "table/gone/", 1)
	const queueMissing = "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized", Fault: smithy.FaultClient}
	for _, tc := range []struct {
		name   string
		faults func()
		cfg    esm.Config
		typ    string
		status int
		msg    string
	}{
		{"missing Kinesis stream", nil, esm.Config{FunctionName: "fn", EventSourceArn: goneStream, StartingPosition: esm.Latest},
			esm.ErrorInvalidParameterValue, 400, "Stream not found: " + goneStream},
		{"missing DynamoDB stream", nil, esm.Config{FunctionName: "fn", EventSourceArn: goneTable, StartingPosition: esm.Latest},
			esm.ErrorInvalidParameterValue, 400, "Stream not found: " + goneTable},
		{"missing queue by ARN", nil, esm.Config{FunctionName: "fn", EventSourceArn: f.q.QueueARN("gone")},
			esm.ErrorInvalidParameterValue, 400, queueMissing},
		{"missing queue by URL", nil, esm.Config{FunctionName: "fn", QueueURL: f.q.QueueURL("gone")},
			esm.ErrorInvalidParameterValue, 400, queueMissing},
		{"access refused", func() { f.k.Faults.FailNext("DescribeStreamSummary", 1, denied) },
			esm.Config{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest}, esm.ErrorInvalidParameterValue, 400,
			"Cannot access the event source " + stream + ": kinesis:DescribeStreamSummary was refused (AccessDeniedException). Grant it to the credentials of this lambdaesm process."},
		{"service unreachable", func() { f.d.Faults.FailNext("DescribeStream", 1, errors.New("dial tcp: connection refused")) },
			esm.Config{FunctionName: "fn", EventSourceArn: table, StartingPosition: esm.Latest}, esm.ErrorService, 500,
			"The event source " + table + " could not be checked: operation error DynamoDB Streams: DescribeStream, dial tcp: connection refused"},
		{"queue attributes refused", func() { f.q.Faults.FailNext("GetQueueAttributes", 1, denied) },
			esm.Config{FunctionName: "fn", QueueURL: queueURL}, esm.ErrorInvalidParameterValue, 400,
			"Cannot access the event source " + queueURL + ": sqs:GetQueueAttributes was refused (AccessDeniedException). Grant it to the credentials of this lambdaesm process."},
	} {
		if tc.faults != nil {
			tc.faults()
		}
		_, err := reg.Create(t.Context(), tc.cfg)
		ae := apiErr(t, err)
		require.Equal(t, tc.typ, ae.Type, tc.name)
		require.Equal(t, tc.status, ae.HTTPStatus, tc.name)
		require.Equal(t, tc.msg, ae.Message, tc.name)
	}
	require.Empty(t, reg.List(esm.ListFilter{}), "nothing refused is a mapping")
	recs, err := f.store.LoadMappings(t.Context())
	require.NoError(t, err)
	require.Empty(t, recs, "nothing refused is stored")

	// The sources that exist are accepted, the queue by ARN and by URL.
	for _, cfg := range []esm.Config{
		{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest},
		{FunctionName: "fn", EventSourceArn: table, StartingPosition: esm.Latest},
		{FunctionName: "fn", EventSourceArn: queue},
		{FunctionName: "fn:live", QueueURL: queueURL},
	} {
		_, err := reg.Create(t.Context(), cfg)
		require.NoError(t, err, cfg.EventSourceArn+cfg.QueueURL)
	}
}

// On the emulators, Create refuses a missing stream, table stream or queue
// with Lambda's words, and accepts the ones that exist.
func TestRegistryCreateChecksTheSourceOnTheEmulators(t *testing.T) {
	awstest.Integration(t)
	kc, dc, qc := awstest.Kinesis(t), awstest.DynamoDBStreams(t), awstest.SQS(t)
	_, stream := awstest.NewStream(t, kc, 1)
	_, table := awstest.NewStreamTable(t, awstest.DynamoDB(t))
	queueURL, queue := awstest.NewQueue(t, qc, nil)
	reg, err := esm.NewRegistry(t.Context(), esm.RegistryConfig{
		Resolver: func(context.Context, string) (esm.Function, error) { return allKinds, nil },
		Clients:  esm.SourceClients{Kinesis: kc, DynamoDBStreams: dc, SQS: qc},
		Store:    esm.NewMemoryMappingStore(), Checkpoints: shard.NewMemoryStore(),
	})
	require.NoError(t, err)

	goneStream := stream + "-gone"
	goneTable := strings.Replace(table, "/stream/", "-gone/stream/", 1)
	goneQueue := queue + "-gone"
	for _, tc := range []struct {
		cfg esm.Config
		msg string
	}{
		{esm.Config{FunctionName: "fn", EventSourceArn: goneStream, StartingPosition: esm.Latest}, "Stream not found: " + goneStream},
		{esm.Config{FunctionName: "fn", EventSourceArn: goneTable, StartingPosition: esm.Latest}, "Stream not found: " + goneTable},
		{esm.Config{FunctionName: "fn", EventSourceArn: goneQueue},
			"Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."},
	} {
		_, err := reg.Create(t.Context(), tc.cfg)
		ae := apiErr(t, err)
		require.Equal(t, esm.ErrorInvalidParameterValue, ae.Type, tc.cfg.EventSourceArn)
		require.Equal(t, tc.msg, ae.Message)
	}
	for _, cfg := range []esm.Config{
		{FunctionName: "fn", EventSourceArn: stream, StartingPosition: esm.Latest, Enabled: new(false)},
		{FunctionName: "fn", EventSourceArn: table, StartingPosition: esm.Latest, Enabled: new(false)},
		{FunctionName: "fn", EventSourceArn: queue, Enabled: new(false)},
		{FunctionName: "fn:live", QueueURL: queueURL, Enabled: new(false)},
	} {
		_, err := reg.Create(t.Context(), cfg)
		require.NoError(t, err, cfg.EventSourceArn+cfg.QueueURL)
	}
}
