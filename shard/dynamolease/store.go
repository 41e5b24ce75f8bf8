package dynamolease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
	"github.com/lambdaesm/lambdaesm/shard"
)

// DefaultTable is the lease table's name unless [WithTable] names another.
const DefaultTable = "lambdaesm-leases"

// DefaultLeaseDuration is how long a lease lasts without a heartbeat unless
// [WithLeaseDuration] says otherwise.
const DefaultLeaseDuration = 10 * time.Second

// Option configures a [Store]; [New] takes them. Every setting has a
// default.
type Option func(*config)

type config struct {
	table, owner string
	dur          time.Duration
	errs         []error
}

// WithTable names the lease table, created on first use if missing.
// Default [DefaultTable]. One table serves any number of mappings.
func WithTable(name string) Option {
	return func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("dynamolease: WithTable: the table name is empty"))
		}
		c.table = name
	}
}

// WithOwner names this process in the table. Live processes must have
// distinct names. A process started under the name of an earlier one (a
// StatefulSet pod's name, say) takes the name over at its first lease round,
// the newest process of a name winning, and takes the name's leases back at
// once instead of waiting the lease duration for them to lapse; the earlier
// process, should it still run, is fenced and gets [ErrOwnerInUse]. Default
// the host name, the process ID and a random suffix.
func WithOwner(name string) Option {
	return func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("dynamolease: WithOwner: the owner name is empty"))
		}
		c.owner = name
	}
}

// WithLeaseDuration sets how long this process's leases last after its last
// heartbeat. Every lease round (esm.WithLeaseInterval, default 1s) writes a
// heartbeat; the interval should be at most a third of the duration.
// Default [DefaultLeaseDuration].
func WithLeaseDuration(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("dynamolease: WithLeaseDuration: %v is not positive", d))
		}
		c.dur = d
	}
}

// Store is a [shard.LeaseStore] on a DynamoDB table: the checkpoints and
// leases of every process reading the same streams. Create one per process
// with [New] and give it to each stream mapping (esm.WithStore). It is safe
// for concurrent use.
type Store struct {
	c       DynamoDBAPI
	table   string
	owner   string
	session string // this Store's random identity, behind the owner name: the newest wins
	dur     time.Duration
	now     func() time.Time // time.Now; a fake clock in tests
	// onRound, in tests, sees the items each round decides on.
	onRound func(mapping string, items map[string]*leaseItem)

	tableMu  sync.Mutex
	ready    atomic.Bool
	tableARN atomic.Pointer[string]

	mu   sync.Mutex
	maps map[string]*mapState
}

// mapState is what this process knows of one mapping.
type mapState struct {
	// beatUntil is when this process's last confirmed heartbeat lapses:
	// the start of the heartbeat write plus the lease duration.
	beatUntil time.Time
	// beating: this Store wrote its heartbeat item, taking the owner
	// name over; later heartbeats require its session.
	beating bool
	// replaced: a newer process took the owner name over ([ErrOwnerInUse]).
	replaced bool
	// held are the leases this Store took, at the counter it wrote.
	held map[string]*held
	// finished are shards known finished because a child has a
	// checkpoint, whether or not their item is still there.
	finished map[string]bool
	// load counts the leases of each other live process, for hand-over
	// on shutdown.
	load map[string]int
	// blocked are shards with a listed parent not finished.
	blocked map[string]bool

	// This process's copy of the mapping's items (see the package
	// documentation, "Reading the table"). view is nil until the first
	// read.
	view    map[string]*leaseItem
	workers map[string]*workerItem
	// changes is the change counter read just before view was read.
	changes int64
	// readAt is when workers were read; beatCheck is when one of them
	// may lapse unless renewed, so they are read again.
	readAt, beatCheck time.Time
	// stale: this process changed the table, or failed to, since view
	// was read: the next round reads the mapping again.
	stale bool
	// legacy: a live process does not announce its changes (an earlier
	// version): every round reads the mapping.
	legacy bool
	// announce: a change of this process is not announced yet.
	announce bool
	// announcing counts the announcements begun.
	announcing int
}

