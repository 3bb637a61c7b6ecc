package fill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// A truncated list (the newest 5000 of a celebrity's fans) cannot say "no"
// for a uid it does not hold. With a source of record the engine asks it:
// Resolve sends the uids a command could not answer, for one list, to the
// source in one query (loader.Lookup, by the primary key), and keeps the
// answers in a small side table, known members with their times and known
// non-members, which Known reads. The answers are not put into the set's
// spare slots: a truncated set is the newest members, and an old fan
// placed among them would show up in every listing and page of it.
//
// An answer is used only for the set it was asked for and while no write
// touched the key: each entry records the set's Identity (copy-on-write
// edits, fills and SETs store a new buffer) and the key's fill generation,
// read before the query, which FOLLOW and UNFOLLOW bump after the source
// write and before patching. An UNFOLLOW of an old fan that the cached part
// does not hold, in a set that records no total, leaves the buffer as it
// was, and the generation is what retires the answer then
// (TestResolveDiscardsAnAnswerOlderThanAWrite). Entries live probeTTL at most, and the table is
// bounded (probeKeys keys, probeAnswers answers a key), so a stream of
// distinct uids costs queries, never unbounded memory.

const (
	probeShards = 16
	// At about 36 bytes an answer (BenchmarkKnown/memory), the table
	// holds at most ~36 MiB, outside maxmemory: 1024 lists × 1024
	// answers, and one command's batch past that is kept whole.
	probeKeys    = 1024 // lists with answers, all shards together
	probeAnswers = 1024 // answers kept per list
	// probeTTL bounds how long an answer is trusted without a write
	// through relcache to retire it: a write made straight to the source
	// is seen after this, as a filled list is after its TTL.
	probeTTL = 10 * time.Second
)

// answer is the source's word on one uid of one list.
type answer struct {
	time   uint32
	member bool
}

// probeEntry holds the answers for one version of one list.
type probeEntry struct {
	identity *byte  // the set's Identity when asked
	gen      uint64 // the key's fill generation before the query
	expires  time.Time
	answers  map[uint64]answer
}

type probeShard struct {
	mu sync.Mutex // guards m
	m  map[string]*probeEntry
}

// probes is the side table of answers, sharded by key.
type probes struct {
	shards [probeShards]probeShard
}

func (p *probes) shard(key []byte) *probeShard {
	return &p.shards[xxhash.Sum64(key)%probeShards]
}

// Known returns the source's answer for uid in the truncated set stored
// under key, if Resolve asked it for this very set and no write has
// touched the key since: t is the follow time when member. ok is false
// when there is no such answer.
func (e *Engine) Known(key []byte, set *openhash.Set, uid uint64) (t uint32, member, ok bool) {
	ps := e.probes.shard(key)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pe := ps.m[string(key)]
	if pe == nil || pe.identity != set.Identity() || pe.gen != e.gen(key).Load() || time.Now().After(pe.expires) {
		return 0, false, false
	}
	a, ok := pe.answers[uid]
	return a.time, a.member, ok
}

// Resolve asks the source which of uids are in key's list, which is cached
// truncated and does not hold them, and keeps the answers for Known. One
// query per call (loader.LookupBatch uids a query); concurrent callers with
// the same key and uids share it. It returns a *LoadError when the source
// fails, times out, or its breaker is open, and a *RefusedError for an
// owner the source cannot hold (a uid it cannot hold is a non-member);
// nothing is done without a source, or when key is
// not (any more) a truncated list.
func (e *Engine) Resolve(ctx context.Context, key []byte, uids []uint64) error {
	if e.cfg.Source == nil || len(uids) == 0 {
		return nil
	}
	owner, kind, ok := e.cfg.Keys.Parse(key)
	if !ok {
		return nil
	}
	if err := e.CheckUID(owner); err != nil {
		return err
	}
	// The flight's name cannot be a key's, which fills fly under.
	flight := strconv.AppendUint(append([]byte("\x00lookup "), key...), uint64(len(uids)), 10)
	for _, u := range uids {
		flight = strconv.AppendUint(append(flight, ','), u, 10)
	}
	ch := e.group.DoChan(string(flight), func() (any, error) {
		return nil, e.resolve(string(key), owner, kind, uids)
	})
	timer := time.NewTimer(e.cfg.LoadTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.Err
	case <-timer.C:
		e.stats.timeouts.Add(1)
		return &LoadError{Shard: e.cfg.Source.Shard(owner), Reason: fmt.Sprintf("timeout: no answer from the source within %v", e.cfg.LoadTimeout), timeout: true}
	case <-ctx.Done():
		return fmt.Errorf("resolve %s: %w", key, ctx.Err())
	}
}

// resolve is the one query behind Resolve's callers.
func (e *Engine) resolve(key string, owner uint64, kind shard.Kind, uids []uint64) error {
	kb := []byte(key)
	cur, ok := e.cfg.Store.Peek(kb)
	if !ok || cur.Kind != store.KindRelSet {
		return nil // dropped or replaced meanwhile: the command looks again
	}
	set, err := openhash.Open(cur.Value)
	if err != nil || !set.Truncated() {
		return nil
	}
	// The generation is read before the query: a write that reaches the
	// source after this bumps it, and the answers are then never used.
	g0 := e.gen(kb).Load()
	// A uid the source cannot hold is in none of its lists: answered
	// without asking.
	ask := make([]uint64, 0, len(uids))
	for _, u := range uids {
		if e.CheckUID(u) == nil {
			ask = append(ask, u)
		}
	}
	var found []loader.Member
	if len(ask) > 0 {
		shardName := e.cfg.Source.Shard(owner)
		b, err := e.allow(shardName)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.LoadTimeout)
		defer cancel()
		found, err = e.cfg.Source.Lookup(ctx, owner, kind, ask)
		e.stats.lookups.Add(1)
		e.stats.lookedUp.Add(int64(len(ask)))
		b.Done(time.Now(), errIfNot(errIfNot(err, loader.ErrBadRow), loader.ErrUIDRange))
		if err != nil {
			e.loadFailed(shardName, key, err)
			return &LoadError{Shard: shardName, Reason: oneLine(err.Error()), timeout: errors.Is(err, context.DeadlineExceeded)}
		}
	}
	e.remember(key, set.Identity(), g0, uids, found)
	return nil
}

// remember stores the answers for uids (found: those that are members)
// for the set version identity at generation g0.
func (e *Engine) remember(key string, identity *byte, g0 uint64, uids []uint64, found []loader.Member) {
	ps := e.probes.shard([]byte(key))
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*probeEntry{}
	}
	now := time.Now()
	pe := ps.m[key]
	if pe == nil || pe.identity != identity || pe.gen != g0 || now.After(pe.expires) || len(pe.answers)+len(uids) > probeAnswers {
		if pe == nil && len(ps.m) >= probeKeys/probeShards {
			ps.evict(now)
		}
		pe = &probeEntry{identity: identity, gen: g0, expires: now.Add(probeTTL), answers: make(map[uint64]answer, len(uids))}
		ps.m[key] = pe
	}
	for _, u := range uids {
		pe.answers[u] = answer{}
	}
	for _, m := range found {
		pe.answers[m.UID] = answer{time: m.Time, member: true}
	}
}

// evict makes room for one more key: the expired entries go, or, when none
// has, one chosen by map order.
func (ps *probeShard) evict(now time.Time) {
	for k, pe := range ps.m {
		if now.After(pe.expires) {
			delete(ps.m, k)
		}
	}
	for k := range ps.m {
		if len(ps.m) < probeKeys/probeShards {
			return
		}
		delete(ps.m, k)
	}
}
