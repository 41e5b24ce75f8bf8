// Package dynamolease shares the shards of Kinesis and DynamoDB streams among
// several processes through a DynamoDB lease table: a [shard.LeaseStore] for
// replicas of one service (ECS tasks, Kubernetes pods) so that each shard is
// read by exactly one of them, with checkpoints that a process which lost a
// shard can never move.
//
//	ddb := dynamodb.NewFromConfig(cfg)
//	store, err := dynamolease.New(ddb, dynamolease.Options{Table: "orders-leases"})
//	m, err := esm.NewKinesisMapping(conf, kin, handler, esm.WithStore(store))
//
// One Store per process serves all its mappings. The default, a file store,
// remains the right choice for a single process.
//
// # Table
//
// The table (Options.Table, default "lambdaesm-leases") is created on first
// use if it is missing, with on-demand (PAY_PER_REQUEST) billing. Its key is:
//
//	mapping (S, hash)   the mapping's name: "<esm.WithName>|<event source ARN>"
//	id      (S, range)  "shard/<shardId>" for a lease, "worker/<owner>" for a heartbeat
//
// A lease item, one per (mapping, shard):
//
//	shardId                       S   the shard
//	leaseOwner                    S   the process holding the lease; absent when free
//	leaseCounter                  N   incremented at every change of owner (take,
//	                                  hand-over, release): the fencing token
//	leaseExpires                  N   unix ms; the lease holds at least until then
//	                                  (set when taken), and as long as its owner's
//	                                  heartbeat does
//	checkpoint                    S   last sequence number handled, SHARD_END, or a start
//	                                  marker "AT_TIMESTAMP:<RFC 3339 time, UTC, to the ns>"
//	checkpointOrder               S   the checkpoint in byte order ("<digits, 3 wide>:<number>",
//	                                  or SHARD_END), so a condition can refuse a move back;
//	                                  absent with a start marker
//	parentShardIds                SS  the shard's parent and adjacent parent
//	ownerSwitchesSinceCheckpoint  N   owner changes since the last checkpoint
//	handoffTo                     S   a process that asked for the lease
//
// A heartbeat item, one per live process and mapping:
//
//	workerId          S  the owner name
//	session           S  a random identity per Store: the newest process under the
//	                     name, which took the item over ([ErrOwnerInUse])
//	heartbeatExpires  N  unix ms: the last heartbeat plus the lease duration
//	heartbeats        N  heartbeats written
//
// # Leases, renewal and fencing
//
// Every write is conditional. The engine calls Leases every
// Settings.LeaseInterval (default 1s; esm.WithLeaseInterval sets it, and it
// should be at most a third of Options.LeaseDuration). Each call writes the
// heartbeat, reads the mapping's items with one consistent Query and writes
// only what changes. The heartbeat renews
// every lease of the process at once: a lease lapses when both its
// leaseExpires and its owner's heartbeat are past. Renewal therefore costs
// one write per process per round, not one per shard as in KCL, and the
// lease-table cost at steady state is the checkpoints plus
// 60s/LeaseInterval heartbeat writes (60 at the default interval) and as many
// Query reads per process and mapping per minute; a longer interval costs
// less and makes hand-offs slower.
//
// Save writes the checkpoint only under the condition leaseOwner = this
// process AND leaseCounter = the counter it wrote when it took the lease AND
// the new checkpoint is not behind the stored one. A process that lost the
// lease (it lapsed and another took it, or it was handed over) gets an error
// wrapping [shard.ErrLeaseLost] and the engine stops the shard at once. A
// process whose own heartbeat was not confirmed within the lease duration
// refuses to save even before another takes the lease. Saving an older
// checkpoint than the stored one is a no-op.
//
// A start marker (a shard.Checkpoint with only Start set) is what the engine
// saves before it first reads a shard at LATEST or AT_TIMESTAMP, so that a
// restart or another process resumes at that time rather than at a new
// LATEST. It is fenced like any checkpoint, and written only under the
// further condition that the item has no checkpoint at all: a marker never
// replaces a sequence number, SHARD_END or an earlier marker (saving one
// then is a no-op), even when writes race, and having no checkpointOrder
// it is replaced by the first sequence number or SHARD_END. Load returns
// the marker's time exactly, in UTC. A shard with a marker counts as
// started (its parents need no more reading) but not as finished: it is
// balanced and handed over like any unfinished shard. KCL, by contrast,
// keeps the sentinel LATEST or AT_TIMESTAMP as a new lease's checkpoint and
// resolves it whenever a worker starts the lease, LATEST to the newest
// record at that moment.
//
// Expiry compares timestamps written by one process with the clock of
// another, so the processes' clocks must agree to well within the lease
// duration (NTP, as on EC2, ECS and EKS). A process whose clock is off may
// take leases early; fencing still keeps every checkpoint right, but records
// may then be handled twice.
//
// # Restarts under the same owner name
//
// Options.Owner may be stable across restarts, such as a StatefulSet pod's
// name. The first lease round of a new Store writes the name's heartbeat
// item whatever it held: the newest process with a name wins. The same
// round takes back every lease whose leaseOwner is the name, bumping its
// leaseCounter, so the restarted process reads its shards again at once,
// from their checkpoints, instead of waiting LeaseDuration for them to
// lapse. Leases that another process asked for are handed to it instead.
//
// The bumped counters fence the earlier process, should it still run (a
// process that was thought dead, or a second process started under the
// name by mistake): its Save fails with [shard.ErrLeaseLost], so its
// engine stops each shard at its next checkpoint; records it handled after
// its last checkpoint are handled again by the new process, as after any
// lost lease. Its next heartbeat, conditional on its session, fails, and
// from then on every Leases call returns an error wrapping [ErrOwnerInUse]
// and [shard.ErrLeaseLost] without a call to the table. The engine logs
// that error at every round and keeps retrying; once Settings.LeaseTimeout
// passes without a successful round it stops whatever shard it still
// reads, and reads nothing more (Run does not return: shut the process
// down). Its Release and Retire change nothing in the table. A round that
// the earlier process began just before the takeover sees the new session
// in its Query and takes nothing back.
//
// ErrOwnerInUse therefore no longer refuses a new process while a
// heartbeat under its name is live (which made a restarted pod wait out
// the lease duration, or fail): it is kept for the one case it still
// describes, a process whose name a newer process took over. KCL treats
// its leases alike (a worker's lease renewer picks up, when it starts, the
// leases it finds under its worker ID, and renewing one bumps its
// leaseCounter), but has no heartbeat item, hence nothing like
// ErrOwnerInUse.
//
// # Balancing and hand-off
//
// Leases balances with [shard.PlanLeases]: each live process (known from the
// heartbeat items) aims at ceil(unfinished leases / live processes); free
// and lapsed leases are taken first, then leases are asked from processes
// above their share, several in one round when a process is far below. A
// lease is asked for by writing handoffTo; its owner drops the shard from
// the shards it reads, finishes the in-flight batch, writes the checkpoint
// and hands the lease straight to the asker, who reads it from its next
// round. On shutdown a process hands each of its unfinished leases to the
// least loaded live process and deletes its heartbeat (Retire), so its
// shards are read again within one round, not after expiry.
//
// # Resharding
//
// A child shard is not read by any process until every listed parent's
// checkpoint is SHARD_END (the engine checks through Load). A finished
// parent's item is kept until every child has a checkpoint, then deleted by
// the process holding a child; Load reports a shard whose item is gone as at
// its end when one of its children has a checkpoint, so a restart never reads
// it again. A shard with a child that has a checkpoint is finished even
// without its own SHARD_END (a closed shard skipped because the mapping
// started at LATEST after it closed), and is not balanced any more.
//
// # IAM
//
// The process's role needs these actions on the table
// (arn:aws:dynamodb:<region>:<account>:table/<Table>):
//
//	dynamodb:DescribeTable  on first use
//	dynamodb:CreateTable    only if the table does not exist yet
//	dynamodb:Query          every lease round
//	dynamodb:GetItem        to load a checkpoint when a shard starts
//	dynamodb:UpdateItem     heartbeats, taking, asking for and releasing leases, checkpoints
//	dynamodb:DeleteItem     retiring, and removing finished parents' leases
//
// An access-denied error names the refused action and the table, as in
// "access denied: dynamodb:UpdateItem on table … was refused".
//
// # Testing
//
// shard.LeaseTable is the same protocol in memory (fenced checkpoints, fair
// shares, hand-off), for tests of several replicas in one process with the
// esm/esmtest fakes. This package's own tests run against DynamoDB Local
// under `make test`.
package dynamolease
