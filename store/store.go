// Package store is relcache's keyspace: a concurrent map from keys to values
// with TTLs, memory accounting and maxmemory eviction.
//
// The keyspace is split into a power-of-two number of shards by the seeded hash of
// the key; each shard has its own RWMutex, so readers of different keys never
// meet and readers of the same shard share a read lock. Values are immutable
// once stored: a write replaces the slice, so a reader may hand a value to the
// network after releasing the lock. The LRU clock of an entry is an atomic, so
// even recording an access takes no write lock.
//
// A command over several keys (MSET, BITOP, COPY, LCS) runs under
// UpdateKeys, which write-locks every shard involved in index order, so it
// is one step for every other client.
//
// Values carry a Kind. Strings are the first kind; the relation set (an
// openhash byte array) is stored the same way under its own kind, so the
// keyspace, TTLs, eviction and snapshots treat every kind alike.
package store

import (
	"context"
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Kind is the type of a stored value.
type Kind uint8

const (
	// KindString is a plain byte string.
	KindString Kind = iota + 1
	// KindRelSet is a relation set: an openhash array stored as its bytes.
	KindRelSet
)

// String is the store's own name for the kind, as snapshots and their
// tools show it. What a Redis client sees (TYPE says "hash" for a relation
// set) is the server's to decide.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindRelSet:
		return "relset"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Entry is a value as callers see it.
type Entry struct {
	Kind Kind
	// Unchecked marks a value whose full consistency check is still owed:
	// a relation set taken with only the cheap checks (the server's
	// rel-verify header, or a snapshot loaded with snapshot-verify
	// header). The snapshot writer runs the full check on these before it
	// writes them, and MarkChecked clears the mark once one passes. It sits
	// in the padding after Kind, so an entry is no larger for it.
	Unchecked bool
	// Enc is how a string was last written, for OBJECT ENCODING, which
	// reports what Redis would have made of the same writes: a value
	// edited in place (APPEND, SETRANGE, SETBIT, BITFIELD) or built by
	// BITOP is "raw" however short, and INCRBYFLOAT's result is never
	// "int". The store only carries it (it sits in the padding after
	// Kind, so an entry is no larger for it); a snapshot does not, as
	// Redis re-encodes strings when it loads an RDB file.
	Enc Enc
	// Value must not be modified by anyone once it has been stored: readers
	// may still be writing it to a socket.
	Value []byte
	// ExpireAt is the absolute expiry in Unix milliseconds; 0 means none.
	ExpireAt int64
}

// Enc is a string's encoding as its last write left it; the zero value
// derives it from the bytes.
type Enc uint8

const (
	// EncAuto: "int" when the bytes are a 64-bit decimal integer of at
	// most 20 characters, else "embstr" up to 44 bytes, else "raw" — what
	// Redis's tryObjectEncoding makes of a value SET stores.
	EncAuto Enc = iota
	// EncNoInt: "embstr" up to 44 bytes, else "raw", never "int" (Redis's
	// createStringObject, as INCRBYFLOAT uses it).
	EncNoInt
	// EncRaw: "raw" whatever the bytes.
	EncRaw
)

// Action tells Update what to do with the entry its callback returns.
type Action uint8

const (
	// Keep leaves the keyspace as it was.
	Keep Action = iota
	// Put stores the returned entry under the key.
	Put
	// Remove deletes the key.
	Remove
	// Quiet stores the returned entry as Put does, but tells no Watcher:
	// for the changes Redis makes without signalling them to WATCH and
	// client tracking (a SETBIT that sets a bit to what it was, which only
	// makes the value raw; a BITFIELD whose only writes OVERFLOW FAIL
	// refused, which still creates or grows the key).
	Quiet
)

// ErrOOM is returned by EnsureMemory when used memory is above MaxMemory and
// the policy cannot (or may not) free any.
var ErrOOM = errors.New("used memory above maxmemory")

// ErrNoSuchKey is returned by Rename when the source key does not exist.
var ErrNoSuchKey = errors.New("no such key")

// EntryOverhead is the estimated heap cost of one key beyond its key and value
// bytes: the 24-byte entry and the size class rounding of it with its key
// (one allocation, entry.go) and the key's slot in its shard's index (9
// bytes at 40-80% load, index.go). TestBytesPerKey measures 44-47 bytes
// of it for a 20-byte key between 100k and 1M keys, on go1.27.3. A key with
// a TTL also keeps its expiry in its entry (8 bytes, rounded with the
// rest) and sits in its shard's volatile set, which costs VolatileOverhead
// more (54 bytes measured at 1M keys).
const (
	EntryOverhead    = 46
	VolatileOverhead = 54
)

type shard struct {
	mu  sync.RWMutex // guards m and volatile
	idx int          // its index in Store.shards
	m   index
	// volatile holds the entries of m that have a TTL, so active expiry
	// and volatile-lru sample only them.
	volatile map[*entry]struct{}
	// Keyspace hit and miss counts live per shard, beside the lock whose
	// cache line a read writes anyway, instead of in one global counter
	// every core would fight over.
	hits, misses atomic.Int64
	// changes counts writes (puts and removals) for the snapshot rules;
	// written under the shard's write lock, read by Changes.
	changes atomic.Int64
	_       [64]byte // keeps neighbouring shards' locks off one cache line
}

// Stats are the store's counters since start (or the last ResetStats).
type Stats struct {
	Keys        int64
	VolatileKey int64
	UsedMemory  int64
	Hits        int64
	Misses      int64
	Expired     int64
	Evicted     int64
}

// Store is the keyspace. Its methods are safe for concurrent use.
//
// A Store value is either the keyspace itself or a view made by Exclusive,
// which shares the keyspace and holds the write locks of some shards: the
// view's methods do not lock those shards again, so a transaction's
// commands run through it as one step.
type Store struct {
	*keyspace
	// held[i] is set when the caller of Exclusive holds shard i's write
	// lock; nil for the keyspace itself.
	held []bool
	// order lists the held shards in index order, so Release (and Hold)
	// touch only those.
	order []int
	// shared views hold read locks: only reads may go through them.
	shared bool
	// quiet views (Quiet) read without counting hits and misses or
	// touching the LRU clock.
	quiet bool
	// origin is passed to the Watcher with every change made through
	// this view (WithOrigin).
	origin int64
}

type keyspace struct {
	cfg    Config
	mask   uint64
	shards []shard
	seed   maphash.Seed // of every key's hash: shard and index slot

	maxMemory atomic.Int64
	policy    atomic.Uint32

	used     atomic.Int64
	keys     atomic.Int64
	volatile atomic.Int64
	expired  atomic.Int64
	evicted  atomic.Int64

	// ticked is the clock as the caller last reported it with Tick, in Unix
	// ms; 0 until the first Tick, and the store reads cfg.Now until then.
	ticked atomic.Int64

	expireMu     sync.Mutex // guards expireCursor: one expiry cycle at a time
	expireCursor int        // next shard for active expiry
}

// New returns an empty store. Call RunExpiry to start active expiry.
func New(cfg Config) (*Store, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Store{keyspace: &keyspace{cfg: cfg, mask: uint64(cfg.Shards - 1), shards: make([]shard, cfg.Shards), seed: maphash.MakeSeed()}}
	for i := range s.shards {
		s.shards[i].idx = i
		s.shards[i].m = newIndex(s.seed)
		s.shards[i].volatile = make(map[*entry]struct{})
	}
	s.maxMemory.Store(cfg.MaxMemory)
	s.policy.Store(uint32(cfg.Policy))
	return s, nil
}

// The shard locks, through which every method of a view made by Exclusive
// skips the shards the view already holds.
func (s *Store) rlock(sh *shard) {
	if s.held == nil || !s.held[sh.idx] {
		sh.mu.RLock()
	}
}

func (s *Store) runlock(sh *shard) {
	if s.held == nil || !s.held[sh.idx] {
		sh.mu.RUnlock()
	}
}

func (s *Store) lock(sh *shard) {
	if s.held == nil || !s.held[sh.idx] {
		sh.mu.Lock()
		return
	}
	if s.shared {
		panic("store: a write through a view that holds only read locks")
	}
}

func (s *Store) unlock(sh *shard) {
	if s.held == nil || !s.held[sh.idx] {
		sh.mu.Unlock()
	}
	s.audit() // invariants builds only (invariants.go)
}

// Hold makes v a view of s that holds the shards of keys (every shard when
// all is set): their write locks, or their read locks when shared. The
// locks are taken in index order, as SetMany and Rename take theirs, so
// holders never deadlock. Until v.Release, no other caller writes those
// shards (nor reads them, unless shared): the calls made through v, one
// after another, are one step to everyone else. v's methods do not lock the
// shards it holds again; through a shared view only reads are allowed. A
// call through v on a shard it does not hold locks that shard as usual,
// which is safe only if the shard comes after every one v holds: name every
// key the calls will touch, or ask for all. v's buffer is reused between
// holds, so a caller that keeps one view allocates nothing.
func (s *Store) Hold(v *Store, keys [][]byte, all, shared bool) {
	if len(v.held) != len(s.shards) {
		v.held = make([]bool, len(s.shards))
	}
	v.keyspace, v.shared, v.quiet, v.origin = s.keyspace, shared, false, s.origin
	order := v.order[:0]
	if all {
		for i := range s.shards {
			order = append(order, i)
		}
	} else {
		for _, k := range keys {
			if i := int(s.shardIndex(k)); !v.held[i] {
				v.held[i] = true
				order = append(order, i)
			}
		}
		slices.Sort(order)
	}
	for _, i := range order {
		v.held[i] = true
		if shared {
			s.shards[i].mu.RLock()
		} else {
			s.shards[i].mu.Lock()
		}
	}
	v.order = order
}

// Release gives up the locks of a view made by Hold.
func (v *Store) Release() {
	for _, i := range v.order {
		v.held[i] = false
		if v.shared {
			v.shards[i].mu.RUnlock()
		} else {
			v.shards[i].mu.Unlock()
		}
	}
	v.order = v.order[:0]
	v.audit() // invariants builds only (invariants.go)
}

// Exclusive is Hold of write locks into a new view, with its release.
func (s *Store) Exclusive(keys [][]byte, all bool) (view *Store, release func()) {
	view = &Store{}
	s.Hold(view, keys, all, false)
	return view, view.Release
}

func (s *Store) shardIndex(key []byte) uint64 { return s.hash(key) & s.mask }

// hash is key's hash under the keyspace's seed: its low bits pick the
// shard, its high bits the slot in the shard's index (index.go says why
// it is seeded).
func (s *Store) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

func (s *Store) shardOf(key []byte) *shard { return &s.shards[s.shardIndex(key)] }

// nowMs is the store's clock. Reading the system clock costs 25-80 ns on
// the machines we measured, more than a whole GET; the server already reads
// it once per command, so it passes that reading in with Tick and the hot
// paths here load an atomic instead.
func (s *Store) nowMs() int64 {
	if t := s.ticked.Load(); t != 0 {
		return t
	}
	return s.cfg.Now().UnixMilli()
}

// Tick tells the store the current time (Unix ms), which it then uses instead
// of reading the clock until the next Tick. The server calls it before each
// command with the time it reads anyway; it never moves the clock back when
// concurrent callers report slightly different times.
func (s *Store) Tick(ms int64) {
	for {
		cur := s.ticked.Load()
		if ms <= cur || s.ticked.CompareAndSwap(cur, ms) {
			return
		}
	}
}

// Now is the store's clock in Unix milliseconds; handlers use it to turn
// relative TTLs into absolute ones with the same clock the store expires by.
func (s *Store) Now() int64 { return s.nowMs() }

func expired(e *entry, now int64) bool {
	at := e.expireAt()
	return at != 0 && at <= now
}

// Get returns the live entry under key, records the access for LRU and counts
// a keyspace hit or miss.
func (s *Store) Get(key []byte) (Entry, bool) {
	if s.quiet {
		return s.Peek(key)
	}
	now := s.nowMs()
	h := s.hash(key) // picks the shard and the slot: one hash per read
	sh := &s.shards[h&s.mask]
	s.rlock(sh)
	e := sh.m.get(h, key)
	ok := e != nil
	if !ok || expired(e, now) {
		s.runlock(sh)
		if ok {
			s.reap(sh, key)
		}
		sh.misses.Add(1)
		return Entry{}, false
	}
	touch(e, now)
	out := e.get()
	s.runlock(sh)
	sh.hits.Add(1)
	return out, true
}

// Quiet returns a view for looking without being seen: its Get counts no
// hit or miss and leaves the LRU clock alone. It is for reads that are
// not the client's (EXEC's discovery of the lists a transaction will need);
// it must not be written through.
func (s *Store) Quiet() *Store {
	return &Store{keyspace: s.keyspace, held: s.held, shared: s.shared, quiet: true, origin: s.origin}
}

// WithOrigin returns the keyspace as a view whose changes reach the
// Watcher with origin (and so do those of views Hold makes from it): a
// server passes its client's id, so that client tracking can leave out a
// client's own changes (NOLOOP). It holds no locks; call it on the
// keyspace, not on a view made by Hold.
func (s *Store) WithOrigin(origin int64) *Store {
	return &Store{keyspace: s.keyspace, origin: origin}
}

// touch records an access; it skips the store when the second has not
// changed so hot keys do not bounce a cache line between cores.
func touch(e *entry, nowMs int64) {
	sec := uint32(nowMs / 1000)
	if e.atime.Load() != sec {
		e.atime.Store(sec)
	}
}

// Peek returns the live entry under key without touching LRU or counters,
// for introspection commands (TTL, OBJECT, MEMORY USAGE).
func (s *Store) Peek(key []byte) (Entry, bool) {
	h := s.hash(key)
	sh := &s.shards[h&s.mask]
	s.rlock(sh)
	e := sh.m.get(h, key)
	ok := e != nil
	if !ok || expired(e, s.nowMs()) {
		s.runlock(sh)
		if ok {
			s.reap(sh, key)
		}
		return Entry{}, false
	}
	out := e.get()
	s.runlock(sh)
	return out, true
}

// reap removes key if it is still past its TTL. A read that finds a key
// expired removes it, as Redis's lookups do, so DBSIZE and the change hook
// see the expiry at the same moment Redis's would. A quiet view, and a
// view holding the shard for reading only, leave it to the next write or
// the expiry cycle.
func (s *Store) reap(sh *shard, key []byte) {
	if s.quiet || (s.held != nil && s.held[sh.idx] && s.shared) {
		return
	}
	s.lock(sh)
	defer s.unlock(sh)
	if e, ok := sh.m.lookup(key); ok && expired(e, s.nowMs()) {
		s.removeLocked(sh, string(key), e, 0, false) // an expiry: nobody's own change
		s.expired.Add(1)
	}
}

// Signal tells the Watcher that key changed when a command wrote what was
// already there: Redis's HSET signals a modification whatever it wrote,
// so a WATCH of the key fails (and a tracked key is invalidated). Nothing
// happens for a missing key.
func (s *Store) Signal(key []byte) {
	sh := s.shardOf(key)
	s.lock(sh)
	defer s.unlock(sh)
	e, ok := sh.m.lookup(key)
	if !ok || expired(e, s.nowMs()) {
		return
	}
	if w := s.cfg.Watcher; w != nil && w.Active() {
		w.Touched(Change{Key: string(key), Origin: s.origin})
	}
}

// State reports whether key is live, or in the keyspace but past its TTL
// and not yet removed (what Redis's WATCH records as "already expired"),
// without removing it as a read would.
func (s *Store) State(key []byte) (live, stale bool) {
	sh := s.shardOf(key)
	s.rlock(sh)
	defer s.runlock(sh)
	e, ok := sh.m.lookup(key)
	if !ok {
		return false, false
	}
	return !expired(e, s.nowMs()), expired(e, s.nowMs())
}

// IdleSeconds returns how long the key has not been accessed.
func (s *Store) IdleSeconds(key []byte) (int64, bool) {
	sh := s.shardOf(key)
	s.rlock(sh)
	defer s.runlock(sh)
	now := s.nowMs()
	e, ok := sh.m.lookup(key)
	if !ok || expired(e, now) {
		return 0, false
	}
	idle := now/1000 - int64(e.atime.Load())
	return max(idle, 0), true
}

// Update runs fn under the key's shard write lock with the key's live entry
// (an expired entry is removed first and passed as absent), then applies the
// returned action. It is the one primitive behind every read-modify-write
// command, so each of them is atomic per key.
func (s *Store) Update(key []byte, fn func(cur Entry, exists bool) (Entry, Action)) {
	now := s.nowMs()
	sh := s.shardOf(key)
	s.lock(sh)
	defer s.unlock(sh)
	e, ok := sh.m.lookup(key)
	if ok && expired(e, now) {
		s.removeLocked(sh, string(key), e, 0, false)
		s.expired.Add(1)
		e, ok = nil, false
	}
	var cur Entry
	if ok {
		cur = e.get()
	}
	next, act := fn(cur, ok)
	switch act {
	case Put:
		s.store(sh, key, e, next, now, true)
	case Quiet:
		s.store(sh, key, e, next, now, false)
	case Remove:
		if ok {
			s.removeLocked(sh, string(key), e, s.origin, false)
		}
	}
}

// Set stores v under key, replacing whatever was there.
func (s *Store) Set(key []byte, v Entry) {
	s.Update(key, func(Entry, bool) (Entry, Action) { return v, Put })
}

// Delete removes key and reports whether a live key was removed.
func (s *Store) Delete(key []byte) bool {
	var removed bool
	s.Update(key, func(_ Entry, ok bool) (Entry, Action) {
		removed = ok
		return Entry{}, Remove
	})
	return removed
}

// putLocked stores next under key; old is the entry there now, or nil.
func (s *Store) putLocked(sh *shard, key []byte, old *entry, next Entry, nowMs int64) {
	s.store(sh, key, old, next, nowMs, true)
}

// store is putLocked, telling the Watcher or not.
func (s *Store) store(sh *shard, key []byte, old *entry, next Entry, nowMs int64, notify bool) {
	sh.changes.Add(1)
	if w := s.cfg.Watcher; notify && w != nil && w.Active() {
		w.Touched(Change{Key: string(key), Origin: s.origin})
	}
	if old != nil {
		// Overwrite in place: the index slot and the entry (with its
		// key) stay, so an overwrite allocates nothing here. Readers
		// copy the entry under the read lock, so this write under the
		// write lock is safe. (Measured: allocation on the SET path is
		// what drives GC, and GC the p99, under redis-benchmark.) Only a
		// write that gives the key a TTL or takes it away needs the
		// entry's other shape (entry.go).
		s.used.Add(entrySize(len(key), next) - old.size(len(key)))
		wasVolatile := old.expireAt() != 0
		if old.fits(next) {
			old.set(next)
			old.atime.Store(uint32(nowMs / 1000))
			return
		}
		ne := newEntry(key, next)
		ne.atime.Store(uint32(nowMs / 1000))
		sh.m.replace(key, ne)
		if wasVolatile {
			delete(sh.volatile, old)
			s.volatile.Add(-1)
		} else {
			sh.volatile[ne] = struct{}{}
			s.volatile.Add(1)
		}
		return
	}
	ne := newEntry(key, next)
	ne.atime.Store(uint32(nowMs / 1000))
	sh.m.add(key, ne)
	if next.ExpireAt != 0 {
		sh.volatile[ne] = struct{}{}
		s.volatile.Add(1)
	}
	s.keys.Add(1)
	s.used.Add(entrySize(len(key), next))
}

// removeLocked deletes key, whose entry is e; the Watcher hears of it with
// origin (0 for expiry and eviction, which no caller asked for) and flush.
func (s *Store) removeLocked(sh *shard, key string, e *entry, origin int64, flush bool) {
	s.forgetLocked(sh, key, e, origin, flush)
	sh.m.drop(key, e)
}

// forgetLocked is removeLocked but for taking e out of the index: Flush
// empties the whole index after it.
func (s *Store) forgetLocked(sh *shard, key string, e *entry, origin int64, flush bool) {
	sh.changes.Add(1)
	if w := s.cfg.Watcher; w != nil && w.Active() {
		if unsafe.StringData(key) == unsafe.StringData(e.key()) {
			// The key is e's own (expiry, eviction, Flush pass it): the
			// Watcher may keep it, and must not keep the removed entry
			// and its value alive through it.
			key = strings.Clone(key)
		}
		w.Touched(Change{Key: key, Removed: true, Flush: flush, Origin: origin})
	}
	if e.expireAt() != 0 {
		delete(sh.volatile, e)
		s.volatile.Add(-1)
	}
	s.keys.Add(-1)
	s.used.Add(-e.size(len(key)))
}

// entrySize is the accounted memory of one key. It uses cap, not len, of the
// value because APPEND leaves spare capacity that is really allocated.
func entrySize(keyLen int, e Entry) int64 {
	return accounted(keyLen, cap(e.Value), e.ExpireAt != 0)
}

func accounted(keyLen, valueCap int, volatile bool) int64 {
	n := int64(keyLen + valueCap + EntryOverhead)
	if volatile {
		n += VolatileOverhead
	}
	return n
}

// MemoryUsage is the accounted size of one key, for MEMORY USAGE.
func MemoryUsage(key []byte, e Entry) int64 { return entrySize(len(key), e) }

// Rename moves src's entry (value and TTL) to dst. With nx it does nothing
// when dst exists and reports false. The two shards are locked in index
// order so concurrent renames cannot deadlock.
func (s *Store) Rename(src, dst []byte, nx bool) (bool, error) {
	now := s.nowMs()
	ai, bi := s.shardIndex(src), s.shardIndex(dst)
	a, b := &s.shards[ai], &s.shards[bi]
	first, second := a, b
	if bi < ai {
		first, second = b, a
	}
	s.lock(first)
	defer s.unlock(first)
	if second != first {
		s.lock(second)
		defer s.unlock(second)
	}
	se, ok := a.m.lookup(src)
	if ok && expired(se, now) {
		s.removeLocked(a, string(src), se, 0, false)
		s.expired.Add(1)
		ok = false
	}
	if !ok {
		return false, ErrNoSuchKey
	}
	de, dok := b.m.lookup(dst)
	if dok && expired(de, now) {
		s.removeLocked(b, string(dst), de, 0, false)
		s.expired.Add(1)
		de, dok = nil, false
	}
	if nx && dok {
		return false, nil
	}
	if string(src) == string(dst) {
		return true, nil
	}
	moved := se.get()
	s.removeLocked(a, string(src), se, s.origin, false)
	s.putLocked(b, dst, de, moved, now)
	return true, nil
}

// MarkChecked clears Unchecked on key's entry if the key still holds value
// (the same backing array: values are immutable, so the same version). It
// is bookkeeping, not a write: no change is counted and the LRU clock is
// not touched.
func (s *Store) MarkChecked(key, value []byte) {
	sh := s.shardOf(key)
	s.lock(sh)
	defer s.unlock(sh)
	e, ok := sh.m.lookup(key)
	if ok && e.flags&flagUnchecked != 0 && sameValue(e.value(), value) {
		e.flags &^= flagUnchecked
	}
}

// Len is the number of keys, including expired ones not yet removed.
func (s *Store) Len() int64 { return s.keys.Load() }

// UsedMemory is the accounted memory of all keys in bytes.
func (s *Store) UsedMemory() int64 { return s.used.Load() }

// ReadStats fills st with the store's counters.
func (s *Store) ReadStats(st *Stats) {
	st.Keys = s.keys.Load()
	st.VolatileKey = s.volatile.Load()
	st.UsedMemory = s.used.Load()
	for i := range s.shards {
		st.Hits += s.shards[i].hits.Load()
		st.Misses += s.shards[i].misses.Load()
	}
	st.Expired = s.expired.Load()
	st.Evicted = s.evicted.Load()
}

// ResetStats zeroes the hit, miss, expiry and eviction counters (CONFIG
// RESETSTAT); key counts and memory are state, not statistics, and stay.
func (s *Store) ResetStats() {
	for i := range s.shards {
		s.shards[i].hits.Store(0)
		s.shards[i].misses.Store(0)
	}
	s.expired.Store(0)
	s.evicted.Store(0)
}

// Flush removes every key.
func (s *Store) Flush() {
	for i := range s.shards {
		sh := &s.shards[i]
		s.lock(sh)
		for _, e := range sh.m.slots {
			if e != nil {
				s.forgetLocked(sh, e.key(), e, s.origin, true)
			}
		}
		// Fresh tables give the memory of a large keyspace back.
		sh.m = newIndex(s.seed)
		sh.volatile = make(map[*entry]struct{})
		s.unlock(sh)
	}
	if w := s.cfg.Watcher; w != nil && w.Active() {
		w.Flushed(s.origin)
	}
}

// Scan calls fn for every live key of the shards from cursor on, shard by
// shard, until at least count keys were visited or the keyspace ends, and
// returns the cursor to continue from (0 when done). Whole shards are visited
// at a time, so a key present for the whole iteration is returned exactly
// once, as Redis's SCAN promises at least once.
//
// A shard's keys are gathered (references only) under its read lock and fn
// runs after the lock is released, as in Each: fn is KEYS's and SCAN's
// pattern match, which costs up to key length × pattern length per key
// (seconds, for a 200 KB key and a 60 KB pattern), and a writer to the
// shard must not wait for it. Memory beyond the keyspace is one shard of
// references.
func (s *Store) Scan(cursor uint64, count int, fn func(key string, e Entry)) uint64 {
	if cursor >= uint64(len(s.shards)) {
		return 0
	}
	var batch []ref
	seen := 0
	i := int(cursor)
	for ; i < len(s.shards) && seen < count; i++ {
		batch = s.gather(&s.shards[i], batch[:0])
		seen += len(batch)
		for _, r := range batch {
			fn(r.key, r.e)
		}
		clear(batch)
	}
	if i >= len(s.shards) {
		return 0
	}
	return uint64(i)
}

// Changes is the number of writes (puts and removals, by commands, expiry
// or eviction) since the store was created. Snapshot rules compare it with
// its value at the last save.
func (s *Store) Changes() int64 {
	var n int64
	for i := range s.shards {
		n += s.shards[i].changes.Load()
	}
	return n
}

// Each calls fn for every live key, one shard at a time. A shard's entries
// are gathered (references only: values are immutable) under its read lock,
// and fn runs after the lock is released, so a slow fn — a snapshot writing
// to disk — never holds up writers, and memory beyond the keyspace is one
// shard's worth of references. Every key is seen at one whole version; a
// key written while Each runs may be seen before or after that write. fn's
// error stops the walk.
func (s *Store) Each(fn func(key string, e Entry) error) error {
	var batch []ref
	for i := range s.shards {
		batch = s.gather(&s.shards[i], batch[:0])
		for _, r := range batch {
			if err := fn(r.key, r.e); err != nil {
				return err
			}
		}
		clear(batch) // drop the references before the next shard
	}
	return nil
}

// ref is a key and its entry at one version, gathered from a shard.
type ref struct {
	key string
	e   Entry
}

// gather appends sh's live keys to batch under the shard's read lock, which
// it holds for nothing but the copying of references.
func (s *Store) gather(sh *shard, batch []ref) []ref {
	now := s.nowMs()
	s.rlock(sh)
	defer s.runlock(sh)
	for _, e := range sh.m.slots {
		if e != nil && !expired(e, now) {
			// The key shares the entry's memory: callers use it and
			// drop it (Each, Scan), so no copy is made.
			batch = append(batch, ref{e.key(), e.get()})
		}
	}
	return batch
}

// RandomKey returns a random live key.
func (s *Store) RandomKey() (string, bool) {
	if s.keys.Load() == 0 {
		return "", false
	}
	now := s.nowMs()
	start := rand.IntN(len(s.shards))
	for j := range s.shards {
		sh := &s.shards[(start+j)&int(s.mask)]
		s.rlock(sh)
		if n := len(sh.m.slots); n > 0 {
			// From a random slot, as a map's iteration starts at one.
			for i, r := 0, rand.IntN(n); i < n; i++ {
				if e := sh.m.slots[(r+i)&(n-1)]; e != nil && !expired(e, now) {
					k := strings.Clone(e.key())
					s.runlock(sh)
					return k, true
				}
			}
		}
		s.runlock(sh)
	}
	return "", false
}

// SetMaxMemory changes the memory limit at run time (CONFIG SET maxmemory).
func (s *Store) SetMaxMemory(n int64) { s.maxMemory.Store(n) }

// MaxMemory is the current memory limit, 0 for none.
func (s *Store) MaxMemory() int64 { return s.maxMemory.Load() }

// SetPolicy changes the eviction policy at run time.
func (s *Store) SetPolicy(p Policy) { s.policy.Store(uint32(p)) }

// Policy is the current eviction policy.
func (s *Store) Policy() Policy { return Policy(s.policy.Load()) }

// RunExpiry removes expired keys in the background every ExpireInterval until
// ctx is done. Each cycle examines at most ExpireBudget keys.
func (s *Store) RunExpiry(ctx context.Context) {
	t := time.NewTicker(s.cfg.ExpireInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ExpireCycle()
		}
	}
}

