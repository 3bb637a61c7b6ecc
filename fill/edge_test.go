package fill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// ApplyEdge writes the source, then patches the cached lists in place, and
// never creates a list that was not cached.
func TestApplyEdge(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	// 1005.follower is cached (empty); 1002.following and 1003.following
	// are not.
	if err := e.Fill(ctx, keys("1005.follower")); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		a, b        uint64
		t           uint32
		add         bool
		wantChanged bool
		want        map[uint64]uint32 // 1005.follower after
	}{
		{1002, 1005, 500, true, true, map[uint64]uint32{1002: 500}},
		{1002, 1005, 600, true, false, map[uint64]uint32{1002: 600}}, // there: its time moves
		{1003, 1005, 700, true, true, map[uint64]uint32{1002: 600, 1003: 700}},
		{1003, 1005, 0, false, true, map[uint64]uint32{1002: 600}},
		{1003, 1005, 0, false, false, map[uint64]uint32{1002: 600}},
	} {
		changed, err := e.ApplyEdge(ctx, tc.a, tc.b, tc.t, tc.add)
		if err != nil || changed != tc.wantChanged {
			t.Fatalf("step %d: changed %v, %v; want %v", i, changed, err, tc.wantChanged)
		}
		got, _ := members(t, e, "1005.follower")
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Fatalf("step %d: 1005.follower holds %v, want %v", i, got, tc.want)
		}
	}
	if _, ok := e.cfg.Store.Peek([]byte("1002.following")); ok {
		t.Fatal("ApplyEdge created an uncached list")
	}
	l, err := src.SQL.Load(ctx, 1002, shard.Following, 0)
	if err != nil || fmt.Sprint(l.Members) != fmt.Sprint([]loader.Member{{UID: 1005, Time: 600}, {UID: 1001, Time: 101}}) {
		t.Fatalf("source after the writes: %+v, %v", l, err)
	}
}

// A write that fails drops both cached lists: the next read loads whatever
// the source now holds.
func TestApplyEdgeFailureDropsBothLists(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	if err := e.Fill(ctx, keys("1001.following", "1004.follower")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("relation half written")
	src.WriteFail.Store(&boom)
	if _, err := e.ApplyEdge(ctx, 1001, 1004, 9, true); !errors.Is(err, boom) {
		t.Fatalf("ApplyEdge on a failing source: %v", err)
	}
	if got := cached(e, "1001.following", "1004.follower"); len(got) != 0 {
		t.Fatalf("still cached after a failed write: %v", got)
	}
}

// Writes to one edge reach the source one at a time, in the order they
// reach the cache; writes to other edges do not wait for them.
func TestEdgeLockSerialisesOneEdge(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, testEdges)
	src.WriteGate = make(chan struct{})
	e := newEngine(t, src, nil)
	// Another edge whose lock is a different stripe.
	other := uint64(2)
	for e.edgeLock(1, other) == e.edgeLock(1, 9) {
		other++
	}
	var wg sync.WaitGroup
	for _, b := range []uint64{9, 9, 9, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.ApplyEdge(ctx, 1, b, 5, true); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for src.InWrite.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // room for a third to get in, were the lock missing
	if n := src.InWrite.Load(); n != 2 {
		t.Fatalf("%d writes in the source at once, want 2 (one per edge)", n)
	}
	close(src.WriteGate)
	wg.Wait()
	if m := src.MaxInWrite.Load(); m != 2 {
		t.Fatalf("at most %d writes at once, want 2", m)
	}
}

// Concurrent writes, fills and evictions on a few users leave every cached
// list equal to the source.
func TestEngineConsistencyUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, nil)
	e := newEngine(t, src, nil)
	const users, workers, ops = 8, 4, 100
	uid := func(r *rand.Rand) uint64 { return 100 + uint64(r.IntN(users)) }
	key := func(u uint64, k shard.Kind) []byte { b, _ := e.cfg.Keys.Append(nil, u, k); return b }
	// The readers' last rounds wait for the evictions, so something is
	// cached at the end however the goroutines are scheduled (the writers
	// still run beside them).
	var wg, evictions sync.WaitGroup
	evictions.Add(workers)
	for w := range workers {
		wg.Add(3)
		go func() { // writer
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range ops {
				if a, b := uid(r), uid(r); a != b {
					if _, err := e.ApplyEdge(ctx, a, b, uint32(r.IntN(1000)), r.IntN(3) != 0); err != nil {
						t.Error(err)
					}
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for i := range ops + 20 {
				if i == ops {
					evictions.Wait()
				}
				if err := e.Fill(ctx, [][]byte{key(uid(r), shard.Following), key(uid(r), shard.Follower)}); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() { // evictions
			defer wg.Done()
			defer evictions.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range ops / 5 {
				e.cfg.Store.Delete(key(uid(r), shard.Kind(r.IntN(2))))
			}
		}()
	}
	wg.Wait()
	checked := 0
	for u := uint64(100); u < 100+users; u++ {
		for _, k := range []shard.Kind{shard.Following, shard.Follower} {
			got, ok := members(t, e, string(key(u, k)))
			if !ok {
				continue
			}
			l, err := src.SQL.Load(ctx, u, k, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint64]uint32{}
			for _, m := range l.Members {
				want[m.UID] = m.Time
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: cached %v, source %v", key(u, k), got, want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing cached at the end: the test checked nothing")
	}
}

// PatchEdge is the cache half alone (RELEDGE): it patches what is cached,
// in a pure cache too, and never writes a source.
func TestPatchEdge(t *testing.T) {
	e := newEngine(t, nil, nil)
	st := e.cfg.Store
	if _, err := EditSet(st, []byte("7.follower"), EmptySet(true, 0), AddMembers([]uint64{1}, []uint32{10}, 0)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		add         bool
		wantPatched int
		want        string
	}{
		{true, 1, "map[1:10 3:50]"}, // 3.following is not cached
		{true, 1, "map[1:10 3:50]"}, // the same edge: patched, unchanged
		{false, 1, "map[1:10]"},
	} {
		if n := e.PatchEdge(st, 3, 7, 50, tc.add, EdgeUnknown); n != tc.wantPatched {
			t.Fatalf("PatchEdge(add %v) patched %d, want %d", tc.add, n, tc.wantPatched)
		}
		if got, _ := members(t, e, "7.follower"); fmt.Sprint(got) != tc.want {
			t.Fatalf("7.follower holds %v, want %s", got, tc.want)
		}
	}
	if _, ok := st.Peek([]byte("3.following")); ok {
		t.Fatal("PatchEdge created an uncached list")
	}
	// A list that cannot take the patch is dropped, not left stale.
	st.Set([]byte("3.following"), store.Entry{Kind: store.KindString, Value: []byte("x")})
	if n := e.PatchEdge(st, 3, 7, 50, true, EdgeUnknown); n != 1 {
		t.Fatalf("patched %d, want 1 (7.follower)", n)
	}
	if _, ok := st.Peek([]byte("3.following")); ok {
		t.Fatal("a key that could not take the patch was kept")
	}
	if _, err := e.ApplyEdge(context.Background(), 3, 7, 1, true); !errors.Is(err, ErrNoWriter) {
		t.Fatalf("ApplyEdge without a writer: %v", err)
	}
}

// cached lists which of keys e's store holds.
func cached(e *Engine, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := e.cfg.Store.Peek([]byte(k)); ok {
			out = append(out, k)
		}
	}
	return out
}
