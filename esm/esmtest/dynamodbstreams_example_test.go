package esmtest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/lambdaesm/lambdaesm/esm/esmtest"
)

// A DynamoDB Streams fake: item writes become INSERT, MODIFY and REMOVE
// records, and Rollover closes the shard, whose reader then reaches the end
// (a nil NextShardIterator) and moves on to the child.
func ExampleDynamoDBStreams() {
	ctx := context.Background()
	d := esmtest.NewDynamoDBStreams()
	arn, _ := d.CreateStream("orders", dbtypes.StreamViewTypeNewAndOldImages, "id")
	key := map[string]dbtypes.AttributeValue{"id": &dbtypes.AttributeValueMemberS{Value: "1"}}
	_ = d.PutItem("orders", map[string]dbtypes.AttributeValue{"id": key["id"], "state": &dbtypes.AttributeValueMemberS{Value: "new"}})
	_ = d.UpdateItem("orders", key, map[string]dbtypes.AttributeValue{"state": &dbtypes.AttributeValueMemberS{Value: "paid"}})
	_ = d.DeleteItem("orders", key)
	children, _ := d.Rollover(arn)

	desc, _ := d.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	parent := desc.StreamDescription.Shards[0]
	it, _ := d.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: &arn, ShardId: parent.ShardId, ShardIteratorType: dbtypes.ShardIteratorTypeTrimHorizon,
	})
	out, _ := d.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	for _, r := range out.Records {
		fmt.Println(r.EventName, "old:", state(r.Dynamodb.OldImage), "new:", state(r.Dynamodb.NewImage))
	}
	fmt.Println("end of shard:", out.NextShardIterator == nil)
	fmt.Println("child's parent is the closed shard:", *desc.StreamDescription.Shards[1].ParentShardId == *parent.ShardId,
		*desc.StreamDescription.Shards[1].ShardId == children[0])
	// Output:
	// INSERT old: - new: new
	// MODIFY old: new new: paid
	// REMOVE old: paid new: -
	// end of shard: true
	// child's parent is the closed shard: true true
}

func state(image map[string]dbtypes.AttributeValue) string {
	if v, ok := image["state"].(*dbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return "-"
}
