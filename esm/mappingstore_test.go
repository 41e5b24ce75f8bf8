package esm_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/awstest"
	"github.com/lambdaesm/lambdaesm/shard"
	"github.com/lambdaesm/lambdaesm/shard/dynamolease"
)

func TestMemoryMappingStoreIsShared(t *testing.T) {
	testSharedMappingStore(t, esm.NewMemoryMappingStore())
}

func TestDynamoDBMappingStore(t *testing.T) {
	awstest.Integration(t)
	store, _ := newMappingTable(t)
	testSharedMappingStore(t, store)
}

// newMappingTable returns a store on a fresh table, created on first use
// and deleted when the test ends.
func newMappingTable(t *testing.T) (*esm.DynamoDBMappingStore, *dynamodb.Client) {
	t.Helper()
	c := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "mappings")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	})
	store, err := esm.NewDynamoDBMappingStore(c, name)
	require.NoError(t, err)
	require.Equal(t, name, store.Table())
	return store, c
}

// A lease table is not a mapping table: the store says so rather than
// writing items of another shape into it.
func TestDynamoDBMappingStoreRefusesALeaseTable(t *testing.T) {
	awstest.Integration(t)
	c := awstest.DynamoDB(t)
	name := awstest.UniqueName(t, "leases")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	})
	leases, err := dynamolease.New(c, dynamolease.WithTable(name))
	require.NoError(t, err)
	_, err = leases.Leases(t.Context(), "m", nil) // creates the lease table
	require.NoError(t, err)
	store, err := esm.NewDynamoDBMappingStore(c, name)
	require.NoError(t, err)
	_, err = store.LoadMappings(t.Context())
	require.ErrorContains(t, err, "exists but is not a mapping table")
}

func TestNewDynamoDBMappingStoreNeedsAClient(t *testing.T) {
	_, err := esm.NewDynamoDBMappingStore(nil, "")
	require.ErrorContains(t, err, "the client is nil")
	var c *dynamodb.Client
	_, err = esm.NewDynamoDBMappingStore(c, "")
	require.ErrorContains(t, err, "the client is nil")
}

