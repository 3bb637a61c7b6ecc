package persistence

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/relcache/relcache/store"
)

// benchRecords is about 64 MB of what a follow cache holds: 2000 relation
// sets of 3000 members with times (about 32 KB each), and 20000 short
// strings, a fifth of them with a TTL.
var benchRecords = sync.OnceValue(func() []Record {
	rng := rand.New(rand.NewPCG(21, 22))
	var recs []Record
	for i := range 2000 {
		recs = append(recs, Record{Key: fmt.Appendf(nil, "following:%d", 1e9+i), Kind: store.KindRelSet, Value: relSet(&testing.B{}, rng, 3000, true)})
		for j := range 10 {
			r := Record{Key: fmt.Appendf(nil, "session:%d:%d", i, j), Kind: store.KindString, Value: bytes.Repeat([]byte{'v'}, 20+rng.IntN(100))}
			if j%5 == 0 {
				r.ExpireAt = 1_700_000_000_000 + rng.Int64N(1e9)
			}
			recs = append(recs, r)
		}
	}
	return recs
})

func benchSnapshot(b *testing.B) ([]Record, []byte) {
	recs := benchRecords()
	data, _ := writeSnapshot(b, recs)
	return recs, data
}

func BenchmarkWrite(b *testing.B) {
	recs, data := benchSnapshot(b)
	buf := bytes.NewBuffer(make([]byte, 0, len(data)))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		w, err := NewWriter(buf, created)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	_, data := benchSnapshot(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), func(Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFile(b *testing.B) {
	recs, data := benchSnapshot(b)
	path := filepath.Join(b.TempDir(), "dump.rcs")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := WriteFile(path, created, fillWith(recs)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFile(b *testing.B) {
	recs, data := benchSnapshot(b)
	path := filepath.Join(b.TempDir(), "dump.rcs")
	if _, err := WriteFile(path, created, fillWith(recs)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadFile(path, func(Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
