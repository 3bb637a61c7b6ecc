package store

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func newTestStore(t testing.TB, cfg Config) (*Store, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	clk.ms.Store(1_700_000_000_000)
	if cfg.Now == nil {
		cfg.Now = clk.now
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func str(v string) Entry { return Entry{Kind: KindString, Value: []byte(v)} }

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"shards not power of two", Config{Shards: 3}, false},
		{"negative maxmemory", Config{MaxMemory: -1}, false},
		{"bad policy", Config{Policy: 9}, false},
		{"too many samples", Config{EvictionSamples: 65}, false},
		{"negative budget", Config{ExpireBudget: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New(%+v) err = %v, want ok=%v", tc.cfg, err, tc.ok)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	for _, name := range []string{"noeviction", "allkeys-lru", "VOLATILE-LRU", "allkeys-random"} {
		p, err := ParsePolicy(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := ParsePolicy(p.String()); got != p {
			t.Fatalf("round trip of %s gave %v", name, got)
		}
	}
	if _, err := ParsePolicy("allkeys-lfu"); err == nil {
		t.Fatal("allkeys-lfu accepted, but it is not implemented")
	}
}

func TestTTL(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	now := s.Now()
	steps := []struct {
		op      string
		key     string
		advance time.Duration
		want    string // "" means absent
	}{
		{op: "set-ttl", key: "a"},
		{op: "set", key: "b"},
		{op: "get", key: "a", want: "v"},
		{op: "get", key: "a", advance: 999 * time.Millisecond, want: "v"},
		{op: "get", key: "a", advance: time.Millisecond},
		{op: "get", key: "b", want: "v"},
	}
	for i, st := range steps {
		clk.add(st.advance)
		switch st.op {
		case "set-ttl":
			s.Set([]byte(st.key), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: now + 1000})
		case "set":
			s.Set([]byte(st.key), str("v"))
		case "get":
			e, ok := s.Get([]byte(st.key))
			if got := string(e.Value); ok != (st.want != "") || got != st.want {
				t.Fatalf("step %d: get %s = %q,%v want %q", i, st.key, got, ok, st.want)
			}
		}
	}
	// The read that found the key expired removed it, as Redis's lookups
	// do: the active cycle finds nothing left.
	if _, removed := s.ExpireCycle(); removed != 0 {
		t.Fatalf("expire cycle removed %d, want 0", removed)
	}
	var st Stats
	s.ReadStats(&st)
	if st.Keys != 1 || st.VolatileKey != 0 || st.Expired != 1 {
		t.Fatalf("stats after expiry: %+v", st)
	}
}

func TestActiveExpiryIsBounded(t *testing.T) {
	s, clk := newTestStore(t, Config{ExpireBudget: 100, Shards: 16})
	now := s.Now()
	for i := range 1000 {
		s.Set(fmt.Appendf(nil, "k%d", i), Entry{Kind: KindString, Value: []byte("x"), ExpireAt: now + 10})
	}
	clk.add(time.Second)
	examined, removed := s.ExpireCycle()
	if examined > 100 || removed == 0 {
		t.Fatalf("cycle examined %d removed %d; want ≤ 100 examined and some removed", examined, removed)
	}
	for range 100 {
		s.ExpireCycle()
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("%d keys left after repeated cycles", n)
	}
	if m := s.UsedMemory(); m != 0 {
		t.Fatalf("used memory %d after all keys expired, want 0", m)
	}
}

func TestUpdateActions(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	k := []byte("counter")
	s.Update(k, func(cur Entry, ok bool) (Entry, Action) {
		if ok {
			t.Fatal("absent key reported present")
		}
		return str("1"), Put
	})
	s.Update(k, func(cur Entry, ok bool) (Entry, Action) {
		if !ok || string(cur.Value) != "1" {
			t.Fatalf("got %q,%v", cur.Value, ok)
		}
		return Entry{}, Keep
	})
	if !s.Delete(k) || s.Delete(k) {
		t.Fatal("delete should succeed once")
	}
	if s.UsedMemory() != 0 || s.Len() != 0 {
		t.Fatalf("accounting after delete: used %d keys %d", s.UsedMemory(), s.Len())
	}
}

func TestRename(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	s.Set([]byte("a"), Entry{Kind: KindString, Value: []byte("1"), ExpireAt: s.Now() + 60000})
	s.Set([]byte("b"), str("2"))
	if ok, err := s.Rename([]byte("a"), []byte("b"), true); ok || err != nil {
		t.Fatalf("renamenx onto existing: %v %v", ok, err)
	}
	if ok, err := s.Rename([]byte("a"), []byte("c"), false); !ok || err != nil {
		t.Fatalf("rename: %v %v", ok, err)
	}
	e, ok := s.Get([]byte("c"))
	if !ok || string(e.Value) != "1" || e.ExpireAt == 0 {
		t.Fatalf("renamed entry lost value or TTL: %+v", e)
	}
	if _, err := s.Rename([]byte("a"), []byte("d"), false); err != ErrNoSuchKey {
		t.Fatalf("rename of missing key: %v", err)
	}
	if ok, err := s.Rename([]byte("c"), []byte("c"), false); !ok || err != nil {
		t.Fatalf("rename onto itself: %v %v", ok, err)
	}
	var st Stats
	s.ReadStats(&st)
	if st.Keys != 2 || st.VolatileKey != 1 {
		t.Fatalf("stats after renames: %+v", st)
	}
}

func TestEviction(t *testing.T) {
	const value = 100
	per := int64(EntryOverhead + value + 4)
	for _, tc := range []struct {
		policy   Policy
		ttl      bool
		wantOOM  bool
		survives string // a key that must survive: it was read recently
	}{
		{policy: NoEviction, wantOOM: true},
		{policy: AllKeysLRU, survives: "k0"},
		{policy: AllKeysRandom},
		{policy: VolatileLRU, wantOOM: true}, // nothing has a TTL
		{policy: VolatileLRU, ttl: true},
	} {
		t.Run(fmt.Sprintf("%v-ttl=%v", tc.policy, tc.ttl), func(t *testing.T) {
			s, clk := newTestStore(t, Config{Shards: 16, MaxMemory: 50 * per, Policy: tc.policy, EvictionSamples: 10})
			var exp int64
			if tc.ttl {
				exp = s.Now() + 3600_000
			}
			var oom bool
			for i := range 200 {
				if err := s.EnsureMemory(); err != nil {
					oom = true
					break
				}
				s.Set(fmt.Appendf(nil, "k%03d", i), Entry{Kind: KindString, Value: make([]byte, value), ExpireAt: exp})
				clk.add(time.Second)
				s.Get([]byte("k000")) // keep k000 hot
			}
			if oom != tc.wantOOM {
				t.Fatalf("oom = %v, want %v", oom, tc.wantOOM)
			}
			if tc.wantOOM {
				return
			}
			if used := s.UsedMemory(); used > 51*per {
				t.Fatalf("used %d > maxmemory %d plus one entry", used, 50*per)
			}
			var st Stats
			s.ReadStats(&st)
			if st.Evicted < 100 {
				t.Fatalf("evicted %d, want ≥ 100", st.Evicted)
			}
			if tc.survives != "" {
				if _, ok := s.Peek([]byte("k000")); !ok {
					t.Fatal("LRU evicted the most recently used key")
				}
			}
		})
	}
}

func TestAppendStyleCapacityIsAccounted(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	v := make([]byte, 3, 1000)
	s.Set([]byte("k"), Entry{Kind: KindString, Value: v})
	if got, want := s.UsedMemory(), int64(1+1000+EntryOverhead); got != want {
		t.Fatalf("used %d want %d", got, want)
	}
}

func TestScanVisitsEveryKeyOnce(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 64})
	const n = 5000
	for i := range n {
		s.Set(fmt.Appendf(nil, "key:%d", i), str("v"))
	}
	seen := make(map[string]int)
	var cursor uint64
	for calls := 0; ; calls++ {
		cursor = s.Scan(cursor, 10, func(k string, _ Entry) { seen[k]++ })
		if cursor == 0 {
			break
		}
		if calls > 1000 {
			t.Fatal("scan does not terminate")
		}
	}
	if len(seen) != n {
		t.Fatalf("scan saw %d keys, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("key %s seen %d times", k, c)
		}
	}
}

