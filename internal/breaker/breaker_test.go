package breaker

import (
	"errors"
	"testing"
	"time"
)

// TestLifecycle walks a breaker through closed → open → half-open → open
// → half-open → closed on a fake clock.
func TestLifecycle(t *testing.T) {
	b := New(Config{Failures: 3, Cooldown: time.Second})
	t0 := time.Unix(1000, 0)
	boom := errors.New("boom")
	step := func(now time.Time, wantAllow bool, outcome error) {
		t.Helper()
		if got := b.Allow(now); got != wantAllow {
			st, _ := b.State()
			t.Fatalf("Allow at %v = %v, want %v (state %v)", now.Sub(t0), got, wantAllow, st)
		}
		if wantAllow {
			b.Done(now, outcome)
		}
	}
	step(t0, true, boom)
	step(t0, true, nil) // a success resets the count
	step(t0, true, boom)
	step(t0, true, boom)
	if st, _ := b.State(); st != Closed {
		t.Fatalf("after 2 consecutive failures: %v", st)
	}
	step(t0, true, boom)
	if st, why := b.State(); st != Open || why != "boom" {
		t.Fatalf("after 3 failures: %v %q", st, why)
	}
	step(t0.Add(500*time.Millisecond), false, nil) // fails fast in the cooldown
	// After the cooldown exactly one probe goes through.
	if !b.Allow(t0.Add(time.Second)) {
		t.Fatal("no probe after the cooldown")
	}
	if st, _ := b.State(); st != HalfOpen {
		t.Fatalf("probing: %v", st)
	}
	step(t0.Add(time.Second), false, nil) // a second caller during the probe
	b.Done(t0.Add(time.Second), boom)     // the probe fails: open again
	step(t0.Add(1500*time.Millisecond), false, nil)
	if !b.Allow(t0.Add(2 * time.Second)) {
		t.Fatal("no second probe")
	}
	b.Done(t0.Add(2*time.Second), nil)
	if st, _ := b.State(); st != Closed {
		t.Fatalf("after a good probe: %v", st)
	}
	if b.Opens() != 2 {
		t.Fatalf("opens %d, want 2", b.Opens())
	}
}
