package openhash

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestScoreOrder checks AppendScoreOrder against the order Redis gives a
// sorted set: by score, then by the member's bytes (so 10000000000 < 42 <
// 9 at one score).
func TestScoreOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	for i, n := range []int{0, 1, 3, 100, 5000, 0, 1, 3, 100, 5000} {
		uids := make([]uint64, 0, n)
		times := make([]uint32, 0, n)
		seen := map[uint64]bool{}
		for len(uids) < n {
			u := r.Uint64N(1 << uint(1+r.IntN(40)))
			if seen[u] {
				continue
			}
			seen[u] = true
			uids = append(uids, u)
			times = append(times, uint32(r.IntN(20))) // many ties
		}
		buf, err := Build(nil, uids, times, Options{Seed: r.Uint64(), Version: []int{1, VersionSmallest}[i/5]}) // each size in both formats
		if err != nil {
			t.Fatal(err)
		}
		set, _ := Open(buf)
		type zm struct {
			member string
			score  uint32
		}
		var want, got []zm
		for i, u := range uids {
			want = append(want, zm{strconv.FormatUint(u, 10), times[i]})
		}
		slices.SortFunc(want, func(a, b zm) int {
			if a.score != b.score {
				return int(a.score) - int(b.score)
			}
			return strings.Compare(a.member, b.member)
		})
		for _, slot := range first(set.AppendScoreOrder(nil, nil)) {
			u, tm := set.At(slot)
			got = append(got, zm{strconv.FormatUint(u, 10), tm})
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: order differs from Redis's", n)
		}
	}
}

func TestCompareDecimal(t *testing.T) {
	for _, c := range []struct {
		a, b uint64
		want int
	}{{9, 42, 1}, {42, 10000000000, 1}, {10000000000, 9, -1}, {7, 7, 0}, {1, 10, -1}, {18446744073709551615, 2, -1}} {
		if got := CompareDecimal(c.a, c.b); got != c.want {
			t.Errorf("CompareDecimal(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func first[A, B any](a A, _ B) A { return a }