func TestRandomKeyAndFlush(t *testing.T) {
	s, _ := newTestStore(t, Config{})
	if _, ok := s.RandomKey(); ok {
		t.Fatal("random key of an empty store")
	}
	s.Set([]byte("only"), str("v"))
	if k, ok := s.RandomKey(); !ok || k != "only" {
		t.Fatalf("random key = %q,%v", k, ok)
	}
	s.Flush()
	if s.Len() != 0 || s.UsedMemory() != 0 {
		t.Fatalf("after flush: keys %d used %d", s.Len(), s.UsedMemory())
	}
}

// TestConcurrentAccounting runs readers, writers, deleters, renames, expiry and
// eviction at once (meant for -race) and then checks that the counters equal
// a recount of the keyspace and never went negative.
func TestConcurrentAccounting(t *testing.T) {
	s, clk := newTestStore(t, Config{Shards: 8, MaxMemory: 200 * (EntryOverhead + 64), Policy: AllKeysLRU})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var negative atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if s.UsedMemory() < 0 || s.Len() < 0 {
				negative.Store(true)
			}
			s.ExpireCycle()
			clk.add(time.Millisecond)
		}
	}()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := fmt.Appendf(nil, "k%d", (i*7+w)%500)
				switch i % 6 {
				case 0, 1:
					_ = s.EnsureMemory()
					var exp int64
					if i%4 == 0 {
						exp = s.Now() + 5
					}
					s.Set(k, Entry{Kind: KindString, Value: make([]byte, i%64), ExpireAt: exp})
				case 2:
					s.Get(k)
				case 3:
					s.Delete(k)
				case 4:
					s.Rename(k, fmt.Appendf(nil, "k%d", i%500), false)
				case 5:
					s.Scan(uint64(i%8), 5, func(string, Entry) {})
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	close(stop)
	wg.Wait()
	if negative.Load() {
		t.Fatal("accounting went negative")
	}
	var keys, used, volatile int64
	for i := range s.shards {
		sh := &s.shards[i]
		for _, e := range sh.m.slots {
			if e == nil {
				continue
			}
			k := e.key()
			keys++
			used += e.size(len(k))
			if e.expireAt() != 0 {
				volatile++
				if _, ok := sh.volatile[e]; !ok {
					t.Fatalf("volatile key %s missing from the volatile set", k)
				}
			}
		}
		if len(sh.volatile) > sh.m.n {
			t.Fatal("volatile set has keys the map does not")
		}
	}
	var st Stats
	s.ReadStats(&st)
	if st.Keys != keys || st.UsedMemory != used || st.VolatileKey != volatile {
		t.Fatalf("counters %+v, recount keys=%d used=%d volatile=%d", st, keys, used, volatile)
	}
}

