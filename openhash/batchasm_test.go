package openhash

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// batchBoth runs ContainsBatch with the assembly kernel (where this build
// has one) and with Go's, and fails on the first uid they disagree on, or
// where either disagrees with Contains.
func batchBoth(t *testing.T, s *Set, uids []uint64, what string) {
	t.Helper()
	defer func(v bool) { useBatchAsm = v }(useBatchAsm)
	asm := s.ContainsBatch(nil, uids)
	useBatchAsm = false
	gok := s.ContainsBatch(nil, uids)
	if len(asm) != len(uids) || len(gok) != len(uids) {
		t.Fatalf("%s: %d and %d results for %d uids", what, len(asm), len(gok), len(uids))
	}
	for i, u := range uids {
		if c := s.Contains(u); asm[i] != gok[i] || asm[i] != c {
			t.Fatalf("%s: uid %#x (index %d of %d): kernel %v, Go %v, Contains %v", what, u, i, len(uids), asm[i], gok[i], c)
		}
	}
}

// TestBatchAsmAgrees compares the assembly batch kernel with Go's: every
// slot width, sizes from empty to 100k members, versions 1 and 3 (3 has no
// kernel: the test then shows the dispatch leaves it to Go), queries of
// hits, misses, uids wider than the slots, uids equal to a member in their
// low bytes, and uids whose tag matches a member's in the same group (the
// candidates the kernel must tell apart), at batch lengths 0 to 1000.
func TestBatchAsmAgrees(t *testing.T) {
	if !useBatchAsm {
		t.Log("no assembly kernel on this machine or build: Go against Go")
	}
	sizes := []int{0, 1, 2, 7, 8, 9, 100, 255, 3000, 100_000}
	if testing.Short() {
		sizes = []int{0, 1, 9, 100, 3000}
	}
	for w := 1; w <= 8; w++ {
		mask := ^uint64(0) >> (64 - 8*w)
		for _, n := range sizes {
			if n > 0 && uint64(n-1) > mask/2 {
				continue
			}
			for _, v := range []int{1, 3} {
				t.Run(fmt.Sprintf("w=%d/n=%d/v=%d", w, n, v), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(w), uint64(n*4+v)))
					uids := distinctUIDs(rng, n, mask)
					buf, err := Build(nil, uids, nil, Options{Seed: rng.Uint64(), MaxUID: mask, Version: v})
					if err != nil {
						t.Skip(err) // version 3 without room for the uids' bits
					}
					s, err := Open(buf)
					if err != nil {
						t.Fatal(err)
					}
					q := batchQueries(rng, &s, uids, mask, 1000)
					for l := 0; l <= len(q); l += 1 + rng.IntN(37) {
						batchBoth(t, &s, q[:l], fmt.Sprintf("length %d", l))
					}
					batchBoth(t, &s, q, "whole")
				})
			}
		}
	}
}

// TestBatchAsmLong is a batch longer than two kernel calls (kernelMax,
// 4096 on amd64), in both versions, so that the calls' boundaries fall
// anywhere, also next to a uid left to Go.
func TestBatchAsmLong(t *testing.T) {
	const mask = 1<<40 - 1
	for _, v := range []int{1, 3} {
		rng := rand.New(rand.NewPCG(uint64(v), 40))
		uids := distinctUIDs(rng, 3000, mask)
		buf, err := Build(nil, uids, nil, Options{Seed: rng.Uint64(), MaxUID: mask, Version: v})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(buf)
		if err != nil {
			t.Fatal(err)
		}
		q := batchQueries(rng, &s, uids, mask, 10_000)
		for _, l := range []int{4095, 4096, 4097, 8192, 8193, 10_000} {
			batchBoth(t, &s, q[:l], fmt.Sprintf("version %d, length %d", v, l))
		}
	}
}

