package fill

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

type testSource = sourcetest.FaultySource

// slowHost is the query and load timeout of tests that do not test them.
const slowHost = 30 * time.Second

var testEdges = []loader.Edge{
	{From: 1001, To: 1002, Time: 100}, {From: 1002, To: 1001, Time: 101},
	{From: 1001, To: 1003, Time: 102}, {From: 1004, To: 1003, Time: 103},
	{From: 1003, To: 1004, Time: 104},
}

// newSource opens a real SQLite source holding edges.
func newSource(t testing.TB, edges []loader.Edge) *testSource {
	t.Helper()
	ctx := context.Background()
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: filepath.Join(t.TempDir(), "source.db"),
		Layout: loader.Layout{Tables: 4}, QueryTimeout: slowHost}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
	return &testSource{SQL: src}
}

// newEngine is an engine over a fresh store and src (nil: a pure cache).
func newEngine(t testing.TB, src loader.Source, tune func(*Config)) *Engine {
	t.Helper()
	st, err := store.New(store.Config{Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := shard.ParseKeyPattern(shard.DefaultKeyPattern, shard.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: st, Keys: keys, Source: src, Log: zap.NewNop(), LoadTimeout: slowHost,
		TTL: time.Hour, NegativeTTL: time.Minute}
	if tune != nil {
		tune(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func keys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

// members reads key's cached set as uid -> time; ok false when not cached.
func members(t *testing.T, e *Engine, key string) (map[uint64]uint32, bool) {
	t.Helper()
	v, ok := e.cfg.Store.Peek([]byte(key))
	if !ok {
		return nil, false
	}
	set, err := openhash.Open(v.Value)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	out := map[uint64]uint32{}
	set.Range(func(u uint64, tm uint32) bool { out[u] = tm; return true })
	return out, true
}

func TestNewChecksConfig(t *testing.T) {
	st, _ := store.New(store.Config{})
	kp, _ := shard.ParseKeyPattern(shard.DefaultKeyPattern, shard.KeyOptions{})
	good := Config{Store: st, Keys: kp, Log: zap.NewNop()}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"pure cache", func(*Config) {}, true},
		{"no store", func(c *Config) { c.Store = nil }, false},
		{"no key pattern", func(c *Config) { c.Keys = nil }, false},
		{"no logger", func(c *Config) { c.Log = nil }, false},
		{"negative timeout", func(c *Config) { c.LoadTimeout = -1 }, false},
		{"negative ttl", func(c *Config) { c.NegativeTTL = -1 }, false},
		{"negative limit", func(c *Config) { c.ListLimit = -1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			e, err := New(cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
			if err == nil && (e.HasSource() || e.CanWrite() || e.Journal() != nil || e.cfg.LoadTimeout != DefaultLoadTimeout) {
				t.Fatalf("a pure cache: source %v, writes %v, journal %v, timeout %v", e.HasSource(), e.CanWrite(), e.Journal(), e.cfg.LoadTimeout)
			}
		})
	}
}

// Fill stores each missing list from the source with the configured TTLs,
// an empty one with the negative TTL; a key that names no list, or one
// already cached, costs no query.
func TestFillStoresLists(t *testing.T) {
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	st := e.cfg.Store
	st.Set([]byte("1004.following"), store.Entry{Kind: store.KindString, Value: []byte("theirs")})
	if err := e.Fill(context.Background(), keys("1001.following", "1003.follower", "777.follower", "plain", "1004.following")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		want map[uint64]uint32
		ttl  time.Duration
	}{
		{"1001.following", map[uint64]uint32{1002: 100, 1003: 102}, time.Hour},
		{"1003.follower", map[uint64]uint32{1001: 102, 1004: 103}, time.Hour},
		{"777.follower", map[uint64]uint32{}, time.Minute},
	} {
		got, ok := members(t, e, tc.key)
		if !ok || len(got) != len(tc.want) {
			t.Fatalf("%s: cached %v (%v), want %v", tc.key, got, ok, tc.want)
		}
		for u, tm := range tc.want {
			if got[u] != tm {
				t.Fatalf("%s: member %d time %d, want %d", tc.key, u, got[u], tm)
			}
		}
		v, _ := st.Peek([]byte(tc.key))
		if left := time.Duration(v.ExpireAt-st.Now()) * time.Millisecond; left > tc.ttl || left < tc.ttl-time.Minute/2 {
			t.Fatalf("%s: expires in %v, want %v", tc.key, left, tc.ttl)
		}
	}
	if _, ok := st.Peek([]byte("plain")); ok {
		t.Fatal("a key that names no list was filled")
	}
	if v, _ := st.Peek([]byte("1004.following")); string(v.Value) != "theirs" {
		t.Fatal("a fill replaced a key someone SET")
	}
	var s Stats
	e.ReadStats(&s)
	if src.Loads.Load() != 3 || s.Loads != 3 || s.LoadsEmpty != 1 {
		t.Fatalf("%d queries, stats %+v; want 3 loads, 1 empty", src.Loads.Load(), s)
	}
}

// A herd of callers missing one key at once makes one query.
func TestFillIsSingleflighted(t *testing.T) {
	src := newSource(t, testEdges)
	src.Gate = make(chan struct{})
	e := newEngine(t, src, nil)
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.Fill(context.Background(), keys("1001.following"))
		}()
	}
	// Give the callers time to pile up on the flight (not needed for
	// correctness: a late one finds the key cached inside the flight).
	time.Sleep(100 * time.Millisecond)
	close(src.Gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := src.Loads.Load(); got != 1 {
		t.Fatalf("%d queries for one cold key, want 1", got)
	}
}

// Only failures of the source itself count against its shard's breaker: a
// malformed row is the data's fault, and a uid the source cannot represent
// is refused before any query (issue 14, defect 2).
func TestBreakerCountsOnlySourceFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fault sets up a failure for key; wantErr checks Fill's error.
		fault     func(*testSource)
		key       string
		wantErr   func(error) bool
		wantLoads int64
		opens     bool // two such failures open the breaker
	}{
		{
			name:      "source failure",
			fault:     func(s *testSource) { e := errors.New("connection refused"); s.Fail.Store(&e) },
			key:       "2000.following",
			wantErr:   func(err error) bool { var le *LoadError; return errors.As(err, &le) && le.Shard == "relation_00" },
			wantLoads: 1,
			opens:     true,
		},
		{
			name:      "malformed row",
			fault:     func(s *testSource) { e := loader.ErrBadRow; s.Fail.Store(&e) },
			key:       "2000.following",
			wantErr:   func(err error) bool { var le *LoadError; return errors.As(err, &le) },
			wantLoads: 1,
		},
		{
			name:  "uid the source cannot hold",
			fault: func(*testSource) {},
			key:   "9223372036854775808.following",
			wantErr: func(err error) bool {
				var re *RefusedError
				return errors.As(err, &re) && errors.Is(err, loader.ErrUIDRange)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, testEdges)
			e := newEngine(t, src, func(c *Config) { c.BreakerFailures, c.BreakerCooldown = 2, time.Minute })
			tc.fault(src)
			for i := range 2 {
				before := src.Loads.Load()
				err := e.Fill(context.Background(), keys(tc.key))
				if !tc.wantErr(err) {
					t.Fatalf("failure %d: %v", i, err)
				}
				if n := src.Loads.Load() - before; n != tc.wantLoads {
					t.Fatalf("failure %d made %d queries, want %d", i, n, tc.wantLoads)
				}
			}
			src.Fail.Store(nil)
			state := e.BreakerStates()["relation_00"].String()
			err := e.Fill(context.Background(), keys("1001.following"))
			switch {
			case tc.opens && (state != "open" || err == nil):
				t.Fatalf("after two source failures the breaker is %s and a good key filled with %v", state, err)
			case !tc.opens && (state != "closed" || err != nil):
				t.Fatalf("the breaker is %s and a good key filled with %v: it counted a failure that was not the source's", state, err)
			}
		})
	}
}

