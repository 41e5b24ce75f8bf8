package dynamolease

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of the DynamoDB API that a [Store] calls.
// *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// ErrOwnerInUse is returned by Leases to a process whose Options.Owner a
// newer process took over: a process that starts under a name takes the
// name's heartbeat and leases at its first lease round, so a restart under a
// stable name (a StatefulSet pod's) reads its shards again at once, and the
// older process, should it still run, must stop. The error also wraps
// [shard.ErrLeaseLost]. It is final for the Store and mapping: every later
// Leases returns it without a call (until Retire), Save fails with
// [shard.ErrLeaseLost], and Release gives nothing away. Two processes
// started under one name by mistake thus end with only the newest reading,
// the other reporting this error at every lease round.
var ErrOwnerInUse = errors.New("dynamolease: owner name taken over by a newer process")

// apiError names the table and, for access denied, the IAM action that was
// refused: "access denied: dynamodb:UpdateItem on table T was refused".
func (s *Store) apiError(action string, err error) error {
	return s.tableSpec().Err(action, s.tableName(), err)
}

// conditionFailed reports whether err is a failed condition, and returns the
// item as it was when the condition failed (nil when there was none or the
// service did not return it).
func conditionFailed(err error) (bool, map[string]types.AttributeValue) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, ccf.Item
	}
	return false, nil
}
