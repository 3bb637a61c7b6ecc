package shard

import (
	"fmt"
	"slices"
	"testing"
)

func TestKetamaPoints(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    []int
	}{
		{[]int{1}, []int{160}},
		{[]int{1, 1, 1, 1}, []int{160, 160, 160, 160}},
		// 1/5*40*4 = 32 hashes of 4 points; the total stays 160 per server.
		{[]int{1, 1, 2, 1}, []int{128, 128, 256, 128}},
		// 3/9*120 = 40, 1/9*120 = 13.3 → 13*4, 5/9*120 = 66.7 → 66*4.
		{[]int{3, 1, 5}, []int{160, 52, 264}},
		{[]int{1, 1000}, []int{0, 316}},
	} {
		var total uint64
		for _, w := range tc.weights {
			total += uint64(w)
		}
		for i, w := range tc.weights {
			if got := ketamaPoints(w, total, len(tc.weights)); got != tc.want[i] {
				t.Errorf("weights %v: server %d gets %d points, want %d", tc.weights, i, got, tc.want[i])
			}
		}
	}
}

// ringOf builds a ring of named servers of weight 1.
func ringOf(t *testing.T, names ...string) *Ketama {
	t.Helper()
	var servers []Server
	for _, n := range names {
		servers = append(servers, Server{Addr: n + ":6379", Name: n, Weight: 1})
	}
	k, err := NewKetama(servers)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKetamaIndex(t *testing.T) {
	k := ringOf(t, "a", "b", "c")
	if len(k.points) != 3*160 {
		t.Fatalf("%d points, want 480", len(k.points))
	}
	if !slices.IsSortedFunc(k.points, func(a, b ketamaPoint) int { return int(int64(a.value) - int64(b.value)) }) {
		t.Fatal("points not sorted")
	}
	first, last := k.points[0], k.points[len(k.points)-1]
	for _, tc := range []struct {
		name string
		hash uint32
		want int
	}{
		{"zero goes to the first point", 0, first.server},
		{"a point owns itself", first.value, first.server},
		{"just past a point goes to the next", first.value + 1, k.points[1].server},
		{"the last point owns itself", last.value, last.server},
		{"past the last point wraps", last.value + 1, first.server},
	} {
		if got := k.Index(tc.hash); got != tc.want {
			t.Errorf("%s: Index(%d) = %d, want %d", tc.name, tc.hash, got, tc.want)
		}
		// The same through Locate with a hash that is the key itself.
		key := []byte(fmt.Sprint(tc.hash))
		var h HashFunc = func(b []byte) uint32 {
			var v uint32
			fmt.Sscan(string(b), &v)
			return v
		}
		if got := k.Locate(key, h); got != tc.want {
			t.Errorf("%s: Locate(%q) = %d, want %d", tc.name, key, got, tc.want)
		}
	}
}

// TestKetamaConsistent checks the property ketama is chosen for: removing a
// server moves only its own keys, and reordering servers moves none.
func TestKetamaConsistent(t *testing.T) {
	names := []string{"alpha", "beta", "gamma", "delta"}
	full := ringOf(t, names...)
	less := ringOf(t, names[:3]...)
	shuffled := ringOf(t, "delta", "gamma", "alpha", "beta")
	perm := []int{2, 3, 1, 0} // index in shuffled of names[i]
	counts := make([]int, len(names))
	for i := range 20000 {
		key := []byte(fmt.Sprintf("%d.following", i))
		a := full.Locate(key, MD5)
		counts[a]++
		if b := less.Locate(key, MD5); a != 3 && b != a {
			t.Fatalf("key %s moved from %d to %d when server 3 was removed", key, a, b)
		}
		if c := shuffled.Locate(key, MD5); c != perm[a] {
			t.Fatalf("key %s on %s, but on %s after reordering", key, names[a], names[slices.Index(perm, c)])
		}
	}
	for i, c := range counts {
		// 160 points each should give every server a fair share, not exact.
		if c < 20000/4*6/10 || c > 20000/4*14/10 {
			t.Errorf("server %s got %d of 20000 keys", names[i], c)
		}
	}
}

func TestModulaReorder(t *testing.T) {
	a, _ := NewModula([]Server{{"h:1", "x", 1}, {"h:2", "y", 2}})
	b, _ := NewModula([]Server{{"h:2", "y", 2}, {"h:1", "x", 1}})
	for h := range uint32(30) {
		if a.Index(h) != 1-b.Index(h) {
			t.Fatalf("hash %d: server %d, but %d after reordering", h, a.Index(h), b.Index(h))
		}
	}
}

func BenchmarkKetamaLocate(b *testing.B) {
	var servers []Server
	for i := range 16 {
		servers = append(servers, Server{Name: fmt.Sprintf("redis-%d", i), Weight: 1})
	}
	k, err := NewKetama(servers)
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("1234567890.following")
	b.ReportAllocs()
	for b.Loop() {
		k.Locate(key, MD5)
	}
}

// BenchmarkKetamaIndex is the ring search alone, over 4 servers (as the
// proxy's benchmarks run) and 16, for hashes spread over the ring.
func BenchmarkKetamaIndex(b *testing.B) {
	for _, n := range []int{4, 16} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			var servers []Server
			for i := range n {
				servers = append(servers, Server{Name: fmt.Sprintf("redis-%d", i), Weight: 1})
			}
			k, err := NewKetama(servers)
			if err != nil {
				b.Fatal(err)
			}
			h := uint32(0)
			for b.Loop() {
				h += 0x9e3779b9 // a stride that visits the ring evenly
				k.Index(h)
			}
		})
	}
}
