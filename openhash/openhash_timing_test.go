package openhash

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// The sizes the targets are stated for (3000) and around them, plus a
// million to show the out-of-cache behaviour.
var benchSizes = []int{100, 3000, 5000, 1_000_000}

// batchSizes adds, for the batch, sets larger than a core's L1 that fit its
// L2: 20k members (128 KB of groups) and 100k (640 KB).
var batchSizes = []int{100, 3000, 5000, 20_000, 100_000, 1_000_000}

// batchSize is a RELMULTI's worth of uids.
const batchSize = 500

type benchData struct {
	uids   []uint64 // distinct 10-digit uids, in [1e9, 1e10)
	times  []uint32
	hits   []uint64 // members in random order, for single probes
	misses []uint64 // non-members from the same range
	// queries are batches of batchSize uids, half members, shuffled. A
	// benchmark cycles through them so that on the large sets the groups
	// a batch touches are not all still cached from the previous round,
	// as they would be if one batch were repeated.
	queries [][]uint64
}

var benchCache = map[int]*benchData{}

func benchInput(n int) *benchData {
	if d, ok := benchCache[n]; ok {
		return d
	}
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	seen := make(map[uint64]struct{}, 2*n)
	draw := func() uint64 {
		for {
			u := 1_000_000_000 + rng.Uint64N(9_000_000_000)
			if _, ok := seen[u]; !ok {
				seen[u] = struct{}{}
				return u
			}
		}
	}
	d := &benchData{}
	for range n {
		d.uids = append(d.uids, draw())
		d.times = append(d.times, 1_300_000_000+rng.Uint32N(500_000_000))
	}
	probes := min(n, 1<<16)
	d.hits = make([]uint64, probes)
	for i := range d.hits {
		d.hits[i] = d.uids[rng.IntN(n)]
	}
	for range probes {
		d.misses = append(d.misses, draw())
	}
	// At least 1024 batches, so that a branch predictor cannot learn the
	// hit/miss pattern of the sequence. It can learn a long one: on the
	// development machine's AMD EPYC (Zen 4) the early-exit batch kernel
	// measured 2.1 µs of CPU per 500 uids at 3000 members with 16 or 64
	// batches and 5.8-6.1 µs with 256 or 1024, while a kernel without
	// data-dependent branches went from 4.3 to 4.6 µs (the longer query
	// stream). With one repeated batch an Intel Xeon learned it too (3.4-4.0
	// against 6.7 µs). No server sees a repeated sequence.
	for range max(1024, 2*n/batchSize) {
		q := make([]uint64, batchSize)
		for i := range q {
			if i%2 == 0 {
				q[i] = d.uids[rng.IntN(n)]
			} else {
				q[i] = draw()
			}
		}
		rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
		d.queries = append(d.queries, q)
	}
	benchCache[n] = d
	return d
}

