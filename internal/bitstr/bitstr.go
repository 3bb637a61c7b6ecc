// Package bitstr reads and writes the bits of byte strings in Redis's bit
// order, the order of SETBIT, GETBIT, BITCOUNT, BITPOS and BITFIELD: bit i
// is in byte i/8, and bit 0 of a byte is its most significant bit. Ranges
// are in bits and inclusive; callers clamp them to the string first.
//
// The scans work on 8-byte words (math/bits' popcount and leading-zero
// count) and fall back to bytes only at the edges.
package bitstr

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Get returns bit i of b; bits past the end of b are 0.
func Get(b []byte, i uint64) int {
	if i>>3 >= uint64(len(b)) {
		return 0
	}
	return int(b[i>>3]>>(7-i&7)) & 1
}

// Set sets bit i of b (which must hold it) to v (0 or 1) and returns its
// old value.
func Set(b []byte, i uint64, v int) int {
	mask := byte(0x80) >> (i & 7)
	old := 0
	if b[i>>3]&mask != 0 {
		old = 1
	}
	if v != 0 {
		b[i>>3] |= mask
	} else {
		b[i>>3] &^= mask
	}
	return old
}

// Count returns the number of set bits of b in the bit range [from, to],
// which must lie within b; from > to counts nothing.
func Count(b []byte, from, to uint64) int64 {
	if from > to {
		return 0
	}
	first, last := from>>3, to>>3
	// Masks of the bits inside the range in the first and last byte.
	head := byte(0xff) >> (from & 7)
	tail := byte(0xff) << (7 - to&7)
	if first == last {
		return int64(bits.OnesCount8(b[first] & head & tail))
	}
	n := int64(bits.OnesCount8(b[first]&head)) + int64(bits.OnesCount8(b[last]&tail))
	return n + Popcount(b[first+1:last])
}

// Popcount returns the number of set bits in b.
func Popcount(b []byte) int64 {
	var n int
	for len(b) >= 32 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b)) +
			bits.OnesCount64(binary.LittleEndian.Uint64(b[8:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(b[16:])) +
			bits.OnesCount64(binary.LittleEndian.Uint64(b[24:]))
		b = b[32:]
	}
	for len(b) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return int64(n)
}

// Pos returns the position of the first bit equal to v (0 or 1) in the bit
// range [from, to] of b, which must lie within b, or -1 when there is none.
func Pos(b []byte, v int, from, to uint64) int64 {
	if from > to {
		return -1
	}
	// Searching for a 0 is searching for a 1 in the complement: flip
	// complements each byte (xor 0xff) or leaves it (xor 0).
	var flip byte
	if v == 0 {
		flip = 0xff
	}
	first, last := from>>3, to>>3
	head := byte(0xff) >> (from & 7)
	tail := byte(0xff) << (7 - to&7)
	if first == last {
		return found(first, (b[first]^flip)&head&tail)
	}
	if p := found(first, (b[first]^flip)&head); p >= 0 {
		return p
	}
	i := first + 1
	word := uint64(flip) * 0x0101010101010101
	for ; i+8 <= last; i += 8 {
		if w := binary.BigEndian.Uint64(b[i:]) ^ word; w != 0 {
			return int64(i*8) + int64(bits.LeadingZeros64(w))
		}
	}
	for ; i < last; i++ {
		if p := found(i, b[i]^flip); p >= 0 {
			return p
		}
	}
	return found(last, (b[last]^flip)&tail)
}

// found is the position of the first set bit of c, byte i of the string,
// or -1.
func found(i uint64, c byte) int64 {
	if c == 0 {
		return -1
	}
	return int64(i*8) + int64(bits.LeadingZeros8(c))
}

// Field reads the width-bit unsigned integer (1 to 64 bits) at bit offset
// off of b, most significant bit first; bits past the end of b read as 0.
func Field(b []byte, off uint64, width uint) uint64 {
	var v uint64
	for j := range uint64(width) {
		v = v<<1 | uint64(Get(b, off+j))
	}
	return v
}

// SetField writes the low width bits of v at bit offset off of b, which
// must hold them, most significant bit first.
func SetField(b []byte, off uint64, width uint, v uint64) {
	for j := range uint64(width) {
		Set(b, off+j, int(v>>(uint64(width)-1-j))&1)
	}
}

// SignExtend reads the low width bits of v (1 to 64) as a two's
// complement number; the bits above them are ignored.
func SignExtend(v uint64, width uint) int64 {
	if width < 64 {
		high := ^uint64(0) << width
		if v&(1<<(width-1)) != 0 {
			v |= high
		} else {
			v &^= high
		}
	}
	return int64(v)
}

// Overflow is BITFIELD's OVERFLOW policy.
type Overflow uint8

// The policies: wrap around, saturate at the type's limits, or refuse the
// write (BITFIELD answers nil for it).
const (
	Wrap Overflow = iota
	Sat
	Fail
)

// AddUnsigned adds incr to value, a width-bit unsigned field (width < 64),
// under policy ow, as Redis's checkUnsignedBitfieldOverflow decides it: a
// value above the type's maximum (a SET of one, incr 0) overflows too. ok
// is false only for an overflow under Fail.
func AddUnsigned(value uint64, incr int64, width uint, ow Overflow) (result uint64, ok bool) {
	limit := ^uint64(0)
	if width < 64 {
		limit = 1<<width - 1
	}
	maxIncr := int64(limit - value)
	minIncr := -int64(value)
	var sat uint64
	switch {
	case value > limit || (incr > 0 && incr > maxIncr):
		sat = limit
	case incr < 0 && incr < minIncr:
		sat = 0
	default:
		return value + uint64(incr), true
	}
	switch ow {
	case Sat:
		return sat, true
	case Fail:
		return 0, false
	}
	return (value + uint64(incr)) &^ (^uint64(0) << width), true
}

// AddSigned adds incr to value, a width-bit two's complement field, under
// policy ow, as Redis's checkSignedBitfieldOverflow decides it: a value
// outside the type's range (a SET of one, incr 0) overflows too, and
// wrapping keeps the low width bits, sign-extended.
func AddSigned(value, incr int64, width uint, ow Overflow) (result int64, ok bool) {
	hi := int64(math.MaxInt64)
	if width < 64 {
		hi = 1<<(width-1) - 1
	}
	lo := -hi - 1
	maxIncr := int64(uint64(hi) - uint64(value))
	minIncr := lo - value
	var sat int64
	switch {
	case value > hi || (width != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr):
		sat = hi
	case value < lo || (width != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr):
		sat = lo
	default:
		return value + incr, true
	}
	switch ow {
	case Sat:
		return sat, true
	case Fail:
		return 0, false
	}
	return SignExtend(uint64(value)+uint64(incr), width), true
}