type held struct {
	counter int64
	until   time.Time // the item's leaseExpires
	handoff string    // a process that asked for the lease
	cp      string    // the checkpoint last read or written
	// child: the shard has parents, so its first checkpoint finishes them
	// (it is announced).
	child bool
	// started: the engine loaded the shard's checkpoint while it held the
	// lease and the shard's parents were finished, which it does just
	// before it starts reading; false again once Save refused.
	started bool
}

var (
	_ shard.LeaseStore         = (*Store)(nil)
	_ shard.WindowStateLimiter = (*Store)(nil)
)

// MaxWindowState implements [shard.WindowStateLimiter]: a lease item holds
// a tumbling window's state of at most 384 KB of JSON (a DynamoDB item
// holds 400 KB), so a mapping with this store terminates a window early
// when its state grows beyond that, where Lambda allows 1 MB.
func (s *Store) MaxWindowState() int { return maxWindowState }

// New returns a Store for the lease table. It makes no call: the table is
// checked (and created if missing) on first use. Invalid options are
// reported together.
func New(client DynamoDBAPI, opts ...Option) (*Store, error) {
	c := config{table: DefaultTable, dur: DefaultLeaseDuration}
	if client == nil {
		c.errs = append(c.errs, errors.New("dynamolease: the client is nil"))
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("dynamolease: a nil Option"))
			continue
		}
		o(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	if c.owner == "" {
		host, _ := os.Hostname()
		c.owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(3))
	}
	return &Store{
		c: client, table: c.table, owner: c.owner, session: randomHex(8),
		dur: c.dur, now: time.Now, maps: map[string]*mapState{},
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Owner returns the name this process has in the table.
func (s *Store) Owner() string { return s.owner }

func (s *Store) tableName() string {
	if arn := s.tableARN.Load(); arn != nil && *arn != "" {
		return *arn
	}
	return s.table
}

// state returns the mapping's state; s.mu is held.
func (s *Store) state(mapping string) *mapState {
	m := s.maps[mapping]
	if m == nil {
		m = &mapState{held: map[string]*held{}, finished: map[string]bool{}, load: map[string]int{}, blocked: map[string]bool{}}
		s.maps[mapping] = m
	}
	return m
}

// Load implements [shard.Store]. A shard whose item is gone but that has a
// child with a checkpoint (its lease was removed after the children started)
// is at its end.
func (s *Store) Load(ctx context.Context, mapping, shardID string) (shard.Checkpoint, bool, error) {
	if err := s.ensureTable(ctx); err != nil {
		return shard.Checkpoint{}, false, err
	}
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: key(mapping, shardPrefix+shardID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return shard.Checkpoint{}, false, s.apiError("GetItem", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state(mapping)
	if out.Item != nil {
		it := decodeLease(out.Item)
		if h := m.held[shardID]; h != nil && h.counter == it.counter {
			h.cp = it.cp
			h.started = h.started || !m.blocked[shardID]
		}
		if cp, ok, err := it.checkpoint(); ok || err != nil {
			return cp, ok, err
		}
	}
	if m.finished[shardID] {
		return shard.Checkpoint{ShardEnd: true}, true, nil
	}
	return shard.Checkpoint{}, false, nil
}

// Save implements [shard.Store], fenced: the write lands only while this
// process holds the lease at the counter it wrote, and never moves the
// checkpoint backwards. A lease that is not held, or whose heartbeat was not
// confirmed within the lease duration, gives an error wrapping
// [shard.ErrLeaseLost] without writing. A start marker (only
// Checkpoint.Start set) is written only where the shard has no checkpoint
// yet; otherwise saving one is a no-op.
func (s *Store) Save(ctx context.Context, mapping, shardID string, cp shard.Checkpoint) error {
	s.mu.Lock()
	m := s.state(mapping)
	h := m.held[shardID]
	var counter int64
	var until time.Time
	var first bool // the shard's first checkpoint
	if h != nil {
		counter, until = h.counter, h.until
		first = h.cp == "" && h.child
		if m.beatUntil.After(until) {
			until = m.beatUntil
		}
	}
	expired := h != nil && !s.now().Before(until)
	if expired {
		h.started = false // the engine stops the shard on ErrLeaseLost
	}
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("dynamolease: shard %s of %s is not leased by %s: %w", shardID, mapping, s.owner, shard.ErrLeaseLost)
	}
	if expired {
		return fmt.Errorf("dynamolease: the lease of shard %s was not renewed in time (heartbeat lapsed at %s): %w",
			shardID, until.Format(time.RFC3339Nano), shard.ErrLeaseLost)
	}
	value, err := encode(cp)
	if err != nil {
		return err
	}
	in := &dynamodb.UpdateItemInput{
		TableName: &s.table,
		Key:       key(mapping, shardPrefix+shardID),
		ExpressionAttributeNames: map[string]string{
			"#cp": attrCP, "#o": attrOwner, "#c": attrCounter,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cp": ddbtable.S(value), ":me": ddbtable.S(s.owner), ":c": ddbtable.N(counter),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if isMarker(value) {
		// A start marker lands only where there is no checkpoint at all,
		// so it never replaces a sequence number, SHARD_END or an earlier
		// marker, whatever the order of racing writes. It gets no
		// checkpointOrder, so that any sequence number replaces it, and
		// it is no progress: ownerSwitchesSinceCheckpoint stays.
		in.UpdateExpression = aws.String("SET #cp = :cp")
		in.ConditionExpression = aws.String("#o = :me AND #c = :c AND attribute_not_exists(#cp)")
	} else {
		in.UpdateExpression = aws.String("SET #cp = :cp, #ord = :ord, #sw = :zero")
		in.ConditionExpression = aws.String("#o = :me AND #c = :c AND " +
			"(attribute_not_exists(#ord) OR #ord <= :ord)")
		in.ExpressionAttributeNames["#ord"] = attrCPOrder
		in.ExpressionAttributeNames["#sw"] = attrSwitches
		in.ExpressionAttributeValues[":ord"] = ddbtable.S(order(cp))
		in.ExpressionAttributeValues[":zero"] = ddbtable.N(0)
		// The tumbling window goes with the sequence number, in the
		// same write; a checkpoint without one removes it.
		in.ExpressionAttributeNames["#ws"] = attrWinStart
		in.ExpressionAttributeNames["#wst"] = attrWinState
		if cp.Window != nil && !cp.ShardEnd {
			start, state, err := encodeWindow(cp.Window)
			if err != nil {
				return err
			}
			*in.UpdateExpression += ", #ws = :ws, #wst = :wst"
			in.ExpressionAttributeValues[":ws"] = ddbtable.S(start)
			in.ExpressionAttributeValues[":wst"] = ddbtable.S(state)
		} else {
			*in.UpdateExpression += " REMOVE #ws, #wst"
		}
	}
	_, err = s.c.UpdateItem(ctx, in)
	if failed, old := conditionFailed(err); failed {
		if old != nil {
			if it := decodeLease(old); it.owner == s.owner && it.counter == counter {
				// An older checkpoint than the stored one, or a start
				// marker where a checkpoint is: a no-op.
				return nil
			}
		}
		s.forget(mapping, shardID, counter)
		return fmt.Errorf("dynamolease: shard %s of %s was taken by another process: %w", shardID, mapping, shard.ErrLeaseLost)
	}
	if err != nil {
		return s.apiError("UpdateItem", err)
	}
	s.mu.Lock()
	if h := m.held[shardID]; h != nil && h.counter == counter {
		h.cp = value
	}
	s.mu.Unlock()
	if value == shardEnd || first {
		// The others decide on it: a finished shard is not balanced any
		// more and unblocks its children, a child's first checkpoint
		// finishes its parents.
		_ = s.announce(ctx, mapping) // retried at the next round if it fails
	}
	return nil
}

// forget drops a lease this process learned it lost.
func (s *Store) forget(mapping, shardID string, counter int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state(mapping)
	if h := m.held[shardID]; h != nil && h.counter == counter {
		delete(m.held, shardID)
	}
}

// Release implements [shard.LeaseStore]. The lease goes to the process that
// asked for it when there is one; when this process stops reading an
// unfinished shard nobody asked for (it shuts down), the lease goes to the
// least loaded other live process, which reads it at its next round;
// otherwise it is left unowned.
func (s *Store) Release(ctx context.Context, mapping, shardID string) error {
	s.mu.Lock()
	m := s.state(mapping)
	h := m.held[shardID]
	if h == nil {
		s.mu.Unlock()
		return nil
	}
	delete(m.held, shardID)
	to := ""
	switch {
	case h.cp == shardEnd:
	case h.handoff != "" && isLive(m, h.handoff):
		to = h.handoff // already counted for the asker
	default:
		if to = leastLoaded(m); to != "" {
			m.load[to]++
		}
	}
	s.mu.Unlock()
	announce, err := s.release(ctx, mapping, shardID, h.counter, to)
	if announce {
		_ = s.announce(ctx, mapping) // retried at the next round if it fails
	}
	return err
}

func isLive(m *mapState, owner string) bool {
	_, ok := m.load[owner]
	return ok
}

// leastLoaded picks the live process with the fewest leases; "" if none.
func leastLoaded(m *mapState) string {
	best, n := "", 0
	for w, c := range m.load {
		if best == "" || c < n || (c == n && w < best) {
			best, n = w, c
		}
	}
	return best
}

// release writes a lease over to another process (to), or leaves it
// unowned (to == ""). A failed condition means it was lost already.
// announce tells that the lease item changed, or may have.
func (s *Store) release(ctx context.Context, mapping, shardID string, counter int64, to string) (announce bool, err error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           &s.table,
		Key:                 key(mapping, shardPrefix+shardID),
		ConditionExpression: aws.String("#o = :me AND #c = :c"),
		ExpressionAttributeNames: map[string]string{
			"#o": attrOwner, "#c": attrCounter, "#e": attrExpires, "#h": attrHandoff,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": ddbtable.S(s.owner), ":c": ddbtable.N(counter), ":next": ddbtable.N(counter + 1),
		},
	}
	if to == "" {
		in.UpdateExpression = aws.String("SET #c = :next REMOVE #o, #e, #h")
	} else {
		in.UpdateExpression = aws.String("SET #o = :to, #c = :next, #e = :exp ADD #sw :one REMOVE #h")
		in.ExpressionAttributeNames["#sw"] = attrSwitches
		in.ExpressionAttributeValues[":to"] = ddbtable.S(to)
		in.ExpressionAttributeValues[":exp"] = ddbtable.N(ms(s.now().Add(s.dur)))
		in.ExpressionAttributeValues[":one"] = ddbtable.N(1)
	}
	_, err = s.c.UpdateItem(ctx, in)
	announce = s.changed(mapping, err)
	if failed, _ := conditionFailed(err); failed {
		return false, nil
	}
	if err != nil {
		return true, s.apiError("UpdateItem", err)
	}
	return true, nil
}

// Retire implements [shard.LeaseStore]: it releases what this process still
// holds (leases of shards it never started, such as children waiting for
// their parents) and deletes its heartbeat, so the others stop counting it.
func (s *Store) Retire(ctx context.Context, mapping string) error {
	s.mu.Lock()
	m := s.state(mapping)
	left := m.held
	m.held = map[string]*held{}
	m.beatUntil = time.Time{}
	s.mu.Unlock()
	var errs []error
	changed := false
	for id, h := range left {
		announce, err := s.release(ctx, mapping, id, h.counter, "")
		changed = changed || announce
		errs = append(errs, err)
	}
	_, err := s.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &s.table,
		Key:                       key(mapping, workerPrefix+s.owner),
		ConditionExpression:       aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": attrSession},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": ddbtable.S(s.session)},
	})
	failed, _ := conditionFailed(err)
	if !failed && err != nil {
		errs = append(errs, s.apiError("DeleteItem", err))
	}
	if changed || !failed {
		// The others count this process out, and take what it released,
		// at their next round.
		errs = append(errs, s.announce(ctx, mapping))
	}
	s.mu.Lock()
	delete(s.maps, mapping)
	s.mu.Unlock()
	return errors.Join(errs...)
}