// A source that never answers costs the caller the deadline, then a
// LoadError counted as a timeout; a caller whose context ends gets its
// error.
func TestFillDeadline(t *testing.T) {
	src := newSource(t, testEdges)
	src.Hang.Store(true)
	e := newEngine(t, src, func(c *Config) { c.LoadTimeout = 100 * time.Millisecond })
	err := e.Fill(context.Background(), keys("1001.following", "1002.following"))
	var le *LoadError
	if !errors.As(err, &le) || le.Shard != "relation_00" {
		t.Fatalf("hung source: %v", err)
	}
	var s Stats
	if e.ReadStats(&s); s.Timeouts == 0 {
		t.Fatal("no timeout counted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Fill(ctx, keys("1003.following")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller: %v", err)
	}
}

// A fill that would go past maxmemory stores nothing.
func TestFillOutOfMemory(t *testing.T) {
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	e.cfg.Store.SetMaxMemory(1)
	e.cfg.Store.Set([]byte("ballast"), store.Entry{Kind: store.KindString, Value: make([]byte, 100)})
	if err := e.Fill(context.Background(), keys("1001.following")); !errors.Is(err, store.ErrOOM) {
		t.Fatalf("fill past maxmemory: %v", err)
	}
	if _, ok := e.cfg.Store.Peek([]byte("1001.following")); ok {
		t.Fatal("stored past maxmemory")
	}
}

// The fill-generation invariant: a write that lands between a fill's query
// and its store makes the fill discard its (older) list and query again,
// so the cache gets the edge.
func TestFillDiscardsAListOlderThanAWrite(t *testing.T) {
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	hook := func() {
		if _, err := e.ApplyEdge(context.Background(), 1001, 1004, 900, true); err != nil {
			t.Error(err)
		}
	}
	src.AfterLoad.Store(&hook)
	if err := e.Fill(context.Background(), keys("1001.following")); err != nil {
		t.Fatal(err)
	}
	got, _ := members(t, e, "1001.following")
	var s Stats
	e.ReadStats(&s)
	if got[1004] != 900 || src.Loads.Load() != 2 || s.Discarded != 1 {
		t.Fatalf("cached %v after %d queries, %d discarded; want 1004 at 900, 2 and 1", got, src.Loads.Load(), s.Discarded)
	}
}

func TestFillWithoutSource(t *testing.T) {
	e := newEngine(t, nil, nil)
	if err := e.Fill(context.Background(), keys("1.following")); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckUID(1 << 63); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.cfg.Store.Peek([]byte("1.following")); ok {
		t.Fatal("a pure cache filled a list")
	}
}
