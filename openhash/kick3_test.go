package openhash

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestHomeFrac checks the hot loops' placement (homeFrac, the slot word
// from the fraction's top bits, otherFrac) against perm, the permutation
// as the format document writes it, for every uid width and group counts
// from one to the format's limit.
func TestHomeFrac(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 3))
	for ub := uint(1); ub <= 64; ub++ {
		for _, ng := range []uint64{1, 2, 3, 7, 40, 1000, 1 << 20, 1<<32 - 1} {
			q := newQuot(ub, ng, 0, 0)
			if ub <= uint(q.s) {
				continue
			}
			for range 200 {
				uid, seed := rng.Uint64()&q.umask, rng.Uint64()
				g1, frac := bits.Mul64(q.perm(uid, seed)<<q.up, ng)
				tt := frac >> q.tsh
				hg, hf := q.homeFrac(uid, seed, ng)
				if hg != g1 || hf != frac {
					t.Fatalf("B=%d G=%d uid %d: homeFrac %d, %#x; want %d, %#x", ub, ng, uid, hg, hf, g1, frac)
				}
				if w := hf >> q.tsh >> 6 &^ 1; w != word(tt, 0) {
					t.Fatalf("B=%d G=%d uid %d: word from t>>6 %#x, want %#x", ub, ng, uid, w, word(tt, 0))
				}
				if g2 := otherFrac(g1, hf&q.fmask, ng); g2 != q.other(g1, tt, ng) || q.first(g2, tt, ng) != g1 {
					t.Fatalf("B=%d G=%d uid %d: otherFrac %d, other %d", ub, ng, uid, g2, q.other(g1, tt, ng))
				}
			}
		}
	}
}

// TestKick3 checks that the word-moving cuckoo walk writes the bytes the
// member-moving one does, for walks that succeed and walks that fail (and
// are undone), in sets with and without times.
func TestKick3(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 4))
	walks, failed := 0, 0
	// 60 trials make about 7,000 walks, a few hundred of them failing:
	// 300 made 36,000 and most of the package's time under -race on a
	// busy 2-core machine (268 s), with nothing more found.
	for trial := range 60 {
		n := 8 + rng.IntN(300)
		uids := make([]uint64, n)
		times := make([]uint32, n)
		for i := range uids {
			uids[i] = 1_000_000_000 + rng.Uint64N(9_000_000_000)
			times[i] = 1_600_000_000 + rng.Uint32N(100_000_000)
		}
		if trial%2 == 0 {
			times = nil
		}
		buf, err := Build(nil, uids, times, Options{Seed: rng.Uint64(), Version: 3, MaxUID: 1<<34 - 1})
		if err != nil {
			t.Fatal(err)
		}
		// Fill the set past its build load, so that inserts need walks
		// and some walks fail.
		for range 8 * 16 {
			s, err := Open(buf)
			if err != nil {
				t.Fatal(err)
			}
			uid, tm := rng.Uint64N(1<<34), uint32(1_600_000_000)
			if times != nil {
				tm += rng.Uint32N(100_000_000)
			}
			if r := s.insertFast(uid, tm, true); r != bothFull {
				if r == placed {
					s.setCount(s.Count() + 1)
				}
				continue
			}
			ref := bytes.Clone(buf)
			rs, err := Open(ref)
			if err != nil {
				t.Fatal(err)
			}
			ok3, ok := s.kick3(uid, tm), rs.kickMembers(uid, tm)
			if ok3 != ok || !bytes.Equal(buf, ref) {
				t.Fatalf("trial %d: insert %d: kick3 %v, kickMembers %v, bytes equal %v", trial, uid, ok3, ok, bytes.Equal(buf, ref))
			}
			walks++
			if ok {
				s.setCount(s.Count() + 1)
			} else {
				failed++
			}
			if err := Check(buf); err != nil {
				t.Fatalf("trial %d: after the walk: %v", trial, err)
			}
		}
	}
	if walks < 100 || failed == 0 {
		t.Fatalf("%d walks, %d failed: the test does not exercise kick3", walks, failed)
	}
	t.Logf("%d walks, %d failed and undone", walks, failed)
}

// TestBatchQByShift checks the batch probe against Contains for uid
// widths around the shifts batchQ has constant instantiations for
// (r = 15..17, B = 29..34) and beside them, members and non-members,
// with and without times, and uids wider than the set's B bits.
func TestBatchQByShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 5))
	for ub := uint(27); ub <= 37; ub++ {
		for _, withTimes := range []bool{false, true} {
			n := 50 + rng.IntN(500)
			uids := make([]uint64, n)
			var times []uint32
			for i := range uids {
				uids[i] = rng.Uint64N(1<<ub) | 1<<(ub-1)
				if withTimes {
					times = append(times, rng.Uint32())
				}
			}
			buf, err := Build(nil, uids, times, Options{Seed: rng.Uint64(), Version: 3})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(buf)
			if err != nil {
				t.Fatal(err)
			}
			if uint(s.q.ub) != ub {
				t.Fatalf("B = %d, want %d", s.q.ub, ub)
			}
			queries := append([]uint64(nil), uids...)
			for range n {
				queries = append(queries, rng.Uint64N(1<<ub), rng.Uint64(), uids[rng.IntN(n)]|1<<(ub+rng.UintN(64-ub)))
			}
			got := s.ContainsBatch(nil, queries)
			for j, u := range queries {
				if want := s.Contains(u); got[j] != want || j < n && !want {
					t.Fatalf("B=%d times %v: uid %d: batch %v, Contains %v (member: %v)", ub, withTimes, u, got[j], want, j < n)
				}
			}
		}
	}
}
