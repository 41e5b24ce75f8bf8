package esm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/lambdaesm/lambdaesm/internal/ddbtable"
)

// DefaultMappingTable is the table of a [DynamoDBMappingStore] unless its
// options say otherwise.
const DefaultMappingTable = "lambdaesm-mappings"

// MappingTableAPI is the part of the DynamoDB API that a
// [DynamoDBMappingStore] calls. *dynamodb.Client satisfies it.
type MappingTableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ MappingTableAPI = (*dynamodb.Client)(nil)

// DynamoDBMappingStore is a [SharedMappingStore] on a DynamoDB table: the
// definitions of the registries of several processes (replicas), which
// each run every mapping. Give the stream mappings a lease store that the
// processes share as well (RegistryConfig.Checkpoints, a
// shard/dynamolease.Store), so that they split the shards instead of each
// reading all of them.
//
// The table's key is kind (string, hash) and id (string, range). A mapping
// is the item (kind "mapping", id its UUID) with its configuration in AWS's
// JSON (config), created and lastModified (RFC 3339, UTC), revision and the
// ConflictKey it holds (claim). Each ConflictKey held is an item (kind
// "claim", id the key) naming its mapping (uuid), and the item (kind
// "meta", id "changes") counts the writes (changes). Every write is one
// transaction (TransactWriteItems) of the mapping's item, the claims it
// takes or gives up, and the counter, conditional on the mapping's revision
// and on the claims being free: two processes cannot both create a mapping
// with one UUID or two mappings of one function and source, and an update
// from a stale copy is refused. Reads are strongly consistent: a poll reads
// the counter (one GetItem) and, when it moved, the mappings (a Query of one
// partition).
type DynamoDBMappingStore struct {
	c     MappingTableAPI
	table string

	tableMu sync.Mutex
	ready   bool
}

// NewDynamoDBMappingStore returns a store on the named table, created on
// first use (on-demand billing) if missing; an empty name means
// [DefaultMappingTable]. It makes no call.
func NewDynamoDBMappingStore(client MappingTableAPI, table string) (*DynamoDBMappingStore, error) {
	if isNil(client) {
		return nil, errors.New("esm: NewDynamoDBMappingStore: the client is nil")
	}
	if table == "" {
		table = DefaultMappingTable
	}
	return &DynamoDBMappingStore{c: client, table: table}, nil
}

// Table returns the table's name.
func (s *DynamoDBMappingStore) Table() string { return s.table }

// The table's attributes.
const (
	mtKind     = "kind"
	mtID       = "id"
	mtConfig   = "config"
	mtCreated  = "created"
	mtModified = "lastModified"
	mtRevision = "revision"
	mtClaim    = "claim"
	mtUUID     = "uuid"
	mtChanges  = "changes"

	mtKindMapping = "mapping"
	mtKindClaim   = "claim"
	mtKindMeta    = "meta"
	mtChangesID   = "changes"
)

// mtWriteAttempts bounds the attempts of a write whose transaction
// collided with another process's.
const mtWriteAttempts = 8

func mtKey(kind, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{mtKind: ddbtable.S(kind), mtID: ddbtable.S(id)}
}

