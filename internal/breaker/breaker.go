// Package breaker is a circuit breaker for one backend (a database shard, a
// proxied server): after a run of failures it fails fast for a cooldown,
// then lets a single probe through and closes again only if that succeeds.
//
// A client waiting on a dead shard costs it the whole deadline; once the
// breaker is open it costs nothing, and the shard is not hammered while it
// restarts.
package breaker

import (
	"sync"
	"time"
)

// State is where a breaker is.
type State uint8

const (
	// Closed lets every call through and counts consecutive failures.
	Closed State = iota
	// Open fails every call fast until the cooldown has passed.
	Open
	// HalfOpen has let one probe through and fails the rest until it ends.
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "closed"
}

// Config tunes a breaker.
type Config struct {
	// Failures is how many consecutive failures open it. Default 5.
	Failures int
	// Cooldown is how long it stays open before a probe. Default 2s.
	Cooldown time.Duration
}

// Breaker is safe for concurrent use.
type Breaker struct {
	cfg Config

	mu       sync.Mutex
	state    State
	failures int       // consecutive, while closed
	openedAt time.Time // when it last opened
	lastErr  string    // why it opened, for fail-fast errors
	opens    int64     // times it has opened
}

// New returns a closed breaker.
func New(cfg Config) *Breaker {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 2 * time.Second
	}
	return &Breaker{cfg: cfg}
}

// Allow reports whether a call may go ahead now. When it returns true in
// the open state after the cooldown, that call is the probe: the caller must
// report its outcome with Done, as every allowed call must.
func (b *Breaker) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true
	case Open:
		if now.Sub(b.openedAt) >= b.cfg.Cooldown {
			b.state = HalfOpen
			return true
		}
	}
	return false
}

// Done reports the outcome of an allowed call: err nil for a success.
func (b *Breaker) Done(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.state, b.failures = Closed, 0
		return
	}
	b.failures++
	if b.state == HalfOpen || b.failures >= b.cfg.Failures {
		if b.state != Open {
			b.opens++
		}
		b.state, b.openedAt, b.lastErr = Open, now, err.Error()
		b.failures = 0
	}
}

// State reports the current state and, when not closed, the error that
// opened the breaker.
func (b *Breaker) State() (State, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Closed {
		return Closed, ""
	}
	return b.state, b.lastErr
}

// Opens counts how many times the breaker has opened.
func (b *Breaker) Opens() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens
}
