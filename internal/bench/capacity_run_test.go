package bench

import (
	"context"
	"testing"
	"time"
)

// TestWorkerDue pins when a worker stops sending, and what a fixed-rate
// worker that fell past the hard stop counts as unsent.
func TestWorkerDue(t *testing.T) {
	now := time.Now()
	const ms = time.Millisecond
	for _, tc := range []struct {
		name       string
		interval   time.Duration
		end, hard  time.Duration // from now
		next       time.Duration // from now: the worker's next slot
		want       bool
		wantUnsent int64
	}{
		{"open loop before the end", 0, time.Hour, time.Hour, 0, true, 0},
		{"open loop at the end", 0, -ms, time.Hour, 0, false, 0},
		{"fixed rate, slot before the end", 10 * ms, time.Hour, 2 * time.Hour, 0, true, 0},
		{"fixed rate, late but before the hard stop", 10 * ms, -time.Second, time.Hour, -2 * time.Second, true, 0},
		{"fixed rate, slot at the end", 10 * ms, time.Hour, 2 * time.Hour, time.Hour, false, 0},
		// Slots at -100ms, -90ms, ... -10ms are owed, 10 of them.
		{"fixed rate, past the hard stop", 10 * ms, -5 * ms, -ms, -100 * ms, false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &mixRun{interval: tc.interval, end: now.Add(tc.end), hardStop: now.Add(tc.hard)}
			wk := &worker{run: r, next: now.Add(tc.next)}
			if got := wk.due(); got != tc.want || wk.stats.unsent != tc.wantUnsent {
				t.Errorf("due() = %v with %d unsent, want %v with %d", got, wk.stats.unsent, tc.want, tc.wantUnsent)
			}
		})
	}
}

// TestWorkerPace pins where latency is measured from: the send in open loop
// and for a request sent on time, the slot for one sent late (coordinated
// omission corrected), and that the schedule advances by one interval.
func TestWorkerPace(t *testing.T) {
	const interval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	open := &worker{run: &mixRun{ctx: ctx}}
	before := time.Now()
	slot, began, ok := open.pace()
	if !ok || slot != began || began.Before(before) {
		t.Errorf("open loop: slot %v, began %v, ok %v; want now, twice", slot, began, ok)
	}

	late := time.Now().Add(-time.Second)
	wk := &worker{run: &mixRun{ctx: ctx, interval: interval}, next: late}
	slot, began, ok = wk.pace()
	if !ok || !slot.Equal(late) || !began.Equal(late) || !wk.next.Equal(late.Add(interval)) {
		t.Errorf("late: slot %v, began %v, next %v; want the slot %v for both, next one interval on", slot, began, wk.next, late)
	}

	due := time.Now().Add(interval)
	wk.next = due
	slot, began, ok = wk.pace()
	if !ok || !slot.Equal(due) || began.Before(due) || !wk.next.Equal(due.Add(interval)) {
		t.Errorf("on time: slot %v, began %v, next %v; want slot %v, began at or after it", slot, began, wk.next, due)
	}

	cancel()
	wk.next = time.Now().Add(time.Hour)
	if _, _, ok := wk.pace(); ok {
		t.Error("pace waited out a cancelled run")
	}
}
