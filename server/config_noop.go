package server

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Redis parameters that mean nothing to relcache (encoding thresholds of
// types it lacks, the allocator's defragmentation, lazy freeing, the
// timer's hz, AOF and RDB tuning, LFU tuning, scripts' time limit): CONFIG
// SET checks a value as Redis 7.0 checks it (its type, range or choices,
// with Redis's wording), stores it and changes nothing else; CONFIG GET
// returns it as Redis would print it. Test suites, harnesses and
// deployment scripts set them unconditionally, and would stop at an
// unknown-option error. docs/configuration.md lists them; the differential
// tests hold each one's checks to redis-server's (TestRedisDifferential).

type noopKind uint8

const (
	noopBool   noopKind = iota // yes or no
	noopInt                    // an integer in [lo, hi], read as Redis's string2ll
	noopMemory                 // a size in bytes with an optional unit, in [lo, hi], read as Redis's memtoull
	noopEnum                   // one of choices, case-insensitively
)

// noopParam is one such parameter; names[0] is its name, the rest are the
// old names Redis still takes for it (they share its value, and CONFIG GET
// lists each).
type noopParam struct {
	names   []string
	kind    noopKind
	def     string
	lo, hi  int64
	choices []string
	// check refuses a value Redis refuses for a reason of its own.
	check func(v string) error
	// normalize is what Redis's apply step makes of a value (hz is kept
	// within 1 and 500).
	normalize func(n int64) int64
}

var noopParams = []noopParam{
	// Encodings of hashes, lists, sets, sorted sets, streams and
	// HyperLogLogs (relcache keeps strings and relation sets only).
	{names: []string{"hash-max-listpack-entries", "hash-max-ziplist-entries"}, kind: noopInt, def: "512", hi: math.MaxInt64},
	{names: []string{"hash-max-listpack-value", "hash-max-ziplist-value"}, kind: noopMemory, def: "64", hi: math.MaxInt64},
	{names: []string{"list-max-listpack-size", "list-max-ziplist-size"}, kind: noopInt, def: "-2", lo: math.MinInt32, hi: math.MaxInt32},
	{names: []string{"list-compress-depth"}, kind: noopInt, def: "0", hi: math.MaxInt32},
	{names: []string{"set-max-intset-entries"}, kind: noopInt, def: "512", hi: math.MaxInt64},
	// Redis 7.2's small-set encoding.
	{names: []string{"set-max-listpack-entries"}, kind: noopInt, def: "128", hi: math.MaxInt64},
	{names: []string{"set-max-listpack-value"}, kind: noopMemory, def: "64", hi: math.MaxInt64},
	{names: []string{"zset-max-listpack-entries", "zset-max-ziplist-entries"}, kind: noopInt, def: "128", hi: math.MaxInt64},
	{names: []string{"zset-max-listpack-value", "zset-max-ziplist-value"}, kind: noopMemory, def: "64", hi: math.MaxInt64},
	{names: []string{"stream-node-max-bytes"}, kind: noopMemory, def: "4096", hi: math.MaxInt64},
	{names: []string{"stream-node-max-entries"}, kind: noopInt, def: "100", hi: math.MaxInt64},
	{names: []string{"hll-sparse-max-bytes"}, kind: noopMemory, def: "3000", hi: math.MaxInt64},
	// The allocator and freeing: Go's collector does both.
	{names: []string{"activedefrag"}, kind: noopBool, def: "no", check: func(v string) error {
		// Redis refuses it when built without its own jemalloc, and
		// relcache has no allocator to defragment.
		if v == "yes" {
			return configError("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution")
		}
		return nil
	}},
	{names: []string{"active-defrag-cycle-min"}, kind: noopInt, def: "1", lo: 1, hi: 99},
	{names: []string{"active-defrag-cycle-max"}, kind: noopInt, def: "25", lo: 1, hi: 99},
	{names: []string{"active-defrag-ignore-bytes"}, kind: noopMemory, def: "104857600", lo: 1, hi: math.MaxInt64},
	{names: []string{"active-defrag-max-scan-fields"}, kind: noopInt, def: "1000", lo: 1, hi: math.MaxInt64},
	{names: []string{"active-defrag-threshold-lower"}, kind: noopInt, def: "10", hi: 1000},
	{names: []string{"active-defrag-threshold-upper"}, kind: noopInt, def: "100", hi: 1000},
	{names: []string{"activerehashing"}, kind: noopBool, def: "yes"},
	{names: []string{"jemalloc-bg-thread"}, kind: noopBool, def: "yes"},
	{names: []string{"lazyfree-lazy-eviction"}, kind: noopBool, def: "no"},
	{names: []string{"lazyfree-lazy-expire"}, kind: noopBool, def: "no"},
	{names: []string{"lazyfree-lazy-server-del"}, kind: noopBool, def: "no"},
	{names: []string{"lazyfree-lazy-user-del"}, kind: noopBool, def: "no"},
	{names: []string{"lazyfree-lazy-user-flush"}, kind: noopBool, def: "no"},
	{names: []string{"replica-lazy-flush", "slave-lazy-flush"}, kind: noopBool, def: "no"},
	{names: []string{"maxmemory-eviction-tenacity"}, kind: noopInt, def: "10", hi: 100},
	// Timers: relcache's expiry and housekeeping run on their own clocks.
	{names: []string{"hz"}, kind: noopInt, def: "10", hi: math.MaxInt32, normalize: func(n int64) int64 { return min(max(n, 1), 500) }},
	{names: []string{"dynamic-hz"}, kind: noopBool, def: "yes"},
	{names: []string{"active-expire-effort"}, kind: noopInt, def: "1", lo: 1, hi: 10},
	// Latency tracking (INFO latencystats, LATENCY) and LFU, which
	// relcache lacks.
	{names: []string{"latency-tracking"}, kind: noopBool, def: "yes"},
	{names: []string{"latency-monitor-threshold"}, kind: noopInt, def: "0", hi: math.MaxInt64},
	{names: []string{"lfu-log-factor"}, kind: noopInt, def: "10", hi: math.MaxInt32},
	{names: []string{"lfu-decay-time"}, kind: noopInt, def: "1", hi: math.MaxInt32},
	// AOF (relcache has snapshots only) and RDB tuning (its snapshots
	// are its own format, always checksummed).
	{names: []string{"appendfsync"}, kind: noopEnum, def: "everysec", choices: []string{"everysec", "always", "no"}},
	{names: []string{"no-appendfsync-on-rewrite"}, kind: noopBool, def: "no"},
	{names: []string{"auto-aof-rewrite-percentage"}, kind: noopInt, def: "100", hi: math.MaxInt32},
	{names: []string{"auto-aof-rewrite-min-size"}, kind: noopMemory, def: "67108864", hi: math.MaxInt64},
	{names: []string{"aof-load-truncated"}, kind: noopBool, def: "yes"},
	{names: []string{"aof-use-rdb-preamble"}, kind: noopBool, def: "yes"},
	{names: []string{"aof-rewrite-incremental-fsync"}, kind: noopBool, def: "yes"},
	{names: []string{"aof-timestamp-enabled"}, kind: noopBool, def: "no"},
	{names: []string{"aof-disable-auto-gc"}, kind: noopBool, def: "no"},
	{names: []string{"rdbcompression"}, kind: noopBool, def: "yes"},
	{names: []string{"rdb-save-incremental-fsync"}, kind: noopBool, def: "yes"},
	{names: []string{"rdb-del-sync-files"}, kind: noopBool, def: "no"},
	{names: []string{"stop-writes-on-bgsave-error"}, kind: noopBool, def: "yes"},
	// Scripts, which relcache does not run.
	{names: []string{"busy-reply-threshold", "lua-time-limit"}, kind: noopInt, def: "5000", hi: math.MaxInt64},
}

// noopConfig holds the values CONFIG SET gave them, by name.
type noopConfig struct {
	mu   sync.Mutex // guards vals
	vals map[string]string
}

func newNoopConfig() *noopConfig {
	n := &noopConfig{vals: make(map[string]string, len(noopParams))}
	for _, p := range noopParams {
		n.vals[p.names[0]] = p.def
	}
	return n
}

func (n *noopConfig) get(name string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.vals[name]
}

// noopConfigParams are CONFIG's entries for noopParams, one per name.
func (n *noopConfig) params() []configParam {
	var out []configParam
	for _, p := range noopParams {
		key := p.names[0]
		for _, name := range p.names {
			out = append(out, configParam{name: name,
				get: func(*Server) string { return n.get(key) },
				set: func(_ *Server, v string) (func(), error) {
					canon, err := p.parse(v)
					if err != nil {
						return nil, err
					}
					return func() {
						n.mu.Lock()
						n.vals[key] = canon
						n.mu.Unlock()
					}, nil
				}})
		}
	}
	return out
}

// parse checks v as Redis checks the parameter and returns it as CONFIG
// GET will print it.
func (p noopParam) parse(v string) (string, error) {
	var canon string
	switch p.kind {
	case noopBool:
		switch {
		case cEqFold([]byte(v), "yes"):
			canon = "yes"
		case cEqFold([]byte(v), "no"):
			canon = "no"
		default:
			return "", configError("argument must be 'yes' or 'no'")
		}
	case noopEnum:
		for _, c := range p.choices {
			if cEqFold([]byte(v), c) {
				canon = c
			}
		}
		if canon == "" {
			return "", configError("argument(s) must be one of the following: " + strings.Join(p.choices, ", "))
		}
	case noopInt, noopMemory:
		var n int64
		if p.kind == noopMemory {
			var ok bool
			if n, ok = redisMemory(v); !ok {
				return "", errMemoryValue
			}
			if n < p.lo || n > p.hi {
				return "", configError(fmt.Sprintf("argument must be between %d and %d inclusive", p.lo, p.hi))
			}
		} else {
			var err error
			if n, err = configInt(v, p.lo, p.hi); err != nil {
				return "", err
			}
		}
		if p.normalize != nil {
			n = p.normalize(n)
		}
		canon = strconv.FormatInt(n, 10)
	}
	if p.check != nil {
		if err := p.check(canon); err != nil {
			return "", err
		}
	}
	return canon, nil
}

// redisMemory reads a size as Redis 7.0's memtoull does, then as the
// long long the parameter holds: a C string (up to a NUL byte) of digits
// and an optional unit (b, k, kb, m, mb, g, gb, in any case); no sign;
// "" and a bare unit are 0; digits past 2^64-1 saturate (strtoull), and
// the product with the unit wraps modulo 2^64. The result may be negative
// (the long long of a size past 2^63-1), for the range check to refuse as
// Redis's does.
func redisMemory(v string) (int64, bool) {
	s := cString([]byte(v))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	var mul uint64
	switch strings.ToLower(s[i:]) {
	case "", "b":
		mul = 1
	case "k":
		mul = 1000
	case "kb":
		mul = 1 << 10
	case "m":
		mul = 1000 * 1000
	case "mb":
		mul = 1 << 20
	case "g":
		mul = 1000 * 1000 * 1000
	case "gb":
		mul = 1 << 30
	default:
		return 0, false
	}
	if i >= 128 {
		return 0, false
	}
	var val uint64
	if i > 0 {
		var err error
		if val, err = strconv.ParseUint(s[:i], 10, 64); err != nil {
			val = math.MaxUint64
		}
	}
	return int64(val * mul), true // wrapping, as Redis 7.0's does
}