// LoadMappings implements [MappingStore].
func (s *DynamoDBMappingStore) LoadMappings(ctx context.Context) ([]MappingRecord, error) {
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	var out []MappingRecord
	var skipped []error
	var start map[string]types.AttributeValue
	for {
		page, err := s.c.Query(ctx, &dynamodb.QueryInput{
			TableName: &s.table, ConsistentRead: aws.Bool(true), ExclusiveStartKey: start,
			KeyConditionExpression:    aws.String("#k = :k"),
			ExpressionAttributeNames:  map[string]string{"#k": mtKind},
			ExpressionAttributeValues: map[string]types.AttributeValue{":k": ddbtable.S(mtKindMapping)},
		})
		if err != nil {
			return nil, s.apiError("Query", err)
		}
		for _, it := range page.Items {
			rec, err := s.decode(it)
			if err != nil {
				skipped = append(skipped, err) // the others still run
				continue
			}
			out = append(out, rec)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	sortRecords(out)
	if len(skipped) > 0 {
		return out, &skippedMappingsError{errs: skipped}
	}
	return out, nil
}

func (s *DynamoDBMappingStore) decode(it map[string]types.AttributeValue) (MappingRecord, error) {
	rec := MappingRecord{UUID: ddbtable.GetS(it, mtID), Revision: ddbtable.GetN(it, mtRevision)}
	bad := func(err error) (MappingRecord, error) {
		return MappingRecord{}, fmt.Errorf("esm: mapping store table %s: mapping %s: %w", s.table, rec.UUID, err)
	}
	if err := rec.Config.UnmarshalJSON([]byte(ddbtable.GetS(it, mtConfig))); err != nil {
		return bad(err)
	}
	var err error
	if rec.Created, err = time.Parse(time.RFC3339Nano, ddbtable.GetS(it, mtCreated)); err != nil {
		return bad(fmt.Errorf("created: %w", err))
	}
	if rec.LastModified, err = time.Parse(time.RFC3339Nano, ddbtable.GetS(it, mtModified)); err != nil {
		return bad(fmt.Errorf("lastModified: %w", err))
	}
	return rec, nil
}

// current reads the mapping's item; nil when there is none.
func (s *DynamoDBMappingStore) current(ctx context.Context, uuid string) (map[string]types.AttributeValue, error) {
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: mtKey(mtKindMapping, uuid), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, s.apiError("GetItem", err)
	}
	return out.Item, nil
}

// PutMapping implements [MappingStore]: it creates or replaces the
// definition, whatever its revision.
func (s *DynamoDBMappingStore) PutMapping(ctx context.Context, rec MappingRecord) error {
	if err := s.ensureTable(ctx); err != nil {
		return err
	}
	for range mtWriteAttempts {
		it, err := s.current(ctx, rec.UUID)
		if err != nil {
			return err
		}
		var prev *mtPrev
		if it != nil {
			prev = &mtPrev{revision: ddbtable.GetN(it, mtRevision), claim: ddbtable.GetS(it, mtClaim)}
		}
		_, err = s.write(ctx, prev, rec)
		var ce *MappingConflictError
		switch {
		case errors.As(err, &ce) && ce.Key == "": // created meanwhile
		case errors.Is(err, ErrMappingChanged), errors.Is(err, ErrMappingNotFound):
		default:
			return err
		}
	}
	return fmt.Errorf("esm: mapping store table %s: mapping %s: other processes kept changing it", s.table, rec.UUID)
}

// CreateMapping implements [SharedMappingStore].
func (s *DynamoDBMappingStore) CreateMapping(ctx context.Context, rec MappingRecord) (MappingRecord, error) {
	if err := s.ensureTable(ctx); err != nil {
		return MappingRecord{}, err
	}
	return s.write(ctx, nil, rec)
}

// UpdateMapping implements [SharedMappingStore].
func (s *DynamoDBMappingStore) UpdateMapping(ctx context.Context, prev, next MappingRecord) (MappingRecord, error) {
	if err := s.ensureTable(ctx); err != nil {
		return MappingRecord{}, err
	}
	next.UUID = prev.UUID
	return s.write(ctx, &mtPrev{revision: prev.Revision, claim: prev.ConflictKey()}, next)
}

// mtPrev is what a write replaces: the stored revision and claim.
type mtPrev struct {
	revision int64
	claim    string
}

// write stores rec in place of prev (nil: a creation) in one transaction;
// see [DynamoDBMappingStore].
func (s *DynamoDBMappingStore) write(ctx context.Context, prev *mtPrev, rec MappingRecord) (MappingRecord, error) {
	cfg, err := rec.Config.MarshalJSON()
	if err != nil {
		return MappingRecord{}, fmt.Errorf("esm: mapping store: mapping %s: %w", rec.UUID, err)
	}
	key := rec.ConflictKey()
	if key == "" {
		return MappingRecord{}, fmt.Errorf("esm: mapping store: mapping %s: the configuration does not validate", rec.UUID)
	}
	rec.Revision = 1
	put := &types.Put{
		TableName: &s.table,
		Item: map[string]types.AttributeValue{
			mtKind: ddbtable.S(mtKindMapping), mtID: ddbtable.S(rec.UUID), mtConfig: ddbtable.S(string(cfg)),
			mtCreated: ddbtable.S(rec.Created.UTC().Format(time.RFC3339Nano)), mtModified: ddbtable.S(rec.LastModified.UTC().Format(time.RFC3339Nano)),
			mtClaim: ddbtable.S(key),
		},
		ExpressionAttributeNames: map[string]string{"#id": mtID},
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
	}
	if prev != nil {
		rec.Revision = prev.revision + 1
		put.ExpressionAttributeNames["#r"] = mtRevision
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":r": ddbtable.N(prev.revision)}
		put.ConditionExpression = aws.String("attribute_exists(#id) AND #r = :r")
	}
	put.Item[mtRevision] = ddbtable.N(rec.Revision)
	items := []types.TransactWriteItem{{Put: put}}
	claimAt := -1
	freeClaim := "attribute_not_exists(#id) OR #u = :u"
	claimNames := map[string]string{"#id": mtID, "#u": mtUUID}
	claimValues := map[string]types.AttributeValue{":u": ddbtable.S(rec.UUID)}
	if prev == nil || prev.claim != key {
		claimAt = len(items)
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:           &s.table,
			Item:                map[string]types.AttributeValue{mtKind: ddbtable.S(mtKindClaim), mtID: ddbtable.S(key), mtUUID: ddbtable.S(rec.UUID)},
			ConditionExpression: aws.String(freeClaim), ExpressionAttributeNames: claimNames, ExpressionAttributeValues: claimValues,
		}})
	}
	if prev != nil && prev.claim != "" && prev.claim != key {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: &s.table, Key: mtKey(mtKindClaim, prev.claim),
			ConditionExpression: aws.String(freeClaim), ExpressionAttributeNames: claimNames, ExpressionAttributeValues: claimValues,
		}})
	}
	items = append(items, s.bump())
	reasons, err := s.transact(ctx, items)
	switch {
	case err != nil:
		return MappingRecord{}, err
	case reasons == nil:
		rec.Config = rec.Config.clone()
		return rec, nil
	case reasons[0] == "ConditionalCheckFailed" && prev == nil:
		return MappingRecord{}, &MappingConflictError{UUID: rec.UUID}
	case reasons[0] == "ConditionalCheckFailed":
		it, err := s.current(ctx, rec.UUID)
		if err != nil {
			return MappingRecord{}, err
		}
		if it == nil {
			return MappingRecord{}, ErrMappingNotFound
		}
		return MappingRecord{}, ErrMappingChanged
	case claimAt >= 0 && claimAt < len(reasons) && reasons[claimAt] == "ConditionalCheckFailed":
		out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: mtKey(mtKindClaim, key), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return MappingRecord{}, s.apiError("GetItem", err)
		}
		holder := ddbtable.GetS(out.Item, mtUUID)
		if holder == "" { // given up meanwhile: the caller may try again
			return MappingRecord{}, ErrMappingChanged
		}
		return MappingRecord{}, &MappingConflictError{UUID: holder, Key: key}
	}
	return MappingRecord{}, fmt.Errorf("esm: mapping store table %s: mapping %s: transaction cancelled: %s", s.table, rec.UUID, strings.Join(reasons, ", "))
}

