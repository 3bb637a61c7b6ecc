package openhash

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBytesPerMember reports the bytes per member of versions 1 and 3 for
// lists of 10 to 3000 members, on the capacity graph's narrow uids (10^9 +
// a user index below 10^6: 30 bits), on ten-digit uids (34 bits), without
// times and with times spread over 100M seconds (3.2 years, as
// internal/graphgen draws them) or over 30 days. Run with -v for the
// table docs/capacity.md quotes; it fails only if version 3 is ever the
// larger where Build chose it.
func TestBytesPerMember(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| uids | times | members | v1 B/member | v3 B/member | v3 slot bytes |\n|---|---|---|---|---|---|\n")
	for _, uc := range []struct {
		name     string
		lo, span uint64
	}{
		{"capacity graph (10^9 + i, i < 10^6)", 1_000_000_000, 1_000_000},
		{"ten-digit", 1_000_000_000, 9_000_000_000},
	} {
		for _, tc := range []struct {
			name string
			span uint32 // 0: no times
		}{{"none", 0}, {"over 3.2 years", 100_000_000}, {"over 30 days", 30 * 86400}} {
			for _, n := range []int{10, 100, 300, 1000, 3000} {
				rng := rand.New(rand.NewPCG(uint64(n), uc.span))
				seen := map[uint64]bool{}
				var uids []uint64
				var times []uint32
				for len(uids) < n {
					u := uc.lo + rng.Uint64N(uc.span)
					if seen[u] {
						continue
					}
					seen[u] = true
					uids = append(uids, u)
					if tc.span != 0 {
						times = append(times, 1_600_000_000+rng.Uint32N(tc.span))
					}
				}
				v1, err := Build(nil, uids, times, Options{Seed: 1, Version: 1})
				if err != nil {
					t.Fatal(err)
				}
				v3, err := Build(nil, uids, times, Options{Seed: 1, Version: VersionSmallest})
				if err != nil {
					t.Fatal(err)
				}
				if len(v3) > len(v1) {
					t.Errorf("%s, times %s, %d members: Build wrote %d bytes, version 1 takes %d", uc.name, tc.name, n, len(v3), len(v1))
				}
				s, _ := Open(v3)
				fmt.Fprintf(&b, "| %s | %s | %d | %.2f | %.2f | %d |\n", uc.name, tc.name, n,
					float64(len(v1))/float64(n), float64(len(v3))/float64(n), s.width)
			}
		}
	}
	t.Log(b.String())
}
