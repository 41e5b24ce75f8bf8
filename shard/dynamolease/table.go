package dynamolease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
	"github.com/lambdaesm/lambdaesm/shard"
)

// The table's key and attribute names (see the package documentation).
const (
	attrMapping = "mapping" // hash key: the engine's mapping name
	attrID      = "id"      // range key: "shard/<shardId>" or "worker/<owner>"

	attrShard     = "shardId"
	attrOwner     = "leaseOwner"
	attrCounter   = "leaseCounter"
	attrExpires   = "leaseExpires"
	attrCP        = "checkpoint"
	attrCPOrder   = "checkpointOrder"
	attrParents   = "parentShardIds"
	attrSwitches  = "ownerSwitchesSinceCheckpoint"
	attrHandoff   = "handoffTo"
	attrWorker    = "workerId"
	attrSession   = "session"
	attrBeatUntil = "heartbeatExpires"
	attrBeats     = "heartbeats"
	attrAnnounces = "announcingUntil"
	attrChanges   = "changes"
	attrWinStart  = "windowStart"
	attrWinState  = "windowState"

	shardPrefix  = "shard/"
	workerPrefix = "worker/"
	// changesID is the range key of the mapping's change counter, which
	// every process bumps after it changed lease items.
	changesID = "changes"

	// shardEnd is the checkpoint of a shard read to its end.
	shardEnd = "SHARD_END"
	// startPrefix begins the checkpoint of a start marker, followed by
	// the time in RFC 3339, UTC, to the nanosecond.
	startPrefix = "AT_TIMESTAMP:"

	// maxWindowState is the largest window state (its JSON) a lease item
	// keeps: an item holds 400 KB, and the lease's other attributes take
	// a few hundred bytes.
	maxWindowState = 384 << 10
)

// encode turns a checkpoint into the checkpoint attribute: a sequence
// number, SHARD_END, or a start marker ("AT_TIMESTAMP:<time>"). Sequence
// numbers are digits, so the three never collide.
func encode(cp shard.Checkpoint) (string, error) {
	switch {
	case cp.ShardEnd:
		return shardEnd, nil
	case cp.SequenceNumber != "":
		return cp.SequenceNumber, nil
	case cp.Start.IsZero():
		return "", errors.New("dynamolease: empty checkpoint (no sequence number, shard end or start time)")
	}
	return startPrefix + cp.Start.UTC().Format(time.RFC3339Nano), nil
}

// encodeWindow turns a checkpoint's tumbling window into the windowStart
// (RFC 3339, UTC, to the nanosecond) and windowState (the state's JSON)
// attributes.
func encodeWindow(w *shard.Window) (start, state string, err error) {
	st := w.State
	if st == nil {
		st = map[string]string{}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return "", "", fmt.Errorf("dynamolease: encoding the window state: %w", err)
	}
	return w.Start.UTC().Format(time.RFC3339Nano), string(b), nil
}

// decodeWindow reads the window attributes; nil when there are none.
func decodeWindow(start, state string) (*shard.Window, error) {
	if start == "" && state == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return nil, fmt.Errorf("dynamolease: %s %q is not a time: %w", attrWinStart, start, err)
	}
	w := &shard.Window{Start: t.UTC()}
	if err := json.Unmarshal([]byte(state), &w.State); err != nil || w.State == nil {
		return nil, fmt.Errorf("dynamolease: %s is not a state (a JSON object of strings): %v", attrWinState, err)
	}
	return w, nil
}

// isMarker tells whether a checkpoint attribute is a start marker.
func isMarker(v string) bool { return strings.HasPrefix(v, startPrefix) }