// bump is the write of a transaction that counts it.
func (s *DynamoDBMappingStore) bump() types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: mtKey(mtKindMeta, mtChangesID),
		UpdateExpression:          aws.String("ADD #c :one"),
		ExpressionAttributeNames:  map[string]string{"#c": mtChanges},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": ddbtable.N(1)},
	}}
}

// transact runs a transaction, again (after a pause) when it collided with
// another process's. A transaction cancelled for another reason returns its
// reasons, by item, with a nil error; a successful one nil, nil.
func (s *DynamoDBMappingStore) transact(ctx context.Context, items []types.TransactWriteItem) ([]string, error) {
	pause := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := s.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, s.apiError("TransactWriteItems", err)
		}
		reasons := cancellationReasons(tce, len(items))
		if !slices.Contains(reasons, "TransactionConflict") || attempt == mtWriteAttempts {
			return reasons, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause *= 2
	}
}

// cancellationReasons returns the code of each item of a cancelled
// transaction: from CancellationReasons, or from the message ("Transaction
// cancelled, please refer cancellation reasons for specific reasons
// [ConditionalCheckFailed, None]") when the service sent only that.
func cancellationReasons(tce *types.TransactionCanceledException, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "None"
	}
	if len(tce.CancellationReasons) > 0 {
		for i, r := range tce.CancellationReasons {
			if i < n {
				out[i] = aws.ToString(r.Code)
			}
		}
		return out
	}
	msg := tce.ErrorMessage()
	if i, j := strings.LastIndex(msg, "["), strings.LastIndex(msg, "]"); i >= 0 && j > i {
		for k, code := range strings.Split(msg[i+1:j], ",") {
			if k < n {
				out[k] = strings.TrimSpace(code)
			}
		}
	}
	return out
}

