package openhash

import (
	"math/bits"
	"unsafe"
)

// matchTagExact is matchTag without the borrow: only bytes equal to the
// tag are flagged. Version 3 needs it because its slots do not repeat the
// tag's bits, so a false candidate could carry the right slot word; the
// high bit of each byte of (v&0x7f..) + 0x7f.. | v is set exactly when the
// byte is not zero.
func matchTagExact(ctrl, tags uint64) uint64 {
	const low7 = ^uint64(msb)
	v := ctrl ^ tags
	return ^((v&low7 + low7) | v) & msb
}

// The version-3 hot loops: kernel.go's, with the uid compare made on the
// slot word's low rb bits against the word the uid's quotient gives, and
// the word differing between the first group (alt bit 0) and the second
// (1). The bounds reasoning of kernel.go holds unchanged: the groups have
// the same layout, group indexes come from multiply-shift (g1) or are
// reduced below ng (g2, in quot.other), and slot offsets from set bits of a
// control word's mask.

func findQ[S slot](s *Set, uid uint64) (g uint64, i int, ok bool) {
	w, _, _ := shape[S]()
	q := &s.q
	if uid&^q.umask != 0 || len(s.groups) == 0 {
		return 0, 0, false
	}
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	g1, t := q.home(uid, s.seed, s.ng)
	g2 := q.other(g1, t, s.ng)
	tags := uint64(ctrlFull|uint8(t&0x7f)) * lsb
	want, rm := word(t, 0), q.remMask
	p := groupPtr[S](base, g1)
	for m := matchTagExact(le64(unsafe.Add(p, 8*w)), tags); m != 0; m &= m - 1 {
		i := uintptr(bits.TrailingZeros64(m) >> 3)
		if le64(unsafe.Add(p, i*w))&rm == want {
			return g1, int(i), true
		}
	}
	// With one group g2 is g1, and the probe below looks for the alt bit
	// there, which a consistent set never has (G = 1 has no second
	// group): a corrupt one answers as batchQ does.
	p = groupPtr[S](base, g2)
	want |= 1
	for m := matchTagExact(le64(unsafe.Add(p, 8*w)), tags); m != 0; m &= m - 1 {
		i := uintptr(bits.TrailingZeros64(m) >> 3)
		if le64(unsafe.Add(p, i*w))&rm == want {
			return g2, int(i), true
		}
	}
	return 0, 0, false
}

// batchQ is batchW for version 3. A uid wider than B bits is answered
// false: its quotient would alias a narrower uid's.
func batchQ[S slot](s *Set, out []bool, uids []uint64) {
	w, gb, _ := shape[S]()
	out = out[:len(uids)]
	if len(s.groups) == 0 {
		clear(out)
		return
	}
	q := &s.q
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	seed, ng, rm, umask := s.seed, s.ng, q.remMask, q.umask
	var off1, off2 [batchBlock]uintptr
	var match1, match2, want, tagw [batchBlock]uint64
	for len(uids) > 0 {
		n := min(len(uids), batchBlock)
		blk, res := uids[:n], out[:n]
		for k, uid := range blk {
			g1, t := q.home(uid, seed, ng)
			g2 := q.other(g1, t, ng)
			tags := uint64(ctrlFull|uint8(t&0x7f)) * lsb
			o1, o2 := uintptr(g1)*gb, uintptr(g2)*gb
			k &= batchBlock - 1
			off1[k], off2[k] = o1, o2
			// A uid wider than B bits would alias the narrower uid the
			// permutation sees (it masks), so its candidates are dropped.
			fits := b2u(uid&^umask == 0) * ^uint64(0)
			want[k], tagw[k] = word(t, 0), tags
			// matchTag may flag the byte above a true match (a borrow),
			// but its lowest flag is always true, so the single-candidate
			// path below is exact and probeAllQ checks the byte.
			match1[k] = matchTag(le64(unsafe.Add(base, o1+8*w)), tags) & fits
			// With one group (g1 == g2) the second probe looks for the
			// alt bit in the same group, which no member there has.
			match2[k] = matchTag(le64(unsafe.Add(base, o2+8*w)), tags) & fits
		}
		for k := range blk {
			k &= batchBlock - 1
			p1, p2 := unsafe.Add(base, off1[k]), unsafe.Add(base, off2[k])
			m1, m2, w1 := match1[k], match2[k], want[k]
			if (m1&(m1-1))|(m2&(m2-1)) != 0 {
				res[k] = probeAllQ[S](p1, p2, m1, m2, rm, w1, uint8(tagw[k]))
				continue
			}
			i1 := uintptr(bits.TrailingZeros64(m1) >> 3)
			i2 := uintptr(bits.TrailingZeros64(m2) >> 3)
			f1 := b2u(m1 != 0) & b2u(le64(unsafe.Add(p1, i1*w))&rm == w1)
			f2 := b2u(m2 != 0) & b2u(le64(unsafe.Add(p2, i2*w))&rm == w1|1)
			res[k] = f1|f2 != 0
		}
		uids, out = uids[n:], out[n:]
	}
}

