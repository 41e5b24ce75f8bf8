// Package ddbtable holds what this module's DynamoDB tables (the lease
// table of shard/dynamolease, esm's mapping table) share: a table keyed by a
// string hash key and a string range key, created on first use, the words
// of their errors, and attribute helpers.
package ddbtable

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// API is what Ensure calls; *dynamodb.Client satisfies it.
type API interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Table describes one of the module's tables.
type Table struct {
	// Name is the table's name.
	Name string
	// Hash and Range are the key attributes, both strings.
	Hash, Range string
	// Prefix starts every error ("dynamolease", "esm: mapping store"),
	// Kind names the table in them ("lease table"), and Grantee says who
	// needs a refused permission ("the caller's IAM role").
	Prefix, Kind, Grantee string
}

// Err words a failed call of action on the table, whose name (or ARN) is
// shown: access refused and a missing table say so.
func (t Table) Err(action, shown string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException":
			return fmt.Errorf("%s: access denied: dynamodb:%s on table %s was refused (grant it to %s): %w", t.Prefix, action, shown, t.Grantee, err)
		case "ResourceNotFoundException":
			return fmt.Errorf("%s: dynamodb:%s: table %s not found: %w", t.Prefix, action, shown, err)
		}
	}
	return fmt.Errorf("%s: dynamodb:%s on table %s: %w", t.Prefix, action, shown, err)
}

// Ensure returns the table's description once it is ACTIVE, creating it
// (on-demand billing) when it is missing; another process creating it at
// the same time is fine. A table whose key is not (Hash S, Range S) is
// refused.
func Ensure(ctx context.Context, c API, t Table) (*types.TableDescription, error) {
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &t.Name})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:   &t.Name,
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(t.Hash), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(t.Range), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(t.Hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(t.Range), KeyType: types.KeyTypeRange},
			},
		})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: another process creates it
			return nil, t.Err("CreateTable", t.Name, err)
		}
		if out, err = waitActive(ctx, c, t); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, t.Err("DescribeTable", t.Name, err)
	case out.Table.TableStatus != types.TableStatusActive:
		if out, err = waitActive(ctx, c, t); err != nil {
			return nil, err
		}
	}
	if err := checkSchema(t, out.Table); err != nil {
		return nil, err
	}
	return out.Table, nil
}

// waitActive polls DescribeTable until the table is ACTIVE.
func waitActive(ctx context.Context, c API, t Table) (*dynamodb.DescribeTableOutput, error) {
	for {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &t.Name})
		var ae smithy.APIError
		switch {
		case err == nil && out.Table.TableStatus == types.TableStatusActive:
			return out, nil
		case err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"):
			return nil, t.Err("DescribeTable", t.Name, err)
		}
		timer := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("%s: waiting for table %s to become ACTIVE: %w", t.Prefix, t.Name, ctx.Err())
		case <-timer.C:
		}
	}
}

// checkSchema refuses a table whose key is not (Hash S HASH, Range S RANGE):
// another kind of table given by mistake, say.
func checkSchema(t Table, d *types.TableDescription) error {
	want := map[string]types.KeyType{t.Hash: types.KeyTypeHash, t.Range: types.KeyTypeRange}
	ok := len(d.KeySchema) == 2
	for _, k := range d.KeySchema {
		ok = ok && want[aws.ToString(k.AttributeName)] == k.KeyType
	}
	for _, a := range d.AttributeDefinitions {
		if _, isKey := want[aws.ToString(a.AttributeName)]; isKey {
			ok = ok && a.AttributeType == types.ScalarAttributeTypeS
		}
	}
	if !ok {
		return fmt.Errorf("%s: table %s exists but is not a %s: its key must be %q (string, hash) and %q (string, range)", t.Prefix, t.Name, t.Kind, t.Hash, t.Range)
	}
	return nil
}

// S is a string attribute.
func S(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// N is a number attribute.
func N(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// GetS returns the string attribute name of it, or "".
func GetS(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// GetN returns the number attribute name of it, or 0.
func GetN(it map[string]types.AttributeValue, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}
