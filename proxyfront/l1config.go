package proxyfront

import (
	"fmt"
	"time"
)

// L1Config is the [l1] table: the proxy's local cache of hot strings and
// relation sets (l1.go, docs/proxy.md "L1 cache"). Off unless enabled.
// It applies at start; a reload keeps the running L1 as it is.
type L1Config struct {
	// Enabled turns the L1 on. Default false: every read goes to its node.
	Enabled bool `toml:"enabled"`
	// MaxBytes bounds the L1's memory: keys, values and about 160 bytes
	// of bookkeeping per entry. A value over a sixteenth of it is never
	// cached. Default 64 MiB; at least 1 MiB.
	MaxBytes int64 `toml:"max_bytes"`
	// TTL is the longest an entry is kept after it was fetched. The
	// nodes' invalidations keep entries exact; the TTL only bounds how
	// long a key that is no longer read stays. Default 60s; > 0.
	TTL Duration `toml:"ttl"`
	// MaxBatch is the most uids of one RELMULTI or RELCHECK the L1
	// answers; larger ones go to the node, so that the node's
	// rel-max-batch refusal stays the node's. Keep it at most the nodes'
	// rel-max-batch. Default 1000; >= 1.
	MaxBatch int `toml:"max_batch"`
}

const (
	defL1MaxBytes = 64 << 20
	defL1TTL      = time.Minute
	defL1MaxBatch = 1000
	minL1MaxBytes = 1 << 20
)

func (l *L1Config) fillDefaults() {
	if l.MaxBytes == 0 {
		l.MaxBytes = defL1MaxBytes
	}
	if l.TTL.Duration == 0 {
		l.TTL.Duration = defL1TTL
	}
	if l.MaxBatch == 0 {
		l.MaxBatch = defL1MaxBatch
	}
}

func (l *L1Config) validate() error {
	switch {
	case l.MaxBytes < minL1MaxBytes:
		return fmt.Errorf("l1.max_bytes %d: want at least %d (1 MiB; 0 means the default, 64 MiB)", l.MaxBytes, minL1MaxBytes)
	case l.TTL.Duration < 0:
		return fmt.Errorf("l1.ttl %s: want > 0 (0 means the default, 1m0s)", l.TTL.Duration)
	case l.MaxBatch < 0:
		return fmt.Errorf("l1.max_batch %d: want >= 1 (0 means the default, %d)", l.MaxBatch, defL1MaxBatch)
	}
	return nil
}