// heapBytes measures what build leaves allocated, for the B/member of the
// Go containers compared against.
func heapBytes(build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

type competitor struct {
	name     string
	contains func(uint64) bool
}

func competitors(b *testing.B, d *benchData) []competitor {
	s := mustOpen(b, mustBuild(b, d.uids, nil))
	st := mustOpen(b, mustBuild(b, d.uids, d.times))
	m := make(map[uint64]struct{}, len(d.uids))
	mt := make(map[uint64]uint32, len(d.uids))
	for i, u := range d.uids {
		m[u] = struct{}{}
		mt[u] = d.times[i]
	}
	sorted := slices.Sorted(slices.Values(d.uids))
	return []competitor{
		{"openhash", s.Contains},
		{"openhash-times", st.Contains},
		{"map-struct", func(u uint64) bool { _, ok := m[u]; return ok }},
		{"map-uint32", func(u uint64) bool { _, ok := mt[u]; return ok }},
		{"sorted", func(u uint64) bool { _, ok := slices.BinarySearch(sorted, u); return ok }},
	}
}

func mustBuild(tb testing.TB, uids []uint64, times []uint32) []byte {
	buf, err := Build(nil, uids, times, Options{Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return buf
}

func mustOpen(tb testing.TB, buf []byte) *Set {
	s, err := Open(buf)
	if err != nil {
		tb.Fatal(err)
	}
	return &s
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range benchSizes {
		d := benchInput(n)
		// Each in the default format (version 1) and, "-compact", in
		// version 3 where smaller (rel-set-format compact).
		for i := range 4 {
			withTimes, version := i%2 == 1, []int{0, VersionSmallest}[i/2]
			name := "openhash"
			var times []uint32
			if withTimes {
				name, times = "openhash-times", d.times
			}
			if version != 0 {
				name += "-compact"
			}
			b.Run(fmt.Sprintf("n=%d/%s", n, name), func(b *testing.B) {
				buf := mustBuild(b, d.uids, times)
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, cpuOK := threadCPU()
				for b.Loop() {
					buf, _ = Build(buf[:0], d.uids, times, Options{Seed: 1, Version: version})
				}
				if cpu1, ok := threadCPU(); ok && cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
				b.ReportMetric(float64(len(buf))/float64(n), "B/member")
			})
		}
		b.Run(fmt.Sprintf("n=%d/map-struct", n), func(b *testing.B) {
			size := heapBytes(func() any {
				m := make(map[uint64]struct{}, n)
				for _, u := range d.uids {
					m[u] = struct{}{}
				}
				return m
			})
			b.ReportAllocs()
			for b.Loop() {
				m := make(map[uint64]struct{}, n)
				for _, u := range d.uids {
					m[u] = struct{}{}
				}
			}
			b.ReportMetric(size/float64(n), "B/member")
		})
		b.Run(fmt.Sprintf("n=%d/map-uint32", n), func(b *testing.B) {
			size := heapBytes(func() any {
				m := make(map[uint64]uint32, n)
				for i, u := range d.uids {
					m[u] = d.times[i]
				}
				return m
			})
			b.ReportAllocs()
			for b.Loop() {
				m := make(map[uint64]uint32, n)
				for i, u := range d.uids {
					m[u] = d.times[i]
				}
			}
			b.ReportMetric(size/float64(n), "B/member")
		})
		b.Run(fmt.Sprintf("n=%d/sorted", n), func(b *testing.B) {
			s := make([]uint64, n)
			b.ReportAllocs()
			for b.Loop() {
				copy(s, d.uids)
				slices.Sort(s)
			}
			b.ReportMetric(8, "B/member")
		})
	}
}

func benchProbe(b *testing.B, probes func(*benchData) []uint64) {
	for _, n := range benchSizes {
		d := benchInput(n)
		for _, c := range competitors(b, d) {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				p := probes(d)
				b.ReportAllocs()
				i, hits := 0, 0
				for b.Loop() {
					if c.contains(p[i]) {
						hits++
					}
					if i++; i == len(p) {
						i = 0
					}
				}
				sink = hits
			})
		}
	}
}

var sink int

func BenchmarkContainsHit(b *testing.B) {
	benchProbe(b, func(d *benchData) []uint64 { return d.hits })
}

func BenchmarkContainsMiss(b *testing.B) {
	benchProbe(b, func(d *benchData) []uint64 { return d.misses })
}

// BenchmarkBatch500 is a RELMULTI: 500 uids, half of them members.
func BenchmarkBatch500(b *testing.B) {
	for _, n := range batchSizes {
		d := benchInput(n)
		// Each in the default format (version 1) and, "-compact", in
		// version 3 where smaller (rel-set-format compact), as Build's.
		for i := range 4 {
			withTimes, version := i%2 == 1, []int{0, VersionSmallest}[i/2]
			name := "openhash-batch"
			var times []uint32
			if withTimes {
				name, times = "openhash-times-batch", d.times
			}
			if version != 0 {
				name += "-compact"
			}
			b.Run(fmt.Sprintf("n=%d/%s", n, name), func(b *testing.B) {
				buf, err := Build(nil, d.uids, times, Options{Seed: 1, Version: version})
				if err != nil {
					b.Fatal(err)
				}
				s := mustOpen(b, buf)
				out := make([]bool, 0, batchSize)
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, cpuOK := threadCPU()
				i := 0
				for b.Loop() {
					out = s.ContainsBatch(out[:0], d.queries[i])
					if i++; i == len(d.queries) {
						i = 0
					}
				}
				// CPU time per op beside ns/op: on a shared machine it
				// leaves out the time this thread waited for a core.
				if cpu1, ok := threadCPU(); ok && cpuOK {
					b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
				}
			})
		}
		for _, c := range competitors(b, d) {
			b.Run(fmt.Sprintf("n=%d/%s-loop", n, c.name), func(b *testing.B) {
				out := make([]bool, batchSize)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					for j, u := range d.queries[i] {
						out[j] = c.contains(u)
					}
					if i++; i == len(d.queries) {
						i = 0
					}
				}
			})
		}
	}
}

// BenchmarkVerify is what each rel-verify mode costs a SET of a
// client-built set (times included, as the relation service sends them):
// Validate alone (the header), CheckControl (the header and one control
// word per group: what rel-verify header runs) and Check (the full walk).
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{3000, 100_000} {
		d := benchInput(n)
		buf := mustBuild(b, d.uids, d.times)
		for _, c := range []struct {
			name  string
			check func([]byte) error
		}{{"validate", Validate}, {"control", CheckControl}, {"check", Check}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.check(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
