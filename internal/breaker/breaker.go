// Package breaker is a circuit breaker for one backend (a database shard, a
// proxied server): after a run of failures it fails fast for a cooldown,
// then lets a single probe through and closes again only if that succeeds.
//
// A client waiting on a dead shard costs it the whole deadline; once the
// breaker is open it costs nothing, and the shard is not hammered while it
// restarts.
//
// It is driven in one of two ways. In-band (the server's list loads): every
// call asks Allow and reports Done, and after the cooldown the first call
// let through is the probe. Out-of-band (the proxy's node ejection,
// twemproxy's auto_eject_hosts): calls ask Ready, which never makes one of
// them the probe, and report Success or Failure; the caller probes on its
// own (a PING) when Probe says so and reports it with ProbeDone. Outcomes of
// calls that were sent before the breaker opened and end while it is open
// change nothing but the failure streak in that mode: only the probe closes
// it, and the cooldown runs from the opening or the last failed probe.
package breaker

import (
	"sync"
	"sync/atomic"
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

	// state and streak change only under mu, but are read without it:
	// out-of-band callers ask Ready before every call and report Success
	// after every reply, which must cost an atomic load, not a lock.
	state  atomic.Uint32 // a State
	streak atomic.Int64  // consecutive failures reported; only a success resets it
	// probeAt is openedAt+Cooldown in unix nanos, for Retry's lock-free
	// read on the fail-fast path; 0 while closed.
	probeAt atomic.Int64

	mu       sync.Mutex // guards the fields below, and every change of the three above
	failures int        // counted towards opening by Done: reset by a success and by opening
	openedAt time.Time  // when it last opened
	lastErr  string     // why it opened, for fail-fast errors
	opens    int64      // times it has opened
	held     bool       // never opens (Hold)
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
	switch State(b.state.Load()) {
	case Closed:
		return true
	case Open:
		return b.halfOpenLocked(now)
	}
	return false
}

// halfOpenLocked moves an open breaker whose cooldown has passed to
// half-open, reporting whether it did.
func (b *Breaker) halfOpenLocked(now time.Time) bool {
	if now.Sub(b.openedAt) < b.cfg.Cooldown {
		return false
	}
	b.state.Store(uint32(HalfOpen))
	return true
}

// Done reports the outcome of an allowed call: err nil for a success.
func (b *Breaker) Done(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.closeLocked()
		return
	}
	b.streak.Add(1)
	b.failures++
	if st := State(b.state.Load()); st == HalfOpen || b.failures >= b.cfg.Failures {
		b.openLocked(now, err)
		b.failures = 0
	}
}

// openLocked opens the breaker at now, or again for another cooldown. A
// held breaker does not open from closed; one already out stays out.
func (b *Breaker) openLocked(now time.Time, err error) bool {
	switch State(b.state.Load()) {
	case Closed:
		if b.held {
			return false
		}
		b.opens++
	case HalfOpen:
		b.opens++
	}
	b.state.Store(uint32(Open))
	b.openedAt, b.lastErr = now, err.Error()
	b.probeAt.Store(now.Add(b.cfg.Cooldown).UnixNano())
	return true
}

func (b *Breaker) closeLocked() {
	b.state.Store(uint32(Closed))
	b.probeAt.Store(0)
	b.failures = 0
	b.streak.Store(0)
}

// Ready reports whether the breaker is closed, without locking and without
// making the caller the probe: for out-of-band use, where the caller
// probes on its own (Probe).
func (b *Breaker) Ready() bool { return State(b.state.Load()) == Closed }

// Success reports a call that succeeded, for out-of-band use: it ends the
// failure streak. It does not close an open breaker (only ProbeDone does):
// the reply may be to a call sent before the breaker opened. With no streak
// to end it costs one atomic load.
func (b *Breaker) Success() {
	if b.streak.Load() == 0 {
		return
	}
	b.mu.Lock()
	b.streak.Store(0)
	b.mu.Unlock()
}

// Failure reports a failed call, for out-of-band use. A closed breaker
// opens when the streak reaches Config.Failures, and opened says this
// failure opened it; an open one only counts it (the probe is not moved).
// It returns the streak.
func (b *Breaker) Failure(now time.Time, err error) (streak int, opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.streak.Add(1)
	opened = State(b.state.Load()) == Closed && n >= int64(b.cfg.Failures) && b.openLocked(now, err)
	return int(n), opened
}

// Probe reports whether the caller should probe now, for out-of-band use:
// true once per cooldown, when the breaker is open and the cooldown has
// passed, and the breaker is then half-open until the caller reports the
// probe with ProbeDone. A closed breaker costs an atomic load.
func (b *Breaker) Probe(now time.Time) bool {
	if State(b.state.Load()) != Open {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return State(b.state.Load()) == Open && b.halfOpenLocked(now)
}

// ProbeDone reports the probe Probe asked for: nil closes the breaker and
// ends the streak; an error opens it for another cooldown from now. The
// probe is not a call: a failed one does not lengthen the streak.
func (b *Breaker) ProbeDone(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if State(b.state.Load()) != HalfOpen {
		return
	}
	if err == nil {
		b.closeLocked()
		return
	}
	b.openLocked(now, err)
}

// Hold keeps a closed breaker from opening from now on; failures are
// still counted, and one already open still probes. For a caller that turned opening off (the proxy's
// auto_eject = false) or stopped caring (a node a reload removed).
func (b *Breaker) Hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// Failures is the current streak of consecutive failures, read without
// locking.
func (b *Breaker) Failures() int { return int(b.streak.Load()) }

// Retry is when the next probe is due, read without locking: the zero time
// while closed; in the past while a probe is due or running.
func (b *Breaker) Retry() time.Time {
	if n := b.probeAt.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// State reports the current state and, when not closed, the error that
// opened the breaker.
func (b *Breaker) State() (State, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := State(b.state.Load())
	if st == Closed {
		return Closed, ""
	}
	return st, b.lastErr
}

// Opens counts how many times the breaker has opened.
func (b *Breaker) Opens() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens
}
