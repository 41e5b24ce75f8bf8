package streamengine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/lambdaesm/lambdaesm/internal/event"
	"github.com/lambdaesm/lambdaesm/shard"
)

type dynamoDBSource struct {
	c   shard.DynamoDBStreamsAPI
	arn string
}

func newDynamoDBSource(c shard.DynamoDBStreamsAPI, streamARN string) (*dynamoDBSource, error) {
	a, err := parseStreamARN(streamARN, "dynamodb", "DynamoDB stream")
	if err != nil {
		return nil, err
	}
	if !strings.Contains(a.Resource, "/stream/") {
		return nil, fmt.Errorf("shard: %s is not a DynamoDB stream ARN (arn:aws:dynamodb:region:account:table/name/stream/label)", streamARN)
	}
	return &dynamoDBSource{c: c, arn: streamARN}, nil
}

func (s *dynamoDBSource) check(ctx context.Context) error {
	_, err := s.c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &s.arn, Limit: aws.Int32(1)})
	if err != nil {
		return checkError("dynamodb:DescribeStream", s.arn, err)
	}
	return nil
}

func (s *dynamoDBSource) shards(ctx context.Context) ([]shard.Info, error) {
	var out []shard.Info
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: &s.arn}
	for {
		desc, err := s.c.DescribeStream(ctx, in)
		if err != nil {
			return nil, serviceError("dynamodb:DescribeStream", "stream "+s.arn, err)
		}
		if desc.StreamDescription == nil {
			return out, nil
		}
		for _, sh := range desc.StreamDescription.Shards {
			info := shard.Info{ID: aws.ToString(sh.ShardId)}
			if sh.ParentShardId != nil {
				info.Parents = []string{*sh.ParentShardId}
			}
			info.Closed = sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, info)
		}
		last := desc.StreamDescription.LastEvaluatedShardId
		if last == nil {
			return out, nil
		}
		in = &dynamodbstreams.DescribeStreamInput{StreamArn: &s.arn, ExclusiveStartShardId: last}
	}
}

func (s *dynamoDBSource) iterator(ctx context.Context, shardID string, pos position) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &s.arn, ShardId: &shardID, ShardIteratorType: dstypes.ShardIteratorType(pos.Type)}
	if pos.Seq != "" {
		in.SequenceNumber = &pos.Seq
	}
	out, err := s.c.GetShardIterator(ctx, in)
	if err != nil {
		return "", serviceError("dynamodb:GetShardIterator", "shard "+shardID+" of "+s.arn, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

func (s *dynamoDBSource) read(ctx context.Context, shardID, iterator string, limit int, into []events.DynamoDBEventRecord) ([]events.DynamoDBEventRecord, string, bool, error) {
	l := int32(limit)
	out, err := s.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: &iterator, Limit: &l})
	if err != nil {
		return into, "", false, serviceError("dynamodb:GetRecords", "shard "+shardID+" of "+s.arn, err)
	}
	recs, next, ended := convert(into, out.Records, func(r *dstypes.Record) events.DynamoDBEventRecord {
		return event.DynamoDB(r, s.arn)
	}, out.NextShardIterator)
	return recs, next, ended, nil
}

func (s *dynamoDBSource) maxLimit() int { return 1000 }

func (s *dynamoDBSource) timestamps() bool { return false }

func (s *dynamoDBSource) seq(r *events.DynamoDBEventRecord) string { return r.Change.SequenceNumber }

func (s *dynamoDBSource) arrival(r *events.DynamoDBEventRecord) time.Time {
	return r.Change.ApproximateCreationDateTime.Time
}

// laneKey hashes the item's primary key, so every change of one item goes to
// the same lane.
func (s *dynamoDBSource) laneKey(r *events.DynamoDBEventRecord) uint32 {
	names := make([]string, 0, len(r.Change.Keys))
	for k := range r.Change.Keys {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		v, _ := json.Marshal(r.Change.Keys[k])
		b.WriteString(k)
		b.WriteByte(0)
		b.Write(v)
		b.WriteByte(0)
	}
	return fnv32(b.String())
}

// size is the length of the record's JSON in the event.
func (s *dynamoDBSource) size(r *events.DynamoDBEventRecord) int {
	b, err := json.Marshal(r)
	if err != nil {
		return 0
	}
	return len(b)
}
