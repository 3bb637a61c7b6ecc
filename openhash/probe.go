package openhash

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Contains reports whether uid is a member.
func (s *Set) Contains(uid uint64) bool {
	_, _, ok := s.find(uid)
	return ok
}

// Time returns uid's follow time. ok is false when uid is not a member; a
// member of a set without times has time 0.
func (s *Set) Time(uid uint64) (t uint32, ok bool) {
	g, i, ok := s.find(uid)
	if !ok {
		return 0, false
	}
	return s.timeAt(g, i), true
}

// member is the uid and time in full slot i of group g.
func (s *Set) member(g uint64, i int) (uid uint64, t uint32) {
	grp := s.group(g)
	if s.q.ub != 0 {
		uid, t = s.q.decode(s.wordAt(grp, i), grp[groupSlots*s.width+i], g, s.seed, s.ng)
		if !s.HasTimes() {
			t = 0
		}
		return uid, t
	}
	return s.uidAt(grp, i), s.timeAt(g, i)
}

func (s *Set) timeAt(g uint64, i int) uint32 {
	if s.q.ub != 0 {
		if !s.HasTimes() {
			return 0
		}
		return s.q.timeOf(s.wordAt(s.group(g), i))
	}
	if s.times == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s.times[(int(g)*groupSlots+i)*timeSize:])
}

// ContainsBatch appends to dst one result per uid, in order, and returns
// the extended slice. It allocates only if dst lacks capacity. It is the
// call for RELMULTI: one width dispatch for the whole batch, then a loop
// whose iterations the CPU overlaps (see batchW).
func (s *Set) ContainsBatch(dst []bool, uids []uint64) []bool {
	end := len(dst) + len(uids)
	dst = slices.Grow(dst, len(uids))[:end]
	s.batch(dst[end-len(uids):], uids)
	return dst
}

// Range calls fn for every member, in table order, until fn returns false.
// Members of a set without times have time 0.
func (s *Set) Range(fn func(uid uint64, t uint32) bool) {
	for g := uint64(0); g < s.ng; g++ {
		grp := s.group(g)
		for m := s.ctrlOf(grp) & msb; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) >> 3
			if !fn(s.member(g, i)) {
				return
			}
		}
	}
}

// Member is a uid with its follow time.
type Member struct {
	UID  uint64
	Time uint32
}

// AppendByTime appends every member to dst, newest first (ties by ascending
// uid, so the order is deterministic), and returns the extended slice. In a
// set without times all times are 0 and the order is by uid. It allocates
// only if dst lacks capacity.
func (s *Set) AppendByTime(dst []Member) []Member {
	start := len(dst)
	dst = slices.Grow(dst, s.Count())
	s.Range(func(uid uint64, t uint32) bool {
		dst = append(dst, Member{uid, t})
		return true
	})
	slices.SortFunc(dst[start:], NewestFirst)
	return dst
}

// NewestFirst orders members as AppendByTime lists them: newer first, and
// equal times by ascending uid. It is a total order on a set's members
// (a set holds each uid once), so a page cursor (time, uid) continues
// exactly after the last member a page returned.
func NewestFirst(a, b Member) int {
	if c := cmp.Compare(b.Time, a.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.UID, b.UID)
}
