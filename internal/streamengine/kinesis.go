package streamengine

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/internal/event"
	"github.com/lambdaesm/lambdaesm/shard"
)

type kinesisSource struct {
	c        shard.KinesisAPI
	arn      string
	region   string
	identity string
}

func newKinesisSource(c shard.KinesisAPI, streamARN, invokeIdentityARN string) (*kinesisSource, error) {
	a, err := parseStreamARN(streamARN, "kinesis", "Kinesis stream")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(a.Resource, "stream/") || strings.Contains(a.Resource, "/consumer/") {
		return nil, fmt.Errorf("shard: %s is not a Kinesis stream ARN (arn:aws:kinesis:region:account:stream/name)", streamARN)
	}
	return &kinesisSource{c: c, arn: streamARN, region: a.Region, identity: invokeIdentityARN}, nil
}

func (s *kinesisSource) check(ctx context.Context) error {
	_, err := s.c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &s.arn})
	if err != nil {
		return checkError("kinesis:DescribeStreamSummary", s.arn, err)
	}
	return nil
}

func (s *kinesisSource) shards(ctx context.Context) ([]shard.Info, error) {
	var out []shard.Info
	in := &kinesis.ListShardsInput{StreamARN: &s.arn}
	for {
		page, err := s.c.ListShards(ctx, in)
		if err != nil {
			return nil, serviceError("kinesis:ListShards", "stream "+s.arn, err)
		}
		for _, sh := range page.Shards {
			info := shard.Info{ID: aws.ToString(sh.ShardId)}
			if sh.ParentShardId != nil {
				info.Parents = append(info.Parents, *sh.ParentShardId)
			}
			if sh.AdjacentParentShardId != nil {
				info.Parents = append(info.Parents, *sh.AdjacentParentShardId)
			}
			info.Closed = sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, info)
		}
		if page.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

func (s *kinesisSource) iterator(ctx context.Context, shardID string, pos position) (string, error) {
	in := &kinesis.GetShardIteratorInput{StreamARN: &s.arn, ShardId: &shardID, ShardIteratorType: ktypes.ShardIteratorType(pos.Type)}
	switch pos.Type {
	case "AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER":
		in.StartingSequenceNumber = &pos.Seq
	case "AT_TIMESTAMP":
		in.Timestamp = &pos.Time
	}
	out, err := s.c.GetShardIterator(ctx, in)
	if err != nil {
		return "", serviceError("kinesis:GetShardIterator", "shard "+shardID+" of "+s.arn, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

func (s *kinesisSource) read(ctx context.Context, shardID, iterator string, limit int, into []events.KinesisEventRecord) ([]events.KinesisEventRecord, string, bool, error) {
	l := int32(limit)
	out, err := s.c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: &iterator, Limit: &l, StreamARN: &s.arn})
	if err != nil {
		return into, "", false, serviceError("kinesis:GetRecords", "shard "+shardID+" of "+s.arn, err)
	}
	// One allocation per response for the records and one for their
	// eventIDs, whatever the number of records.
	recs := event.KinesisRecords(into, out.Records, shardID, s.arn, s.region, s.identity)
	if out.NextShardIterator == nil {
		return recs, "", true, nil
	}
	return recs, *out.NextShardIterator, false, nil
}

func (s *kinesisSource) maxLimit() int { return 10000 }

func (s *kinesisSource) timestamps() bool { return true }

func (s *kinesisSource) seq(r *events.KinesisEventRecord) string { return r.Kinesis.SequenceNumber }

func (s *kinesisSource) arrival(r *events.KinesisEventRecord) time.Time {
	return r.Kinesis.ApproximateArrivalTimestamp.Time
}

func (s *kinesisSource) laneKey(r *events.KinesisEventRecord) uint32 {
	return fnv32(r.Kinesis.PartitionKey)
}

// kinesisRecordOverhead is the JSON of a Kinesis event record without its
// variable-length values: the field names, quotes and fixed strings.
const kinesisRecordOverhead = 290

// size is the length of the record's JSON in the event, computed without
// marshalling.
func (s *kinesisSource) size(r *events.KinesisEventRecord) int {
	return kinesisRecordOverhead + base64.StdEncoding.EncodedLen(len(r.Kinesis.Data)) +
		len(r.Kinesis.PartitionKey) + 2*len(r.Kinesis.SequenceNumber) + len(r.EventID) - len(r.Kinesis.SequenceNumber) +
		len(r.EventSourceArn) + len(r.AwsRegion) + len(r.InvokeIdentityArn) + len(r.Kinesis.EncryptionType)
}
