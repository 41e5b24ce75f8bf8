package leaseplan

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func leases(now time.Time, owners ...string) []Lease {
	out := make([]Lease, len(owners))
	for i, o := range owners {
		out[i] = Lease{ShardID: fmt.Sprintf("s%02d", i), Owner: o, Expires: now.Add(time.Second)}
	}
	return out
}

func TestPlanLeases(t *testing.T) {
	now := time.Unix(1000, 0)
	rep := func(o string, n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = o
		}
		return s
	}
	tests := []struct {
		name        string
		owners      []string
		me          string
		live        []string
		take, steal int
	}{
		{"alone takes all", rep("", 4), "a", nil, 4, 0},
		{"second replica steals half at once", rep("a", 12), "b", nil, 0, 6},
		{"third replica takes from both", append(rep("a", 6), rep("b", 6)...), "c", nil, 0, 4},
		{"balanced does nothing", append(rep("a", 6), rep("b", 6)...), "a", nil, 0, 0},
		{"never above the share", append(rep("", 6), rep("b", 6)...), "a", nil, 6, 0},
		{"free first, then steal", append(rep("", 2), rep("b", 10)...), "a", nil, 2, 4},
		{"live peer without leases lowers the share", rep("", 6), "a", []string{"b", "c"}, 2, 0},
		{"one short of an at-share peer: no flapping", []string{"a", "a", "a", "b", "b", "b", "b", "c", "c", "c"}, "a", nil, 0, 0},
		{"two short steals one from an at-share peer", []string{"a", "a", "b", "b", "b", "b", "c", "c", "c", "c"}, "a", nil, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			take, steal := Plan(leases(now, tc.owners...), tc.me, now, tc.live)
			require.Len(t, take, tc.take, "take %v", take)
			require.Len(t, steal, tc.steal, "steal %v", steal)
		})
	}
	// Expired leases count as free.
	ls := leases(now, "a", "a")
	ls[0].Expires = now
	take, _ := Plan(ls, "b", now, nil)
	require.Equal(t, []string{"s00"}, take)
}
