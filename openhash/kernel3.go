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
	g1, frac := q.homeFrac(uid, s.seed, s.ng)
	g2 := otherFrac(g1, frac&q.fmask, s.ng)
	t := frac >> (q.tsh & 63)
	tags := (t&0x7f | ctrlFull) * lsb
	want, rm := t>>6&^1, q.remMask // word(t, 0)
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
//
// The per-uid work is homeFrac and otherFrac: the permutation on the
// top-aligned word, the first group, the second one from the fraction,
// and the tag and slot word from the fraction's top bits, each one shift
// or mask. R makes the permutation's shift a constant for the common
// widths (see rshift): a variable shift needs CX on amd64, and the two of
// them cost moves and a spill (RELMULTI of 500 measured 5% faster). The set's constants are read from q in the loop: copied into
// locals they outnumbered the registers and the loop spilled on every
// step (about 5% slower in single runs). A uid wider than B bits is not
// tested apart: its bits above B are put into the word it is compared
// with (want), where the slot word, masked to rb <= B bits, never has
// them.
func batchQ[S slot, R rshift](s *Set, out []bool, uids []uint64) {
	w, gb, _ := shape[S]()
	var rr R
	r := uint(unsafe.Sizeof(rr))
	out = out[:len(uids)]
	if len(s.groups) == 0 {
		clear(out)
		return
	}
	q := &s.q
	base := unsafe.Pointer(unsafe.SliceData(s.groups))
	seed, ng, rm := s.seed, s.ng, q.remMask
	var off1, off2 [batchBlock]uintptr
	var match1, match2, want [batchBlock]uint64
	for len(uids) > 0 {
		n := min(len(uids), batchBlock)
		blk, res := uids[:n], out[:n]
		for k, uid := range blk {
			x := (uid ^ seed) * q.k1
			if r == 0 {
				x ^= x >> (q.r & 63) & q.hmask
				x *= permK2
				x ^= x >> (q.r & 63) & q.hmask
			} else {
				x ^= x >> r & q.hmask
				x *= permK2
				x ^= x >> r & q.hmask
			}
			g1, frac := bits.Mul64(x, ng)
			t := frac >> (q.tsh & 63)
			k &= batchBlock - 1
			want[k] = t>>6&^1 | uid&^q.umask // word(t, 0), or no slot's word
			g2 := otherFrac(g1, frac&q.fmask, ng)
			tags := (t&0x7f | ctrlFull) * lsb
			o1, o2 := uintptr(g1)*gb, uintptr(g2)*gb
			off1[k], off2[k] = o1, o2
			// matchTag may flag the byte above a true match (a borrow),
			// but its lowest flag is always true, so the single-candidate
			// path below is exact and probeAllQ checks the byte.
			match1[k] = matchTag(le64(unsafe.Add(base, o1+8*w)), tags)
			// With one group (g1 == g2) the second probe looks for the
			// alt bit in the same group, which no member there has.
			match2[k] = matchTag(le64(unsafe.Add(base, o2+8*w)), tags)
		}
		for k := range blk {
			k &= batchBlock - 1
			p1, p2 := unsafe.Add(base, off1[k]), unsafe.Add(base, off2[k])
			m1, m2, w1 := match1[k], match2[k], want[k]
			if (m1&(m1-1))|(m2&(m2-1)) != 0 {
				res[k] = probeAllQ[S](p1, p2, m1, m2, rm, w1)
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
// are matchTag's borrows, which a version-3 slot cannot rule out). The tag
// is the control byte of the lowest candidate of either group, which is
// always a true match.
//
//go:noinline
func probeAllQ[S slot](p1, p2 unsafe.Pointer, m1, m2, rm, want uint64) bool {
	w, _, _ := shape[S]()
	lowest := m1
	p := p1
	if lowest == 0 {
		lowest, p = m2, p2
	}
	tag := *(*uint8)(unsafe.Add(p, 8*w+uintptr(bits.TrailingZeros64(lowest)>>3)))
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
	g1, frac := q.homeFrac(uid, s.seed, s.ng)
	g2 := otherFrac(g1, frac&q.fmask, s.ng)
	qt := frac >> (q.tsh & 63)
	tag := ctrlFull | uint8(qt&0x7f)
	tags := uint64(tag) * lsb
	want := qt >> 6 &^ 1 // word(qt, 0)
	var toff uint64
	if s.HasTimes() {
		toff = uint64(t-q.tbase) << q.rb
	}
	p1, p2 := groupPtr[S](base, g1), groupPtr[S](base, g2)
	c1, c2 := le64(unsafe.Add(p1, 8*w)), le64(unsafe.Add(p2, 8*w))
	for m := matchTagExact(c1, tags); m != 0; m &= m - 1 {
		if i := uintptr(bits.TrailingZeros64(m) >> 3); le64(unsafe.Add(p1, i*w))&q.remMask == want {
			putWordAt[S](p1, i, want|toff, tag)
			return updated
		}
	}
	if g2 != g1 {
		for m := matchTagExact(c2, tags); m != 0; m &= m - 1 {
			if i := uintptr(bits.TrailingZeros64(m) >> 3); le64(unsafe.Add(p2, i*w))&q.remMask == want|1 {
				putWordAt[S](p2, i, want|1|toff, tag)
				return updated
			}
		}
	}
	if !room {
		return noRoom
	}
	p, free := p1, matchFree(c1)
	if free2 := matchFree(c2); g2 != g1 && bits.OnesCount64(free2) > bits.OnesCount64(free) {
		p, free, want = p2, free2, want|1
	}
	if free == 0 {
		return bothFull
	}
	putWordAt[S](p, uintptr(bits.TrailingZeros64(free)>>3), want|toff, tag)
	return placed
}

// putWordAt is putWord on the group at p (see kernel.go for why p and
// slot i < 8 are in bounds): a read-modify-write of the 8 bytes a lookup
// reads, keeping the neighbouring slots' bytes above the word, then the
// control byte. Through slices (putWord) the bounds checks were a tenth
// of Build.
func putWordAt[S slot](p unsafe.Pointer, i uintptr, word uint64, ctrl uint8) {
	w, _, mask := shape[S]()
	q := unsafe.Add(p, i*w)
	putLE64(q, le64(q)&^mask|word)
	*(*uint8)(unsafe.Add(p, 8*w+i)) = ctrl
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
		batchQR[[1]byte](s, out, uids)
	case 2:
		batchQR[[2]byte](s, out, uids)
	case 3:
		batchQR[[3]byte](s, out, uids)
	case 4:
		batchQR[[4]byte](s, out, uids)
	case 5:
		batchQR[[5]byte](s, out, uids)
	case 6:
		batchQR[[6]byte](s, out, uids)
	case 7:
		batchQR[[7]byte](s, out, uids)
	case 8:
		batchQR[[8]byte](s, out, uids)
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

// rshift is the permutation's shift r as a type: [r]byte for the common
// r (uids of 29 to 34 bits), for which batchQ is instantiated with r a
// constant, and [0]byte for the others, which read q.r.
type rshift interface {
	~[0]byte | ~[15]byte | ~[16]byte | ~[17]byte
}

func batchQR[S slot](s *Set, out []bool, uids []uint64) {
	switch s.q.r {
	case 15:
		batchQ[S, [15]byte](s, out, uids)
	case 16:
		batchQ[S, [16]byte](s, out, uids)
	case 17:
		batchQ[S, [17]byte](s, out, uids)
	default:
		batchQ[S, [0]byte](s, out, uids)
	}
}
