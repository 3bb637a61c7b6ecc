package openhash

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAppendNewest compares pages with the whole listing filtered and cut,
// on sets with many equal times, for page sizes around the set's size.
func TestAppendNewest(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 5))
	for i := range 300 {
		n := rng.IntN(300)
		uids := make([]uint64, n)
		times := make([]uint32, n)
		for i := range uids {
			uids[i], times[i] = rng.Uint64N(1<<40), uint32(rng.IntN(20))
		}
		buf, err := Build(nil, uids, times, Options{Seed: rng.Uint64(), Version: []int{1, VersionSmallest}[i%2]})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := Open(buf)
		cut := Member{UID: rng.Uint64N(1 << 40), Time: uint32(rng.IntN(20))}
		keep := func(m Member) bool { return NewestFirst(cut, m) < 0 }
		if rng.IntN(3) == 0 {
			keep = nil
		}
		var want []Member
		for _, m := range s.AppendByTime(nil) {
			if keep == nil || keep(m) {
				want = append(want, m)
			}
		}
		limit := []int{-1, 0, 1, 2, 7, 100, n, n + 1}[rng.IntN(8)]
		if limit >= 0 && limit < len(want) {
			want = want[:limit]
		}
		prefix := []Member{{1, 2}}
		got := s.AppendNewest(slices.Clone(prefix), limit, keep)
		if !slices.Equal(got[:1], prefix) || !slices.Equal(got[1:], want) {
			t.Fatalf("%d members, limit %d: got %v, want %v", n, limit, got[1:], want)
		}
	}
}
