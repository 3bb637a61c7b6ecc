package openhash

import (
	"encoding/binary"
	"math/bits"
)

// Check validates buf and then walks the whole table, proving what lookups
// rely on: every control byte is empty (0x00) or full (0x80 | 7 bits); every
// full slot's tag matches its uid's hash and sits in one of the uid's two
// candidate groups; no uid appears twice; empty slots and their times are
// zero; and the header count equals the number of full slots. It runs in
// time linear in the table size and allocates nothing unless it fails.
func Check(buf []byte) error {
	s, err := Open(buf)
	if err != nil {
		return err
	}
	full := 0
	for g := uint64(0); g < s.ng; g++ {
		grp := s.group(g)
		ctrl := s.ctrlOf(grp)
		for i := 0; i < groupSlots; i++ {
			c := uint8(ctrl >> (8 * i))
			if c == ctrlEmpty {
				if err := s.checkEmpty(g, grp, i); err != nil {
					return err
				}
				continue
			}
			if c&ctrlFull == 0 {
				return tableError(2, "group %d slot %d: control byte %#02x is neither empty nor full", g, i, c)
			}
			full++
			if err := s.checkFull(g, grp, i, c); err != nil {
				return err
			}
		}
	}
	if n := s.Count(); n != full {
		return tableError(6, "header count %d, table holds %d", n, full)
	}
	return nil
}

// CheckControl validates buf and then reads one control word per group,
// proving what every reply that lists a set relies on: the header count
// equals the number of full slots (rule 6 of the format's consistency
// rules), and no control byte is invalid (rule 2). It costs one 8-byte load
// and a few ALU operations per group (a SWAR count of the high bits and a
// SWAR test for bytes 0x01-0x7F), a small fraction of Check, which hashes
// every member, and allocates nothing unless it fails.
//
// What it does not prove: that every member sits in one of its two
// candidate groups with its own tag, that no uid is held twice, and that
// empty slots are zeroed (rules 3-5). A set that passes CheckControl but
// not Check lists and counts consistently, but lookups may miss a member
// that is listed, and a listing may name a uid twice.
func CheckControl(buf []byte) error {
	s, err := Open(buf)
	if err != nil {
		return err
	}
	full, invalid := s.scanControl()
	if invalid != 0 {
		return s.invalidControl()
	}
	if n := s.Count(); n != full {
		return tableError(6, "header count %d, table holds %d", n, full)
	}
	return nil
}

// scanControl counts the full slots of the table and ORs together, for
// every control byte, a 0x80 bit when the byte is invalid (0x01-0x7F).
func (s *Set) scanControl() (full int, invalid uint64) {
	const low7 = ^uint64(msb) // 0x7f in every byte
	ctrl := s.groups[groupSlots*s.width:]
	for g := uint64(0); g < s.ng; g++ {
		c := binary.LittleEndian.Uint64(ctrl[int(g)*s.gbytes:])
		full += bits.OnesCount64(c & msb)
		// A byte's low seven bits plus 0x7F carry into its high bit
		// exactly when they are not all zero, and never into the next
		// byte (0x7F + 0x7F = 0xFE): so the high bit of the sum marks a
		// nonzero low part, and without the byte's own high bit, an
		// invalid byte.
		invalid |= ((c & low7) + low7) &^ c & msb
	}
	return full, invalid
}

// invalidControl finds the first invalid control byte for the error.
func (s *Set) invalidControl() error {
	for g := uint64(0); g < s.ng; g++ {
		ctrl := s.ctrlOf(s.group(g))
		for i := 0; i < groupSlots; i++ {
			if c := uint8(ctrl >> (8 * i)); c != ctrlEmpty && c&ctrlFull == 0 {
				return tableError(2, "group %d slot %d: control byte %#02x is neither empty nor full", g, i, c)
			}
		}
	}
	return tableError(2, "invalid control byte (not found again; a bug)")
}

