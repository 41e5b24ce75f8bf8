package esmtest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// The table side of the DynamoDB Streams fake: item writes that emit stream
// records. These methods bypass Faults.

// PutItem writes item (which must hold the table's key attributes) as
// DynamoDB's PutItem does, and emits an INSERT record, or a MODIFY record
// when an item with that key existed. Writing an identical item emits
// nothing.
func (d *DynamoDBStreams) PutItem(table string, item map[string]types.AttributeValue) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tb, k, err := d.itemKey(table, item)
	if err != nil {
		return err
	}
	return d.write(tb, k, maps.Clone(item))
}

// UpdateItem sets the attributes in set on the item with key (creating it
// when missing, as UpdateItem does); a nil value in set removes that
// attribute. It emits an INSERT or MODIFY record, or nothing when no value
// changes.
func (d *DynamoDBStreams) UpdateItem(table string, key, set map[string]types.AttributeValue) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tb, k, err := d.itemKey(table, key)
	if err != nil {
		return err
	}
	next := maps.Clone(tb.items[k])
	if next == nil {
		next = tb.keysOf(key)
	}
	for name, v := range set {
		if _, isKey := key[name]; isKey {
			return fmt.Errorf("esmtest: UpdateItem cannot change key attribute %s of table %s", name, table)
		}
		if v == nil {
			delete(next, name)
		} else {
			next[name] = v
		}
	}
	return d.write(tb, k, next)
}

// DeleteItem deletes the item with key and emits a REMOVE record, or nothing
// when there was no such item.
func (d *DynamoDBStreams) DeleteItem(table string, key map[string]types.AttributeValue) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tb, k, err := d.itemKey(table, key)
	if err != nil {
		return err
	}
	return d.write(tb, k, nil)
}

// Item returns the current item of table with key, or nil.
func (d *DynamoDBStreams) Item(table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	tb, k, err := d.itemKey(table, key)
	if err != nil {
		return nil
	}
	return maps.Clone(tb.items[k])
}

// Append writes a hand-made record to an enabled stream, for records that no
// item write produces (a TTL deletion with UserIdentity, say). The record
// goes to the open shard that owns the partition key in rec.Dynamodb.Keys.
// SequenceNumber is always assigned; EventID, AwsRegion, EventSource,
// EventVersion and the ApproximateCreationDateTime, SizeBytes and
// StreamViewType of rec.Dynamodb are filled in when unset. Append returns the
// sequence number.
func (d *DynamoDBStreams) Append(streamARN string, rec types.Record) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.streams[streamARN]
	if s == nil || s.status != types.StreamStatusEnabled {
		return "", fmt.Errorf("esmtest: no enabled stream %s", streamARN)
	}
	return d.append(s, rec)
}

// itemKey finds a table and encodes the key of item. Callers hold d.mu.
func (d *DynamoDBStreams) itemKey(table string, item map[string]types.AttributeValue) (*dTable, string, error) {
	tb := d.tables[table]
	if tb == nil {
		return nil, "", fmt.Errorf("esmtest: no table %s (CreateStream creates it)", table)
	}
	var b strings.Builder
	for _, name := range tb.keys {
		v, ok := keyAttr(item[name])
		if !ok {
			return nil, "", fmt.Errorf("esmtest: item of table %s needs key attribute %s of type S, N or B", table, name)
		}
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return tb, b.String(), nil
}

// keyAttr encodes a key attribute value.
func keyAttr(v types.AttributeValue) (string, bool) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S" + v.Value, true
	case *types.AttributeValueMemberN:
		return "N" + v.Value, true
	case *types.AttributeValueMemberB:
		return "B" + string(v.Value), true
	}
	return "", false
}

// keysOf returns the key attributes of item.
func (tb *dTable) keysOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	keys := make(map[string]types.AttributeValue, len(tb.keys))
	for _, name := range tb.keys {
		keys[name] = item[name]
	}
	return keys
}

