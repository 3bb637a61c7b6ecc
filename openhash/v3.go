package openhash

import (
	"encoding/binary"
	"math/bits"
)

// Version 3 (docs/openhash-format.md, section 7) keeps version 1's groups
// and control words but stores less per slot:
//
//   - Quotienting. A uid below 2^B is mapped by an invertible B-bit
//     permutation to x; its first group and the rest of x come from one
//     multiply-shift, g1 = floor(x*G / 2^B), and t, the x*G mod 2^B bits
//     below the top s = floor(log2 G), identifies x among the uids of g1
//     (multiples of G that far apart differ in those bits). The control
//     byte keeps t's low 7 bits as the tag, so the slot keeps only t >> 7
//     and one bit saying whether this is the uid's second group: about
//     B - s - 6 bits instead of 8*ceil(B/8).
//   - Times as offsets. A set with times records the smallest (base) and
//     the bits TB the largest offset needs, and each slot keeps its offset
//     above the uid bits, in the same word: no time region, and the bits of
//     both round up to whole bytes once, not twice.
//
// A lookup costs what version 1's does: the permutation is two multiplies
// like the hash, and the second group is g1 plus an offset drawn from t,
// so it needs no division; only turning a slot back into a uid (iteration,
// Check) divides.

const (
	version3 = 3
	// headerSize3 is version 1's header plus uid bits (1 byte), time bits
	// (1), two zero bytes and the time base (uint32).
	headerSize3 = headerSize + 8
	offUIDBits  = headerSize
	offTimeBits = headerSize + 1
	offPad3     = headerSize + 2
	offTimeBase = headerSize + 4
	maxTimeBits = 32
)

// The permutation's multipliers (odd, so invertible mod 2^B) and their
// inverses mod 2^64, which are inverses mod every 2^B.
const (
	permK1    = 0x9e3779b97f4a7c15
	permK1Inv = 0xf1de83e19937733d
	permK2    = 0xbf58476d1ce4e5b9
	permK2Inv = 0x96de1b173f119089
)

// quot is what version 3 needs beyond the group layout: all derived from
// the header in Open.
type quot struct {
	umask   uint64 // uids are at most umask (2^B - 1)
	remMask uint64 // (1 << rb) - 1
	tmask   uint64 // (1 << tb) - 1

	// Derived for the hot loops (home, other), which run the permutation
	// on x << up, x's bits at the top of the word: there a multiply mod
	// 2^64 is the multiply mod 2^B with no mask, the first multiply takes
	// the shift too (x << up times K is x times K << up), and only the
	// xorshifts need a mask, for the bits they bring below the top B.
	k1    uint64 // permK1 << up
	hmask uint64 // umask << up
	fmask uint64 // ^0 << tsh: t << tsh is the fraction & fmask

	tbase uint32
	// The bit counts are bytes, so that a Set, which Open returns and
	// handlers pass by value, stays small: RELCHECK opens a set per uid,
	// and copying the view was a fifth of Open's time.
	ub  uint8 // uid bits B, 1..64
	r   uint8 // the permutation's shift, ceil(B/2)
	up  uint8 // 64 - B: x << up puts x's bits at the top of a word
	tsh uint8 // t = frac >> tsh; 64 - B + s, at most 63 since B > s
	s   uint8 // floor(log2 G)
	rb  uint8 // bits of the slot word's uid part: t>>7, then the alt bit
	tb  uint8 // time offset bits, 0..32
}

// newQuot derives the fields for B uid bits, G groups and TB time bits.
func newQuot(ub uint, ng uint64, tb uint, tbase uint32) quot {
	var q quot
	q.init(ub, ng, tb, tbase)
	return q
}

// init is newQuot in place, field by field: a quot built whole and copied
// in costs a store-forwarding stall (see open3).
func (q *quot) init(ub uint, ng uint64, tb uint, tbase uint32) {
	s := uint(bits.Len64(ng) - 1)
	rb := uint(1)
	if ub > s+7 {
		rb += ub - s - 7
	}
	up, tsh := 64-ub, (64-ub+s)&63
	q.umask = ^uint64(0) >> up
	q.remMask, q.tmask = 1<<rb-1, 1<<tb-1
	q.k1, q.hmask, q.fmask = permK1<<up, q.umask<<up, ^uint64(0)<<tsh
	q.tbase = tbase
	q.ub, q.r, q.up, q.tsh, q.s, q.rb, q.tb = uint8(ub), uint8((ub+1)/2), uint8(up), uint8(tsh), uint8(s), uint8(rb), uint8(tb)
}

// slotBits is the width of a version-3 slot word in bits, rb + tb; at
// most 64 + 32 for any header, so a caller must check it against 64.
func (q *quot) slotBits() uint { return uint(q.rb) + uint(q.tb) }

