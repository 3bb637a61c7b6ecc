package lcs

import (
	"math/rand/v2"
	"testing"
)

func lcsOperands() ([]byte, []byte) {
	r := rand.New(rand.NewPCG(1, 1))
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	return mk(2000), mk(2000)
}

// BenchmarkLCSBits is LCS of two 2000-byte strings with the bit table;
// BenchmarkLCSTable the same with Redis's table of 32-bit lengths.
func BenchmarkLCSBits(b *testing.B) {
	x, y := lcsOperands()
	b.ReportAllocs()
	for b.Loop() {
		New(x, y).Walk()
	}
}

func BenchmarkLCSTable(b *testing.B) {
	x, y := lcsOperands()
	b.ReportAllocs()
	for b.Loop() {
		reference(x, y)
	}
}