// DeleteMapping implements [MappingStore]: it removes the definition and
// gives its claim up, whatever its revision.
func (s *DynamoDBMappingStore) DeleteMapping(ctx context.Context, uuid string) error {
	if err := s.ensureTable(ctx); err != nil {
		return err
	}
	for range mtWriteAttempts {
		it, err := s.current(ctx, uuid)
		if err != nil || it == nil {
			return err
		}
		items := []types.TransactWriteItem{{Delete: &types.Delete{
			TableName: &s.table, Key: mtKey(mtKindMapping, uuid),
			ConditionExpression:       aws.String("#r = :r"),
			ExpressionAttributeNames:  map[string]string{"#r": mtRevision},
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": ddbtable.N(ddbtable.GetN(it, mtRevision))},
		}}}
		if claim := ddbtable.GetS(it, mtClaim); claim != "" {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName: &s.table, Key: mtKey(mtKindClaim, claim),
				ConditionExpression:       aws.String("attribute_not_exists(#id) OR #u = :u"),
				ExpressionAttributeNames:  map[string]string{"#id": mtID, "#u": mtUUID},
				ExpressionAttributeValues: map[string]types.AttributeValue{":u": ddbtable.S(uuid)},
			}})
		}
		items = append(items, s.bump())
		reasons, err := s.transact(ctx, items)
		if err != nil || reasons == nil {
			return err
		}
		if reasons[0] != "ConditionalCheckFailed" { // changed meanwhile: read it again
			return fmt.Errorf("esm: mapping store table %s: deleting mapping %s: transaction cancelled: %s", s.table, uuid, strings.Join(reasons, ", "))
		}
	}
	return fmt.Errorf("esm: mapping store table %s: mapping %s: other processes kept changing it", s.table, uuid)
}

// Changes implements [SharedMappingStore].
func (s *DynamoDBMappingStore) Changes(ctx context.Context) (int64, error) {
	if err := s.ensureTable(ctx); err != nil {
		return 0, err
	}
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: mtKey(mtKindMeta, mtChangesID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, s.apiError("GetItem", err)
	}
	return ddbtable.GetN(out.Item, mtChanges), nil
}

// apiError names the table and, for access denied, the refused action.
func (s *DynamoDBMappingStore) apiError(action string, err error) error {
	return s.tableSpec().Err(action, s.table, err)
}

// tableSpec describes the mapping table for package ddbtable.
func (s *DynamoDBMappingStore) tableSpec() ddbtable.Table {
	return ddbtable.Table{Name: s.table, Hash: mtKind, Range: mtID,
		Prefix: "esm: mapping store", Kind: "mapping table", Grantee: "this process's IAM role"}
}

// ensureTable checks once that the table exists with the expected key, and
// creates it (on-demand billing) when it is missing.
func (s *DynamoDBMappingStore) ensureTable(ctx context.Context) error {
	s.tableMu.Lock()
	defer s.tableMu.Unlock()
	if s.ready {
		return nil
	}
	if _, err := ddbtable.Ensure(ctx, s.c, s.tableSpec()); err != nil {
		return err
	}
	s.ready = true
	return nil
}

var _ SharedMappingStore = (*DynamoDBMappingStore)(nil)
