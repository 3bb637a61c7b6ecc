package proxyfront

import (
	"testing"
	"time"
)

// TestOutputBufferLimitOver walks a client's held bytes through time
// against Redis's rules for client-output-buffer-limit: over hard closes at
// once; over soft closes after more than the soft seconds over it; going
// under soft resets that clock; 0 turns either limit off.
func TestOutputBufferLimitOver(t *testing.T) {
	sec := int64(time.Second)
	l := OutputBufferLimit{Hard: 100, Soft: 50, SoftSeconds: 2}
	steps := []struct {
		held, now int64
		close     bool
		since     int64
	}{
		{held: 10, now: 1 * sec, since: 0},
		{held: 60, now: 2 * sec, since: 2 * sec},  // over soft: the clock starts
		{held: 70, now: 4 * sec, since: 2 * sec},  // 2s over: not more than 2s yet
		{held: 40, now: 4*sec + 1, since: 0},      // under soft: clock reset
		{held: 60, now: 5 * sec, since: 5 * sec},  // over again: a new clock
		{held: 60, now: 7*sec + 1, close: true},   // more than 2s over
		{held: 101, now: 8 * sec, close: true},    // over hard
		{held: 100, now: 9 * sec, since: 9 * sec}, // at hard is not over it
	}
	since := int64(0)
	for i, s := range steps {
		closeIt, got := l.over(s.held, since, s.now)
		if closeIt != s.close || (!s.close && got != s.since) {
			t.Fatalf("step %d (held %d at %ds): close %v since %d, want close %v since %d", i, s.held, s.now/sec, closeIt, got, s.close, s.since)
		}
		since = got
		if s.close {
			since = 0 // a closed client is gone; the next step is a new one
		}
	}
	off := OutputBufferLimit{}
	if closeIt, since := off.over(1<<40, 1, 1<<62); closeIt || since != 0 {
		t.Errorf("limit 0 0 0 closed a client (or kept a soft clock): %v %d", closeIt, since)
	}
	hardOnly := OutputBufferLimit{Hard: 10}
	if closeIt, _ := hardOnly.over(11, 0, 0); !closeIt {
		t.Errorf("hard limit 10 kept a client holding 11 bytes")
	}
}
