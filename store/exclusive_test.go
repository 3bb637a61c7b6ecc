package store

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// A view from Exclusive runs its calls without locking the shards it
// holds, and nobody else reads or writes those shards until release.
func TestExclusive(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 16})
	a, b := []byte("a"), []byte("b")
	s.Set(a, str("1"))
	view, release := s.Exclusive([][]byte{a, b}, false)
	// Every kind of call through the view, on held shards: no deadlock.
	view.Set(a, str("2"))
	if e, ok := view.Get(a); !ok || string(e.Value) != "2" {
		t.Fatalf("view Get: %q %v", e.Value, ok)
	}
	if ok, err := view.Rename(a, b, false); !ok || err != nil {
		t.Fatalf("view Rename: %v %v", ok, err)
	}
	if !view.SetMany([][]byte{a, b}, []Entry{str("x"), str("y")}, false) {
		t.Fatal("view SetMany")
	}
	view.Delete(b)
	// Others wait for the release.
	got := make(chan string, 1)
	go func() {
		e, _ := s.Get(a)
		got <- string(e.Value)
	}()
	select {
	case v := <-got:
		t.Fatalf("a reader got %q while the shard was held", v)
	case <-time.After(50 * time.Millisecond):
	}
	view.Set(a, str("final"))
	release()
	if v := <-got; v != "final" {
		t.Fatalf("the reader saw %q, want the state after the whole step", v)
	}
	// all: every shard.
	view, release = s.Exclusive(nil, true)
	if n := view.Scan(0, 1<<30, func(string, Entry) {}); n != 0 {
		t.Fatalf("Scan through an all-shards view returned cursor %d", n)
	}
	view.Flush()
	release()
	if s.Len() != 0 {
		t.Fatalf("%d keys after a flush through the view", s.Len())
	}
}

type recordingWatcher struct {
	mu   sync.Mutex
	keys []string
}

func (w *recordingWatcher) Active() bool { return true }
func (w *recordingWatcher) Touched(ch Change) {
	w.mu.Lock()
	w.keys = append(w.keys, ch.Key)
	w.mu.Unlock()
}
func (w *recordingWatcher) Flushed(int64) {}

func (w *recordingWatcher) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.keys
	w.keys = nil
	slices.Sort(k)
	return slices.Compact(k)
}

// Every change to a key reaches the Watcher: writes, deletes, renames,
// expiry (lazy and active), eviction and flushes.
func TestWatcherHearsEveryChange(t *testing.T) {
	w := &recordingWatcher{}
	s, clk := newTestStore(t, Config{Shards: 4, Watcher: w, MaxMemory: 1 << 20, Policy: AllKeysRandom})
	expect := func(what string, want ...string) {
		t.Helper()
		if got := w.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: touched %q, want %q", what, got, want)
		}
	}
	s.Set([]byte("a"), str("1"))
	expect("Set", "a")
	s.Update([]byte("a"), func(cur Entry, _ bool) (Entry, Action) { return cur, Keep })
	expect("Update that keeps")
	s.Rename([]byte("a"), []byte("b"), false)
	expect("Rename", "a", "b")
	s.Delete([]byte("b"))
	expect("Delete", "b")
	s.Delete([]byte("missing"))
	expect("Delete of a missing key")
	s.SetMany([][]byte{[]byte("c"), []byte("d")}, []Entry{str("1"), str("2")}, false)
	expect("SetMany", "c", "d")
	s.Set([]byte("t"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: clk.now().UnixMilli() + 10})
	w.take()
	clk.add(time.Second)
	s.Update([]byte("t"), func(Entry, bool) (Entry, Action) { return Entry{}, Keep })
	expect("lazy expiry", "t")
	s.Set([]byte("r"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: clk.now().UnixMilli() + 10})
	w.take()
	clk.add(time.Second)
	if _, ok := s.Get([]byte("r")); ok {
		t.Fatal("an expired key read as live")
	}
	expect("a read of an expired key (it removes it, as Redis does)", "r")
	if live, stale := s.State([]byte("r")); live || stale {
		t.Fatal("the expired key is still in the keyspace after a read found it")
	}
	s.Set([]byte("u"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: clk.now().UnixMilli() + 10})
	w.take()
	clk.add(time.Second)
	s.ExpireCycle()
	expect("active expiry", "u")
	s.SetMaxMemory(1)
	if err := s.EnsureMemory(); err != nil {
		t.Fatal(err)
	}
	expect("eviction", "c", "d")
	s.SetMaxMemory(0)
	s.Set([]byte("e"), str("1"))
	w.take()
	s.Flush()
	expect("Flush", "e")
}
