package store

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// TestIndexAgainstMap drives one shard's index with random adds,
// replacements and removals against a Go map, so runs wrap around the
// table's end, tables grow, and removals shift runs back; after every
// step each key the map holds is found with its entry, and after every
// few a walk of the slots finds exactly the map's entries, each reachable
// from its home without crossing an empty slot.
func TestIndexAgainstMap(t *testing.T) {
	for _, keys := range []int{5, 40, 3000} {
		t.Run(fmt.Sprintf("keys=%d", keys), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(keys)))
			x := newIndex(maphash.MakeSeed())
			model := map[string]*entry{}
			for step := range 20 * keys {
				key := fmt.Appendf(nil, "k%d", r.IntN(keys))
				e, ok := x.lookup(key)
				if want := model[string(key)]; e != want || ok != (want != nil) {
					t.Fatalf("step %d: lookup %s = %p %v, want %p", step, key, e, ok, want)
				}
				switch op := r.IntN(3); {
				case !ok:
					ne := newEntry(key, str("v"))
					x.add(key, ne)
					model[string(key)] = ne
				case op == 0:
					ne := newEntry(key, str("w"))
					x.replace(key, ne)
					model[string(key)] = ne
				default:
					x.drop(string(key), e)
					delete(model, string(key))
				}
				if x.n != len(model) {
					t.Fatalf("step %d: %d entries, want %d", step, x.n, len(model))
				}
				if step%97 == 0 || keys < 100 {
					checkIndex(t, &x, model)
				}
			}
			checkIndex(t, &x, model)
		})
	}
}

func checkIndex(t *testing.T, x *index, model map[string]*entry) {
	t.Helper()
	seen := 0
	mask := len(x.slots) - 1
	for i, e := range x.slots {
		if (e == nil) != (x.tags[i] == 0) {
			t.Fatalf("slot %d: entry %p with tag %#x", i, e, x.tags[i])
		}
		if e == nil {
			continue
		}
		seen++
		h := x.hashString(e.key())
		if model[e.key()] != e || x.tags[i] != tagOf(h) {
			t.Fatalf("slot %d holds %q (%p), the model %p", i, e.key(), e, model[e.key()])
		}
		for j := x.home(h); j != i; j = (j + 1) & mask {
			if x.tags[j] == 0 {
				t.Fatalf("%q at slot %d, an empty slot %d between it and its home %d", e.key(), i, j, x.home(h))
			}
		}
	}
	if seen != len(model) {
		t.Fatalf("%d entries in the slots, want %d", seen, len(model))
	}
	for k, e := range model {
		if got, _ := x.lookup([]byte(k)); got != e {
			t.Fatalf("lookup %q = %p, want %p", k, got, e)
		}
	}
}

// TestStoreOneShard runs the store's own operations (with TTLs, expiry,
// renames, eviction and flush) on a single shard, where the index takes
// every key, and recounts its accounting after each phase.
func TestStoreOneShard(t *testing.T) {
	s, clk := newTestStore(t, Config{Shards: 1, EvictionSamples: 5})
	r := rand.New(rand.NewPCG(7, 7))
	const n = 2000
	for i := range n {
		v := Entry{Kind: KindString, Value: fmt.Appendf(nil, "v%d", i)}
		if i%3 == 0 {
			v.ExpireAt = s.Now() + int64(1+r.IntN(2000))
		}
		s.Set(fmt.Appendf(nil, "key:%d", i), v)
	}
	recountOK(t, s)
	for range n {
		a, b := fmt.Appendf(nil, "key:%d", r.IntN(n)), fmt.Appendf(nil, "key:%d", r.IntN(n))
		switch r.IntN(4) {
		case 0:
			s.Delete(a)
		case 1:
			_, _ = s.Rename(a, b, false)
		case 2:
			s.Update(a, func(e Entry, ok bool) (Entry, Action) {
				if !ok {
					return e, Keep
				}
				e.ExpireAt = map[bool]int64{true: s.Now() + 500}[e.ExpireAt == 0]
				return e, Put
			})
		default:
			if e, ok := s.Get(a); ok && string(e.Value[:1]) != "v" {
				t.Fatalf("%s holds %q", a, e.Value)
			}
		}
	}
	recountOK(t, s)
	clk.add(3 * time.Second)
	for s.ExpireCycle(); ; {
		if _, removed := s.ExpireCycle(); removed == 0 {
			break
		}
	}
	recountOK(t, s)
	s.each(t, func(k string, e Entry) {
		if e.ExpireAt != 0 && e.ExpireAt <= clk.now().UnixMilli() {
			t.Fatalf("%s expired at %d and is still here", k, e.ExpireAt)
		}
	})
	s.SetMaxMemory(s.UsedMemory() / 2)
	s.SetPolicy(AllKeysLRU)
	if err := s.EnsureMemory(); err != nil || s.UsedMemory() > s.MaxMemory() {
		t.Fatalf("EnsureMemory: %v, used %d of %d", err, s.UsedMemory(), s.MaxMemory())
	}
	recountOK(t, s)
	s.Flush()
	recountOK(t, s)
	if s.Len() != 0 || s.UsedMemory() != 0 {
		t.Fatalf("after Flush: %d keys, %d bytes", s.Len(), s.UsedMemory())
	}
}

