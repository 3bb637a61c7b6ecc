// Package fill is relcache's cache-consistency engine: it keeps the relation
// lists a node caches equal to the source of record. It fills a missing
// list from the source (one query per key however many commands miss it,
// behind a circuit breaker per source shard), writes FOLLOW and UNFOLLOW
// through to the source and then patches the cached lists, completes the
// writes a crash interrupted, tells a snapshot which source changes it
// holds, and owns the copy-on-write edit of a relation set that all of
// these and RELADD/RELDEL share. A server's handlers call it; it knows
// nothing of RESP, so it is tested without a server.
//
// A fill must never cache a list older than a write that already reached
// the source. Writers bump a per-key generation (striped) after the source
// write and before patching the cache; a fill stores its list only if the
// generation is unchanged, checked under the store's key lock. Either the
// fill stored first, and the writer's patch then applies to the cached
// list, or the writer bumped first, and the fill discards its (possibly
// stale) list and queries again. docs/architecture.md has the locks and
// the order they are taken in.
package fill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/relcache/relcache/internal/breaker"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Config configures an Engine.
type Config struct {
	// Store is the keyspace the lists are cached in. Required.
	Store *store.Store
	// Keys names the relation lists (the server's rel-key-pattern).
	// Required.
	Keys *shard.KeyPattern
	// Source is the source of record; nil for a pure cache, where the
	// engine only patches and edits what clients loaded. A source that
	// is a loader.Writer takes FOLLOW's writes, and a loader.Journal
	// recovers them after a crash.
	Source loader.Source
	// Log gets what an operator must know of: failed loads, lists dropped
	// because they could not be patched, the journal's sweeps. Required.
	Log *zap.Logger
	// LoadTimeout bounds how long a command waits for its fills, one list
	// query, and one source write. Default 1s.
	LoadTimeout time.Duration
	// ListLimit caps the members loaded per list, newest first; a longer
	// list is cached marked truncated. 0: all.
	ListLimit int
	// TTL and NegativeTTL are the TTLs of filled lists, non-empty and
	// empty (an unknown user is not queried again until it expires). 0:
	// none.
	TTL, NegativeTTL time.Duration
	// BreakerFailures consecutive failed loads of a source shard open its
	// breaker for BreakerCooldown. Defaults 5 and 2s (internal/breaker's).
	BreakerFailures int
	BreakerCooldown time.Duration
	// SetVersion returns the openhash.Options.Version a filled list is
	// built in. It is asked at each build, so a change (the server's
	// CONFIG SET rel-set-format) applies to the lists filled from then on
	// while those cached stay as they are. Nil: 0, version 1.
	SetVersion func() int
}

// DefaultLoadTimeout is Config.LoadTimeout's default.
const DefaultLoadTimeout = time.Second

const (
	genStripes  = 4096 // generation counters; a collision only costs a re-query
	edgeStripes = 1024 // locks serialising writes to one edge
	// fillParallel bounds the loads one command runs at once.
	fillParallel = 16
	// fillAttempts is how often a fill re-queries when writes keep
	// landing on its key; after that the command answers "not cached".
	fillAttempts = 3
)

// Engine fills missing relation lists from the source and applies writes to
// it. It is safe for concurrent use.
type Engine struct {
	cfg Config
	w   loader.Writer  // nil when the source takes no writes
	j   loader.Journal // nil when the source keeps none

	group singleflight.Group
	gens  [genStripes]atomic.Uint64
	edges [edgeStripes]sync.Mutex
	// writing is held (read) by every source write from before it reaches
	// the source until the cache has it; SnapshotMarks takes it (write) to
	// wait those out after reading the journal's marks.
	writing sync.RWMutex

	bmu      sync.Mutex                  // guards breakers
	breakers map[string]*breaker.Breaker // by source shard name

	probes probes // the source's answers for uids truncated lists lack (probe.go)

	stats counters
}

// New checks cfg and returns an engine.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("fill: no store")
	case cfg.Keys == nil:
		return nil, errors.New("fill: no key pattern")
	case cfg.Log == nil:
		return nil, errors.New("fill: nil logger")
	case cfg.LoadTimeout < 0 || cfg.TTL < 0 || cfg.NegativeTTL < 0 || cfg.BreakerCooldown < 0:
		return nil, errors.New("fill: durations must be >= 0")
	case cfg.ListLimit < 0:
		return nil, fmt.Errorf("fill: list limit must be >= 0, got %d", cfg.ListLimit)
	}
	if cfg.LoadTimeout == 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	e := &Engine{cfg: cfg, breakers: map[string]*breaker.Breaker{}}
	e.w, _ = cfg.Source.(loader.Writer)
	e.j, _ = cfg.Source.(loader.Journal)
	e.stats.init()
	return e, nil
}

