package openhash

import (
	"math/bits"
	"slices"
	"strconv"
)

// The sorted-set order of a set: Redis's order of a sorted set whose scores
// are the follow times and whose members are the uids' decimal strings.
// Ascending score, and members with equal scores by their bytes, so
// "10000000000" < "42" < "9". The server's Z* view keeps it as a
// permutation of slots (4 bytes a member) instead of sorting on every read.

// AppendScoreOrder appends the slot of every member to dst in sorted-set
// order (ascending time, ties by the member's decimal bytes) and returns the
// extended slice; At reads a slot. The sort needs 8 bytes a member of
// scratch: keys is reused for it (and returned, grown) when it has room.
func (s *Set) AppendScoreOrder(dst []uint32, keys []uint64) ([]uint32, []uint64) {
	keys = slices.Grow(keys[:0], s.Count())
	for g := uint64(0); g < s.ng; g++ {
		grp := s.group(g)
		for m := s.ctrlOf(grp) & msb; m != 0; m &= m - 1 {
			i := uint64(bits.TrailingZeros64(m) >> 3)
			keys = append(keys, uint64(s.timeAt(g, int(i)))<<32|(g*groupSlots+i))
		}
	}
	// The time is the high half, so one integer sort orders by time; only
	// runs of equal times then need the member's bytes.
	slices.Sort(keys)
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>32 == keys[lo]>>32 {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(keys[lo:hi], func(a, b uint64) int {
				ua, _ := s.At(uint32(a))
				ub, _ := s.At(uint32(b))
				return CompareDecimal(ua, ub)
			})
		}
		lo = hi
	}
	dst = slices.Grow(dst, len(keys))
	for _, k := range keys {
		dst = append(dst, uint32(k))
	}
	return dst, keys
}

// At returns the member in slot (group*8 + index), a slot AppendScoreOrder
// gave for this same set.
func (s *Set) At(slot uint32) (uid uint64, t uint32) {
	g, i := uint64(slot/groupSlots), int(slot%groupSlots)
	return s.member(g, i)
}

// CompareDecimal compares a and b as their decimal strings compare, byte by
// byte: the order of equal-score members in a Redis sorted set.
func CompareDecimal(a, b uint64) int {
	if a == b {
		return 0
	}
	var ba, bb [20]byte
	return slices.Compare(strconv.AppendUint(ba[:0], a, 10), strconv.AppendUint(bb[:0], b, 10))
}