// perm is the seeded B-bit permutation: xor with the seed, then two rounds
// of an odd multiply and a right xorshift by ceil(B/2), all mod 2^B. The
// multiply carries low bits up and the shift brings high bits down, so
// every input bit reaches the top bits that pick the group.
//
// Every shift count in the placement is below 64 (r <= 32, B > s); the
// & 63 says so to the compiler, which then emits one instruction per shift
// instead of a compare and a mask (the batch lookup measured faster).
func (q *quot) perm(uid, seed uint64) uint64 {
	x := (uid ^ seed) & q.umask
	x = x * permK1 & q.umask
	x ^= x >> (q.r & 63)
	x = x * permK2 & q.umask
	return x ^ x>>(q.r&63)
}

// unperm inverts perm. A shift by r >= B/2 is undone by applying it once
// more, since (x >> r) >> r is 0.
func (q *quot) unperm(x, seed uint64) uint64 {
	x ^= x >> q.r
	x = x * permK2Inv & q.umask
	x ^= x >> q.r
	x = x * permK1Inv & q.umask
	return (x ^ seed) & q.umask
}

// place is where a uid (< 2^B) goes: its first group, t (the tag is its low
// 7 bits) and the second group. The hot loops call home and other
// themselves: together they are over the inlining budget, and a call per
// uid made the batch lookup half again as slow.
func (q *quot) place(uid, seed, ng uint64) (g1, t, g2 uint64) {
	g1, t = q.home(uid, seed, ng)
	return g1, t, q.other(g1, t, ng)
}

// home is a uid's first group and its quotient t.
func (q *quot) home(uid, seed, ng uint64) (g1, t uint64) {
	g1, frac := q.homeFrac(uid, seed, ng)
	return g1, frac >> (q.tsh & 63)
}

// homeFrac is a uid's first group and the fraction x*G mod 2^B left at
// the top of the word, whose top B - s bits are t: the permutation of
// perm computed on x << up (see quot.k1), then multiply-shift. It is
// perm's result, shifted, with four operations fewer (TestHomeFrac).
func (q *quot) homeFrac(uid, seed, ng uint64) (g1, frac uint64) {
	x := (uid ^ seed) * q.k1
	x ^= x >> (q.r & 63) & q.hmask
	x *= permK2
	x ^= x >> (q.r & 63) & q.hmask
	return bits.Mul64(x, ng)
}

// other is the second group of a uid with first group g1 and quotient t:
// g1 plus 1..G-1 (so never g1 itself when G > 1), drawn from t's bits as
// version 1 draws its second group from the fraction the first one left:
// t << tsh is that fraction with the bits t does not keep cleared.
func (q *quot) other(g1, t, ng uint64) uint64 {
	return otherFrac(g1, t<<(q.tsh&63), ng)
}

// otherFrac is other given the fraction with the bits t does not keep
// cleared (frac & fmask).
//
// The wrap is computed without a branch: whether it happens is random,
// and written as an if it compiled to a jump (the batch probe took about
// 45% longer in single runs).
func otherFrac(g1, tf, ng uint64) uint64 {
	d, _ := bits.Mul64(tf, ng-1)
	g2 := g1 + d + 1 // < 2*ng <= 2^33
	return g2 - ng&uint64(int64(ng-1-g2)>>63)
}

// first inverts other: the first group of a uid held in its second group g2.
func (q *quot) first(g2, t, ng uint64) uint64 {
	d, _ := bits.Mul64(t<<(q.tsh&63), ng-1)
	d++
	if g2 < d {
		g2 += ng
	}
	return g2 - d
}

// word is the uid part of a slot word for quotient t in its first group
// (alt 0) or its second (alt 1).
func word(t, alt uint64) uint64 { return t>>7<<1 | alt }

// decode turns slot word w under control byte c in group g back into the
// uid and the time it holds. It never panics; on a corrupt slot it returns
// some uid, which Check then finds does not encode back to the slot.
func (q *quot) decode(w uint64, c uint8, g, seed, ng uint64) (uid uint64, tm uint32) {
	t := (w&q.remMask)>>1<<7 | uint64(c&0x7f)
	g1 := g
	if w&1 != 0 {
		g1 = q.first(g, t, ng)
	}
	// x*G lies in [g1*2^B + t*2^s, g1*2^B + (t+1)*2^s), an interval
	// shorter than G, so x is the ceiling of its start divided by G.
	if !q.validT(t) { // a t no uid has: corrupt
		return 0, q.timeOf(w)
	}
	var hi, lo uint64
	if q.ub == 64 {
		hi = g1
	} else {
		hi, lo = g1>>(64-q.ub), g1<<q.ub
	}
	var c1, c2 uint64
	lo, c1 = bits.Add64(lo, t<<q.s, 0)
	lo, c2 = bits.Add64(lo, ng-1, 0)
	hi += c1 + c2
	if hi >= ng { // past the last group: corrupt
		return 0, q.timeOf(w)
	}
	x, _ := bits.Div64(hi, lo, ng)
	return q.unperm(x, seed), q.timeOf(w)
}

