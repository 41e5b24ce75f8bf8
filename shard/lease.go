package shard

import (
	"context"
)

// Info describes one shard of a stream as discovery lists it.
type Info struct {
	ID string
	// Parents are the shard's parent and, after a merge, adjacent parent.
	Parents []string
	// Closed tells that the shard has an ending sequence number.
	Closed bool
}

// LeaseStore is a [Store] shared by several processes reading one stream:
// each shard is read by the one process that holds its lease. The engine calls
// Leases every lease interval (esm.WithLeaseInterval) and reads exactly the shards returned;
// a shard it was reading that is no longer returned is stopped gracefully
// (the in-flight batch finishes, the checkpoint is written) and then
// released. Save must fail with an error wrapping [ErrLeaseLost] once the
// caller no longer holds the lease, so a process that lost a shard can never
// move its checkpoint.
//
// Every process calls Leases every LeaseInterval, so what a round costs when
// nothing changed is paid by the second, by every process: it should not
// grow with the number of shards. [LeaseTable] and shard/dynamolease write
// one heartbeat and read one item (a change counter) in such a round, and
// read the leases only after a change.
type LeaseStore interface {
	Store
	// Leases renews the leases this process holds, takes unowned and
	// expired ones and balances with the other processes, and returns the
	// IDs of the shards this process holds now. shards is every shard
	// listed for the stream. An error wrapping [ErrLeaseLost] tells that
	// this process can never hold a lease again (a newer process took its
	// owner name over): the engine stops every shard and Run returns it.
	Leases(ctx context.Context, mapping string, shards []Info) (held []string, err error)
	// Release gives up the lease of a shard this process stopped reading,
	// after its final checkpoint, so another process takes it at once.
	Release(ctx context.Context, mapping, shardID string) error
	// Retire tells that this process stops reading the mapping: it no
	// longer counts as alive when the others compute their fair share, so
	// they take its released leases at their next round.
	Retire(ctx context.Context, mapping string) error
}
