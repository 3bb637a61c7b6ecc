package store

import (
	"fmt"
	"testing"
)

// BenchmarkGet is the store's read path alone: a hit on one of 100k keys
// (so the shards' maps are past the CPU's first-level caches), without and
// with a TTL, the two shapes of entry the store keeps.
func BenchmarkGet(b *testing.B) {
	for _, ttl := range []bool{false, true} {
		b.Run(fmt.Sprintf("ttl=%v", ttl), func(b *testing.B) {
			s, _ := newTestStore(b, Config{})
			const n = 100_000
			keys := make([][]byte, n)
			var expire int64
			if ttl {
				expire = s.Now() + 3_600_000
			}
			for i := range keys {
				keys[i] = followingKey(nil, keyUID(i))
				s.Set(keys[i], Entry{Kind: KindRelSet, Value: []byte("value"), ExpireAt: expire})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok := s.Get(keys[i%n]); !ok {
					b.Fatal("miss")
				}
				i += 7919 // a stride over the keyspace, not one hot line
			}
		})
	}
}