// TestBatchAsmCorrupt runs both kernels on tables with wrong bytes, where
// only agreeing with Contains is promised: a member moved to the slot above
// its own and marked tag^1 there (matchTag flags such a byte through a
// borrow; the lookup counts exact tags only, so the member is gone for
// all three); a control word equal to a uid; random control bytes and
// slots, in versions 1 and 3.
func TestBatchAsmCorrupt(t *testing.T) {
	for w := 1; w <= 8; w++ {
		t.Run(fmt.Sprintf("w=%d", w), func(t *testing.T) {
			mask := ^uint64(0) >> (64 - 8*w)
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			uids := distinctUIDs(rng, min(300, int(mask/2)), mask)
			buf, err := Build(nil, uids, nil, Options{Seed: rng.Uint64(), MaxUID: mask})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(buf)
			if err != nil {
				t.Fatal(err)
			}
			// Borrows: for members in slots 0-6 whose next slot is
			// full, move the uid up one slot and mark that slot tag^1
			// (Contains found them there before findW compared exact
			// tags).
			borrowed := 0
			for _, u := range uids {
				g, i, ok := s.find(u)
				if !ok || i == groupSlots-1 || borrowed > 20 {
					continue
				}
				grp := s.group(g)
				ctl := grp[groupSlots*s.width:]
				if ctl[i+1] == ctrlEmpty {
					continue
				}
				putSlot(&s, grp, i+1, u)
				putSlot(&s, grp, i, u^1)
				ctl[i+1] = ctl[i] ^ 1
				if s.Contains(u) {
					t.Fatalf("uid %#x: Contains finds it through matchTag's borrow", u)
				}
				borrowed++
			}
			if borrowed == 0 {
				t.Fatal("no borrow built")
			}
			batchBoth(t, &s, batchQueries(rng, &s, uids, mask, 1000), "borrows")
			// A lone candidate whose slot no longer holds the uid, and
			// whose second group's control word, read as a slot, does:
			// the kernel reads there for "no second candidate" and must
			// not count it.
			planted := planCtrlAsUID(&s, uids)
			if planted == 0 {
				t.Fatal("no control word planted")
			}
			batchBoth(t, &s, batchQueries(rng, &s, uids, mask, 1000), "control word equal to a uid")
			// Random damage: control bytes and slot bytes.
			for range 200 {
				grp := s.group(rng.Uint64N(s.ng))
				grp[rng.IntN(len(grp))] = byte(rng.Uint32())
			}
			batchBoth(t, &s, batchQueries(rng, &s, uids, mask, 1000), "random damage")

			// The same damage to a version-3 set.
			buf, err = Build(nil, uids, nil, Options{Seed: rng.Uint64(), MaxUID: mask, Version: 3})
			if err != nil {
				t.Skip(err) // no room for the uids' bits in 64-bit slot words
			}
			if s, err = Open(buf); err != nil {
				t.Fatal(err)
			}
			batchBoth(t, &s, batchQueries(rng, &s, uids, mask, 1000), "version 3")
			for range 200 {
				grp := s.group(rng.Uint64N(s.ng))
				grp[rng.IntN(len(grp))] = byte(rng.Uint32())
			}
			batchBoth(t, &s, batchQueries(rng, &s, uids, mask, 1000), "version 3, random damage")
		})
	}
}

// planCtrlAsUID finds members u alone in their first group (g1 != g2),
// the only tag candidate of both groups, and writes u's low bytes over the
// second group's control word (where none of them equals u's tag or tag^1)
// and u^1 over u's slot, so that u is no longer a member; it returns how
// many it changed.
func planCtrlAsUID(s *Set, uids []uint64) int {
	planted := 0
	for _, u := range uids {
		h := hash(u, s.seed)
		g1, g2 := groupsOf(h, s.ng)
		g, i, ok := s.find(u)
		if !ok || g != g1 || g1 == g2 || planted > 20 {
			continue
		}
		tag := tagOf(h)
		var clash bool
		for b := range s.width {
			c := byte(u >> (8 * b))
			clash = clash || c == tag || c == tag^1
		}
		if clash {
			continue
		}
		grp1, grp2 := s.group(g1), s.group(g2)
		ctl2 := grp2[groupSlots*s.width:]
		old := append([]byte(nil), ctl2...)
		for b := range s.width {
			ctl2[b] = byte(u >> (8 * b))
		}
		tags := uint64(tag) * lsb
		if m1, m2 := matchTag(s.ctrlOf(grp1), tags), matchTag(s.ctrlOf(grp2), tags); m1&(m1-1) != 0 || m2 != 0 {
			copy(ctl2, old)
			continue
		}
		putSlot(s, grp1, i, u^1)
		planted++
	}
	return planted
}

