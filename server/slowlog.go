package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// slowlog keeps the most recent commands that ran longer than a threshold,
// as Redis's SLOWLOG does. Only slow commands take the lock; the fast path is
// one atomic load and a comparison.
type slowlog struct {
	threshold atomic.Int64 // microseconds, as CONFIG sets it; negative disables

	mu      sync.Mutex // guards entries, nextID, maxLen
	entries []slowEntry
	nextID  int64
	maxLen  int
}

type slowEntry struct {
	id       int64
	at       time.Time
	duration time.Duration
	args     []string
	addr     string
	name     string
}

// Like Redis, keep at most 32 arguments of at most 128 bytes each.
const (
	slowlogMaxArgs   = 32
	slowlogMaxArgLen = 128
)

func newSlowlog(maxLen int) *slowlog { return &slowlog{maxLen: maxLen} }

// slowlogMicros converts the configured threshold: negative disables, and a
// fraction of a microsecond rounds up so nothing faster than asked is logged.
func slowlogMicros(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	us := int64(d / time.Microsecond)
	if d%time.Microsecond != 0 {
		us++
	}
	return us
}

func (l *slowlog) maybeAdd(c *client, args [][]byte, start time.Time, d time.Duration) {
	th := l.threshold.Load()
	if th < 0 || d.Microseconds() < th {
		return
	}
	e := slowEntry{at: start, duration: d, addr: c.addr, name: c.getName()}
	for i, a := range args {
		if i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs {
			e.args = append(e.args, "... ("+strconv.Itoa(len(args)-slowlogMaxArgs+1)+" more arguments)")
			break
		}
		if len(a) > slowlogMaxArgLen {
			e.args = append(e.args, string(a[:slowlogMaxArgLen])+"... ("+strconv.Itoa(len(a)-slowlogMaxArgLen)+" more bytes)")
			continue
		}
		e.args = append(e.args, string(a))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, e)
	if over := len(l.entries) - l.maxLen; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

// newest returns up to n entries, newest first; n < 0 means all.
func (l *slowlog) newest(n int) []slowEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	out := make([]slowEntry, 0, n)
	for i := len(l.entries) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, l.entries[i])
	}
	return out
}

func (l *slowlog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *slowlog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}

func (l *slowlog) setMaxLen(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxLen = n
	if over := len(l.entries) - n; over > 0 {
		l.entries = append(l.entries[:0], l.entries[over:]...)
	}
}

func (l *slowlog) getMaxLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxLen
}
