package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/invariants"
)

// populated is a store after writes of every kind: puts, overwrites that
// gain and lose a TTL, a rename, removals and an expiry.
func populated(t *testing.T) *Store {
	t.Helper()
	s, clk := newTestStore(t, Config{Shards: 4})
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		s.Set([]byte(k), str(k+"-value"))
	}
	s.Set([]byte("b"), Entry{Kind: KindString, Value: []byte("ttl"), ExpireAt: clk.ms.Load() + 1000})
	s.Set([]byte("c"), Entry{Kind: KindString, Value: []byte("soon"), ExpireAt: clk.ms.Load() + 10})
	s.Set([]byte("d"), Entry{Kind: KindString, Value: make([]byte, 3, 64)})
	if _, err := s.Rename([]byte("a"), []byte("z"), false); err != nil {
		t.Fatal(err)
	}
	s.Delete([]byte("e"))
	clk.add(20 * time.Millisecond) // c expires
	s.Get([]byte("c"))
	return s
}

func TestRecount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(s *Store)
		want    string // "" for none, else what the error names
	}{
		{"consistent", func(*Store) {}, ""},
		{"keys", func(s *Store) { s.keys.Add(1) }, "keys"},
		{"volatile keys", func(s *Store) { s.volatile.Add(-1) }, "volatile keys"},
		{"used memory", func(s *Store) { s.used.Add(8) }, "used memory"},
		{"a TTL key missing from the volatile set", func(s *Store) {
			sh := s.shardOf([]byte("b"))
			e, _ := sh.m.lookup([]byte("b"))
			delete(sh.volatile, e)
		}, `key "b"`},
		{"a key without a TTL in the volatile set", func(s *Store) {
			sh := s.shardOf([]byte("z"))
			e, _ := sh.m.lookup([]byte("z"))
			sh.volatile[e] = struct{}{}
		}, `key "z"`},
		{"a volatile set entry without a key", func(s *Store) {
			sh := s.shardOf([]byte("gone"))
			sh.volatile[newEntry([]byte("gone"), Entry{Kind: KindString, ExpireAt: 1})] = struct{}{}
		}, "volatile set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := populated(t)
			tc.corrupt(s)
			checked, err := s.recount()
			if !checked {
				t.Fatal("recount of an idle store did not check")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("recount = %v, want an error naming %s", err, tc.want)
			}
			var ae *accountingError
			if total := tc.name == tc.want; total != errors.As(err, &ae) || total && ae.what != tc.want {
				t.Fatalf("recount = %v: a running total's error is an *accountingError naming it, no other is", err)
			}
		})
	}
}

// A shard held by the caller (a view) or by another writer makes recount
// give up at once rather than wait for it: waiting on its own view would
// deadlock.
func TestRecountGivesWayToAHeldShard(t *testing.T) {
	s := populated(t)
	view, release := s.Exclusive([][]byte{[]byte("b")}, false)
	view.Set([]byte("b"), str("through the view"))
	if checked, err := s.recount(); checked || err != nil {
		t.Fatalf("recount with a shard held = %v, %v; want false, nil", checked, err)
	}
	release()
	if checked, err := s.recount(); !checked || err != nil {
		t.Fatalf("recount after release = %v, %v; want true, nil", checked, err)
	}
}

// Under the invariants tag, the write after accounting went wrong panics;
// without it nothing is checked.
func TestAuditAfterWrites(t *testing.T) {
	s := populated(t)
	s.used.Add(8)
	var v any
	func() {
		defer func() { v = recover() }()
		s.Set([]byte("y"), str("y"))
	}()
	if got, want := v != nil, invariants.Enabled; got != want {
		t.Fatalf("a write over broken accounting panicked: %v (%v), want %v", got, v, want)
	}
	if v != nil && !strings.Contains(v.(error).Error(), "used memory") {
		t.Fatalf("panic %v does not name used memory", v)
	}
}
