package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/shard"
)

// client is what the demo needs: the mapping's reads plus the producer's
// writes. *kinesis.Client and *esmtest.Kinesis both have it.
type client interface {
	shard.KinesisAPI
	CreateStream(context.Context, *kinesis.CreateStreamInput, ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	SplitShard(context.Context, *kinesis.SplitShardInput, ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
}

type payload struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

func main() {
	records := flag.Int("records", 5000, "records to put")
	shards := flag.Int("shards", 4, "shards in the stream")
	keys := flag.Int("keys", 200, "distinct partition keys")
	endpoint := flag.String("endpoint", os.Getenv("AWS_ENDPOINT_URL_KINESIS"), "Kinesis endpoint (an emulator); empty uses the in-memory fake")
	useAWS := flag.Bool("aws", false, "use real AWS with the credentials in the environment")
	verbose := flag.Bool("v", false, "log what the mapping does")
	flag.Parse()
	if err := run(*records, *shards, *keys, *endpoint, *useAWS, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(records, shards, keys int, endpoint string, useAWS, verbose bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var c client
	opts := []esm.StreamOption{esm.WithStore(shard.NewMemoryStore()), esm.WithName("quickstart")}
	if endpoint != "" || useAWS {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		c = kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		fmt.Println("using Kinesis at", cmp(endpoint, "AWS"))
	} else {
		c = esmtest.NewKinesis()
		// The fake answers at once: poll it faster than Lambda's 1s.
		opts = append(opts, esm.WithPolling(esm.Polling{Idle: 50 * time.Millisecond, Busy: time.Millisecond, Discovery: 200 * time.Millisecond}))
		fmt.Println("using the in-memory Kinesis of esm/esmtest")
	}
	if verbose {
		opts = append(opts, esm.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}

	name := fmt.Sprintf("quickstart-%d", time.Now().UnixNano())
	streamARN, err := createStream(ctx, c, name, shards)
	if err != nil {
		return err
	}
	fmt.Printf("stream %s with %d shards\n", name, shards)

	check := newChecker(keys)
	cfg := esm.Config{
		EventSourceArn:        streamARN,
		StartingPosition:      esm.TrimHorizon,
		BatchSize:             100,
		ParallelizationFactor: 10,
	}
	m, err := esm.NewKinesisMapping(cfg, c, esm.HandleKinesis(func(ctx context.Context, ev events.KinesisEvent) error {
		for _, r := range ev.Records {
			var p payload
			if err := json.Unmarshal(r.Kinesis.Data, &p); err != nil {
				return err
			}
			check.see(p)
		}
		return nil
	}), opts...)
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()

	// Produce, and split the first shard halfway through.
	next := make([]int, keys)
	for sent := 0; sent < records; {
		n := min(500, records-sent)
		entries := make([]ktypes.PutRecordsRequestEntry, n)
		for i := range entries {
			k := (sent + i) % keys
			data, _ := json.Marshal(payload{Key: fmt.Sprint("key-", k), N: next[k]})
			next[k]++
			entries[i] = ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("key-", k)), Data: data}
		}
		if err := putAll(ctx, c, streamARN, entries); err != nil {
			return err
		}
		before := sent
		sent += n
		if before < records/2 && sent >= records/2 {
			if err := split(ctx, c, streamARN); err != nil {
				return err
			}
			fmt.Println("split shardId-000000000000 while records flow")
		}
	}
	fmt.Printf("put %d records over %d keys\n", records, keys)

	// Wait until everything was handled, reporting progress.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for check.count() < records {
		select {
		case err := <-runErr:
			return fmt.Errorf("mapping stopped early: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("timed out with %d of %d records handled", check.count(), records)
		case <-tick.C:
			fmt.Printf("handled %d/%d\n", check.count(), records)
		}
	}
	if err := m.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-runErr; err != nil {
		return err
	}
	if err := check.verify(next); err != nil {
		return err
	}
	fmt.Printf("OK: all %d records handled (%d delivered twice), each key's records in order across the split\n", records, check.dups)
	return nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checker verifies per-key order: the first delivery of each key's records
// must come in the order they were put.
type checker struct {
	mu      sync.Mutex
	next    map[string]int
	handled int
	dups    int
	errs    []error
}

func newChecker(keys int) *checker { return &checker{next: make(map[string]int, keys)} }

func (c *checker) see(p payload) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch want := c.next[p.Key]; {
	case p.N == want:
		c.next[p.Key]++
		c.handled++
	case p.N < want:
		c.dups++ // at-least-once: a redelivery
	default:
		c.errs = append(c.errs, fmt.Errorf("%s: got record %d before %d", p.Key, p.N, want))
	}
}

func (c *checker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handled
}

func (c *checker) verify(sent []int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, n := range sent {
		if got := c.next[fmt.Sprint("key-", k)]; got != n {
			c.errs = append(c.errs, fmt.Errorf("key-%d: %d of %d records handled", k, got, n))
		}
	}
	return errors.Join(c.errs...)
}

func createStream(ctx context.Context, c client, name string, shards int) (string, error) {
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(int32(shards))}); err != nil {
		return "", err
	}
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err != nil {
			return "", err
		}
		if out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return aws.ToString(out.StreamDescriptionSummary.StreamARN), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func putAll(ctx context.Context, c client, arn string, entries []ktypes.PutRecordsRequestEntry) error {
	for len(entries) > 0 {
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
		if err != nil {
			return err
		}
		// Keep order per key: resend from the first failed entry on.
		first := len(entries)
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				first = i
				break
			}
		}
		entries = entries[first:]
		if len(entries) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// split splits the first shard at the middle of its hash key range.
func split(ctx context.Context, c client, arn string) error {
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: &arn})
	if err != nil {
		return err
	}
	sh := out.Shards[0]
	lo, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamARN: &arn, ShardToSplit: sh.ShardId, NewStartingHashKey: aws.String(mid.String())})
	if err != nil {
		return err
	}
	// Wait until the stream is ACTIVE again.
	for {
		d, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: &arn})
		if err != nil {
			return err
		}
		if d.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}
