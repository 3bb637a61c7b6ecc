package zview

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/relcache/relcache/openhash"
)

// MinCached is the smallest set whose order is cached: below it a sort
// costs about what a cache lookup does, and the reader sorts into its own
// scratch.
const MinCached = 128

const cacheShards = 64

// Cache keeps the Order of recently ranged sets, up to a byte budget
// (entries are evicted at random past it; one costing over a quarter of it
// is not kept). An
// entry holds the set's bytes it was built from: that keeps the backing
// array alive, so an array at the same address is always the same set (no
// stale order can match a new set), and it is why the budget counts those
// bytes too — an entry whose key was rewritten pins the old set until it
// is replaced by the next read or evicted.
type Cache struct {
	seed   maphash.Seed
	budget int64 // bytes over all shards; 0 disables the cache
	used   atomic.Int64
	hits   atomic.Int64
	builds atomic.Int64
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.Mutex // guards m
	m  map[string]*entry
}

type entry struct {
	buf   []byte // the set's bytes the order was built from
	slots []uint32
	cost  int64
}

// NewCache returns a cache that holds at most budget bytes of orders and
// the sets they pin; a budget of 0 caches nothing.
func NewCache(budget int64) *Cache {
	c := &Cache{seed: maphash.MakeSeed(), budget: budget}
	for i := range c.shards {
		c.shards[i].m = map[string]*entry{}
	}
	return c
}

// Stats is what the cache has done, for INFO.
type Stats struct {
	Bytes, Hits, Builds int64
}

// Stats reads the counters.
func (c *Cache) Stats() Stats {
	return Stats{Bytes: c.used.Load(), Hits: c.hits.Load(), Builds: c.builds.Load()}
}

// Order returns the order of set, which key holds as the bytes buf: the
// cached one when it was built from these very bytes, else a new one,
// cached when the set is big enough and buf is not nil (a nil buf is a
// set computed for one read, a bi-follow list, which no later read sees). scratch is the caller's buffers for
// an order that is not cached; they are updated to the grown buffers then,
// and never point at a cached order (which readers share and nobody
// writes).
func (c *Cache) Order(key, buf []byte, set openhash.Set, scratch *Scratch) Order {
	if set.Count() < MinCached || c.budget == 0 || buf == nil {
		o, keys := newOrder(set, scratch.slots, scratch.keys)
		scratch.slots, scratch.keys = o.slots, keys
		return o
	}
	sh := &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
	sh.mu.Lock()
	e := sh.m[string(key)]
	sh.mu.Unlock()
	if e != nil && sameBytes(e.buf, buf) {
		c.hits.Add(1)
		return Order{set: set, slots: e.slots}
	}
	// Built outside the lock: a sort of a big set must not stall the other
	// keys of the shard. Two readers may both build; the later one wins.
	o := NewOrder(set, nil)
	c.builds.Add(1)
	ne := &entry{buf: buf, slots: o.slots, cost: int64(len(buf) + 4*len(o.slots) + len(key) + 64)}
	if ne.cost > c.budget/maxShare {
		return o
	}
	sh.mu.Lock()
	if old := sh.m[string(key)]; old != nil {
		c.used.Add(-old.cost)
	}
	sh.m[string(key)] = ne
	c.used.Add(ne.cost)
	c.evict(sh, ne)
	sh.mu.Unlock()
	// Still over budget: the other shards, one lock at a time (never two
	// held at once, so there is no lock order to keep).
	for i := 1; i < cacheShards && c.used.Load() > c.budget; i++ {
		other := &c.shards[(int(maphash.Bytes(c.seed, key)%cacheShards)+i)%cacheShards]
		other.mu.Lock()
		c.evict(other, nil)
		other.mu.Unlock()
	}
	return o
}

// maxShare: an order costing more than budget/maxShare is not kept, so one
// huge set cannot flush the whole cache for itself.
const maxShare = 4

// evict drops entries of sh but keep, at random (map order is random),
// until the cache fits its budget or sh has no other entry. sh.mu is held.
func (c *Cache) evict(sh *cacheShard, keep *entry) {
	for k, e := range sh.m {
		if c.used.Load() <= c.budget {
			return
		}
		if e != keep {
			delete(sh.m, k)
			c.used.Add(-e.cost)
		}
	}
}

// Flush drops every entry (FLUSHALL: the sets they pin are gone).
func (c *Cache) Flush() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			delete(sh.m, k)
			c.used.Add(-e.cost)
		}
		sh.mu.Unlock()
	}
}

// Scratch is a reader's buffers for orders that are not cached: a small
// set's, sorted on every read without allocating once they have grown.
type Scratch struct {
	slots []uint32
	keys  []uint64
}

// Trim drops buffers grown past max members, so that one big read does not
// pin them to a connection for good.
func (s *Scratch) Trim(max int) {
	if cap(s.slots) > max {
		*s = Scratch{}
	}
}

// sameBytes reports whether a and b are the same backing array and length.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
}
