package openhash

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestContainsBatchAgrees checks ContainsBatch against Contains and against
// a map, for every slot width and sizes from empty to 100k members, on
// hits, misses, uids too wide for the slots and uids that equal a member in
// their low w bytes. The batch kernel probes differently from the single
// lookup (no width check, no early exit, only the lowest tag candidate of
// a group unless it has several, in blocks hashed before they are
// probed), so the two must be shown to agree everywhere.
func TestContainsBatchAgrees(t *testing.T) {
	const sparseBytes = 128 << 10
	sizes := []int{0, 1, 2, 7, 8, 9, 100, 255, 256, 3000, 65536, 100_000}
	if testing.Short() {
		sizes = []int{0, 1, 9, 256, 3000}
	}
	for w := 1; w <= 8; w++ {
		mask := ^uint64(0) >> (64 - 8*w)
		for _, n := range sizes {
			if n > 0 && uint64(n-1) > mask {
				continue // not that many distinct w-byte uids
			}
			t.Run(fmt.Sprintf("w=%d/n=%d", w, n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(w), uint64(n)))
				draw := func() uint64 {
					// Small uids, the top of the range and anything in
					// between, so every byte of a slot is exercised.
					switch rng.IntN(4) {
					case 0:
						return rng.Uint64N(min(mask, 1<<12) + 1)
					case 1:
						return mask - rng.Uint64N(min(mask, 1<<12)+1)
					default:
						return rng.Uint64() & mask
					}
				}
				member := make(map[uint64]bool, n)
				uids := make([]uint64, 0, n)
				if uint64(n) > mask/2 {
					// Dense: take a random subset of the whole range.
					for _, u := range rng.Perm(int(mask) + 1)[:n] {
						uids = append(uids, uint64(u))
					}
					for _, u := range uids {
						member[u] = true
					}
				}
				for len(uids) < n {
					if u := draw(); !member[u] {
						member[u] = true
						uids = append(uids, u)
					}
				}
				var times []uint32
				if n%2 == 1 {
					times = make([]uint32, n)
					for i := range times {
						times[i] = rng.Uint32()
					}
				}
				// A second, sparse table of the same members, 128 KiB or
				// more, so that every width is also tested on nearly empty
				// groups and a table larger than L1.
				opts := Options{Seed: rng.Uint64(), MaxUID: mask}
				sparse := opts
				sparse.Extra = sparseBytes / groupBytes(w) * groupSlots
				var sets []Set
				// Versions 1 and 3 (where the uids and times fit 3's
				// 64-bit slot words), each dense and sparse.
				for _, v := range []int{1, 3} {
					for _, o := range []Options{opts, sparse} {
						o.Version = v
						buf, err := Build(nil, uids, times, o)
						if v == 3 && err != nil && strings.Contains(err.Error(), "64-bit slots") {
							continue
						}
						if err != nil {
							t.Fatal(err)
						}
						s, err := Open(buf)
						if err != nil {
							t.Fatal(err)
						}
						if v == 1 && s.width != w {
							t.Fatalf("width %d, want %d", s.width, w)
						}
						sets = append(sets, s)
					}
				}
				if len(sets[1].groups) < sparseBytes {
					t.Fatalf("sparse table of %d bytes, want %d or more", len(sets[1].groups), sparseBytes)
				}
				var query []uint64
				for i := range min(n, 20_000) {
					query = append(query, uids[rng.IntN(n)])
					if i%3 == 0 && w < 8 {
						// Equal to a member in the low w bytes.
						query = append(query, uids[rng.IntN(n)]+(rng.Uint64N(255)+1)<<(8*w))
					}
				}
				for range max(100, min(n, 20_000)) {
					query = append(query, draw(), rng.Uint64())
				}
				rng.Shuffle(len(query), func(i, j int) { query[i], query[j] = query[j], query[i] })
				// Every length from 0 up, so that any blocking of the batch
				// sees partial blocks.
				for k, s := range sets {
					for _, l := range []int{0, 1, 2, 63, 64, 65, 129, len(query)} {
						q := query[:min(l, len(query))]
						got := s.ContainsBatch(nil, q)
						if len(got) != len(q) {
							t.Fatalf("%d results for %d uids", len(got), len(q))
						}
						for i, u := range q {
							if got[i] != member[u] || s.Contains(u) != member[u] {
								t.Fatalf("table %d, uid %#x: ContainsBatch %v, Contains %v, member %v", k, u, got[i], s.Contains(u), member[u])
							}
						}
					}
				}
			})
		}
	}
}
