package streamengine

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/internal/event"
	"github.com/lambdaesm/lambdaesm/shard"
)

// memSource is a source of pre-built Kinesis event records, for benchmarks
// and property tests of the engine alone (no service in the way).
type memSource struct {
	mu    sync.Mutex
	list  []memShard
	reads int
}

type memShard struct {
	info shard.Info
	recs []ktypes.Record
	open bool // more records may come: never ends
	// busy: after recs, every read returns as many new records of busyData
	// as it may, made for it and kept nowhere (a shard written to without
	// end, in bounded memory).
	busy bool
	made int
}

// busyData is the payload of a busy shard's records: 1 KB.
var busyData = make([]byte, 1024)

func newMemSource(shards, perShard, keys int) *memSource {
	s := &memSource{}
	seq := 0
	for i := range shards {
		id := "shardId-" + strconv.Itoa(i)
		sh := memShard{info: shard.Info{ID: id}}
		sh.recs = make([]ktypes.Record, perShard)
		now := time.Now()
		for j := range sh.recs {
			seq++
			sh.recs[j] = ktypes.Record{
				PartitionKey:                aws.String("k" + strconv.Itoa(j%keys)),
				SequenceNumber:              aws.String(strconv.Itoa(1_000_000_000 + seq)),
				Data:                        []byte("data"),
				ApproximateArrivalTimestamp: &now,
			}
		}
		s.list = append(s.list, sh)
	}
	return s
}

// put appends n records to shard id.
func (s *memSource) put(id string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.find(id)
	now := time.Now()
	for range n {
		sh.recs = append(sh.recs, ktypes.Record{
			PartitionKey: aws.String("k"), SequenceNumber: aws.String(strconv.Itoa(3_000_000_000 + len(sh.recs))),
			Data: []byte("x"), ApproximateArrivalTimestamp: &now,
		})
	}
}

func (s *memSource) check(context.Context) error { return nil }

func (s *memSource) shards(context.Context) ([]shard.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]shard.Info, len(s.list))
	for i, sh := range s.list {
		out[i] = sh.info
	}
	return out, nil
}

func (s *memSource) find(id string) *memShard {
	for i := range s.list {
		if s.list[i].info.ID == id {
			return &s.list[i]
		}
	}
	return nil
}

func (s *memSource) iterator(_ context.Context, shardID string, pos position) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.find(shardID)
	switch pos.Type {
	case "AFTER_SEQUENCE_NUMBER":
		for i := range sh.recs {
			if *sh.recs[i].SequenceNumber == pos.Seq {
				return shardID + "/" + strconv.Itoa(i+1), nil
			}
		}
	case "LATEST":
		return shardID + "/" + strconv.Itoa(len(sh.recs)), nil
	}
	return shardID + "/0", nil
}

func (s *memSource) read(_ context.Context, shardID, iterator string, limit int, into []events.KinesisEventRecord) ([]events.KinesisEventRecord, string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	sh := s.find(shardID)
	i, _ := strconv.Atoi(iterator[len(shardID)+1:])
	end := min(i+limit, len(sh.recs))
	recs := sh.recs[i:end]
	if sh.busy && i >= len(sh.recs) {
		now := time.Now()
		recs = make([]ktypes.Record, limit)
		for j := range recs {
			sh.made++
			recs[j] = ktypes.Record{
				PartitionKey:                aws.String("k" + strconv.Itoa(sh.made%10)),
				SequenceNumber:              aws.String(strconv.Itoa(2_000_000_000 + sh.made)),
				Data:                        busyData,
				ApproximateArrivalTimestamp: &now,
			}
		}
		end = i // the iterator stays past recs
	}
	// Convert as the Kinesis source does, so its cost is measured too.
	into = event.KinesisRecords(into, recs, shardID, "arn:aws:kinesis:us-east-1:000000000000:stream/mem", "us-east-1", "")
	if end == len(sh.recs) && !sh.open {
		return into, "", true, nil
	}
	return into, shardID + "/" + strconv.Itoa(end), false, nil
}

func (s *memSource) maxLimit() int { return 10000 }

func (s *memSource) timestamps() bool { return false }

func (s *memSource) seq(r *events.KinesisEventRecord) string { return r.Kinesis.SequenceNumber }

func (s *memSource) arrival(r *events.KinesisEventRecord) time.Time {
	return r.Kinesis.ApproximateArrivalTimestamp.Time
}

func (s *memSource) laneKey(r *events.KinesisEventRecord) uint32 {
	return fnv32(r.Kinesis.PartitionKey)
}

func (s *memSource) size(r *events.KinesisEventRecord) int { return 300 + len(r.Kinesis.Data) }