func recountOK(t *testing.T, s *Store) {
	t.Helper()
	if checked, err := s.recount(); !checked || err != nil {
		t.Fatalf("recount: %v %v", checked, err)
	}
}

func (s *Store) each(t *testing.T, fn func(k string, e Entry)) {
	t.Helper()
	if err := s.Each(func(k string, e Entry) error { fn(k, e); return nil }); err != nil {
		t.Fatal(err)
	}
}

// keptKeys is a Watcher that keeps every key it hears of, as client
// tracking does.
type keptKeys struct{ keys []string }

func (k *keptKeys) Active() bool      { return true }
func (k *keptKeys) Touched(ch Change) { k.keys = append(k.keys, ch.Key) }
func (k *keptKeys) Flushed(int64)     {}

// TestRemovedKeysDoNotPinEntries: a key lives inside its entry, and the
// removals the store makes on its own (expiry, eviction, Flush) name it
// from there; the key the Watcher gets, and may keep, must be a copy, or
// it would keep the removed entry and its value alive.
func TestRemovedKeysDoNotPinEntries(t *testing.T) {
	w := &keptKeys{}
	s, clk := newTestStore(t, Config{Shards: 1, Watcher: w})
	for _, k := range []string{"expires", "evicted", "flushed"} {
		v := str("v")
		if k == "expires" {
			v.ExpireAt = s.Now() + 10
		}
		s.Set([]byte(k), v)
	}
	entries := map[string]*entry{}
	for _, k := range []string{"expires", "evicted", "flushed"} {
		entries[k], _ = s.shards[0].m.lookup([]byte(k))
	}
	w.keys = nil
	clk.add(time.Second)
	if _, removed := s.ExpireCycle(); removed != 1 {
		t.Fatalf("expiry removed %d keys, want 1", removed)
	}
	if !s.evictCandidate(candidate{sh: &s.shards[0], key: entries["evicted"].key(), e: entries["evicted"], atime: entries["evicted"].atime.Load()}) {
		t.Fatal("evictCandidate found nothing")
	}
	s.Flush()
	if len(w.keys) != 3 {
		t.Fatalf("the Watcher heard %q, want three removals", w.keys)
	}
	for _, k := range w.keys {
		e := entries[k]
		if e == nil {
			t.Fatalf("the Watcher heard of %q", k)
		}
		if unsafe.StringData(k) == unsafe.StringData(e.key()) {
			t.Fatalf("the Watcher got %q as its entry's own bytes", k)
		}
	}
}

// FuzzIndex reads its input as a script of adds, replacements and removals
// over 64 short keys (two bytes an operation: which and what), so the fuzzer
// can aim at the runs, wrap-arounds and growths that random scripts rarely
// build, and checks the index against a map after every operation.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 2, 1, 1, 2})
	f.Add([]byte("\x00\x10\x00\x20\x00\x30\x02\x10\x02\x20"))
	f.Fuzz(func(t *testing.T, script []byte) {
		x := newIndex(maphash.MakeSeed())
		model := map[string]*entry{}
		for i := 0; i+1 < len(script) && i < 4096; i += 2 {
			key := fmt.Appendf(nil, "k%d", script[i+1]&63)
			e, ok := x.lookup(key)
			if want := model[string(key)]; e != want {
				t.Fatalf("op %d: lookup %s = %p %v, want %p", i/2, key, e, ok, want)
			}
			switch {
			case !ok:
				ne := newEntry(key, str("v"))
				x.add(key, ne)
				model[string(key)] = ne
			case script[i]%3 == 1:
				ne := newEntry(key, str("w"))
				x.replace(key, ne)
				model[string(key)] = ne
			case script[i]%3 == 2:
				x.drop(string(key), e)
				delete(model, string(key))
			}
			checkIndex(t, &x, model)
		}
	})
}

// TestIndexHashIsSeeded: two keyspaces place the same keys differently, so
// a client cannot compute keys that share a home (hash flooding: with the
// unseeded xxhash the index first used, keys chosen offline to share a
// home made every probe of their shard walk all of them).
func TestIndexHashIsSeeded(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		key := []byte(fmt.Sprintf("%d.following", 1_000_000_000+i))
		if a.hash(key) != b.hash(key) {
			return
		}
	}
	t.Fatal("64 keys hash alike in two keyspaces: the hash is not seeded")
}