// HasSource reports whether lists are filled from a source of record.
func (e *Engine) HasSource() bool { return e.cfg.Source != nil }

// CanWrite reports whether the source takes FOLLOW's writes.
func (e *Engine) CanWrite() bool { return e.w != nil }

// LoadError is a fill that failed: the source timed out, failed, or its
// breaker is open. The client sees "-LOADFAIL <shard> <reason>".
type LoadError struct {
	Shard  string
	Reason string
	// timeout: the source missed the load deadline (counted as a timeout
	// whether the query's own deadline or the waiting client's came first).
	timeout bool
}

func (e *LoadError) Error() string { return "LOADFAIL " + e.Shard + " " + e.Reason }

// RefusedError is a request the source cannot represent (a uid out of its
// range), refused before it reaches the source or a breaker.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string {
	return oneLine(e.Err.Error()) + ": the source of record cannot hold it"
}

func (e *RefusedError) Unwrap() error { return e.Err }

// CheckUID refuses a uid the source cannot represent with a
// *RefusedError; nil without a source.
func (e *Engine) CheckUID(uid uint64) error {
	if e.cfg.Source == nil {
		return nil
	}
	if err := e.cfg.Source.CheckUID(uid); err != nil {
		return &RefusedError{Err: err}
	}
	return nil
}

// gen is key's fill generation.
func (e *Engine) gen(key []byte) *atomic.Uint64 {
	return &e.gens[xxhash.Sum64(key)%genStripes]
}

func (e *Engine) breaker(shardName string) *breaker.Breaker {
	e.bmu.Lock()
	defer e.bmu.Unlock()
	b := e.breakers[shardName]
	if b == nil {
		b = breaker.New(breaker.Config{Failures: e.cfg.BreakerFailures, Cooldown: e.cfg.BreakerCooldown})
		e.breakers[shardName] = b
	}
	return b
}

// allow asks shardName's breaker whether a query may go to the source: a
// *LoadError, answered at once, while it is open.
func (e *Engine) allow(shardName string) (*breaker.Breaker, error) {
	b := e.breaker(shardName)
	if !b.Allow(time.Now()) {
		e.stats.failFast.Add(1)
		_, why := b.State()
		return nil, &LoadError{Shard: shardName, Reason: "circuit open after repeated failures (last: " + oneLine(why) + ")"}
	}
	return b, nil
}

// Fill fills keys (the misses of one command) from the source, all by one
// deadline, LoadTimeout from now. Keys that name no relation list are
// skipped. It returns the first failure: a *LoadError, a *RefusedError, a
// store.ErrOOM, or ctx's error when ctx ends first. Without a source it
// does nothing.
func (e *Engine) Fill(ctx context.Context, keys [][]byte) error {
	if e.cfg.Source == nil {
		return nil
	}
	deadline := time.Now().Add(e.cfg.LoadTimeout)
	if len(keys) == 1 {
		return e.fillOne(ctx, keys[0], deadline)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards firstErr
		firstErr error
	)
	sem := make(chan struct{}, fillParallel)
	for _, key := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := e.fillOne(ctx, key, deadline); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// fillOne waits for key's fill until deadline. Concurrent callers share one
// load (singleflight); a caller that gives up leaves the load running, to
// be cached for the next request.
func (e *Engine) fillOne(ctx context.Context, key []byte, deadline time.Time) error {
	uid, kind, ok := e.cfg.Keys.Parse(key)
	if !ok || kind == shard.Bifollow {
		return nil // a bi-follow list is computed from following lists, never loaded
	}
	if err := e.CheckUID(uid); err != nil {
		// Refused before the flight: a request the source cannot even
		// represent says nothing about the source's health, so it must
		// not count against the shard's breaker (one client repeating
		// it would keep every cold read failing).
		return err
	}
	ch := e.group.DoChan(string(key), func() (any, error) {
		return nil, e.load(string(key), uid, kind)
	})
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-ch:
		if le, ok := r.Err.(*LoadError); ok && le.timeout {
			e.stats.timeouts.Add(1)
		}
		return r.Err
	case <-timer.C:
		e.stats.timeouts.Add(1)
		return &LoadError{Shard: e.cfg.Source.Shard(uid), Reason: fmt.Sprintf("timeout: no answer from the source within %v", e.cfg.LoadTimeout)}
	case <-ctx.Done():
		return fmt.Errorf("fill %s: %w", key, ctx.Err())
	}
}

