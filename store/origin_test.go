package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// changeLog records what a Watcher hears, in order.
type changeLog struct {
	mu      sync.Mutex
	changes []string
}

func (l *changeLog) Active() bool { return true }

func (l *changeLog) Touched(ch Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, fmt.Sprintf("%s removed=%v flush=%v origin=%d", ch.Key, ch.Removed, ch.Flush, ch.Origin))
}

func (l *changeLog) Flushed(origin int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, fmt.Sprintf("flushed origin=%d", origin))
}

func (l *changeLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.changes
	l.changes = nil
	return c
}

// A change reaches the Watcher with the origin of the view it was made
// through (client tracking's NOLOOP needs to know who wrote), and with 0
// when nobody asked for it: expiry and eviction. A flush marks its
// removals and ends with one Flushed.
func TestWatcherOrigin(t *testing.T) {
	l := &changeLog{}
	s, clk := newTestStore(t, Config{Shards: 4, Watcher: l, MaxMemory: 1 << 20, Policy: AllKeysRandom})
	v := s.WithOrigin(7)
	expect := func(what string, want ...string) {
		t.Helper()
		got := l.take()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: heard\n%q\nwant\n%q", what, got, want)
		}
	}
	v.Set([]byte("a"), str("1"))
	expect("Set through the view", "a removed=false flush=false origin=7")
	s.Set([]byte("a"), str("2"))
	expect("Set through the store", "a removed=false flush=false origin=0")
	v.Rename([]byte("a"), []byte("b"), false)
	expect("Rename", "a removed=true flush=false origin=7", "b removed=false flush=false origin=7")
	v.Delete([]byte("b"))
	expect("Delete", "b removed=true flush=false origin=7")
	v.SetMany([][]byte{[]byte("c"), []byte("d")}, []Entry{str("1"), str("2")}, false)
	expect("SetMany", "c removed=false flush=false origin=7", "d removed=false flush=false origin=7")

	var held Store
	v.Hold(&held, [][]byte{[]byte("c")}, false, false)
	held.Delete([]byte("c"))
	held.Release()
	expect("a held view keeps the origin", "c removed=true flush=false origin=7")

	v.Set([]byte("t"), Entry{Kind: KindString, Value: []byte("v"), ExpireAt: clk.now().UnixMilli() + 10})
	l.take()
	clk.add(time.Second)
	v.Update([]byte("t"), func(Entry, bool) (Entry, Action) { return str("new"), Put })
	expect("lazy expiry is nobody's, the write is the view's",
		"t removed=true flush=false origin=0", "t removed=false flush=false origin=7")

	s.SetMaxMemory(1)
	if err := v.EnsureMemory(); err != nil {
		t.Fatal(err)
	}
	s.SetMaxMemory(0)
	for _, ch := range l.take() {
		if want := "removed=true flush=false origin=0"; ch[len(ch)-len(want):] != want {
			t.Fatalf("eviction heard as %q", ch)
		}
	}
	v.Set([]byte("x"), str("1"))
	v.Set([]byte("y"), str("1"))
	l.take()
	v.Flush()
	got := l.take()
	if len(got) != 3 || got[2] != "flushed origin=7" {
		t.Fatalf("flush heard as %q, want two removals then flushed", got)
	}
	for _, ch := range got[:2] {
		if want := "removed=true flush=true origin=7"; ch[len(ch)-len(want):] != want {
			t.Fatalf("flush removal heard as %q", ch)
		}
	}
}
