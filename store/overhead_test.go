package store

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/openhash"
)

// The tests in this file measure where the bytes go per cached user and per
// relation (issue 20), as the heap sees them (runtime.MemStats.HeapAlloc
// after runtime.GC, before and after a fill) and as the store's own
// accounting (used_memory) sees them. They log numbers for
// docs/capacity.md ("Where the bytes go today") and assert only what must
// hold whatever the runtime's maps do. Run them with
//
//	go test ./store -run 'TestBytesPer' -count=1 -v
//
// They allocate a few hundred MiB and take about 6 s (30 s under -race,
// which has nothing to check in them: one goroutine), so -short and -race
// skip them.

// skipHeavy skips a measurement under -short and -race.
func skipHeavy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a heap measurement of up to 1M keys; not run with -short")
	}
	if relcachetest.RaceEnabled {
		t.Skip("a heap measurement of up to 1M keys; not run with -race (30 s, one goroutine)")
	}
}

// heapNow is the live heap after a full collection.
func heapNow() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers and sweeps left
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// followingKey appends "<uid>.following", the shape of a real key.
func followingKey(dst []byte, uid uint64) []byte {
	return append(strconv.AppendUint(dst, uid, 10), ".following"...)
}

// tenDigit draws a ten-digit uid, as Weibo's are: from [1e9, 1e10), so a
// set of more than a few of them needs 5-byte slots.
func tenDigit(r *rand.Rand) uint64 { return 1_000_000_000 + r.Uint64N(9_000_000_000) }

// keyUID is the i-th user's uid: ten digits, distinct for i < 10^6.
func keyUID(i int) uint64 { return 1_000_000_000 + uint64(i)*8999 }

// relList fills uids and times with n distinct ten-digit uids and follow
// times over the two years before 2026-11-30.
func relList(r *rand.Rand, uids []uint64, times []uint32, n int) ([]uint64, []uint32) {
	uids, times = uids[:0], times[:0]
	seen := make(map[uint64]struct{}, n)
	for len(uids) < n {
		u := tenDigit(r)
		if _, dup := seen[u]; dup {
			continue
		}
		seen[u] = struct{}{}
		uids = append(uids, u)
		times = append(times, 1_796_000_000-uint32(r.IntN(2*365*86400)))
	}
	return uids, times
}

// TestBytesPerKey measures the heap cost of one cached user beyond its
// value's bytes, by component: every key shares one value, so the value's
// bytes drop out and what the heap grows by is the entry with its key (one
// allocation) and the shard index's share (with the volatile set's, for
// keys with a TTL). The entries are measured apart (N of them allocated
// alone); the index's share is the rest.
func TestBytesPerKey(t *testing.T) {
	skipHeavy(t)
	var e ventry
	t.Logf("layout: entry %d bytes = value pointer %d + length and capacity %d + atime %d + Kind, Enc, flags and key length %d, then the key; with a TTL %d (ExpireAt %d) then the key; index slot %d bytes (entry pointer) + 1 tag byte",
		unsafe.Sizeof(e.entry), unsafe.Sizeof(e.ptr), unsafe.Sizeof(e.n)+unsafe.Sizeof(e.c), unsafe.Sizeof(e.atime),
		unsafe.Sizeof(e.entry)-unsafe.Offsetof(e.kind), unsafe.Sizeof(e), unsafe.Sizeof(e.expireAt), unsafe.Sizeof(&e))
	val, err := openhash.Build(nil, []uint64{1_234_567_890}, []uint32{1}, openhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n   int
		ttl bool
	}{
		{100_000, false},
		{1_000_000, false},
		{1_000_000, true},
	} {
		t.Run(fmt.Sprintf("keys=%d/ttl=%v", tc.n, tc.ttl), func(t *testing.T) {
			// Keys are made on the fly from keyUID: a slice of them
			// alive at the first reading and dead at the second would
			// come off the measurement.
			keyLen := len(followingKey(nil, keyUID(0)))
			var expire int64
			if tc.ttl {
				expire = 1_800_000_000_000
			}

			// The entries alone, as the store makes them (newEntry).
			var kb []byte
			base := heapNow()
			ents := make([]*entry, tc.n)
			slice := heapNow() - base
			for i := range ents {
				kb = followingKey(kb[:0], keyUID(i))
				ents[i] = newEntry(kb, Entry{Kind: KindRelSet, Value: val, ExpireAt: expire})
			}
			entryAlloc := float64(heapNow()-base-slice) / float64(tc.n)
			runtime.KeepAlive(ents)
			ents = nil

			s, _ := newTestStore(t, Config{})
			base = heapNow()
			usedBase := s.UsedMemory()
			for i := range tc.n {
				kb = followingKey(kb[:0], keyUID(i))
				s.Set(kb, Entry{Kind: KindRelSet, Value: val, ExpireAt: expire}) // one shared value
			}
			total := float64(heapNow()-base) / float64(tc.n)
			if got := s.Len(); got != int64(tc.n) {
				t.Fatalf("%d keys stored, want %d (duplicate uids?)", got, tc.n)
			}
			// The accounting's per-key part: what it charges beyond the value.
			acct := float64(s.UsedMemory()-usedBase)/float64(tc.n) - float64(cap(val))
			indexShare := total - entryAlloc
			t.Logf("key %d bytes: heap per key %.1f = entry and key %.1f + index and volatile set %.1f; accounted %.1f (EntryOverhead %d + key %d%s)",
				keyLen, total, entryAlloc, indexShare, acct, EntryOverhead, keyLen, map[bool]string{true: fmt.Sprintf(" + VolatileOverhead %d", VolatileOverhead)}[tc.ttl])
			// What must hold: the heap holds at least the entry and its
			// key for every key, and the index cannot be free.
			if indexShare <= 0 || entryAlloc < float64(unsafe.Sizeof(entry{}))+float64(keyLen) {
				t.Fatalf("per-key components do not add up: total %.1f entry and key %.1f", total, entryAlloc)
			}
			runtime.KeepAlive(s)
		})
	}
}

