package openhash

import "math/bits"

// kick3 is kick for a version-3 set of more than one group: the same walk
// (the same first group, the same slots, so the same bytes), moving slot
// words instead of members. A slot word says which of its two groups it
// is in (the alt bit) and, with its control byte, the quotient t that
// gives the other one, so a displaced member goes to its other group with
// its alt bit flipped and its time bits untouched; decoding it to a uid
// (a division and the inverse permutation) and encoding it again is what
// kick spent most of Build's time on.
//
// other and first are inverses for any t and any group below G, so the
// undo restores every slot of any table, corrupt or not, and a member
// keeps the uid it decodes to wherever the walk moves it.
func (s *Set) kick3(uid uint64, t uint32) bool {
	q := &s.q
	rng := uid ^ s.seed
	slotAt := func(k int) int { return int(hash(rng+uint64(k+1)*0x9e3779b97f4a7c15, 0) & (groupSlots - 1)) }
	g1, qt, g2 := q.place(uid, s.seed, s.ng)
	g, w := g1, word(qt, 0)
	if hash(rng, 0)&1 != 0 {
		g, w = g2, word(qt, 1)
	}
	if s.HasTimes() {
		w |= uint64(t-q.tbase) << q.rb
	}
	c := ctrlFull | uint8(qt&0x7f)
	k := 0
	for ; k < maxKicks; k++ {
		w, c = s.swapWord(g, slotAt(k), w, c)
		// w is now the displaced member's word; send it to its other
		// group.
		g, w = s.otherWord(g, w, c)
		if m := matchFree(s.ctrlOf(s.group(g))); m != 0 {
			s.putWord(g, bits.TrailingZeros64(m)>>3, w, c)
			return true
		}
	}
	for k--; k >= 0; k-- {
		// g is where the carried word was headed; it came from its other
		// group.
		g, w = s.otherWord(g, w, c)
		w, c = s.swapWord(g, slotAt(k), w, c)
	}
	return false
}

// swapWord stores slot word w with control byte c in slot i of group g
// and returns the word and control byte that were there.
func (s *Set) swapWord(g uint64, i int, w uint64, c uint8) (uint64, uint8) {
	grp := s.group(g)
	old, oldC := s.wordAt(grp, i), grp[groupSlots*s.width+i]
	s.putWord(g, i, w, c)
	return old, oldC
}

// otherWord is the other group of the member with slot word w and control
// byte c in group g, and its slot word there.
func (s *Set) otherWord(g, w uint64, c uint8) (uint64, uint64) {
	t := (w&s.q.remMask)>>1<<7 | uint64(c&0x7f)
	if w&1 == 0 {
		return s.q.other(g, t, s.ng), w | 1
	}
	return s.q.first(g, t, s.ng), w &^ 1
}