// putSlot writes uid into slot i of grp, keeping the bytes above the slot.
func putSlot(s *Set, grp []byte, i int, uid uint64) {
	for b := range s.width {
		grp[i*s.width+b] = byte(uid >> (8 * b))
	}
}

// distinctUIDs draws n distinct uids <= mask: small, near the top and
// anywhere between.
func distinctUIDs(rng *rand.Rand, n int, mask uint64) []uint64 {
	seen := make(map[uint64]bool, n)
	uids := make([]uint64, 0, n)
	for len(uids) < n {
		var u uint64
		switch rng.IntN(4) {
		case 0:
			u = rng.Uint64N(min(mask, 1<<12) + 1)
		case 1:
			u = mask - rng.Uint64N(min(mask, 1<<12)+1)
		default:
			u = rng.Uint64() & mask
		}
		if !seen[u] {
			seen[u] = true
			uids = append(uids, u)
		}
	}
	return uids
}

// batchQueries returns n uids in random order: members, random uids, uids
// too wide for the slots, uids equal to a member in their low w bytes, and
// non-members that share a member's tag and first group (found by
// drawing), which give groups with several candidates.
func batchQueries(rng *rand.Rand, s *Set, members []uint64, mask uint64, n int) []uint64 {
	type key struct {
		g   uint64
		tag uint8
	}
	near := map[key]bool{}
	for _, u := range members {
		h := hash(u, s.seed)
		g, _ := groupsOf(h, s.ng)
		near[key{g, tagOf(h)}] = true
	}
	q := make([]uint64, 0, n)
	for tries := 0; len(q) < n; tries++ {
		switch k := rng.IntN(6); {
		case k <= 1 && len(members) > 0:
			q = append(q, members[rng.IntN(len(members))])
		case k == 2:
			q = append(q, rng.Uint64()&mask)
		case k == 3:
			if len(members) > 0 && mask != ^uint64(0) {
				q = append(q, members[rng.IntN(len(members))]+(rng.Uint64N(255)+1)<<(bitsOf(mask)))
			} else {
				q = append(q, rng.Uint64())
			}
		default:
			// Up to 64 draws for a non-member colliding with a member.
			u := rng.Uint64() & mask
			for range 64 {
				h := hash(u, s.seed)
				g, _ := groupsOf(h, s.ng)
				if near[key{g, tagOf(h)}] {
					break
				}
				u = rng.Uint64() & mask
			}
			q = append(q, u)
		}
	}
	return q
}

func bitsOf(mask uint64) int {
	n := 0
	for ; mask != 0; mask >>= 1 {
		n++
	}
	return n
}

// FuzzBatchAsm compares the two batch kernels on any buffer Open accepts,
// consistent or not, with queries from the fuzzer's bytes and the set's
// own members.
func FuzzBatchAsm(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	}
	f.Fuzz(func(t *testing.T, data, query []byte) {
		s, err := Open(data)
		if err != nil {
			return
		}
		var uids []uint64
		for i := 0; i+8 <= len(query); i += 8 {
			var u uint64
			for b := range 8 {
				u |= uint64(query[i+b]) << (8 * b)
			}
			uids = append(uids, u, u&s.mask)
		}
		s.Range(func(uid uint64, _ uint32) bool {
			uids = append(uids, uid, uid^1, uid+1)
			return len(uids) < 3000
		})
		batchBoth(t, &s, uids, "fuzz")
	})
}