// TestBytesPerRelation fills a store with relation sets of the real shape
// ("<uid>.following" keys, values built with openhash.Build from ten-digit
// uids with times, copied as SET copies them) at three list sizes, and
// reports bytes per relation: the format's bytes (len), the allocation
// (cap, which the accounting counts), the heap's growth, and used_memory;
// and the gap between the accounting and the heap.
func TestBytesPerRelation(t *testing.T) {
	skipHeavy(t)
	for _, tc := range []struct {
		members, keys int
		times         bool
	}{
		{10, 100_000, true},
		{100, 20_000, true},
		{1000, 2_000, true},
		{10, 100_000, false},
		{100, 20_000, false},
		{1000, 2_000, false},
	} {
		t.Run(fmt.Sprintf("members=%d/times=%v", tc.members, tc.times), func(t *testing.T) {
			r := rand.New(rand.NewPCG(20, uint64(tc.members)))
			s, _ := newTestStore(t, Config{})
			var (
				kb, buf    []byte
				uids       []uint64
				times      []uint32
				lenSum     int64
				capSum     int64
				relations  = int64(tc.members) * int64(tc.keys)
				usedBefore = s.UsedMemory()
			)
			base := heapNow()
			for i := range tc.keys {
				uids, times = relList(r, uids, times, tc.members)
				tm := times
				if !tc.times {
					tm = nil
				}
				var err error
				buf, err = openhash.Build(buf[:0], uids, tm, openhash.Options{})
				if err != nil {
					t.Fatal(err)
				}
				v := append([]byte(nil), buf...) // as SET copies the argument
				lenSum += int64(len(v))
				capSum += int64(cap(v))
				kb = followingKey(kb[:0], keyUID(i))
				s.Set(kb, Entry{Kind: KindRelSet, Value: v})
			}
			heap := int64(heapNow() - base)
			used := s.UsedMemory() - usedBefore
			if got := s.Len(); got != int64(tc.keys) {
				t.Fatalf("%d keys stored, want %d", got, tc.keys)
			}
			per := func(n int64) float64 { return float64(n) / float64(relations) }
			gap := float64(heap-used) / float64(heap)
			t.Logf("%d keys x %d members: per relation format %.2f, allocated %.2f, heap %.2f, used_memory %.2f; per key heap %.0f, used_memory %.0f; heap - used_memory = %+.1f%% of heap",
				tc.keys, tc.members, per(lenSum), per(capSum), per(heap), per(used),
				float64(heap)/float64(tc.keys), float64(used)/float64(tc.keys), 100*gap)
			// What must hold: the heap holds every value's allocation, and
			// the accounting counts every value's capacity.
			if heap < capSum || used < capSum {
				t.Fatalf("heap %d or used_memory %d below the values' %d allocated bytes", heap, used, capSum)
			}
			// The accounting is exact for the values (cap is what was
			// allocated) and estimates only the per-key part: EntryOverhead
			// plus the key's length, 66 bytes here, against 48 bytes of
			// entry and key plus the index's share, which moves with its
			// load between 9/(4/5) = 11 and 9/(2/5) = 23 bytes (an 8-byte
			// pointer and a tag byte per slot; a table doubles past 4/5
			// full). So a key's heap is 59-71 bytes and the estimate is
			// off by at most 7 bytes per key, against at least 59 + 128
			// bytes per key (the smallest value here, 10 members without
			// times): under 4%, and 10% leaves room for the allocator's
			// page-level bookkeeping.
			if gap > 0.10 || gap < -0.10 {
				t.Fatalf("used_memory %d is %.1f%% off the heap's growth %d", used, 100*gap, heap)
			}
			runtime.KeepAlive(s)
		})
	}
}
