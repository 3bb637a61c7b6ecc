package shard

import "testing"

func BenchmarkFNV1a_64(b *testing.B) {
	key := []byte("1234567890.following")
	b.SetBytes(int64(len(key)))
	b.ReportAllocs()
	var h uint32
	for b.Loop() {
		h += FNV1a_64(key)
	}
	_ = h
}

func BenchmarkHashTag(b *testing.B) {
	key := []byte("user:{1234567890}.following")
	b.SetBytes(int64(len(key)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += len(HashTag(key, "{}"))
	}
	_ = n
}
