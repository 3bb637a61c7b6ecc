package openhash

import (
	"encoding/binary"
	"fmt"
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
				return fmt.Errorf("openhash: group %d slot %d: control byte %#02x is neither empty nor full: %w", g, i, c, ErrInvalid)
			}
			full++
			if err := s.checkFull(g, grp, i, c); err != nil {
				return err
			}
		}
	}
	if n := s.Count(); n != full {
		return fmt.Errorf("openhash: header count %d, table holds %d: %w", n, full, ErrInvalid)
	}
	return nil
}

// checkEmpty insists on zero bytes in empty slots, so equal sets have equal
// bytes and a stray uid cannot come back through a bad control byte.
func (s *Set) checkEmpty(g uint64, grp []byte, i int) error {
	for _, b := range grp[i*s.width : (i+1)*s.width] {
		if b != 0 {
			return fmt.Errorf("openhash: group %d slot %d: empty slot has uid bytes %x: %w", g, i, grp[i*s.width:(i+1)*s.width], ErrInvalid)
		}
	}
	if s.times != nil {
		if t := binary.LittleEndian.Uint32(s.times[(int(g)*groupSlots+i)*timeSize:]); t != 0 {
			return fmt.Errorf("openhash: group %d slot %d: empty slot has time %d: %w", g, i, t, ErrInvalid)
		}
	}
	return nil
}

func (s *Set) checkFull(g uint64, grp []byte, i int, c uint8) error {
	uid := s.uidAt(grp, i)
	h := hash(uid, s.seed)
	if tag := tagOf(h); c != tag {
		return fmt.Errorf("openhash: group %d slot %d: uid %d has tag %#02x, control byte is %#02x: %w", g, i, uid, tag, c, ErrInvalid)
	}
	g1, g2 := groupsOf(h, s.ng)
	if g != g1 && g != g2 {
		return fmt.Errorf("openhash: group %d slot %d: uid %d belongs in group %d or %d: %w", g, i, uid, g1, g2, ErrInvalid)
	}
	// A duplicate can only sit in one of the same two groups.
	tags := lsb * uint64(c)
	seen := s.countIn(s.group(g1), tags, uid)
	if g2 != g1 {
		seen += s.countIn(s.group(g2), tags, uid)
	}
	if seen != 1 {
		return fmt.Errorf("openhash: uid %d appears %d times: %w", uid, seen, ErrInvalid)
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
