package esm_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// peerRecords is how many 1 KB records BenchmarkPeerKinesisCPU writes to
// its stream, 20,000 unless ESM_PEER_RECORDS says otherwise (kinesis-local
// takes seconds per PutRecords of 500 once a shard holds a few thousand
// records); every iteration reads all of them, twice.
var peerRecords = sync.OnceValue(func() int {
	if n, err := strconv.Atoi(os.Getenv("ESM_PEER_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 20000
})

// BenchmarkPeerKinesisCPU weighs the mapping against the least a Go
// consumer can do (issue 15 item 3): the CPU time of this process per
// record to consume the same records from kinesis-local with
//
//	bare  a GetRecords loop per shard on the aws-sdk-go-v2 client, from
//	      TRIM_HORIZON, doing nothing with the records;
//	esm   a Kinesis mapping (BatchSize 100, ParallelizationFactor 1,
//	      memory store, reads 1ms apart) with a no-op handler;
//	pf10  the same mapping with ParallelizationFactor 10;
//	filter the PF 1 mapping with FilterCriteria that every record
//	      matches (a pattern on data, so each 1 KB payload is parsed).
//
// Both use one SDK client; the emulator runs in its own process, so its
// CPU is not counted. Each iteration reads every record with both, in
// rotating order, and each measured part ends with a runtime.GC so that
// it pays for its own garbage. Metrics: bare-, esm-, pf10- and
// filter-cpu-ns/record, and the ratios esm/bare and pf10/bare (issue 15: at
// most 1.1) and filter/esm (issue 14: filtering costs a mapping at
// most 20 % of its dispatch throughput when every record matches, so at
// most 1.25 in CPU per record). BenchmarkKinesisFilter gives the same
// comparison over the in-memory fake, where no wire decoding dilutes it.
//
// Integration only (ESM_INTEGRATION=1, see scripts/emulators.sh). Run with
// a fixed count, e.g.
//
//	go test ./esm -run '^$' -bench PeerKinesisCPU -benchtime 3x
func BenchmarkPeerKinesisCPU(b *testing.B) {
	awstest.Integration(b)
	c := awstest.Kinesis(b)
	for _, shards := range []int{1, 4} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			arn, perShard := peerLoad(b, c, shards)
			var bare, mapped, pf10, filtered time.Duration
			runs := []func(){
				func() { bare += peerCPU(b, func() { peerBare(b, c, arn, perShard) }) },
				func() { mapped += peerCPU(b, func() { peerMapping(b, c, arn, 1, "") }) },
				func() { pf10 += peerCPU(b, func() { peerMapping(b, c, arn, 10, "") }) },
				func() { filtered += peerCPU(b, func() { peerMapping(b, c, arn, 1, `{"data": {"kind": ["order"]}}`) }) },
			}
			for i := 0; b.Loop(); i++ {
				for j := range runs {
					runs[(i+j)%len(runs)]()
				}
			}
			n := float64(b.N) * float64(peerRecords())
			b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-cpu-ns/record")
			b.ReportMetric(float64(mapped.Nanoseconds())/n, "esm-cpu-ns/record")
			b.ReportMetric(float64(pf10.Nanoseconds())/n, "pf10-cpu-ns/record")
			b.ReportMetric(float64(filtered.Nanoseconds())/n, "filter-cpu-ns/record")
			if bare > 0 && mapped > 0 {
				b.ReportMetric(float64(mapped)/float64(bare), "esm/bare")
				b.ReportMetric(float64(pf10)/float64(bare), "pf10/bare")
				b.ReportMetric(float64(filtered)/float64(mapped), "filter/esm")
			}
		})
	}
}

// peerLoad creates a stream of shards holding peerRecords records of 1 KB
// (benchPayload) and returns its ARN and how many records each shard got.
func peerLoad(b *testing.B, c *kinesis.Client, shards int) (string, map[string]int) {
	b.Helper()
	_, arn := awstest.NewStream(b, c, int32(shards))
	perShard := map[string]int{}
	total := peerRecords()
	start := time.Now()
	for lo := 0; lo < total; lo += 500 {
		hi := min(lo+500, total)
		entries := make([]ktypes.PutRecordsRequestEntry, hi-lo)
		for i := lo; i < hi; i++ {
			entries[i-lo] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String("customer-" + strconv.Itoa(i%1024)), Data: benchPayload(i)}
		}
		out, err := c.PutRecords(b.Context(), &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
		if err != nil {
			b.Fatalf("loading the stream: %v", err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
			b.Fatalf("loading the stream: %d records failed", n)
		}
		for _, r := range out.Records {
			perShard[aws.ToString(r.ShardId)]++
		}
	}
	b.Logf("%d records written to %d shards in %v", total, shards, time.Since(start).Round(time.Millisecond))
	return arn, perShard
}

// peerCPU returns the process CPU time run takes, its garbage collected.
func peerCPU(b *testing.B, run func()) time.Duration {
	b.Helper()
	runtime.GC()
	cpu0 := processCPU()
	run()
	runtime.GC()
	return processCPU() - cpu0
}

// peerBare reads every shard from TRIM_HORIZON, one goroutine per shard,
// until it has read the shard's records.
func peerBare(b *testing.B, c *kinesis.Client, arn string, perShard map[string]int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(perShard))
	for id, want := range perShard {
		wg.Go(func() {
			it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: &arn, ShardId: &id, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				errs <- err
				return
			}
			iter := it.ShardIterator
			for got := 0; got < want; {
				if iter == nil {
					errs <- fmt.Errorf("shard %s ended after %d of %d records", id, got, want)
					return
				}
				out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: &arn, ShardIterator: iter})
				if err != nil {
					errs <- err
					return
				}
				got += len(out.Records)
				iter = out.NextShardIterator
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("bare read: %v", err)
	}
}

// peerMapping runs a Kinesis mapping with a no-op handler from
// TRIM_HORIZON, with ParallelizationFactor pf, filtering with pattern
// unless it is empty, until it has handled peerRecords records, and shuts
// it down.
func peerMapping(b *testing.B, c *kinesis.Client, arn string, pf int, pattern string) {
	b.Helper()
	want := int64(peerRecords())
	var seen atomic.Int64
	done := make(chan struct{})
	h := esm.HandleKinesis(func(_ context.Context, ev events.KinesisEvent) error {
		m := int64(len(ev.Records))
		if now := seen.Add(m); now >= want && now-m < want {
			close(done)
		}
		return nil
	})
	cfg := esm.Config{EventSourceArn: arn, StartingPosition: esm.TrimHorizon, BatchSize: 100, ParallelizationFactor: pf}
	if pattern != "" {
		cfg.FilterCriteria = &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: pattern}}}
	}
	m, err := esm.NewKinesisMapping(cfg, c, h, esm.WithStore(shard.NewMemoryStore()), benchPolling)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()
	select {
	case <-done:
	case err := <-runErr:
		b.Fatalf("Run returned before the records were handled: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d records handled after 5 minutes", seen.Load(), want)
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := m.Shutdown(sctx); err != nil {
		b.Fatal(err)
	}
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
}