// validT reports whether some uid has quotient t: t < 2^(B-s).
func (q *quot) validT(t uint64) bool {
	return q.ub-q.s >= 64 || t>>(q.ub-q.s) == 0 // B > s: Open checked it
}

// timeOf is the follow time a slot word holds.
func (q *quot) timeOf(w uint64) uint32 {
	return q.tbase + uint32(w>>q.rb&q.tmask)
}

// timeFits reports whether t can be stored: base <= t < base + 2^TB.
func (q *quot) timeFits(t uint32) bool {
	return t >= q.tbase && uint64(t-q.tbase) <= q.tmask
}

// plan3 is the version-3 header of a set of uids up to maxUID with times
// in [tmin, tmax] (ignored without times) in ng groups; ok is false where
// the slot word would pass 64 bits.
func plan3(maxUID uint64, times bool, tmin, tmax uint32, ng uint64) (q quot, width int, ok bool) {
	// B must exceed s (floor(log2 G)), so that t's shift stays below 64:
	// a set of narrow uids in very many groups takes a wider B, costing
	// nothing (such a set has a 1-bit uid part either way).
	ub := uint(max(1, bits.Len64(maxUID), bits.Len64(ng)))
	var tb uint
	if times {
		tb = uint(bits.Len32(tmax - tmin))
	} else {
		tmin = 0
	}
	q = newQuot(ub, ng, tb, tmin)
	sb := q.slotBits()
	return q, int(sb+7) / 8, sb <= 64
}

// writeHeader3 writes version 3's extension of the header.
func (q *quot) writeHeader3(hdr []byte) {
	hdr[offUIDBits] = uint8(q.ub)
	hdr[offTimeBits] = uint8(q.tb)
	hdr[offPad3], hdr[offPad3+1] = 0, 0
	binary.LittleEndian.PutUint32(hdr[offTimeBase:], q.tbase)
}

// open3 is Open for a version-3 header; the magic is checked. It fills
// *set in place: Open returns a Set by value, and each copy of a view just
// written (here, the quot into the Set, then the Set out of open3) was a
// store-forwarding stall, a tenth of RELCHECK's time.
func (set *Set) open3(buf []byte) error {
	if len(buf) < headerSize3 {
		return headerError("length", "%d bytes is shorter than the %d-byte version-3 header", len(buf), headerSize3)
	}
	flags, width, ng, err := openShared(buf)
	if err != nil {
		return err
	}
	if t := binary.LittleEndian.Uint64(buf[offTotal:]); t != 0 && flags&flagTruncated == 0 {
		return headerError("total", "a total of %d without the truncated flag", t)
	}
	ub, tb := uint(buf[offUIDBits]), uint(buf[offTimeBits])
	if ub < 1 || ub > 64 {
		return headerError("uid bits", "%d uid bits not in 1..64", ub)
	}
	times := flags&flagTimes != 0
	tbase := binary.LittleEndian.Uint32(buf[offTimeBase:])
	switch {
	case tb > maxTimeBits:
		return headerError("time bits", "%d time bits, at most %d", tb, maxTimeBits)
	case !times && (tb != 0 || tbase != 0):
		return headerError("time bits", "time bits %d and base %d in a set without times", tb, tbase)
	case buf[offPad3] != 0 || buf[offPad3+1] != 0:
		return headerError("reserved", "reserved header bytes are %#x, want 0", buf[offPad3:offPad3+2])
	}
	if s := uint(bits.Len64(ng) - 1); ub <= s {
		return headerError("uid bits", "%d uid bits in %d groups: want more than floor(log2 G) = %d", ub, ng, s)
	}
	set.initView(buf, headerSize3, len(buf), flags, width, ng)
	set.q.init(ub, ng, tb, tbase)
	if sb := set.q.slotBits(); sb > 64 || int(sb+7)/8 != width {
		*set = Set{}
		return headerError("width", "slot width %d, %d uid bits and %d time bits in %d groups need %d bits", width, ub, tb, ng, sb)
	}
	gb := groupBytes(width)
	if want := headerSize3 + ng*uint64(gb); uint64(len(buf)) != want {
		*set = Set{}
		return headerError("length", "length %d, header implies %d", len(buf), want)
	}
	return nil
}

// putWord writes slot i of group g of a version-3 set: the slot word (its
// W bytes, read-modify-write of the 8 a lookup reads) and the control byte.
func (s *Set) putWord(g uint64, i int, w uint64, ctrl uint8) {
	grp := s.group(g)
	p := grp[i*s.width:]
	binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)&^s.mask|w)
	grp[groupSlots*s.width+i] = ctrl
}

// wordAt is the slot word of slot i of grp in a version-3 set.
func (s *Set) wordAt(grp []byte, i int) uint64 { return s.uidAt(grp, i) }