// order turns a checkpoint into a string whose byte order is the checkpoint
// order, so that a condition expression can refuse a backward move: the
// number of significant digits (three digits), a colon and the digits;
// SHARD_END sorts after every sequence number ('S' > '9'). A start marker
// has no order: it is written without one, only where no checkpoint is,
// and any sequence number or SHARD_END replaces it.
func order(cp shard.Checkpoint) string {
	if cp.ShardEnd {
		return shardEnd
	}
	d := strings.TrimLeft(cp.SequenceNumber, "0")
	return fmt.Sprintf("%03d:%s", len(d), d)
}

// leaseItem is one shard's item.
type leaseItem struct {
	owner   string
	counter int64
	expires int64  // unix ms
	cp      string // sequence number, SHARD_END, start marker, or "" for none
	handoff string
	parents []string
	// winStart and winState are the tumbling window's attributes, decoded
	// only by checkpoint: rounds never read them.
	winStart, winState string
}

// workerItem is one process's heartbeat.
type workerItem struct {
	session string
	expires int64 // unix ms
	// announcing is the heartbeat expiry as written by a process that
	// announces its changes: another value (none) in a live heartbeat
	// tells a process of an earlier version, which does not.
	announcing int64
}

func decodeWorker(it map[string]types.AttributeValue) *workerItem {
	return &workerItem{session: ddbtable.GetS(it, attrSession), expires: ddbtable.GetN(it, attrBeatUntil), announcing: ddbtable.GetN(it, attrAnnounces)}
}

func decodeLease(it map[string]types.AttributeValue) *leaseItem {
	return &leaseItem{
		owner:   ddbtable.GetS(it, attrOwner),
		counter: ddbtable.GetN(it, attrCounter),
		expires: ddbtable.GetN(it, attrExpires),
		cp:      ddbtable.GetS(it, attrCP),
		handoff: ddbtable.GetS(it, attrHandoff),
		parents: getSS(it, attrParents),

		winStart: ddbtable.GetS(it, attrWinStart),
		winState: ddbtable.GetS(it, attrWinState),
	}
}

func getSS(it map[string]types.AttributeValue, name string) []string {
	if v, ok := it[name].(*types.AttributeValueMemberSS); ok {
		return v.Value
	}
	return nil
}

// checkpoint decodes the item's checkpoint attribute (see [encode]).
func (l *leaseItem) checkpoint() (shard.Checkpoint, bool, error) {
	switch {
	case l.cp == "":
		return shard.Checkpoint{}, false, nil
	case l.cp == shardEnd:
		return shard.Checkpoint{ShardEnd: true}, true, nil
	case isMarker(l.cp):
		t, err := time.Parse(time.RFC3339Nano, l.cp[len(startPrefix):])
		if err != nil {
			return shard.Checkpoint{}, false, fmt.Errorf("dynamolease: checkpoint %q is not a start marker: %w", l.cp, err)
		}
		return shard.Checkpoint{Start: t.UTC()}, true, nil
	}
	w, err := decodeWindow(l.winStart, l.winState)
	if err != nil {
		return shard.Checkpoint{}, false, err
	}
	return shard.Checkpoint{SequenceNumber: l.cp, Window: w}, true, nil
}

func key(mapping, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrMapping: ddbtable.S(mapping), attrID: ddbtable.S(id)}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// ensureTable checks once that the table exists with the expected key, and
// creates it (on-demand billing) when it is missing.
func (s *Store) ensureTable(ctx context.Context) error {
	if s.ready.Load() {
		return nil
	}
	s.tableMu.Lock()
	defer s.tableMu.Unlock()
	if s.ready.Load() {
		return nil
	}
	t, err := ddbtable.Ensure(ctx, s.c, s.tableSpec())
	if err != nil {
		return err
	}
	s.tableARN.Store(new(aws.ToString(t.TableArn)))
	s.ready.Store(true)
	return nil
}

// tableSpec describes the lease table for package ddbtable.
func (s *Store) tableSpec() ddbtable.Table {
	return ddbtable.Table{Name: s.table, Hash: attrMapping, Range: attrID,
		Prefix: "dynamolease", Kind: "lease table", Grantee: "the caller's IAM role"}
}
