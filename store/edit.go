package store

// editAttempts bounds the optimistic rounds of Edit before it runs the edit
// under the shard lock, so a key under a storm of writers still makes
// progress.
const editAttempts = 4

// Edit changes key's entry by copy-on-write, for edits too long to run
// under a shard lock (rebuilding a relation set of a million members).
//
// fn gets the live entry (exists false when the key is absent) and returns
// the entry to store, or write false to leave the key as it is (nothing
// is then stored, counted or signalled). It runs without any lock, on the
// version it was given: it must not modify cur.Value (values are
// immutable once stored: readers may be writing them to a socket), and it
// may run more than once. Its result is stored only if the key still
// holds that version — it still exists or is still absent, and its Value
// is the same backing array, which for immutable values means the same
// version; if another writer got there first, fn runs again on the newer
// version. After editAttempts such rounds it runs once more under the
// shard's write lock, which then cannot be lost. So a reader never waits
// for an edit and never sees a half-edited value, and concurrent edits of
// one key never lose each other's changes.
//
// The stored entry keeps the ExpireAt and Unchecked of the entry it
// replaces: both may change while fn runs without the value changing
// (EXPIRE, MarkChecked), and an edit of the value must not undo that (nor
// make a value whose full check is owed look checked). next's own are used
// only when the key was absent.
func (s *Store) Edit(key []byte, fn func(cur Entry, exists bool) (next Entry, write bool)) {
	keep := func(next, now Entry) Entry {
		next.ExpireAt, next.Unchecked = now.ExpireAt, now.Unchecked
		return next
	}
	for range editAttempts {
		cur, ok := s.Peek(key)
		next, write := fn(cur, ok)
		if !write {
			return
		}
		swapped := false
		s.Update(key, func(now Entry, nowOK bool) (Entry, Action) {
			if nowOK != ok || (ok && !sameValue(now.Value, cur.Value)) {
				return now, Keep // another writer got there first: edit its version
			}
			swapped = true
			if !ok {
				return next, Put
			}
			return keep(next, now), Put
		})
		if swapped {
			return
		}
	}
	s.Update(key, func(cur Entry, ok bool) (Entry, Action) {
		next, write := fn(cur, ok)
		switch {
		case !write:
			return cur, Keep
		case !ok:
			return next, Put
		}
		return keep(next, cur), Put
	})
}

// sameValue reports whether a and b are the same stored value (the same
// backing array), which for immutable values means the same version.
func sameValue(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
