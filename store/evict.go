package store

import "math/rand/v2"

// EnsureMemory makes room before a command that may grow memory, as Redis
// does before every "denyoom" command: while used memory is above MaxMemory it
// evicts by the policy, and returns ErrOOM when the policy is noeviction or
// finds nothing to evict. With no limit it costs one atomic load.
func (s *Store) EnsureMemory() error {
	limit := s.maxMemory.Load()
	if limit <= 0 {
		return nil
	}
	for s.used.Load() > limit {
		pol := s.Policy()
		if pol == NoEviction {
			return ErrOOM
		}
		if !s.evictOne(pol) {
			return ErrOOM
		}
	}
	return nil
}

type candidate struct {
	sh    *shard
	key   string
	e     *entry
	atime uint32
}

// evictOne removes one key chosen by pol and reports whether it found one.
// LRU is approximated as Redis does: sample EvictionSamples keys and evict the
// one idle longest. A sample is the first key of a map iteration (which Go
// starts at a random slot) in each of several random shards, so the sample is
// spread over the whole keyspace rather than one shard.
func (s *Store) evictOne(pol Policy) bool {
	var best candidate
	samples := s.cfg.EvictionSamples
	if pol == AllKeysRandom {
		samples = 1
	}
	// Empty shards yield no sample; give up after enough misses that an
	// empty (or TTL-less, for volatile-lru) keyspace answers quickly.
	for tries, got := 0, 0; got < samples && tries < 4*samples+len(s.shards)/8; tries++ {
		sh := &s.shards[rand.IntN(len(s.shards))]
		c, ok := sampleShard(sh, pol == VolatileLRU)
		if !ok {
			continue
		}
		got++
		if best.e == nil || c.atime < best.atime {
			best = c
		}
	}
	if best.e == nil {
		return s.evictScan(pol)
	}
	return s.evictCandidate(best)
}

func sampleShard(sh *shard, volatileOnly bool) (candidate, bool) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if volatileOnly {
		for e := range sh.volatile {
			return candidate{sh: sh, key: e.key(), e: e, atime: e.atime.Load()}, true
		}
		return candidate{}, false
	}
	if e := sh.m.random(rand.Int()); e != nil {
		return candidate{sh: sh, key: e.key(), e: e, atime: e.atime.Load()}, true
	}
	return candidate{}, false
}

// evictScan is the fallback when random probes found nothing (few keys in many
// shards): it walks the shards in order and evicts the first eligible key.
func (s *Store) evictScan(pol Policy) bool {
	for i := range s.shards {
		if c, ok := sampleShard(&s.shards[i], pol == VolatileLRU); ok {
			return s.evictCandidate(c)
		}
	}
	return false
}

// evictCandidate removes c if it is still the entry under its key and has
// not been used since it was sampled; a writer may have replaced, rewritten
// (entries are overwritten in place) or deleted it. Either way memory may
// have been freed, so the caller's loop re-checks the limit.
func (s *Store) evictCandidate(c candidate) bool {
	s.lock(c.sh)
	defer s.unlock(c.sh)
	if c.sh.m.slotOf(c.key, c.e) >= 0 && c.e.atime.Load() == c.atime {
		s.removeLocked(c.sh, c.key, c.e, 0, false)
		s.evicted.Add(1)
	}
	return true
}