// expireSample is how many volatile keys of one shard are looked at per step;
// as in Redis, a step that finds more than a quarter of them expired is
// repeated on the same shard, because there are likely many more.
const expireSample = 20

// ExpireCycle runs one bounded active-expiry pass and returns how many keys
// it examined and removed.
func (s *Store) ExpireCycle() (examined, removed int) {
	s.expireMu.Lock()
	defer s.expireMu.Unlock()
	budget := s.cfg.ExpireBudget
	// The real clock: Tick only advances while commands run.
	now := s.cfg.Now().UnixMilli()
	for visited := 0; visited < len(s.shards) && examined < budget; {
		sh := &s.shards[s.expireCursor]
		s.lock(sh)
		n, gone := 0, 0
		for e := range sh.volatile {
			if n == expireSample || examined+n >= budget {
				break
			}
			n++
			if expired(e, now) {
				s.removeLocked(sh, e.key(), e, 0, false)
				gone++
			}
		}
		s.unlock(sh)
		examined += n
		removed += gone
		s.expired.Add(int64(gone))
		if gone*4 <= n || n == 0 {
			s.expireCursor = (s.expireCursor + 1) & int(s.mask)
			visited++
		}
	}
	return examined, removed
}

// SetMany stores vals[i] under keys[i] as one atomic step: every shard
// involved is locked, in index order so two SetMany calls cannot deadlock.
// With nx nothing is stored if any key exists, and it reports false. A key
// given twice ends with its last value, as MSET does.
func (s *Store) SetMany(keys [][]byte, vals []Entry, nx bool) bool {
	done := true
	s.UpdateKeys(keys, func(tx *Keys) {
		if nx {
			for _, k := range keys {
				if _, ok := tx.Peek(k); ok {
					done = false
					return
				}
			}
		}
		for j, k := range keys {
			tx.Put(k, vals[j])
		}
	})
	return done
}

