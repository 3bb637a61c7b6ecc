package bitstr

import (
	"math/bits"
	"testing"
)

// popcountBytes is the byte-at-a-time count Popcount replaces, kept as the
// benchmarks' reference.
func popcountBytes(b []byte) int64 {
	var n int
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return int64(n)
}

func benchCount(b *testing.B, count func([]byte) int64) {
	v := make([]byte, 1<<20)
	for i := range v {
		v[i] = byte(i * 7)
	}
	want := popcountBytes(v)
	b.SetBytes(int64(len(v)))
	b.ResetTimer()
	for b.Loop() {
		if count(v) != want {
			b.Fatal("wrong count")
		}
	}
}

// BenchmarkPopcountWords is BITCOUNT's inner loop over 1 MB, 8 bytes at a
// time; BenchmarkPopcountBytes the same count a byte at a time.
func BenchmarkPopcountWords(b *testing.B) { benchCount(b, Popcount) }
func BenchmarkPopcountBytes(b *testing.B) { benchCount(b, popcountBytes) }
