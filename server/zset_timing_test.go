package server

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/zview"
)

// BenchmarkZView measures the sorted-set view on a 5000-member set with
// follow times (a follow list's size at Weibo's cap), in-process: the first
// page newest first with the order cached (the steady state of paging),
// the same with the cache off (a sort per call, which the cache saves),
// RELMEMBERS NEWEST 100 (which sorts per call), a deep page, and point
// reads. Numbers in docs/benchmarks.md.
func BenchmarkZView(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	defer c.conn.Close()
	r := rand.New(rand.NewPCG(17, 5000))
	const n = 5000
	key := []byte("1000000001.follower")
	load := [][]byte{[]byte("RELLOAD"), key, []byte("TIMES")}
	var members [][]byte
	for range n {
		u := strconv.AppendUint(nil, 1_000_000_000+r.Uint64N(2_000_000_000), 10)
		members = append(members, u)
		// One follow every ~20 s over a day: some seconds hold two.
		load = append(load, u, strconv.AppendUint(nil, uint64(1_700_000_000+r.IntN(n*20)), 10))
	}
	s.dispatch(c, load, time.Now())
	if string(c.out[:1]) != ":" {
		b.Fatalf("RELLOAD: %q", c.out)
	}
	cached := s.zorders
	for _, bc := range []struct {
		name  string
		cache bool
		args  func(i int) [][]byte
	}{
		{"ZREVRANGE_0_99/cached", true, func(int) [][]byte { return cmd("ZREVRANGE", key, "0", "99") }},
		{"ZREVRANGE_0_99/uncached", false, func(int) [][]byte { return cmd("ZREVRANGE", key, "0", "99") }},
		{"ZREVRANGE_0_99_WITHSCORES/cached", true, func(int) [][]byte { return cmd("ZREVRANGE", key, "0", "99", "WITHSCORES") }},
		{"ZREVRANGE_4900_4999/cached", true, func(int) [][]byte { return cmd("ZREVRANGE", key, "4900", "4999") }},
		{"RELMEMBERS_NEWEST_100", true, func(int) [][]byte { return cmd("RELMEMBERS", key, "NEWEST", "100") }},
		{"ZSCORE", true, func(i int) [][]byte { return [][]byte{[]byte("ZSCORE"), key, members[i%n]} }},
		{"HGET", true, func(i int) [][]byte { return [][]byte{[]byte("HGET"), key, members[i%n]} }},
		{"ZREVRANK/cached", true, func(i int) [][]byte { return [][]byte{[]byte("ZREVRANK"), key, members[i%n]} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s.zorders = cached
			if !bc.cache {
				s.zorders = zview.NewCache(0)
			}
			argv := make([][][]byte, 1024)
			for i := range argv {
				argv[i] = bc.args(i)
			}
			now := time.Now()
			now = s.dispatch(c, argv[0], now) // builds the order once
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.out = c.out[:0]
				now = s.dispatch(c, argv[i&1023], now)
				i++
			}
		})
	}
	s.zorders = cached
	st := cached.Stats()
	set, _, _, _ := s.lookupRelBytes(s.store, key)
	e, _ := s.store.Get(key)
	b.Logf("order cache: %d bytes held for one %d-member set of %d bytes (%d of it the permutation)", st.Bytes, set.Count(), len(e.Value), 4*set.Count())
}

func cmd(name string, key []byte, args ...string) [][]byte {
	out := [][]byte{[]byte(name), key}
	for _, a := range args {
		out = append(out, []byte(a))
	}
	return out
}

// TestZViewPagingAllocatesNothing: once a big set's order is cached, a page
// and a point read allocate nothing, and a small set sorts into the
// connection's scratch without allocating once it has grown.
func TestZViewPagingAllocatesNothing(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	defer c.conn.Close()
	s.slowlog.threshold.Store(-1) // recording a slow call allocates by design
	for _, n := range []int{zview.MinCached * 4, zview.MinCached / 2} {
		key := []byte("k" + strconv.Itoa(n))
		load := [][]byte{[]byte("RELLOAD"), key, []byte("TIMES")}
		for i := range n {
			load = append(load, strconv.AppendInt(nil, int64(1000+i), 10), strconv.AppendInt(nil, int64(i%7), 10))
		}
		now := s.dispatch(c, load, time.Now())
		for _, args := range [][][]byte{
			cmd("ZREVRANGE", key, "0", "99", "WITHSCORES"),
			cmd("ZRANGE", key, "(2", "+inf", "BYSCORE", "LIMIT", "3", "10"),
			cmd("ZSCORE", key, "1003"), cmd("ZREVRANK", key, "1003"), cmd("ZCOUNT", key, "1", "5"),
		} {
			now = s.dispatch(c, args, now) // builds the order, grows the buffers
			allocs := testing.AllocsPerRun(50, func() {
				c.out = c.out[:0]
				now = s.dispatch(c, args, now)
			})
			if allocs != 0 {
				t.Errorf("%s on %d members: %.1f allocations per call, want 0", args[0], n, allocs)
			}
		}
	}
}