// UpdateKeys runs fn with every shard that holds one of keys write-locked,
// so what fn reads and writes through tx is one atomic step for every
// other client: the multi-key commands (MSET, BITOP, COPY, LCS) see and
// leave the keyspace as a single command would. Shards are locked in index
// order, so concurrent calls cannot deadlock; fn must not call back into
// the store, and may name only the keys it was given.
func (s *Store) UpdateKeys(keys [][]byte, fn func(tx *Keys)) {
	tx := &Keys{s: s, now: s.nowMs(), locked: make([]uint64, 0, len(keys))}
	for _, k := range keys {
		tx.locked = append(tx.locked, s.shardIndex(k))
	}
	slices.Sort(tx.locked)
	tx.locked = slices.Compact(tx.locked)
	// Through s.lock: inside a view (EXEC) the shards are already held.
	for _, i := range tx.locked {
		s.lock(&s.shards[i])
	}
	defer func() {
		for _, i := range tx.locked {
			s.unlock(&s.shards[i])
		}
	}()
	fn(tx)
}

// Keys is the locked view UpdateKeys hands its callback.
type Keys struct {
	s      *Store
	now    int64
	locked []uint64 // sorted shard indexes, all write-locked
}

// shard returns key's shard, which must be one of those locked.
func (tx *Keys) shard(key []byte) *shard {
	i := tx.s.shardIndex(key)
	if _, ok := slices.BinarySearch(tx.locked, i); !ok {
		panic("store: UpdateKeys callback used a key it was not given")
	}
	return &tx.s.shards[i]
}

