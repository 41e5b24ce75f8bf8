// Package leaseplan decides which shard leases a process takes: the fair-share
// balancing shared by the in-memory lease table and shard/dynamolease.
package leaseplan

import (
	"slices"
	"time"
)

// Lease is one shard's lease as a a lease store sees it, for [Plan].
type Lease struct {
	ShardID string
	// Owner is the process holding the lease; empty when nobody does.
	Owner string
	// Expires is when the lease lapses unless renewed.
	Expires time.Time
}

// Plan decides, as a pure function, which leases process me should
// take now. leases are the leases of the shards that may be read (not the
// finished ones); live are the other processes known to be alive (from a
// heartbeat), which may be nil to count the owners of unexpired leases.
//
// Each process's fair share is ceil(leases / live processes). Unowned and
// expired leases are taken first; then, if me is still below its share,
// leases are stolen from the processes above their share, most-loaded first,
// several in one round when me is far below. me never goes above its share,
// so processes do not flap.
func Plan(leases []Lease, me string, now time.Time, live []string) (take, steal []string) {
	owners := map[string]int{me: 0}
	for _, w := range live {
		owners[w] += 0
	}
	var free []string
	for _, l := range leases {
		if l.Owner == "" || !now.Before(l.Expires) {
			free = append(free, l.ShardID)
			continue
		}
		owners[l.Owner]++
	}
	if len(leases) == 0 {
		return nil, nil
	}
	share := (len(leases) + len(owners) - 1) / len(owners)
	need := share - owners[me]
	if need <= 0 {
		return nil, nil
	}
	slices.Sort(free)
	n := min(need, len(free))
	take = free[:n]
	need -= n
	if need == 0 {
		return take, nil
	}
	// Steal from those above their share, the most loaded first.
	byOwner := map[string][]string{}
	for _, l := range leases {
		if l.Owner != "" && l.Owner != me && now.Before(l.Expires) {
			byOwner[l.Owner] = append(byOwner[l.Owner], l.ShardID)
		}
	}
	victims := make([]string, 0, len(byOwner))
	for w := range byOwner {
		victims = append(victims, w)
	}
	slices.SortFunc(victims, func(a, b string) int {
		if d := len(byOwner[b]) - len(byOwner[a]); d != 0 {
			return d
		}
		return compareStrings(a, b)
	})
	for need > 0 {
		stole := false
		for _, w := range victims {
			if need == 0 {
				break
			}
			if owners[w] > share || (owners[w] == share && owners[me]+len(take)+len(steal) < share-1) {
				ids := byOwner[w]
				slices.Sort(ids)
				id := ids[len(ids)-1]
				byOwner[w] = ids[:len(ids)-1]
				owners[w]--
				steal = append(steal, id)
				need--
				stole = true
			}
		}
		if !stole {
			break
		}
	}
	return take, steal
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
