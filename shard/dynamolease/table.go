package dynamolease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

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
	return &workerItem{session: getS(it, attrSession), expires: getN(it, attrBeatUntil), announcing: getN(it, attrAnnounces)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it map[string]types.AttributeValue, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func decodeLease(it map[string]types.AttributeValue) *leaseItem {
	return &leaseItem{
		owner:   getS(it, attrOwner),
		counter: getN(it, attrCounter),
		expires: getN(it, attrExpires),
		cp:      getS(it, attrCP),
		handoff: getS(it, attrHandoff),
		parents: getSS(it, attrParents),

		winStart: getS(it, attrWinStart),
		winState: getS(it, attrWinState),
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
	return map[string]types.AttributeValue{attrMapping: str(mapping), attrID: str(id)}
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
	out, err := s.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		if err := s.createTable(ctx); err != nil {
			return err
		}
		if out, err = s.waitActive(ctx); err != nil {
			return err
		}
	case err != nil:
		return s.apiError("DescribeTable", err)
	case out.Table.TableStatus != types.TableStatusActive:
		if out, err = s.waitActive(ctx); err != nil {
			return err
		}
	}
	if err := checkSchema(s.table, out.Table); err != nil {
		return err
	}
	s.tableARN.Store(new(aws.ToString(out.Table.TableArn)))
	s.ready.Store(true)
	return nil
}

func (s *Store) createTable(ctx context.Context) error {
	_, err := s.c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &s.table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrMapping), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrMapping), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrID), KeyType: types.KeyTypeRange},
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: another process creates it
		return s.apiError("CreateTable", err)
	}
	return nil
}

// waitActive polls DescribeTable until the table is ACTIVE.
func (s *Store) waitActive(ctx context.Context) (*dynamodb.DescribeTableOutput, error) {
	for {
		out, err := s.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
		var ae smithy.APIError
		switch {
		case err == nil && out.Table.TableStatus == types.TableStatusActive:
			return out, nil
		case err != nil && !(errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"):
			return nil, s.apiError("DescribeTable", err)
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("dynamolease: waiting for table %s to become ACTIVE: %w", s.table, ctx.Err())
		case <-t.C:
		}
	}
}

// checkSchema refuses a table whose key is not (mapping S HASH, id S RANGE).
func checkSchema(name string, t *types.TableDescription) error {
	want := map[string]types.KeyType{attrMapping: types.KeyTypeHash, attrID: types.KeyTypeRange}
	ok := len(t.KeySchema) == 2
	for _, k := range t.KeySchema {
		ok = ok && want[aws.ToString(k.AttributeName)] == k.KeyType
	}
	for _, a := range t.AttributeDefinitions {
		if _, isKey := want[aws.ToString(a.AttributeName)]; isKey {
			ok = ok && a.AttributeType == types.ScalarAttributeTypeS
		}
	}
	if !ok {
		return fmt.Errorf("dynamolease: table %s exists but is not a lease table: its key must be %q (string, hash) and %q (string, range)", name, attrMapping, attrID)
	}
	return nil
}
