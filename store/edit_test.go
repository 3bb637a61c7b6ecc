package store

import (
	"strconv"
	"sync"
	"testing"
)

// appendByte is an edit that copies the value and appends b: the shape of
// a relation-set edit (copy, change the copy) with a result easy to check.
func appendByte(b byte, calls *int) func(Entry, bool) (Entry, bool) {
	return func(cur Entry, ok bool) (Entry, bool) {
		if calls != nil {
			*calls++
		}
		v := append(append([]byte(nil), cur.Value...), b)
		return Entry{Kind: KindString, Value: v}, true
	}
}

func TestEdit(t *testing.T) {
	for _, tc := range []struct {
		name string
		// before sets the key up (nil: absent).
		before *Entry
		edit   func(Entry, bool) (Entry, bool)
		// want is the value after (nil: absent); changes counts stored
		// writes the Watcher heard.
		want    *Entry
		changes int
	}{
		{
			name: "absent key created with next's own fields",
			edit: func(Entry, bool) (Entry, bool) {
				return Entry{Kind: KindString, Value: []byte("x"), ExpireAt: 9_999_999_999_999}, true
			},
			want:    &Entry{Kind: KindString, Value: []byte("x"), ExpireAt: 9_999_999_999_999},
			changes: 1,
		},
		{
			name:   "absent key, no write",
			edit:   func(Entry, bool) (Entry, bool) { return Entry{}, false },
			want:   nil,
			before: nil,
		},
		{
			name:    "existing key keeps its TTL and owed check",
			before:  &Entry{Kind: KindString, Value: []byte("ab"), ExpireAt: 9_999_999_999_999, Unchecked: true},
			edit:    appendByte('c', nil),
			want:    &Entry{Kind: KindString, Value: []byte("abc"), ExpireAt: 9_999_999_999_999, Unchecked: true},
			changes: 1,
		},
		{
			name:   "unchanged edit writes nothing",
			before: &Entry{Kind: KindString, Value: []byte("ab")},
			edit:   func(cur Entry, _ bool) (Entry, bool) { return cur, false },
			want:   &Entry{Kind: KindString, Value: []byte("ab")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &changeLog{}
			s, _ := newTestStore(t, Config{Shards: 4, Watcher: l})
			key := []byte("k")
			if tc.before != nil {
				s.Set(key, *tc.before)
			}
			l.take()
			changes := s.Changes()
			s.Edit(key, tc.edit)
			got, ok := s.Peek(key)
			switch {
			case tc.want == nil && ok:
				t.Fatalf("key holds %+v, want absent", got)
			case tc.want != nil && (!ok || string(got.Value) != string(tc.want.Value) || got.Kind != tc.want.Kind ||
				got.ExpireAt != tc.want.ExpireAt || got.Unchecked != tc.want.Unchecked):
				t.Fatalf("key holds %+v (present %v), want %+v", got, ok, *tc.want)
			}
			if n := s.Changes() - changes; n != int64(tc.changes) {
				t.Fatalf("%d changes counted, want %d", n, tc.changes)
			}
			if heard := l.take(); len(heard) != tc.changes {
				t.Fatalf("the Watcher heard %q, want %d changes", heard, tc.changes)
			}
		})
	}
}

// Concurrent writers never lose an edit: every append lands exactly once,
// whether it won the optimistic swap, retried, or fell back to the lock.
func TestEditConcurrentWritersLoseNothing(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 4})
	key := []byte("k")
	const writers, edits = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range edits {
				s.Edit(key, appendByte(byte('a'+w), nil))
			}
		}()
	}
	wg.Wait()
	e, _ := s.Peek(key)
	counts := map[byte]int{}
	for _, b := range e.Value {
		counts[b]++
	}
	for w := range writers {
		if n := counts[byte('a'+w)]; n != edits {
			t.Errorf("writer %d: %d of its %d edits stored", w, n, edits)
		}
	}
}

// A writer that keeps winning makes Edit retry, then edit under the lock,
// where it cannot be overtaken: editAttempts optimistic runs, one locked.
func TestEditFallsBackToTheLock(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 4})
	key := []byte("k")
	s.Set(key, str("0"))
	calls := 0
	s.Edit(key, func(cur Entry, ok bool) (Entry, bool) {
		calls++
		if calls <= editAttempts {
			// Another writer gets in between this read and the swap.
			s.Set(key, str(strconv.Itoa(calls)))
		}
		return appendByte('!', nil)(cur, ok)
	})
	if calls != editAttempts+1 {
		t.Fatalf("fn ran %d times, want %d", calls, editAttempts+1)
	}
	if e, _ := s.Peek(key); string(e.Value) != strconv.Itoa(editAttempts)+"!" {
		t.Fatalf("value %q, want the last writer's version edited", e.Value)
	}
}

// A TTL set while fn runs is not undone by the swap: the value is still
// the version fn saw, so the edit lands, keeping the new TTL.
func TestEditKeepsATTLSetMeanwhile(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 4})
	key := []byte("k")
	s.Set(key, str("ab"))
	const at = 9_999_999_999_999
	calls := 0
	s.Edit(key, func(cur Entry, ok bool) (Entry, bool) {
		if calls == 0 {
			s.Update(key, func(e Entry, _ bool) (Entry, Action) { e.ExpireAt = at; return e, Put })
		}
		return appendByte('c', &calls)(cur, ok)
	})
	e, _ := s.Peek(key)
	if calls != 1 || string(e.Value) != "abc" || e.ExpireAt != at {
		t.Fatalf("after %d runs: %q expiring at %d, want abc at %d in one run", calls, e.Value, e.ExpireAt, int64(at))
	}
}

// Edit through a view that holds the key's shard does not lock it again.
func TestEditThroughAView(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 4})
	key := []byte("k")
	view, release := s.Exclusive([][]byte{key}, false)
	view.Edit(key, appendByte('x', nil))
	release()
	if e, _ := s.Peek(key); string(e.Value) != "x" {
		t.Fatalf("value %q, want x", e.Value)
	}
}
