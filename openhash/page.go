package openhash

import "slices"

// AppendNewest appends to dst, in AppendByTime's order, the first n
// members that keep accepts (every one of them when n < 0; keep nil
// accepts all), and returns the extended slice. It holds at most n
// members while it reads the set, in a heap whose root is the last one
// kept, so a page of n costs O(N log n) and a sort of n, not a sort of
// the whole set: a page of 100 of a 5000-member list sorts 100.
func (s *Set) AppendNewest(dst []Member, n int, keep func(Member) bool) []Member {
	start := len(dst)
	if n == 0 {
		return dst
	}
	s.Range(func(uid uint64, t uint32) bool {
		m := Member{uid, t}
		if keep != nil && !keep(m) {
			return true
		}
		h := dst[start:]
		switch {
		case n < 0:
			dst = append(dst, m)
		case len(h) < n:
			dst = append(dst, m)
			siftUp(dst[start:], len(h))
		case NewestFirst(m, h[0]) < 0:
			h[0] = m
			siftDown(h, 0)
		}
		return true
	})
	slices.SortFunc(dst[start:], NewestFirst)
	return dst
}

// siftUp and siftDown keep h a heap with the member that comes last in
// NewestFirst order at its root.
func siftUp(h []Member, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if NewestFirst(h[i], h[p]) <= 0 {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []Member, i int) {
	for {
		j := 2*i + 1
		if j >= len(h) {
			return
		}
		if r := j + 1; r < len(h) && NewestFirst(h[r], h[j]) > 0 {
			j = r
		}
		if NewestFirst(h[j], h[i]) <= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
