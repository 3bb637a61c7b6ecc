package bitstr

import (
	"math"
	"math/rand/v2"
	"testing"
)

func naiveGet(b []byte, i uint64) int { return int(b[i/8]>>(7-i%8)) & 1 }

// TestCountAndPos compares the word-at-a-time scans with bit-by-bit ones
// on random strings and every kind of range edge.
func TestCountAndPos(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	for range 5000 {
		b := make([]byte, r.IntN(70))
		for i := range b {
			switch r.IntN(3) {
			case 0:
				b[i] = 0xff
			case 1:
				b[i] = 0
			default:
				b[i] = byte(r.IntN(256))
			}
		}
		if len(b) == 0 {
			continue
		}
		n := uint64(len(b)) * 8
		from, to := r.Uint64N(n), r.Uint64N(n)
		var ones int64
		first := [2]int64{-1, -1}
		for i := from; i <= to && from <= to; i++ {
			v := naiveGet(b, i)
			ones += int64(v)
			if first[v] < 0 {
				first[v] = int64(i)
			}
		}
		if got := Count(b, from, to); got != ones {
			t.Fatalf("Count(%x, %d, %d) = %d, want %d", b, from, to, got, ones)
		}
		for v := range 2 {
			if got := Pos(b, v, from, to); got != first[v] {
				t.Fatalf("Pos(%x, %d, %d, %d) = %d, want %d", b, v, from, to, got, first[v])
			}
		}
	}
}

func TestFields(t *testing.T) {
	b := make([]byte, 3)
	SetField(b, 5, 9, 0x1ff)
	if b[0] != 0x07 || b[1] != 0xfc || Field(b, 5, 9) != 0x1ff {
		t.Fatalf("SetField: % x", b)
	}
	if got := Field(b, 20, 64); got != 0 {
		t.Fatalf("Field past the end = %x", got)
	}
	if got := SignExtend(0xff, 8); got != -1 {
		t.Fatalf("SignExtend(0xff, 8) = %d", got)
	}
	if got := SignExtend(0x17f, 8); got != 127 {
		t.Fatalf("SignExtend(0x17f, 8) = %d, want the high bits dropped", got)
	}
}

// TestOverflow pins BITFIELD's arithmetic to replies taken from
// redis-server 7.0.
func TestOverflow(t *testing.T) {
	for _, tc := range []struct {
		signed bool
		value  int64
		incr   int64
		width  uint
		ow     Overflow
		want   int64
		ok     bool
	}{
		{true, 100, 100, 8, Wrap, -56, true},
		{true, -56, 100, 8, Sat, 44, true},
		{true, 44, 100, 8, Fail, 0, false},
		{true, 100, 100, 8, Sat, 127, true},
		{true, -100, -100, 8, Sat, -128, true},
		{true, -300, 0, 8, Sat, -128, true},
		{true, -300, 0, 8, Wrap, -44, true},
		{true, math.MaxInt64, 1, 64, Wrap, math.MinInt64, true},
		{true, math.MaxInt64, 1, 64, Sat, math.MaxInt64, true},
		{true, math.MinInt64, -1, 64, Sat, math.MinInt64, true},
		{true, -1, 0, 64, Fail, -1, true},
		{false, 3, 1, 2, Wrap, 0, true},
		{false, 0, -5, 2, Wrap, 3, true},
		{false, 0, -5, 2, Sat, 0, true},
		{false, -1, 0, 8, Sat, 255, true}, // SET u8 -1: 2^64-1 is above the maximum
		{false, 300, 0, 8, Wrap, 44, true},
		{false, 300, 0, 8, Fail, 0, false},
		{false, 1, math.MaxInt64, 63, Sat, math.MaxInt64, true},
	} {
		var got int64
		var ok bool
		if tc.signed {
			got, ok = AddSigned(tc.value, tc.incr, tc.width, tc.ow)
		} else {
			var u uint64
			u, ok = AddUnsigned(uint64(tc.value), tc.incr, tc.width, tc.ow)
			got = int64(u)
		}
		if got != tc.want || ok != tc.ok {
			t.Errorf("%+v: got %d, %v", tc, got, ok)
		}
	}
}
