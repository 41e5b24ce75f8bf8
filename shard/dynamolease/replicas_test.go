package dynamolease_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/internal/seqnum"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

// replicaEnv carries a helper process's configuration (JSON).
const replicaEnv = "DYNAMOLEASE_TEST_REPLICA"

// Timing of the multi-process test: short leases and fast rounds (the
// engine runs a lease round at every shard listing and every 10s/3, so
// discovery every second gives one round per second; esm has no option
// for the lease interval), and a handler that pauses after logging a
// batch, so that a kill can land mid-batch.
const (
	replicaLease     = 3 * time.Second
	replicaDiscovery = time.Second
	replicaBatch     = 10
	handlerPause     = 100 * time.Millisecond
)

type replicaConfig struct {
	Stream string `json:"stream"`
	Table  string `json:"table"`
	Owner  string `json:"owner"`
	Log    string `json:"log"`
}

// TestHelperReplica is not a test: it is one replica process of
// TestIntegrationReplicasAcrossProcesses. It runs a Kinesis mapping on the
// DynamoDB lease table and appends a line "shard key n pid owner unixnano"
// per handled record to its own log; SIGTERM shuts it down gracefully.
func TestHelperReplica(t *testing.T) {
	raw := os.Getenv(replicaEnv)
	if raw == "" {
		t.Skip("helper process of TestIntegrationReplicasAcrossProcesses")
	}
	var cfg replicaConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	store, err := dynamolease.New(awstest.DynamoDB(t), dynamolease.WithTable(cfg.Table), dynamolease.WithOwner(cfg.Owner), dynamolease.WithLeaseDuration(replicaLease))
	require.NoError(t, err)
	out, err := os.OpenFile(cfg.Log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer out.Close()
	pid := os.Getpid()
	handler := func(_ context.Context, ev events.KinesisEvent) error {
		var b strings.Builder
		now := time.Now().UnixNano()
		for _, r := range ev.Records {
			shardID, _, _ := strings.Cut(r.EventID, ":")
			fmt.Fprintf(&b, "%s %s %d %s %d\n", shardID, r.Kinesis.Data, pid, cfg.Owner, now)
		}
		if _, err := out.WriteString(b.String()); err != nil { // one write per batch
			return err
		}
		time.Sleep(handlerPause)
		return nil
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	m, err := esm.NewKinesisMapping(
		esm.Config{EventSourceArn: cfg.Stream, StartingPosition: esm.TrimHorizon, BatchSize: replicaBatch},
		awstest.Kinesis(t), esm.HandleKinesis(handler),
		esm.WithStore(store), esm.WithName("replicas"), esm.WithLogger(logger),
		esm.WithPolling(esm.Polling{Idle: 200 * time.Millisecond, Busy: 100 * time.Millisecond, Discovery: replicaDiscovery}))
	require.NoError(t, err)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	}()
	require.NoError(t, m.Run(context.Background()))
}

// replica is a helper process seen from the test.
type replica struct {
	name    string // its files' name: its owner name, unless restarted
	owner   string
	log     string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
}

func startReplica(t *testing.T, dir string, cfg replicaConfig) *replica {
	return startReplicaAs(t, dir, cfg.Owner, cfg)
}

// startReplicaAs starts a replica whose log and output files are named
// name, as a process restarted under an owner name needs.
func startReplicaAs(t *testing.T, dir, name string, cfg replicaConfig) *replica {
	t.Helper()
	cfg.Log = filepath.Join(dir, name+".log")
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	stderr, err := os.Create(filepath.Join(dir, name+".out"))
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplica$", "-test.count=1")
	cmd.Env = append(os.Environ(), replicaEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = stderr, stderr
	r := &replica{name: name, owner: cfg.Owner, log: cfg.Log, cmd: cmd, started: time.Now(), done: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		stderr.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			b, _ := os.ReadFile(stderr.Name())
			t.Logf("%s output (last 4 kB):\n%s", name, tail(b, 4096))
		}
	})
	return r
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// tableView is one read of the lease table.
type tableView struct {
	at       time.Time
	owners   map[string]string // unfinished shards' owners
	cps      map[string]string // checkpoints
	workers  []string          // heartbeat items
	sessions map[string]string // each heartbeat item's session
}

// monitor reads the lease table every 100 ms, checks that no checkpoint
// ever goes backwards, and keeps the latest view.
type monitor struct {
	mu         sync.Mutex
	last       tableView
	cps        map[string]string
	violations []string
}

func watchTable(t *testing.T, c *dynamodb.Client, table, mapping string) *monitor {
	mon := &monitor{cps: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			out, err := c.Query(ctx, &dynamodb.QueryInput{
				TableName: &table, ConsistentRead: aws.Bool(true),
				KeyConditionExpression:    aws.String("mapping = :m"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: mapping}},
			})
			if err == nil {
				mon.observe(out.Items)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return mon
}

func attr(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (m *monitor) observe(items []map[string]types.AttributeValue) {
	v := tableView{at: time.Now(), owners: map[string]string{}, cps: map[string]string{}, sessions: map[string]string{}}
	for _, it := range items {
		id := attr(it, "id")
		if w, ok := strings.CutPrefix(id, "worker/"); ok {
			v.workers = append(v.workers, w)
			v.sessions[w] = attr(it, "session")
			continue
		}
		sh, ok := strings.CutPrefix(id, "shard/")
		if !ok {
			continue // the mapping's change counter
		}
		cp := attr(it, "checkpoint")
		if strings.HasPrefix(cp, "AT_TIMESTAMP:") {
			cp = "" // a start marker: any sequence number may follow
		}
		v.cps[sh] = cp
		if cp != "SHARD_END" {
			v.owners[sh] = attr(it, "leaseOwner")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for sh, cp := range v.cps {
		prev := m.cps[sh]
		switch {
		case prev == "" || prev == cp:
		case prev == "SHARD_END" || (cp != "SHARD_END" && (cp == "" || seqnum.Compare(cp, prev) < 0)):
			m.violations = append(m.violations, fmt.Sprintf("%s: checkpoint moved back from %s to %q", sh, prev, cp))
		}
		if cp != "" {
			m.cps[sh] = cp
		}
	}
	m.last = v
}

func (m *monitor) view() tableView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// evenly tells whether the unfinished leases are spread over exactly these
// owners, at most one apart.
func (v tableView) evenly(owners ...string) bool {
	n := map[string]int{}
	for _, o := range v.owners {
		if !slices.Contains(owners, o) {
			return false
		}
		n[o]++
	}
	lo, hi := len(v.owners), 0
	for _, o := range owners {
		lo, hi = min(lo, n[o]), max(hi, n[o])
	}
	return len(v.owners) > 0 && hi-lo <= 1
}

func (v tableView) heldBy(owner string) []string {
	var out []string
	for sh, o := range v.owners {
		if o == owner {
			out = append(out, sh)
		}
	}
	slices.Sort(out)
	return out
}

// producer puts one record per key every 200 ms, each key at an explicit
// hash key, two per shard of the 12, so that every shard (and each child of
// a split at a shard's middle) gets records all the time.
type producer struct {
	mu   sync.Mutex
	next map[string]int
	stop chan struct{}
	done chan struct{}
}

const producerKeys = 24

func produce(t *testing.T, c *kinesis.Client, arn string) *producer {
	p := &producer{next: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	hashes := make([]string, producerKeys)
	for i := range hashes {
		h := new(big.Int).Mul(space, big.NewInt(int64(2*i+1)))
		hashes[i] = h.Div(h, big.NewInt(2*producerKeys)).String()
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			entries := make([]ktypes.PutRecordsRequestEntry, producerKeys)
			p.mu.Lock()
			for i := range entries {
				key := fmt.Sprintf("k%02d", i)
				entries[i] = ktypes.PutRecordsRequestEntry{
					PartitionKey: aws.String(key), ExplicitHashKey: &hashes[i],
					Data: fmt.Appendf(nil, "%s %d", key, p.next[key]),
				}
			}
			p.mu.Unlock()
			out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamARN: &arn, Records: entries})
			if err == nil {
				p.mu.Lock()
				for i, r := range out.Records {
					if r.ErrorCode == nil {
						p.next[fmt.Sprintf("k%02d", i)]++
					}
				}
				p.mu.Unlock()
			}
			if err == nil && aws.ToInt32(out.FailedRecordCount) > 0 {
				// A failed entry would leave a gap in its key's numbers.
				t.Errorf("PutRecords: %d entries failed", aws.ToInt32(out.FailedRecordCount))
				return
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *producer) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *producer) produced() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps(p.next)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// handling is one line of a replica's log.
type handling struct {
	shard, key string
	n          int
	owner      string
	proc       string // the replica whose log it is in
	at         int64
	line       int // position in its log
}

func readLogs(t *testing.T, rs ...*replica) []handling {
	t.Helper()
	var out []handling
	for _, r := range rs {
		b, err := os.ReadFile(r.log)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(l)
			if len(f) != 6 {
				continue // a line cut by SIGKILL has no newline: only the last
			}
			n, _ := strconv.Atoi(f[2])
			at, _ := strconv.ParseInt(f[5], 10, 64)
			out = append(out, handling{shard: f[0], key: f[1], n: n, owner: f[4], proc: r.name, at: at, line: i})
		}
	}
	return out
}

// firstAfter returns when each of shards was first handled by another
// replica than gone after t0 (zero when not yet).
func firstAfter(hs []handling, shards []string, gone string, t0 time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, h := range hs {
		at := time.Unix(0, h.at)
		if h.proc == gone || !at.After(t0) || !slices.Contains(shards, h.shard) {
			continue
		}
		if prev, ok := out[h.shard]; !ok || at.Before(prev) {
			out[h.shard] = at
		}
	}
	return out
}

// Replicas as separate OS processes share a 12-shard kinesis-local stream
// through a DynamoDB Local lease table: they join one by one and the shards
// spread evenly, a shard splits while three run, one is killed with SIGKILL
// mid-batch and its shards resume elsewhere, one shuts down gracefully and
// its shards move at once, and the last is restarted under its owner name
// while still running: the new process takes every lease over at its first
// round and the old one, fenced, shuts down without a trace in the table.
// Every record is handled at least once, each key's records are first
// handled in order, no checkpoint goes backwards, and only the killed and
// the replaced processes' last batches are handled twice.
func TestIntegrationReplicasAcrossProcesses(t *testing.T) {
	awstest.Integration(t)
	if testing.Short() {
		t.Skip("starts four processes for about 15 s")
	}
	kc := awstest.Kinesis(t)
	_, arn := awstest.NewStream(t, kc, 12)
	table, dc := newTable(t)
	// Create the table before the replicas race to.
	_ = leases(t, newStore(t, dc, table, "setup", 0), "setup", nil)
	mapping := "replicas|" + arn
	dir := t.TempDir()
	mon := watchTable(t, dc, table, mapping)
	prod := produce(t, kc, arn)
	cfg := replicaConfig{Stream: arn, Table: table}
	waitFor := func(what string, d time.Duration, cond func(tableView) bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			if v := mon.view(); cond(v) {
				return v.at
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s; table: %v", d, what, mon.view().owners)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	joined := func(owner string) time.Time {
		return waitFor(owner+"'s heartbeat", 15*time.Second, func(v tableView) bool { return slices.Contains(v.workers, owner) })
	}

	cfg.Owner = "r1"
	r1 := startReplica(t, dir, cfg)
	waitFor("r1 holds all 12 shards", 20*time.Second, func(v tableView) bool { return len(v.owners) == 12 && v.evenly("r1") })

	cfg.Owner = "r2"
	r2 := startReplica(t, dir, cfg)
	j2 := joined("r2")
	even2 := waitFor("6/6", 20*time.Second, func(v tableView) bool { return v.evenly("r1", "r2") })

	cfg.Owner = "r3"
	r3 := startReplica(t, dir, cfg)
	j3 := joined("r3")
	even3 := waitFor("4/4/4", 20*time.Second, func(v tableView) bool { return v.evenly("r1", "r2", "r3") })

	// Split shard 0 at its middle while the three run.
	ctx := t.Context()
	list, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: &arn})
	require.NoError(t, err)
	parent := list.Shards[0]
	lo, _ := new(big.Int).SetString(*parent.HashKeyRange.StartingHashKey, 10)
	hi, _ := new(big.Int).SetString(*parent.HashKeyRange.EndingHashKey, 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
	_, err = kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamARN: &arn, ShardToSplit: parent.ShardId, NewStartingHashKey: &mid})
	require.NoError(t, err)
	split := time.Now()
	waitFor("both children to have checkpoints", 30*time.Second, func(v tableView) bool {
		n := 0
		for sh, cp := range v.cps {
			if sh > "shardId-000000000011" && cp != "" && cp != "SHARD_END" {
				n++
			}
		}
		return n == 2
	})
	childrenAt := time.Now()
	waitFor("13 leases spread evenly", 20*time.Second, func(v tableView) bool { return len(v.owners) == 13 && v.evenly("r1", "r2", "r3") })

	// Kill r2 mid-batch: just after it logged a batch, while its handler
	// pauses before returning.
	killedShards := mon.view().heldBy("r2")
	require.NotEmpty(t, killedShards)
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs := readLogs(t, r2)
		if len(hs) > 0 && time.Since(time.Unix(0, hs[len(hs)-1].at)) < handlerPause/3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "r2 handles nothing")
		time.Sleep(5 * time.Millisecond)
	}
	killed := time.Now()
	require.NoError(t, r2.cmd.Process.Signal(syscall.SIGKILL))
	<-r2.done
	waitFor("r2's shards taken by r1 and r3", 20*time.Second, func(v tableView) bool { return v.evenly("r1", "r3") })
	var killReads map[string]time.Time
	deadline = time.Now().Add(10 * time.Second)
	for killReads = firstAfter(readLogs(t, r1, r3), killedShards, "r2", killed); len(killReads) < len(killedShards); {
		require.True(t, time.Now().Before(deadline), "r2's shards not read again: %v of %v", killReads, killedShards)
		time.Sleep(100 * time.Millisecond)
		killReads = firstAfter(readLogs(t, r1, r3), killedShards, "r2", killed)
	}

	// r3 shuts down gracefully: its shards move to r1 at once.
	gracefulShards := mon.view().heldBy("r3")
	require.NotEmpty(t, gracefulShards)
	term := time.Now()
	require.NoError(t, r3.cmd.Process.Signal(syscall.SIGTERM))
	var termReads map[string]time.Time
	deadline = time.Now().Add(15 * time.Second)
	for termReads = firstAfter(readLogs(t, r1), gracefulShards, "r3", term); len(termReads) < len(gracefulShards); {
		require.True(t, time.Now().Before(deadline), "r3's shards not read again: %v of %v", termReads, gracefulShards)
		time.Sleep(100 * time.Millisecond)
		termReads = firstAfter(readLogs(t, r1), gracefulShards, "r3", term)
	}
	select {
	case <-r3.done:
	case <-time.After(20 * time.Second):
		t.Fatal("r3 did not exit after SIGTERM")
	}
	require.Zero(t, r3.cmd.ProcessState.ExitCode(), "r3's Run returned an error")

	// r1 is restarted under its owner name while the old process still
	// runs (a pod whose old process is somehow alive): the new process
	// takes the name over at its first round, while the old heartbeat is
	// live, and reads every shard again; the old process is fenced, and
	// its graceful shutdown changes nothing in the table.
	restartShards := mon.view().heldBy("r1")
	require.Len(t, restartShards, 13)
	oldSession := mon.view().sessions["r1"]
	require.NotEmpty(t, oldSession)
	cfg.Owner = "r1"
	r1b := startReplicaAs(t, dir, "r1b", cfg)
	replaced := waitFor("the restarted r1 to take its name over", 15*time.Second, func(v tableView) bool {
		return v.sessions["r1"] != "" && v.sessions["r1"] != oldSession
	})
	newSession := mon.view().sessions["r1"]
	// The replaced process stops at its next lease round, its Run
	// returning ErrOwnerInUse, unless the SIGTERM comes first: either way
	// it exits, and with no other error.
	if err := r1.cmd.Process.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		require.NoError(t, err)
	}
	select {
	case <-r1.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the replaced r1 did not exit after SIGTERM")
	}
	if r1.cmd.ProcessState.ExitCode() != 0 {
		out, err := os.ReadFile(filepath.Join(dir, "r1.out"))
		require.NoError(t, err)
		require.Contains(t, string(out), dynamolease.ErrOwnerInUse.Error(), "the replaced r1's Run returned another error than being replaced")
	}
	var restartReads map[string]time.Time
	deadline = time.Now().Add(15 * time.Second)
	for restartReads = firstAfter(readLogs(t, r1b), restartShards, "r1", r1b.started); len(restartReads) < len(restartShards); {
		require.True(t, time.Now().Before(deadline), "r1's shards not read again after its restart: %v of %v", restartReads, restartShards)
		time.Sleep(100 * time.Millisecond)
		restartReads = firstAfter(readLogs(t, r1b), restartShards, "r1", r1b.started)
	}
	v := mon.view()
	require.Equal(t, newSession, v.sessions["r1"], "the old process's Retire left the new heartbeat alone")
	require.Equal(t, restartShards, v.heldBy("r1"), "the old process's Release gave nothing away")

	// Stop producing, let r1 catch up, shut it down.
	prod.halt()
	want := prod.produced()
	total := 0
	for _, n := range want {
		total += n
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		seen := map[string]map[int]bool{}
		for _, h := range readLogs(t, r1, r1b, r2, r3) {
			if seen[h.key] == nil {
				seen[h.key] = map[int]bool{}
			}
			seen[h.key][h.n] = true
		}
		got := 0
		for k := range want {
			got += len(seen[k])
		}
		if got == total {
			break
		}
		require.True(t, time.Now().Before(deadline), "handled %d of %d records", got, total)
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, r1b.cmd.Process.Signal(syscall.SIGTERM))
	<-r1b.done
	require.Zero(t, r1b.cmd.ProcessState.ExitCode(), "the restarted r1's Run returned an error")

	// Every record handled; first handlings in key order; duplicates only
	// from the last batches of r2 (killed) and of the replaced r1.
	hs := readLogs(t, r1, r1b, r2, r3)
	byRecord := map[string][]handling{}
	for _, h := range hs {
		k := fmt.Sprintf("%s %d", h.key, h.n)
		byRecord[k] = append(byRecord[k], h)
	}
	for key, n := range want {
		var prevFirst int64
		for i := range n {
			hsi := byRecord[fmt.Sprintf("%s %d", key, i)]
			require.NotEmpty(t, hsi, "%s %d never handled", key, i)
			first := slices.MinFunc(hsi, func(a, b handling) int { return int(a.at - b.at) }).at
			require.GreaterOrEqual(t, first, prevFirst, "%s %d first handled before %s %d", key, i, key, i-1)
			prevFirst = first
		}
	}
	// The processes whose last batches may be handled again, and when
	// they stopped checkpointing.
	cutOff := map[string]time.Time{"r2": killed, "r1": replaced}
	dupsByShard := map[string]int{} // "<process> <shard>"
	dups, killDups := 0, 0
	for k, hsi := range byRecord {
		if len(hsi) == 1 {
			continue
		}
		dups += len(hsi) - 1
		require.Len(t, hsi, 2, "%s handled more than twice: %v", k, hsi)
		// The first handling by a process shortly before it stopped
		// checkpointing explains the second.
		var culprit *handling
		for i := range hsi {
			h := &hsi[i]
			if at, ok := cutOff[h.proc]; ok && time.Unix(0, h.at).After(at.Add(-2*time.Second)) && (culprit == nil || h.at < culprit.at) {
				culprit = h
			}
		}
		require.NotNil(t, culprit, "%s handled twice, not by the killed or the replaced process shortly before it stopped: %v", k, hsi)
		dupsByShard[culprit.proc+" "+culprit.shard]++
		if culprit.proc == "r2" {
			killDups++
		}
	}
	require.NotZero(t, killDups, "the batch in flight in r2 at SIGKILL is handled again")
	for sh, n := range dupsByShard {
		// The replaced r1 went on reading until its first refused
		// checkpoint, up to the checkpoint interval after the takeover:
		// its duplicates are bounded by time only (above).
		if strings.HasPrefix(sh, "r2 ") {
			require.LessOrEqual(t, n, 2*replicaBatch, "%s: more duplicates than two in-flight batches", sh)
		}
	}
	mon.mu.Lock()
	require.Empty(t, mon.violations)
	mon.mu.Unlock()

	var killMax, termMax, restartMax time.Duration
	for _, at := range killReads {
		killMax = max(killMax, at.Sub(killed))
	}
	for _, at := range termReads {
		termMax = max(termMax, at.Sub(term))
	}
	for _, at := range restartReads {
		restartMax = max(restartMax, at.Sub(r1b.started))
	}
	t.Logf("records: %d, each handled; %d duplicates, all from the last batches of r2 at SIGKILL and of r1 when replaced (%v)", total, dups, dupsByShard)
	t.Logf("spread 12 shards evenly: %v after r2's first heartbeat (%v after its start); %v after r3's first heartbeat (%v after its start); lease rounds every %v",
		even2.Sub(j2).Round(time.Millisecond), even2.Sub(r2.started).Round(time.Millisecond),
		even3.Sub(j3).Round(time.Millisecond), even3.Sub(r3.started).Round(time.Millisecond), min(replicaDiscovery, 10*time.Second/3))
	t.Logf("split: both children read %v after SplitShard", childrenAt.Sub(split).Round(time.Millisecond))
	t.Logf("SIGKILL: %d shards of r2 read again within %v (lease duration %v)", len(killedShards), killMax.Round(time.Millisecond), replicaLease)
	t.Logf("SIGTERM: %d shards of r3 read again within %v", len(gracefulShards), termMax.Round(time.Millisecond))
	t.Logf("restart under the same name: %d shards read by the new process within %v of its start (name taken over %v after its start)",
		len(restartShards), restartMax.Round(time.Millisecond), replaced.Sub(r1b.started).Round(time.Millisecond))
}