// TestZViewInfo: INFO reports the order cache: one build for the first page
// of a big set, a hit for the next, and the bytes it holds.
func TestZViewInfo(t *testing.T) {
	for _, budget := range []int64{DefaultRelOrderCache, 0} {
		t.Run(fmt.Sprint("rel-order-cache=", budget), func(t *testing.T) { zviewInfo(t, budget) })
	}
}

func zviewInfo(t *testing.T, budget int64) {
	cfg := Defaults()
	cfg.Dir, cfg.RelOrderCache = t.TempDir(), budget
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(s)
	defer c.conn.Close()
	key := []byte("big")
	load := [][]byte{[]byte("RELLOAD"), key, []byte("TIMES")}
	for i := range zview.MinCached {
		load = append(load, strconv.AppendInt(nil, int64(i+1), 10), strconv.AppendInt(nil, int64(i), 10))
	}
	now := s.dispatch(c, load, time.Now())
	now = s.dispatch(c, cmd("ZREVRANGE", key, "0", "9"), now)
	now = s.dispatch(c, cmd("ZREVRANGE", key, "10", "19"), now)
	c.out = c.out[:0]
	s.dispatch(c, [][]byte{[]byte("INFO"), []byte("memory"), []byte("stats")}, now)
	want := []string{"zview_order_hits:1\r\n", "zview_order_builds:1\r\n", "zview_order_bytes:"}
	if budget == 0 { // every read sorts: nothing cached, nothing built there
		want = []string{"zview_order_hits:0\r\n", "zview_order_builds:0\r\n", "zview_order_bytes:0\r\n"}
	}
	for _, w := range want {
		if !strings.Contains(string(c.out), w) {
			t.Errorf("INFO lacks %q:\n%s", w, c.out)
		}
	}
	if budget > 0 && strings.Contains(string(c.out), "zview_order_bytes:0\r\n") {
		t.Error("INFO says the cache holds nothing after a big set's page")
	}
}

// BenchmarkZViewManySets pages the first 100 of 1,500 random 5000-member
// lists, more than the default rel-order-cache holds (about 980 such
// orders): what a read costs when the working set outgrows the cache, and
// how often it hits (reported as hit%).
func BenchmarkZViewManySets(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	defer c.conn.Close()
	r := rand.New(rand.NewPCG(17, 1500))
	const lists, n = 1500, 5000
	keys := make([][]byte, lists)
	for i := range keys {
		keys[i] = strconv.AppendInt([]byte("u"), int64(i), 10)
		load := [][]byte{[]byte("RELLOAD"), keys[i], []byte("TIMES")}
		for range n {
			load = append(load, strconv.AppendUint(nil, 1_000_000_000+r.Uint64N(2_000_000_000), 10),
				strconv.AppendUint(nil, uint64(1_700_000_000+r.IntN(n*20)), 10))
		}
		c.out = c.out[:0]
		s.dispatch(c, load, time.Now())
	}
	argv := make([][][]byte, lists)
	for i := range argv {
		argv[i] = cmd("ZREVRANGE", keys[i], "0", "99")
	}
	now := time.Now()
	for i := range argv { // warm: the cache holds what it can
		now = s.dispatch(c, argv[i], now)
	}
	before := s.zorders.Stats()
	b.ReportAllocs()
	for b.Loop() {
		c.out = c.out[:0]
		now = s.dispatch(c, argv[r.IntN(lists)], now)
	}
	st := s.zorders.Stats()
	hits, builds := st.Hits-before.Hits, st.Builds-before.Builds
	b.ReportMetric(100*float64(hits)/float64(max(1, hits+builds)), "hit%")
	b.ReportMetric(float64(st.Bytes)/(1<<20), "cacheMiB")
}