// checkEmpty insists on zero bytes in empty slots, so equal sets have equal
// bytes and a stray uid cannot come back through a bad control byte.
func (s *Set) checkEmpty(g uint64, grp []byte, i int) error {
	for _, b := range grp[i*s.width : (i+1)*s.width] {
		if b != 0 {
			return tableError(5, "group %d slot %d: empty slot has uid bytes %x", g, i, grp[i*s.width:(i+1)*s.width])
		}
	}
	if s.times != nil {
		if t := binary.LittleEndian.Uint32(s.times[(int(g)*groupSlots+i)*timeSize:]); t != 0 {
			return tableError(5, "group %d slot %d: empty slot has time %d", g, i, t)
		}
	}
	return nil
}

func (s *Set) checkFull(g uint64, grp []byte, i int, c uint8) error {
	if s.q.ub != 0 {
		return s.checkFullQ(g, grp, i, c)
	}
	uid := s.uidAt(grp, i)
	h := hash(uid, s.seed)
	if tag := tagOf(h); c != tag {
		return tableError(3, "group %d slot %d: uid %d has tag %#02x, control byte is %#02x", g, i, uid, tag, c)
	}
	g1, g2 := groupsOf(h, s.ng)
	if g != g1 && g != g2 {
		return tableError(3, "group %d slot %d: uid %d belongs in group %d or %d", g, i, uid, g1, g2)
	}
	// A duplicate can only sit in one of the same two groups.
	tags := lsb * uint64(c)
	seen := s.countIn(s.group(g1), tags, uid)
	if g2 != g1 {
		seen += s.countIn(s.group(g2), tags, uid)
	}
	if seen != 1 {
		return tableError(4, "uid %d appears %d times", uid, seen)
	}
	return nil
}

func (s *Set) countIn(grp []byte, tags, uid uint64) int {
	n := 0
	ctrl := s.ctrlOf(grp)
	for m := matchTag(ctrl, tags); m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m) >> 3
		// matchTag can flag the byte above a true match through a
		// borrow; only a byte equal to the tag is a candidate.
		if uint8(ctrl>>(8*i)) == uint8(tags) && s.uidAt(grp, i) == uid {
			n++
		}
	}
	return n
}

// checkFullQ is checkFull for version 3: the slot must be what putting the
// uid it decodes to there would write (the tag, the quotient, the group and
// its alt bit, no bits above the time), and no other slot may hold it.
func (s *Set) checkFullQ(g uint64, grp []byte, i int, c uint8) error {
	w := s.wordAt(grp, i)
	if sb := s.q.slotBits(); sb < 64 && w>>sb != 0 {
		return tableError(5, "group %d slot %d: slot word %#x has bits above its %d", g, i, w, sb)
	}
	uid, _ := s.q.decode(w, c, g, s.seed, s.ng)
	g1, t, g2 := s.q.place(uid, s.seed, s.ng)
	if s.ng == 1 {
		g2 = g1
	}
	alt := b2u(g != g1)
	if tag := ctrlFull | uint8(t&0x7f); c != tag || (g != g1 && g != g2) || w&s.q.remMask != word(t, alt) {
		return tableError(3, "group %d slot %d: slot word %#x under control byte %#02x is not the encoding of any uid there", g, i, w, c)
	}
	seen := s.countInQ(g1, word(t, 0), c)
	if g2 != g1 {
		seen += s.countInQ(g2, word(t, 1), c)
	}
	if seen != 1 {
		return tableError(4, "uid %d appears %d times", uid, seen)
	}
	return nil
}

// countInQ counts the slots of group g holding the uid part want under tag.
func (s *Set) countInQ(g, want uint64, tag uint8) int {
	grp := s.group(g)
	n := 0
	ctrl := s.ctrlOf(grp)
	for m := matchTag(ctrl, lsb*uint64(tag)); m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m) >> 3
		if uint8(ctrl>>(8*i)) == tag && s.wordAt(grp, i)&s.q.remMask == want {
			n++
		}
	}
	return n
}
