package store

import (
	"fmt"
	"strings"
	"time"
)

// Policy says what the store does when a write would take used memory past
// MaxMemory. The names are Redis's, so CONFIG SET maxmemory-policy and
// operators' habits carry over.
type Policy uint8

const (
	// NoEviction refuses writes that may grow memory with ErrOOM.
	NoEviction Policy = iota
	// AllKeysLRU evicts the least recently used key among a sample of all keys.
	AllKeysLRU
	// VolatileLRU evicts the least recently used key among a sample of keys
	// that have a TTL; with no such key, writes get ErrOOM.
	VolatileLRU
	// AllKeysRandom evicts a random key.
	AllKeysRandom
)

var policyNames = [...]string{
	NoEviction:    "noeviction",
	AllKeysLRU:    "allkeys-lru",
	VolatileLRU:   "volatile-lru",
	AllKeysRandom: "allkeys-random",
}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// ParsePolicy reads a policy by its Redis name, case-insensitively.
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if strings.EqualFold(s, n) {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown maxmemory policy %q (want one of %s)", s, strings.Join(policyNames[:], ", "))
}

// MarshalText and UnmarshalText let a Policy be a TOML value.
func (p Policy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a policy name.
func (p *Policy) UnmarshalText(b []byte) error {
	v, err := ParsePolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Config configures a Store. The zero value is usable: New fills defaults.
type Config struct {
	// Shards is the number of independently locked partitions of the
	// keyspace. A power of two; more shards mean less lock contention and
	// finer SCAN steps at a few hundred bytes each. Default 256.
	Shards int

	// MaxMemory caps used memory in bytes as estimated by the store's
	// accounting (see EntryOverhead). 0 means no limit. Default 0.
	MaxMemory int64

	// Policy is what happens past MaxMemory. Default NoEviction.
	Policy Policy

	// EvictionSamples is how many keys are sampled to pick one LRU victim,
	// as Redis's maxmemory-samples: 5 is close to true LRU at a fraction of
	// the cost, 10 closer still. Default 5.
	EvictionSamples int

	// ExpireInterval is the period of the active expiry cycle that removes
	// expired keys nobody reads. Default 100ms (Redis's hz 10).
	ExpireInterval time.Duration

	// ExpireBudget bounds the keys one active expiry cycle examines, so a
	// keyspace with millions of TTLs never stalls the cycle's goroutine
	// or starves writers. Default 2000.
	ExpireBudget int

	// Now returns the current time; tests inject a fake clock. Default time.Now.
	Now func() time.Time

	// Watcher, when set, hears of every change to a key (see Watcher).
	// The server's WATCH and client tracking listen here. Default none.
	Watcher Watcher
}

// Watcher is told of every change to a key: a write, a removal (DEL,
// RENAME, lazy or active expiry, eviction, FLUSHALL), while it says it is
// Active. Touched runs under the key's shard write lock, before any other
// caller can see the change, so it must be quick and must not call the
// store. Active is asked on every change and should be one atomic load.
type Watcher interface {
	Active() bool
	// Touched says a key changed.
	Touched(ch Change)
	// Flushed says a Flush has removed every key; it follows the Touched
	// of each removal (marked Flush) and runs once the last shard is
	// empty, outside the shard locks (unless the caller holds them all
	// through a view): a watcher that answers a flush once ("everything
	// is gone", client tracking's null invalidation) answers it here,
	// when no key that was there before the flush can still be read.
	Flushed(origin int64)
}

// Change is one change to a key, as a Watcher hears of it.
type Change struct {
	Key string
	// Removed is set when the change removed the key (a delete, an
	// expiry, an eviction, a flush).
	Removed bool
	// Flush marks the removals of a Flush, which Flushed will follow.
	Flush bool
	// Origin is the origin of the view the change was made through (see
	// WithOrigin), so a watcher can tell its caller's own changes from
	// others'. 0 for the keyspace's own work (expiry, eviction) and for
	// calls through a store without one.
	Origin int64
}

// Validate reports what New would refuse in c.
func (c Config) Validate() error { return c.fill() }

func (c *Config) fill() error {
	if c.Shards == 0 {
		c.Shards = 256
	}
	if c.EvictionSamples == 0 {
		c.EvictionSamples = 5
	}
	if c.ExpireInterval == 0 {
		c.ExpireInterval = 100 * time.Millisecond
	}
	if c.ExpireBudget == 0 {
		c.ExpireBudget = 2000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Shards < 1 || c.Shards&(c.Shards-1) != 0:
		return fmt.Errorf("store: shards must be a power of two, got %d", c.Shards)
	case c.MaxMemory < 0:
		return fmt.Errorf("store: maxmemory must be >= 0, got %d", c.MaxMemory)
	case int(c.Policy) >= len(policyNames):
		return fmt.Errorf("store: unknown policy %d", c.Policy)
	case c.EvictionSamples < 1 || c.EvictionSamples > 64:
		return fmt.Errorf("store: eviction samples must be in [1, 64], got %d", c.EvictionSamples)
	case c.ExpireInterval < 0:
		return fmt.Errorf("store: expire interval must be > 0, got %v", c.ExpireInterval)
	case c.ExpireBudget < 1:
		return fmt.Errorf("store: expire budget must be >= 1, got %d", c.ExpireBudget)
	}
	return nil
}

// Set and Type make *Policy a command-line flag value.
func (p *Policy) Set(s string) error { return p.UnmarshalText([]byte(s)) }

// Type names the flag's value type in --help.
func (p *Policy) Type() string { return "policy" }
