package zview

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/relcache/relcache/openhash"
)

func build(t testing.TB, r *rand.Rand, n int) ([]byte, openhash.Set) {
	t.Helper()
	uids := make([]uint64, 0, n)
	times := make([]uint32, 0, n)
	seen := map[uint64]bool{}
	for len(uids) < n {
		u := r.Uint64N(1 << 40)
		if !seen[u] {
			seen[u] = true
			uids, times = append(uids, u), append(times, uint32(r.IntN(50)))
		}
	}
	// Both formats: version 1 (rel-set-format fast) and 3 (compact).
	version := []int{0, openhash.VersionSmallest}[n%2]
	buf, err := openhash.Build(nil, uids, times, openhash.Options{Seed: r.Uint64(), Version: version})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := openhash.Open(buf)
	return buf, set
}

// TestOrderRankAndRanges checks Rank and ScoreRange against a walk of the
// order.
func TestOrderRankAndRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	_, set := build(t, r, 500)
	o := NewOrder(set, nil)
	for i := range o.Len() {
		u, _ := o.At(i)
		if got, ok := o.Rank(u); !ok || got != i {
			t.Fatalf("Rank(%d) = %d %v, want %d", u, got, ok, i)
		}
	}
	if _, ok := o.Rank(1 << 50); ok {
		t.Fatal("Rank of a non-member reported ok")
	}
	for range 200 {
		lo := Bound{V: float64(r.IntN(60)) - 5, Excl: r.IntN(2) == 0}
		hi := Bound{V: float64(r.IntN(60)) - 5, Excl: r.IntN(2) == 0}
		if r.IntN(10) == 0 {
			lo, hi = MinusInf, PlusInf
		}
		want := 0
		for i := range o.Len() {
			_, tm := o.At(i)
			v := float64(tm)
			if (v > lo.V || !lo.Excl && v == lo.V) && (v < hi.V || !hi.Excl && v == hi.V) {
				want++
			}
		}
		a, b := o.ScoreRange(lo, hi)
		if b-a != want {
			t.Fatalf("ScoreRange(%v, %v) = [%d, %d), want %d members", lo, hi, a, b, want)
		}
	}
	if a, b := o.ScoreRange(Bound{V: math.Inf(1)}, PlusInf); a != b {
		t.Fatalf("ScoreRange(+inf, +inf) not empty: [%d, %d)", a, b)
	}
}

// TestCacheBoundToBytes: the cache answers from an order built from the
// same bytes, and rebuilds for a new version of the key (a write's copy),
// never serving the old order for it.
func TestCacheBoundToBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	c := NewCache(1 << 20)
	buf, set := build(t, r, 300)
	var scratch Scratch
	o1 := c.Order([]byte("k"), buf, set, &scratch)
	o2 := c.Order([]byte("k"), buf, set, &scratch)
	if st := c.Stats(); st.Builds != 1 || st.Hits != 1 {
		t.Fatalf("stats %+v, want 1 build and 1 hit", st)
	}
	if &o1.Slots()[0] != &o2.Slots()[0] {
		t.Fatal("second read did not reuse the cached order")
	}
	// A write: a copy of the set with one more member at the top.
	cp := append([]byte(nil), buf...)
	if _, err := openhash.Insert(cp, 1<<39, 1000); errors.Is(err, openhash.ErrFull) {
		// A version-3 set's times cover 0..63 here: a later one grows it.
		cp, err = openhash.Grow(nil, buf, 1, openhash.Member{UID: 1 << 39, Time: 1000})
		if err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	set2, _ := openhash.Open(cp)
	o3 := c.Order([]byte("k"), cp, set2, &scratch)
	if u, _ := o3.At(o3.Len() - 1); u != 1<<39 || o3.Len() != 301 {
		t.Fatalf("after a write the top member is %d of %d, want %d of 301", u, o3.Len(), uint64(1<<39))
	}
	if st := c.Stats(); st.Builds != 2 {
		t.Fatalf("stats %+v, want a second build", st)
	}
	if len(scratch.slots) != 0 {
		t.Fatal("a cached order was built in the caller's scratch")
	}
}

// TestCacheBudget: the cache stays near its budget however many sets are
// ranged, and a small set never enters it.
func TestCacheBudget(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const budget = 256 << 10
	c := NewCache(budget)
	var scratch Scratch
	for i := range 200 {
		buf, set := build(t, r, 200)
		c.Order([]byte{byte(i), byte(i >> 8)}, buf, set, &scratch)
	}
	if used := c.Stats().Bytes; used > budget {
		t.Fatalf("cache holds %d bytes, budget %d", used, budget)
	}
	// A set bigger than a shard's share of the budget is cached too; one
	// over a quarter of it is not.
	buf, set := build(t, r, 3000)
	c.Order([]byte("big"), buf, set, &scratch)
	c.Order([]byte("big"), buf, set, &scratch)
	if st := c.Stats(); st.Hits != 1 || st.Bytes > budget {
		t.Fatalf("a 3000-member set: %+v, want one hit within budget %d", st, budget)
	}
	buf, set = build(t, r, 10000)
	c.Order([]byte("huge"), buf, set, &scratch)
	c.Order([]byte("huge"), buf, set, &scratch)
	if st := c.Stats(); st.Hits != 1 {
		t.Fatalf("a 10000-member set over a quarter of the budget was cached: %+v", st)
	}
	before := c.Stats().Builds
	buf, set = build(t, r, MinCached-1)
	c.Order([]byte("small"), buf, set, &scratch)
	if c.Stats().Builds != before || len(scratch.slots) != MinCached-1 {
		t.Fatal("a small set went through the cache instead of the scratch")
	}
	c.Flush()
	if c.Stats().Bytes != 0 {
		t.Fatalf("Flush left %d bytes", c.Stats().Bytes)
	}
}

// TestCacheConcurrent: readers of two versions of one key and of other keys
// at once, under the race detector in make test, each always get the order
// of the bytes they passed.
func TestCacheConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	c := NewCache(1 << 20)
	type version struct {
		buf []byte
		set openhash.Set
		top uint64
	}
	var vs []version
	for range 4 {
		buf, set := build(t, r, 200+r.IntN(100))
		o := NewOrder(set, nil)
		top, _ := o.At(o.Len() - 1)
		vs = append(vs, version{buf, set, top})
	}
	done := make(chan error)
	for w := range 4 {
		go func() {
			var scratch Scratch
			for i := range 500 {
				v := vs[(w+i)%len(vs)]
				key := []byte{'k', byte(i % 2)}
				o := c.Order(key, v.buf, v.set, &scratch)
				if top, _ := o.At(o.Len() - 1); top != v.top || o.Len() != v.set.Count() {
					done <- fmt.Errorf("worker %d read %d: top %d of %d, want %d of %d", w, i, top, o.Len(), v.top, v.set.Count())
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
