package store

import (
	"fmt"
	"math/rand/v2"

	"github.com/relcache/relcache/internal/invariants"
)

// In a build with the invariants tag, the end of every write section
// (unlock, and Release of a view) recounts the keyspace from the shard
// maps, keys, keys with a TTL and accounted memory, and panics when the
// running totals that Len, UsedMemory, ReadStats and eviction trust
// disagree, or when a key's TTL and its place in its shard's volatile set
// disagree. Without the tag audit inlines to nothing.
//
// The recount needs every shard still, so it takes their read locks with
// TryRLock and gives up at the first it cannot have: a shard another
// goroutine is writing, or one the caller holds itself (through a view, or
// the first of Rename's two locks). It never waits, so it cannot deadlock,
// and the last unlock of a write over several shards still runs it. It is
// linear in the keyspace, so above auditAbove keys a write is audited with
// probability auditAbove/keys, which bounds the cost per write (the
// server's tests load hundreds of thousands of keys).
const auditAbove = 256

// audit recounts the keyspace after a write when this build checks
// invariants; see above.
func (s *Store) audit() {
	if invariants.Enabled {
		if n := s.keys.Load(); n > auditAbove && rand.Int64N(n/auditAbove) != 0 {
			return
		}
		if _, err := s.recount(); err != nil {
			panic(fmt.Errorf("store: invariants: %w", err))
		}
	}
}

// accountingError is a running total that differs from what the shard
// maps hold.
type accountingError struct {
	what              string // "keys", "volatile keys" or "used memory"
	recorded, counted int64
}

func (e *accountingError) Error() string {
	return fmt.Sprintf("%s: the running total says %d, the shards hold %d", e.what, e.recorded, e.counted)
}

// recount compares the running totals, and each shard's volatile set, with
// the shard maps. checked is false when some shard could not be
// read-locked at once and nothing was compared.
func (s *Store) recount() (checked bool, err error) {
	for i := range s.shards {
		if !s.shards[i].mu.TryRLock() {
			for j := range i {
				s.shards[j].mu.RUnlock()
			}
			return false, nil
		}
	}
	defer func() {
		for i := range s.shards {
			s.shards[i].mu.RUnlock()
		}
	}()
	var keys, volatile, used int64
	for i := range s.shards {
		sh := &s.shards[i]
		ttls := 0
		for _, e := range sh.m.slots {
			if e == nil {
				continue
			}
			k := e.key()
			keys++
			used += e.size(len(k))
			if e.expireAt() != 0 {
				ttls++
			}
			if _, in := sh.volatile[e]; in != (e.expireAt() != 0) {
				return true, fmt.Errorf("key %q: ExpireAt %d, in its shard's volatile set: %v", k, e.expireAt(), in)
			}
		}
		if ttls != len(sh.volatile) {
			return true, fmt.Errorf("shard %d: %d keys with a TTL, %d in its volatile set", i, ttls, len(sh.volatile))
		}
		volatile += int64(ttls)
	}
	for _, c := range []accountingError{
		{"keys", s.keys.Load(), keys},
		{"volatile keys", s.volatile.Load(), volatile},
		{"used memory", s.used.Load(), used},
	} {
		if c.recorded != c.counted {
			return true, &accountingError{c.what, c.recorded, c.counted} // allocates only here
		}
	}
	return true, nil
}
