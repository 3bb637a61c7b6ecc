// Package lcs finds the longest common subsequence of two strings the way
// Redis's LCS command does, with the same choice among equally long
// subsequences and the same match ranges, in a thirty-second of the
// memory.
//
// Redis fills the (len(a)+1)·(len(b)+1) table of LCS lengths with 32-bit
// cells, then walks it back from the end. Two neighbours in a row differ
// by 0 or 1, so a row is kept here as one bit per cell: Hyyrö's
// bit-parallel recurrence computes each row from the previous one 64
// columns at a time, and the walk back needs only those bits. The table
// still grows as len(a)·len(b) (in bits), so callers bound it (Cells).
package lcs

import "math/bits"

// Cells is the number of table bits the LCS of strings of these lengths
// needs.
func Cells(alen, blen int) uint64 { return uint64(alen) * uint64(blen) }

// Table holds, for every prefix a[:i] (i >= 1), the bit vector V_i of
// Hyyrö's recurrence: bit j-1 of V_i is 0 exactly when LCS(a[:i], b[:j])
// is one more than LCS(a[:i], b[:j-1]). The rows are packed end to end,
// len(b) bits each, so the table is len(a)·len(b) bits however short b is.
type Table struct {
	a, b []byte
	bits []uint64 // V_i's bit j-1 at bit (i-1)·len(b) + j-1
	n    int      // LCS(a, b)
}

// New builds the table for a and b.
func New(a, b []byte) *Table {
	t := &Table{a: a, b: b}
	if len(a) == 0 || len(b) == 0 {
		return t
	}
	words := (len(b) + 63) / 64
	// The match masks of the bytes a uses: bit j set where b[j] == c.
	var masks [256][]uint64
	for _, c := range a {
		if masks[c] != nil {
			continue
		}
		m := make([]uint64, words)
		for j, x := range b {
			if x == c {
				m[j/64] |= 1 << (j % 64)
			}
		}
		masks[c] = m
	}
	t.bits = make([]uint64, (Cells(len(a), len(b))+63)/64)
	row := make([]uint64, words)
	for k := range row {
		row[k] = ^uint64(0) // row 0: LCS with an empty prefix is 0 throughout
	}
	for i, c := range a {
		m := masks[c]
		var carry uint64
		for k, v := range row {
			u := v & m[k]
			var sum uint64
			sum, carry = bits.Add64(v, u, carry)
			row[k] = sum | (v &^ m[k])
		}
		// Bits past len(b) in the last word only ever carry upward, out
		// of the row; they are not stored.
		pos := uint64(i) * uint64(len(b))
		for k, v := range row {
			t.put(pos+uint64(k*64), v, min(64, len(b)-k*64))
		}
	}
	// The zeros of the last row count the LCS.
	last := uint64(len(a)-1) * uint64(len(b))
	for j := range uint64(len(b)) {
		if t.bit(last+j) == 0 {
			t.n++
		}
	}
	return t
}

// put stores the low n bits of v at bit position pos (t.bits is zero
// there).
func (t *Table) put(pos, v uint64, n int) {
	if n < 64 {
		v &= 1<<n - 1
	}
	w, off := pos/64, pos%64
	t.bits[w] |= v << off
	if off != 0 && off+uint64(n) > 64 {
		t.bits[w+1] |= v >> (64 - off)
	}
}

func (t *Table) bit(pos uint64) uint64 { return t.bits[pos/64] >> (pos % 64) & 1 }

// Len is the length of the LCS.
func (t *Table) Len() int { return t.n }

// step reports whether LCS(a[:i], b[:j]) exceeds LCS(a[:i], b[:j-1]).
func (t *Table) step(i, j int) bool {
	return t.bit(uint64(i-1)*uint64(len(t.b))+uint64(j-1)) == 0
}

// Range is a run of matched bytes, a[A0..A1] equal to b[B0..B1]
// (inclusive).
type Range struct{ A0, A1, B0, B1 int }

// Walk walks the table back from the end as Redis's lcsCommand does and
// returns the LCS and its match ranges in the order Redis reports them
// (from the ends of the strings back). On a mismatch Redis moves up a row
// when LCS(i-1, j) > LCS(i, j-1) and left otherwise; since the cell holds
// the larger of the two, that is "up exactly when moving left would lose
// one", which one bit of the row tells.
func (t *Table) Walk() (seq []byte, ranges []Range) {
	seq = make([]byte, t.n)
	idx := t.n
	open := false
	var cur Range
	for i, j := len(t.a), len(t.b); i > 0 && j > 0; {
		if t.a[i-1] == t.b[j-1] {
			idx--
			seq[idx] = t.a[i-1]
			switch {
			case !open:
				cur, open = Range{i - 1, i - 1, j - 1, j - 1}, true
			case cur.A0 == i && cur.B0 == j:
				cur.A0, cur.B0 = i-1, j-1
			default:
				// Unreachable: after a match the next cell is its
				// diagonal neighbour. Redis closes the range here too.
				ranges, open = append(ranges, cur), false
			}
			if open && (cur.A0 == 0 || cur.B0 == 0) {
				ranges, open = append(ranges, cur), false
			}
			i, j = i-1, j-1
			continue
		}
		if t.step(i, j) {
			i--
		} else {
			j--
		}
		if open {
			ranges, open = append(ranges, cur), false
		}
	}
	return seq, ranges
}