// TestEntryOverheadEstimate measures the real heap cost per key and checks
// that EntryOverhead stays an honest estimate (within a factor that allows for
// map growth steps). It is how the constant was chosen.
func TestEntryOverheadEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200k keys; not run with -short")
	}
	const n = 200_000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user:%010d", i)
	}
	val := []byte("0123456789")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, _ := newTestStore(t, Config{})
	for _, k := range keys {
		s.Set(k, Entry{Kind: KindString, Value: val}) // shared value: measure overhead only
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc)/n - float64(len(keys[0]))
	t.Logf("measured heap overhead per key: %.1f bytes (estimate %d)", perKey, EntryOverhead)
	if perKey > 1.6*EntryOverhead || perKey < 0.5*EntryOverhead {
		t.Fatalf("EntryOverhead %d is off: measured %.1f bytes per key", EntryOverhead, perKey)
	}
	runtime.KeepAlive(s)
}

func TestTickDrivesTheClock(t *testing.T) {
	s, clk := newTestStore(t, Config{})
	now := s.Now()
	s.Set([]byte("k"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: now + 1000})
	s.Tick(now + 500)
	s.Tick(now + 100) // an older reading from another goroutine: ignored
	if got := s.Now(); got != now+500 {
		t.Fatalf("Now = %d after Tick(+500), Tick(+100); want %d", got, now+500)
	}
	// Once ticked, the store reads the ticked time, not the system clock.
	clk.add(time.Hour)
	if _, ok := s.Get([]byte("k")); !ok {
		t.Fatal("key expired by the system clock although the ticked clock says it lives")
	}
	s.Tick(now + 1000)
	if _, ok := s.Get([]byte("k")); ok {
		t.Fatal("key alive at its expiry time")
	}
}