// write replaces the item with key k by next (nil deletes it) and emits the
// stream record of the change, if any. Callers hold d.mu.
func (d *DynamoDBStreams) write(tb *dTable, k string, next map[string]types.AttributeValue) error {
	prev := tb.items[k]
	if reflect.DeepEqual(prev, next) {
		return nil
	}
	name, keys := types.OperationTypeModify, prev
	switch {
	case prev == nil:
		name, keys = types.OperationTypeInsert, next
	case next == nil:
		name = types.OperationTypeRemove
	}
	if next == nil {
		delete(tb.items, k)
	} else {
		tb.items[k] = next
	}
	s := tb.stream
	if s == nil {
		return nil
	}
	sr := &types.StreamRecord{Keys: tb.keysOf(keys)}
	switch s.view {
	case types.StreamViewTypeNewImage:
		sr.NewImage = next
	case types.StreamViewTypeOldImage:
		sr.OldImage = prev
	case types.StreamViewTypeNewAndOldImages:
		sr.NewImage, sr.OldImage = next, prev
	}
	_, err := d.append(s, types.Record{EventName: name, Dynamodb: sr})
	return err
}

// append routes a record to its shard and completes it. Callers hold d.mu.
func (d *DynamoDBStreams) append(s *dStream, rec types.Record) (string, error) {
	if rec.Dynamodb == nil {
		return "", fmt.Errorf("esmtest: record has no Dynamodb member")
	}
	pk, ok := keyAttr(rec.Dynamodb.Keys[s.table.keys[0]])
	if !ok {
		return "", fmt.Errorf("esmtest: record has no partition key %s in Keys", s.table.keys[0])
	}
	sh := owner(s.shards, md5Hash(pk))
	c := s.nextSeq()
	seq := s.seq(c)
	sr := *rec.Dynamodb
	sr.SequenceNumber = new(seq)
	if sr.ApproximateCreationDateTime == nil {
		sr.ApproximateCreationDateTime = new(time.Unix(d.clock.Now().Unix(), 0).UTC())
	}
	if sr.StreamViewType == "" {
		sr.StreamViewType = s.view
	}
	if sr.SizeBytes == nil {
		sr.SizeBytes = new(itemSize(sr.Keys) + itemSize(sr.NewImage) + itemSize(sr.OldImage))
	}
	rec.Dynamodb = &sr
	if rec.EventID == nil {
		sum := md5.Sum([]byte(s.arn + "/" + seq))
		rec.EventID = new(hex.EncodeToString(sum[:]))
	}
	if rec.AwsRegion == nil {
		rec.AwsRegion = new(d.region)
	}
	if rec.EventSource == nil {
		rec.EventSource = new("aws:dynamodb")
	}
	if rec.EventVersion == nil {
		rec.EventVersion = new("1.1")
	}
	sh.recs = append(sh.recs, rec)
	sh.ctrs = append(sh.ctrs, c)
	return seq, nil
}

// itemSize estimates the size of an item by DynamoDB's rules: attribute
// names plus values, numbers at about one byte per two digits.
func itemSize(item map[string]types.AttributeValue) int64 {
	var n int64
	for name, v := range item {
		n += int64(len(name)) + attrSize(v)
	}
	return n
}

func attrSize(v types.AttributeValue) int64 {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return int64(len(v.Value))
	case *types.AttributeValueMemberN:
		return numSize(v.Value)
	case *types.AttributeValueMemberB:
		return int64(len(v.Value))
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		return sizeSum(v.Value, func(s string) int64 { return int64(len(s)) })
	case *types.AttributeValueMemberNS:
		return sizeSum(v.Value, numSize)
	case *types.AttributeValueMemberBS:
		return sizeSum(v.Value, func(b []byte) int64 { return int64(len(b)) })
	case *types.AttributeValueMemberL:
		return 3 + int64(len(v.Value)) + sizeSum(v.Value, attrSize)
	case *types.AttributeValueMemberM:
		return 3 + int64(len(v.Value)) + itemSize(v.Value)
	}
	return 0
}

func sizeSum[T any](vs []T, size func(T) int64) int64 {
	var n int64
	for _, v := range vs {
		n += size(v)
	}
	return n
}

func numSize(s string) int64 { return int64(len(s)+1)/2 + 1 }
