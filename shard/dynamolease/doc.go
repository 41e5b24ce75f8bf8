// Package dynamolease shares the shards of Kinesis and DynamoDB streams among
// several processes through a DynamoDB lease table: a [shard.LeaseStore] for
// replicas of one service (ECS tasks, Kubernetes pods) so that each shard is
// read by exactly one of them, with checkpoints that a process which lost a
// shard can never move.
//
//	ddb := dynamodb.NewFromConfig(cfg)
//	store, err := dynamolease.New(ddb, dynamolease.WithTable("orders-leases"))
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
//	id      (S, range)  "shard/<shardId>" for a lease, "worker/<owner>" for a heartbeat,
//	                    "changes" for the mapping's change counter
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
//	windowStart                   S   with a tumbling window open at the checkpoint: its start
//	                                  (RFC 3339, UTC, to the ns); absent otherwise
//	windowState                   S   that window's state, as JSON: written with the
//	                                  checkpoint, in the same conditional write, so a
//	                                  process that takes the shard over resumes the
//	                                  aggregate; at most 384 KB (MaxWindowState), so
//	                                  such a window ends early where Lambda allows 1 MB
//
// A heartbeat item, one per live process and mapping:
//
//	workerId          S  the owner name
//	session           S  a random identity per Store: the newest process under the
//	                     name, which took the item over ([ErrOwnerInUse])
//	heartbeatExpires  N  unix ms: the last heartbeat plus the lease duration
//	announcingUntil   N  heartbeatExpires again, written by processes that announce
//	                     their changes (below); absent or different in a heartbeat of
//	                     an earlier version, which does not
//	heartbeats        N  heartbeats written
//
// The change counter, one item per mapping:
//
//	changes  N  bumped (ADD 1) after every change to the mapping's lease items
//
// # Leases, renewal and fencing
//
// Every write to a lease is conditional. The engine calls Leases every
// lease interval (default 1s; esm.WithLeaseInterval sets it, and it
// should be at most a third of Options.LeaseDuration). Each call writes the
// heartbeat, reads what may have changed (see "Reading the table") and
// writes only what changes. The heartbeat renews every lease of the process
// at once: a lease lapses when both its leaseExpires and its owner's
// heartbeat are past. Renewal therefore costs one write per process per
// round, not one per shard as in KCL.
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
// # Reading the table
//
// A round does not read the mapping's items unless they changed. Each
// process keeps a copy of the lease items and heartbeats it last read, and
// every change to a lease item is announced: the process that made it
// bumps the mapping's change counter after the write (a take, an adopted
// or handed-over lease, a hand-off asked for, a release, a finished
// parent's item removed, a SHARD_END checkpoint, the first checkpoint of a
// shard that has parents), and so does a process that joins, comes back
// after its heartbeat lapsed, or retires. A round then:
//
//  1. writes the heartbeat (and, first, an announcement a failed one left
//     pending);
//  2. reads the change counter (GetItem, consistent);
//  3. if the counter moved since the copy was read, or this process changed
//     (or failed to change) an item since, Queries the whole mapping,
//     consistently, and keeps the counter value read in 2 with it;
//  4. else, if the earliest heartbeat expiry in the copy has passed,
//     Queries the heartbeats alone; if a process appeared, disappeared,
//     lapsed or changed session since, it Queries the whole mapping too;
//  5. decides on the copy as it did on a fresh read (balancing, takes,
//     hand-offs, adoption, clean-up), at the time of step 2, and writes
//     what changes, then announces it.
//
// The copy is never older than the table in anything a round decides on:
// an announced write happened before its announcement, which happened
// before the counter read of step 2, which happened before the Query of
// step 3. Checkpoints other than SHARD_END and a child's first are not
// announced: rounds do not decide on sequence numbers. Heartbeats renew
// without announcement, but a heartbeat can only lapse at its expiry, and
// step 4 reads them again at the first round at or after the earliest
// expiry the process knows of: a process that dies has its leases taken
// within LeaseDuration plus one round of its last heartbeat, as when every
// round read every item. A copy that is wrong after all (a change whose
// announcement was lost with its process) is repaired by the conditions:
// a write that fails one makes the next round read everything, and the
// lost process's lapse is a change of members (step 4). While a live
// process does not announce its changes (an earlier version of this
// package, during a rolling upgrade), every round reads the whole mapping,
// from the round that first reads its heartbeat (within a lease duration of
// its start); until then, its changes are seen at the next announced one,
// or when a write's condition fails on them.
// A lease item edited by hand is seen at the next announced change; bump
// the counter to have it seen at once.
//
// Cost per process and mapping, with N lease items, W heartbeat items,
// round interval I (LeaseInterval, default 1s) and lease duration D
// (default 10s); a lease or heartbeat item is about 0.2 KB, and a
// consistent read costs one read unit per 4 KB of a request's items:
//
//	steady state, per second     1/I writes (the heartbeat)
//	                             1/I items read (the counter: one read unit each)
//	                             + W items about every D (one Query: W×0.2 KB/4 KB units)
//	per change                   the change's writes + 1 announcement write, then
//	                             N+W+1 items read by every process at its next round
//	                             (one Query: about N/20 read units)
//	per shard started            1 GetItem (its checkpoint), as before
//	checkpoints                  1 write per busy shard per CheckpointInterval, as before
//
// So at steady state the reads do not grow with the shards, only with
// changes (and, every lease duration, with the processes): at 1,000 shards
// and 50 processes, 6 items (1.2 read units) per process per second on
// DynamoDB Local, against 1,050 items (46 read units) when every round read
// every item; a change costs each process one read of the mapping, so the
// cost of a death or of joins is the changes they make, not the table's size
// times the rounds. The measured grid, before and after, is in
// TestIntegrationLeaseCostAtScale (leasecost_test.go) and, for the
// in-memory model, shard's TestLeaseTableCostAtScale. The one item every
// process reads at every round is the counter: W/I reads per second of one
// item, far below a partition's limit.
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
// and [shard.ErrLeaseLost] without a call to the table. At that error the
// engine stops every shard it still reads and its Run returns the error
// (see shard.LeaseStore). Its Release and Retire change nothing in the
// table. A round that the earlier process began just before the takeover
// takes nothing back: if it reads the change counter after the new process
// announced its first heartbeat, it Queries the mapping and sees the new
// session; if before, it decides on its copy, in which the leases are its
// own already, and the counters the new process bumps fence its writes.
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
// Leases balances as shard.LeaseTable does: each live process (known from the
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
//	dynamodb:Query          after a change, and the heartbeats about every lease duration
//	dynamodb:GetItem        every lease round (the change counter), and to load a
//	                        checkpoint when a shard starts
//	dynamodb:UpdateItem     heartbeats, taking, asking for and releasing leases,
//	                        checkpoints, announcing changes
//	dynamodb:DeleteItem     retiring, and removing finished parents' leases
//
// An access-denied error names the refused action and the table, as in
// "access denied: dynamodb:UpdateItem on table … was refused".
//
// # Testing
//
// shard.LeaseTable is the same protocol in memory (fenced checkpoints, fair
// shares, hand-off, heartbeats, announced changes), for tests of several
// replicas in one process with the esm/esmtest fakes; its Reads and Writes
// count what this package would read and write. This package's own tests run against DynamoDB Local
// under `make test`.
package dynamolease