// TestEachAndChanges: Each sees every live key exactly once at one
// version, skips expired ones, and Changes counts puts and removals.
func TestEachAndChanges(t *testing.T) {
	s, err := New(Config{Shards: 16, Now: func() time.Time { return time.UnixMilli(1_000_000) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		s.Set([]byte(strconv.Itoa(i)), Entry{Kind: KindString, Value: []byte("v" + strconv.Itoa(i))})
	}
	s.Set([]byte("gone"), Entry{Kind: KindString, Value: []byte("x"), ExpireAt: 999_000})
	s.Delete([]byte("7"))
	if got := s.Changes(); got != 1002 {
		t.Fatalf("Changes = %d, want 1002", got)
	}
	seen := map[string]bool{}
	err = s.Each(func(k string, e Entry) error {
		if seen[k] {
			t.Fatalf("key %q twice", k)
		}
		seen[k] = true
		if string(e.Value) != "v"+k {
			t.Fatalf("key %q value %q", k, e.Value)
		}
		return nil
	})
	if err != nil || len(seen) != 999 || seen["gone"] || seen["7"] {
		t.Fatalf("Each saw %d keys (gone %v, 7 %v), err %v", len(seen), seen["gone"], seen["7"], err)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Each(func(string, Entry) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Each did not stop on an error: %v after %d", err, n)
	}
}

// TestEntryLayout pins the per-key struct sizes: Unchecked and Enc must stay
// in the padding after Kind (issue 20 counts every byte per key).
func TestEntryLayout(t *testing.T) {
	if got := unsafe.Sizeof(Entry{}); got != 40 {
		t.Errorf("Entry is %d bytes, want 40", got)
	}
	if got := unsafe.Sizeof(entry{}); got != 24 {
		t.Errorf("entry is %d bytes, want 24", got)
	}
	if got := unsafe.Sizeof(ventry{}); got != 32 {
		t.Errorf("ventry is %d bytes, want 32", got)
	}
}

// TestMarkChecked: the mark is cleared only on the version that was
// checked, and clearing it is not a change.
func TestMarkChecked(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 2})
	v1, v2 := []byte("set v1"), []byte("set v2")
	s.Set([]byte("k"), Entry{Kind: KindRelSet, Value: v1, Unchecked: true})
	changes := s.Changes()
	s.MarkChecked([]byte("k"), []byte("set v1")) // equal bytes, another array: not this version
	if e, _ := s.Peek([]byte("k")); !e.Unchecked {
		t.Fatal("cleared by a value that is not the stored one")
	}
	s.MarkChecked([]byte("k"), v1)
	if e, _ := s.Peek([]byte("k")); e.Unchecked {
		t.Fatal("not cleared")
	}
	if s.Changes() != changes {
		t.Fatal("MarkChecked counted as a change")
	}
	s.Set([]byte("k"), Entry{Kind: KindRelSet, Value: v2, Unchecked: true})
	s.MarkChecked([]byte("k"), v1)
	if e, _ := s.Peek([]byte("k")); !e.Unchecked {
		t.Fatal("a check of the old version cleared the new one")
	}
	s.MarkChecked([]byte("absent"), v1)
}

// TestUpdateKeysAtomic: a reader of two keys under UpdateKeys never sees
// one of them from before a SetMany and the other from after it, and
// expired keys read as absent there as everywhere.
func TestUpdateKeysAtomic(t *testing.T) {
	s, clk := newTestStore(t, Config{Shards: 16})
	a, b := []byte("a"), []byte("b{x}")
	s.SetMany([][]byte{a, b}, []Entry{str("-1"), str("-1")}, false)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := str(strconv.Itoa(i))
			s.SetMany([][]byte{a, b}, []Entry{v, v}, false)
		}
	}()
	for range 2000 {
		s.UpdateKeys([][]byte{b, a}, func(tx *Keys) {
			ea, _ := tx.Get(a)
			eb, _ := tx.Peek(b)
			if string(ea.Value) != string(eb.Value) {
				t.Errorf("saw a=%q b=%q", ea.Value, eb.Value)
			}
		})
	}
	close(stop)
	wg.Wait()

	s.Set([]byte("t"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: clk.now().UnixMilli() + 10})
	clk.add(time.Second)
	s.UpdateKeys([][]byte{[]byte("t")}, func(tx *Keys) {
		if _, ok := tx.Get([]byte("t")); ok {
			t.Error("an expired key was live")
		}
		if tx.Remove([]byte("t")) {
			t.Error("Remove removed an expired key")
		}
		tx.Put([]byte("t"), str("w"))
	})
	if e, ok := s.Get([]byte("t")); !ok || string(e.Value) != "w" || s.Len() != 3 {
		t.Fatalf("after Put: %q %v, %d keys", e.Value, ok, s.Len())
	}
}