// testSharedMappingStore is what every SharedMappingStore must do.
func testSharedMappingStore(t *testing.T, s esm.SharedMappingStore) {
	ctx := t.Context()
	const queue = "arn:aws:sqs:us-east-1:000000000000:jobs"
	rec := func(uuid, fn string) esm.MappingRecord {
		now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		return esm.MappingRecord{UUID: uuid, Config: esm.Config{FunctionName: fn, EventSourceArn: queue}, Created: now, LastModified: now}
	}
	changes := func() int64 {
		n, err := s.Changes(ctx)
		require.NoError(t, err)
		return n
	}
	conflict := func(err error) *esm.MappingConflictError {
		t.Helper()
		var ce *esm.MappingConflictError
		require.ErrorAs(t, err, &ce)
		return ce
	}
	c0 := changes()

	a, err := s.CreateMapping(ctx, rec("a", "f1"))
	require.NoError(t, err)
	require.Equal(t, int64(1), a.Revision)
	require.Greater(t, changes(), c0, "a write moves the counter")
	loaded, err := s.LoadMappings(ctx)
	require.NoError(t, err)
	require.Len(t, loaded, 1)
	require.Equal(t, a.UUID, loaded[0].UUID)
	require.Equal(t, int64(1), loaded[0].Revision)
	require.Equal(t, "f1", loaded[0].Config.FunctionName)
	require.True(t, a.Created.Equal(loaded[0].Created))

	c1 := changes()
	require.Equal(t, &esm.MappingConflictError{UUID: "a"}, conflict(func() error { _, err := s.CreateMapping(ctx, rec("a", "f9")); return err }()),
		"one UUID, one mapping")
	require.Equal(t, &esm.MappingConflictError{UUID: "a", Key: a.ConflictKey()}, conflict(func() error { _, err := s.CreateMapping(ctx, rec("b", "f1")); return err }()),
		"one function and source, one mapping")
	require.Equal(t, c1, changes(), "a refused write changes nothing")

	b, err := s.CreateMapping(ctx, rec("b", "f1:live"))
	require.NoError(t, err, "another version of the function")

	next := a
	next.Config.BatchSize = 5
	a2, err := s.UpdateMapping(ctx, a, next)
	require.NoError(t, err)
	require.Equal(t, int64(2), a2.Revision)
	_, err = s.UpdateMapping(ctx, a, next)
	require.ErrorIs(t, err, esm.ErrMappingChanged, "an update from a stale copy")

	moved := b
	moved.Config.FunctionName = "f1"
	require.Equal(t, &esm.MappingConflictError{UUID: "a", Key: a.ConflictKey()}, conflict(func() error { _, err := s.UpdateMapping(ctx, b, moved); return err }()))

	// a moves to f2: f1's claim is free again.
	f2 := a2
	f2.Config.FunctionName = "f2"
	a3, err := s.UpdateMapping(ctx, a2, f2)
	require.NoError(t, err)
	require.Equal(t, int64(3), a3.Revision)
	_, err = s.CreateMapping(ctx, rec("c", "f1"))
	require.NoError(t, err)

	// Deleted, a gives its UUID and its claim up.
	require.NoError(t, s.DeleteMapping(ctx, "a"))
	require.NoError(t, s.DeleteMapping(ctx, "a"), "deleting what is gone is no error")
	_, err = s.UpdateMapping(ctx, a3, a3)
	require.ErrorIs(t, err, esm.ErrMappingNotFound)
	_, err = s.CreateMapping(ctx, rec("d", "f2"))
	require.NoError(t, err)
	again, err := s.CreateMapping(ctx, rec("a", "f3"))
	require.NoError(t, err)
	require.Equal(t, int64(1), again.Revision)

	// PutMapping replaces whatever the revision, and respects the claims.
	put := rec("b", "f4")
	put.Config.BatchSize = 7
	require.NoError(t, s.PutMapping(ctx, put))
	require.Equal(t, &esm.MappingConflictError{UUID: "c", Key: rec("c", "f1").ConflictKey()}, conflict(s.PutMapping(ctx, rec("b", "f1"))))
	_, err = s.CreateMapping(ctx, rec("e", "f1:live"))
	require.NoError(t, err, "b gave f1:live up when it was put with f4")

	loaded, err = s.LoadMappings(ctx)
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range loaded {
		got[r.UUID] = r.Config.FunctionName
	}
	require.Equal(t, map[string]string{"a": "f3", "b": "f4", "c": "f1", "d": "f2", "e": "f1:live"}, got)

	// Racing writers: one wins, the others are told who did.
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.CreateMapping(ctx, rec(fmt.Sprintf("race-%d", i), "racer")) })
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			require.Empty(t, winner, "two creations of one function and source won")
			winner = fmt.Sprintf("race-%d", i)
		}
	}
	require.NotEmpty(t, winner)
	for _, err := range errs {
		if err != nil {
			require.Equal(t, winner, conflict(err).UUID)
		}
	}
	cur, err := s.LoadMappings(ctx)
	require.NoError(t, err)
	var base esm.MappingRecord
	for _, r := range cur {
		if r.UUID == winner {
			base = r
		}
	}
	var wins atomic.Int32
	for i := range n {
		wg.Go(func() {
			next := base
			next.Config.BatchSize = i + 1
			_, err := s.UpdateMapping(ctx, base, next)
			if err == nil {
				wins.Add(1)
				return
			}
			if !errors.Is(err, esm.ErrMappingChanged) {
				t.Errorf("racing update: %v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "one update of a revision wins")
}

// An item that cannot be decoded (written by hand, or by a newer version)
// does not hide the others: LoadMappings returns the readable mappings and
// says which it skipped, and a registry over the table runs the readable
// ones and reports the rest in StoreHealth.
func TestDynamoDBMappingStoreSkipsUnreadableItems(t *testing.T) {
	awstest.Integration(t)
	ctx := t.Context()
	store, c := newMappingTable(t)
	good := esm.MappingRecord{UUID: "good", Created: time.Now().UTC(), LastModified: time.Now().UTC(),
		Config: esm.Config{FunctionName: "fn", EventSourceArn: "arn:aws:sqs:us-east-1:000000000000:jobs", Enabled: new(false)}}
	_, err := store.CreateMapping(ctx, good)
	require.NoError(t, err)
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(store.Table()), Item: map[string]types.AttributeValue{
		"kind": &types.AttributeValueMemberS{Value: "mapping"}, "id": &types.AttributeValueMemberS{Value: "garbled"},
		"config": &types.AttributeValueMemberS{Value: "{not json"},
	}})
	require.NoError(t, err)

	recs, err := store.LoadMappings(ctx)
	require.ErrorContains(t, err, "mappings that cannot be read are ignored")
	require.ErrorContains(t, err, "mapping garbled")
	require.Len(t, recs, 1)
	require.Equal(t, "good", recs[0].UUID)

	reg, err := esm.NewRegistry(ctx, esm.RegistryConfig{
		Resolver: func(context.Context, string) (esm.Function, error) { return esm.Function{}, nil },
		Clients:  esm.SourceClients{SQS: esmtest.NewSQS()}, Store: store, Checkpoints: shard.NewMemoryStore(),
	})
	require.NoError(t, err, "one unreadable item does not stop the registry")
	_, err = reg.Get("good")
	require.NoError(t, err)
	require.ErrorContains(t, reg.StoreHealth().LastError, "mapping garbled")
}