// load is the one query behind a key's concurrent misses. It runs on a
// context of its own, not a caller's: the callers sharing it come and go,
// and the list is worth caching after the one that started it gave up.
func (e *Engine) load(key string, uid uint64, kind shard.Kind) error {
	st := e.cfg.Store
	kb := []byte(key)
	if _, ok := st.Peek(kb); ok {
		return nil // filled (or SET) while this caller waited for the flight
	}
	shardName := e.cfg.Source.Shard(uid)
	b, err := e.allow(shardName)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LoadTimeout)
	defer cancel()
	gen := e.gen(kb)
	for range fillAttempts {
		g0 := gen.Load()
		start := time.Now()
		list, err := e.cfg.Source.Load(ctx, uid, kind, e.cfg.ListLimit)
		e.stats.latency.Observe(time.Since(start).Seconds())
		e.stats.loads.Add(1)
		// A malformed row is the data's fault, not the shard's: it does
		// not count against the breaker.
		b.Done(time.Now(), errIfNot(errIfNot(err, loader.ErrBadRow), loader.ErrUIDRange))
		if err != nil {
			e.loadFailed(shardName, key, err)
			return &LoadError{Shard: shardName, Reason: oneLine(err.Error()), timeout: errors.Is(err, context.DeadlineExceeded)}
		}
		if len(list.Members) == 0 {
			e.stats.empty.Add(1)
		}
		value, err := buildList(list, e.setVersion())
		if err != nil {
			e.loadFailed(shardName, key, err)
			return &LoadError{Shard: shardName, Reason: oneLine(err.Error())}
		}
		if err := st.EnsureMemory(); err != nil {
			return fmt.Errorf("fill %s: %w", key, err)
		}
		ttl := e.cfg.TTL
		if len(list.Members) == 0 {
			ttl = e.cfg.NegativeTTL
		}
		var expireAt int64
		if ttl > 0 {
			expireAt = st.Now() + ttl.Milliseconds()
		}
		stored := false
		st.Update(kb, func(cur store.Entry, exists bool) (store.Entry, store.Action) {
			if exists || gen.Load() != g0 {
				stored = exists // someone SET it: theirs stands
				return cur, store.Keep
			}
			stored = true
			return store.Entry{Kind: store.KindRelSet, Value: value, ExpireAt: expireAt}, store.Put
		})
		if stored {
			return nil
		}
		e.stats.discarded.Add(1) // a FOLLOW raced the query: ask again
	}
	return nil
}

func (e *Engine) loadFailed(shardName, key string, err error) {
	e.stats.loadErrors.Add(1)
	n, _ := e.stats.errorsByShard.LoadOrStore(shardName, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	e.cfg.Log.Warn("load failed", zap.String("shard", shardName), zap.String("key", key), zap.Error(err))
}

// setVersion is the format a filled list is built in (Config.SetVersion).
func (e *Engine) setVersion() int {
	if e.cfg.SetVersion == nil {
		return 0
	}
	return e.cfg.SetVersion()
}

// buildList encodes a loaded list as a relation set with times in format
// version (openhash.Options.Version), with a quarter of room so a run of
// FOLLOWs patches it in place.
func buildList(l loader.List, version int) ([]byte, error) {
	uids := make([]uint64, len(l.Members))
	times := make([]uint32, len(l.Members))
	for i, m := range l.Members {
		uids[i], times[i] = m.UID, m.Time
	}
	return openhash.Build(nil, uids, times, openhash.Options{
		Seed: rand.Uint64(), Truncated: l.Truncated, Total: uint64(l.Total), Extra: len(uids)/4 + 4,
		Version: version, Fit: true,
	})
}

func errIfNot(err, benign error) error {
	if err == nil || errors.Is(err, benign) {
		return nil
	}
	return err
}

// oneLine keeps an error message fit for a RESP simple error, which is
// where a LoadError's reason ends up.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