// live returns key's entry, removing it first if its TTL has passed.
func (tx *Keys) live(sh *shard, key []byte) *entry {
	e, ok := sh.m.lookup(key)
	if !ok {
		return nil
	}
	if expired(e, tx.now) {
		tx.s.removeLocked(sh, string(key), e, 0, false)
		tx.s.expired.Add(1)
		return nil
	}
	return e
}

// Get returns key's live entry, recording the access and counting a
// keyspace hit or miss as Store.Get does.
func (tx *Keys) Get(key []byte) (Entry, bool) {
	sh := tx.shard(key)
	e := tx.live(sh, key)
	if e == nil {
		sh.misses.Add(1)
		return Entry{}, false
	}
	touch(e, tx.now)
	sh.hits.Add(1)
	return e.get(), true
}

// Peek returns key's live entry without counting or touching it.
func (tx *Keys) Peek(key []byte) (Entry, bool) {
	if e := tx.live(tx.shard(key), key); e != nil {
		return e.get(), true
	}
	return Entry{}, false
}

// Put stores v under key.
func (tx *Keys) Put(key []byte, v Entry) {
	sh := tx.shard(key)
	tx.s.putLocked(sh, key, tx.live(sh, key), v, tx.now)
}

// Remove deletes key and reports whether a live key was removed.
func (tx *Keys) Remove(key []byte) bool {
	sh := tx.shard(key)
	e := tx.live(sh, key)
	if e != nil {
		tx.s.removeLocked(sh, string(key), e, tx.s.origin, false)
	}
	return e != nil
}