// probeAllQ is probeAll for version 3: want in the first group, want|1 in
// the second, on the candidates whose control byte is the tag (the others
// are matchTag's borrows, which a version-3 slot cannot rule out).
//
//go:noinline
func probeAllQ[S slot](p1, p2 unsafe.Pointer, m1, m2, rm, want uint64, tag uint8) bool {
	w, _, _ := shape[S]()
	for ; m1 != 0; m1 &= m1 - 1 {
		i := uintptr(bits.TrailingZeros64(m1) >> 3)
		if *(*uint8)(unsafe.Add(p1, 8*w+i)) == tag && le64(unsafe.Add(p1, i*w))&rm == want {
			return true
		}
	}
	for ; m2 != 0; m2 &= m2 - 1 {
		i := uintptr(bits.TrailingZeros64(m2) >> 3)
		if *(*uint8)(unsafe.Add(p2, 8*w+i)) == tag && le64(unsafe.Add(p2, i*w))&rm == want|1 {
			return true
		}
	}
	return false
}

// insertQ is insertW for version 3. The caller has checked that uid and t
// fit the set (insertFast).
func insertQ[S slot](s *Set, uid uint64, t uint32, room bool) insertResult {
	w, _, _ := shape[S]()
	q := &s.q
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	g1, qt := q.home(uid, s.seed, s.ng)
	g2 := q.other(g1, qt, s.ng)
	tag := ctrlFull | uint8(qt&0x7f)
	tags := uint64(tag) * lsb
	want := word(qt, 0)
	var toff uint64
	if s.HasTimes() {
		toff = uint64(t-q.tbase) << q.rb
	}
	p1, p2 := groupPtr[S](base, g1), groupPtr[S](base, g2)
	c1, c2 := le64(unsafe.Add(p1, 8*w)), le64(unsafe.Add(p2, 8*w))
	for m := matchTagExact(c1, tags); m != 0; m &= m - 1 {
		if i := uintptr(bits.TrailingZeros64(m) >> 3); le64(unsafe.Add(p1, i*w))&q.remMask == want {
			s.putWord(g1, int(i), want|toff, tag)
			return updated
		}
	}
	if g2 != g1 {
		for m := matchTagExact(c2, tags); m != 0; m &= m - 1 {
			if i := uintptr(bits.TrailingZeros64(m) >> 3); le64(unsafe.Add(p2, i*w))&q.remMask == want|1 {
				s.putWord(g2, int(i), want|1|toff, tag)
				return updated
			}
		}
	}
	if !room {
		return noRoom
	}
	g, free := g1, matchFree(c1)
	if free2 := matchFree(c2); g2 != g1 && bits.OnesCount64(free2) > bits.OnesCount64(free) {
		g, free, want = g2, free2, want|1
	}
	if free == 0 {
		return bothFull
	}
	s.putWord(g, bits.TrailingZeros64(free)>>3, want|toff, tag)
	return placed
}

// The version-3 width dispatchers.

func (s *Set) findQ(uid uint64) (g uint64, i int, ok bool) {
	switch s.width {
	case 1:
		return findQ[[1]byte](s, uid)
	case 2:
		return findQ[[2]byte](s, uid)
	case 3:
		return findQ[[3]byte](s, uid)
	case 4:
		return findQ[[4]byte](s, uid)
	case 5:
		return findQ[[5]byte](s, uid)
	case 6:
		return findQ[[6]byte](s, uid)
	case 7:
		return findQ[[7]byte](s, uid)
	case 8:
		return findQ[[8]byte](s, uid)
	}
	return 0, 0, false
}

func (s *Set) batchQ(out []bool, uids []uint64) {
	switch s.width {
	case 1:
		batchQ[[1]byte](s, out, uids)
	case 2:
		batchQ[[2]byte](s, out, uids)
	case 3:
		batchQ[[3]byte](s, out, uids)
	case 4:
		batchQ[[4]byte](s, out, uids)
	case 5:
		batchQ[[5]byte](s, out, uids)
	case 6:
		batchQ[[6]byte](s, out, uids)
	case 7:
		batchQ[[7]byte](s, out, uids)
	case 8:
		batchQ[[8]byte](s, out, uids)
	default:
		clear(out[:len(uids)])
	}
}

func (s *Set) insertQ(uid uint64, t uint32, room bool) insertResult {
	switch s.width {
	case 1:
		return insertQ[[1]byte](s, uid, t, room)
	case 2:
		return insertQ[[2]byte](s, uid, t, room)
	case 3:
		return insertQ[[3]byte](s, uid, t, room)
	case 4:
		return insertQ[[4]byte](s, uid, t, room)
	case 5:
		return insertQ[[5]byte](s, uid, t, room)
	case 6:
		return insertQ[[6]byte](s, uid, t, room)
	case 7:
		return insertQ[[7]byte](s, uid, t, room)
	case 8:
		return insertQ[[8]byte](s, uid, t, room)
	}
	return tooWide
}
