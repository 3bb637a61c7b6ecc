package breaker

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestOutOfBand walks breakers driven as the proxy drives its nodes'
// (Ready, Success, Failure, Probe, ProbeDone) through scripts on a fake
// clock. Each step runs one operation at a time after t0 and checks what it
// returned and where the breaker is afterwards, as
// "<result> | <state> streak=<n> retry=<since t0> opens=<n>".
func TestOutOfBand(t *testing.T) {
	type step struct {
		at   time.Duration
		op   string // fail, ok, ready, probe, probe-ok, probe-fail, hold
		want string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"opens at the limit, probes after the cooldown, a good probe closes", []step{
			{0, "ready", "true | closed streak=0 retry=- opens=0"},
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{0, "ok", "- | closed streak=0 retry=- opens=0"}, // a success ends the streak
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{10 * time.Millisecond, "fail", "2 true | open streak=2 retry=1.01s opens=1"},
			{10 * time.Millisecond, "ready", "false | open streak=2 retry=1.01s opens=1"},
			{time.Second, "probe", "false | open streak=2 retry=1.01s opens=1"}, // cooldown runs from the opening
			{1010 * time.Millisecond, "probe", "true | half-open streak=2 retry=1.01s opens=1"},
			{1010 * time.Millisecond, "ready", "false | half-open streak=2 retry=1.01s opens=1"},
			{1010 * time.Millisecond, "probe", "false | half-open streak=2 retry=1.01s opens=1"}, // one probe at a time
			{1020 * time.Millisecond, "probe-ok", "- | closed streak=0 retry=- opens=1"},
			{1020 * time.Millisecond, "ready", "true | closed streak=0 retry=- opens=1"},
		}},
		{"outcomes while open count in the streak and move nothing", []step{
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{0, "fail", "2 true | open streak=2 retry=1s opens=1"},
			{500 * time.Millisecond, "fail", "3 false | open streak=3 retry=1s opens=1"},
			{600 * time.Millisecond, "fail", "4 false | open streak=4 retry=1s opens=1"},
			{700 * time.Millisecond, "ok", "- | open streak=0 retry=1s opens=1"}, // a late reply does not close it
			{800 * time.Millisecond, "fail", "1 false | open streak=1 retry=1s opens=1"},
			{time.Second, "probe", "true | half-open streak=1 retry=1s opens=1"},
			{time.Second, "fail", "2 false | half-open streak=2 retry=1s opens=1"}, // not the probe's outcome
		}},
		{"a failed probe keeps it out for another cooldown from its end", []step{
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{0, "fail", "2 true | open streak=2 retry=1s opens=1"},
			{time.Second, "probe", "true | half-open streak=2 retry=1s opens=1"},
			{1200 * time.Millisecond, "probe-fail", "- | open streak=2 retry=2.2s opens=2"}, // the probe is no call: streak unchanged
			{2 * time.Second, "probe", "false | open streak=2 retry=2.2s opens=2"},
			{2200 * time.Millisecond, "probe", "true | half-open streak=2 retry=2.2s opens=2"},
			{2200 * time.Millisecond, "probe-ok", "- | closed streak=0 retry=- opens=2"},
			{2200 * time.Millisecond, "probe-fail", "- | closed streak=0 retry=- opens=2"}, // no probe asked for: ignored
		}},
		{"held: counts, never opens from closed", []step{
			{0, "hold", "- | closed streak=0 retry=- opens=0"},
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{0, "fail", "2 false | closed streak=2 retry=- opens=0"},
			{0, "fail", "3 false | closed streak=3 retry=- opens=0"},
			{0, "ready", "true | closed streak=3 retry=- opens=0"},
			{0, "probe", "false | closed streak=3 retry=- opens=0"},
		}},
		{"held while open: still probes, and a failed probe keeps it out", []step{
			{0, "fail", "1 false | closed streak=1 retry=- opens=0"},
			{0, "fail", "2 true | open streak=2 retry=1s opens=1"},
			{0, "hold", "- | open streak=2 retry=1s opens=1"},
			{time.Second, "probe", "true | half-open streak=2 retry=1s opens=1"},
			{time.Second, "probe-fail", "- | open streak=2 retry=2s opens=2"},
			{2 * time.Second, "probe", "true | half-open streak=2 retry=2s opens=2"},
			{2 * time.Second, "probe-ok", "- | closed streak=0 retry=- opens=2"},
			{2 * time.Second, "fail", "1 false | closed streak=1 retry=- opens=2"},
			{2 * time.Second, "fail", "2 false | closed streak=2 retry=- opens=2"},
		}},
	}
	t0 := time.Unix(1000, 0)
	boom := errors.New("boom")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Config{Failures: 2, Cooldown: time.Second})
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				res := "-"
				switch s.op {
				case "fail":
					n, opened := b.Failure(now, boom)
					res = fmt.Sprint(n, " ", opened)
				case "ok":
					b.Success()
				case "ready":
					res = fmt.Sprint(b.Ready())
				case "probe":
					res = fmt.Sprint(b.Probe(now))
				case "probe-ok":
					b.ProbeDone(now, nil)
				case "probe-fail":
					b.ProbeDone(now, boom)
				case "hold":
					b.Hold()
				default:
					t.Fatalf("step %d: unknown op %q", i, s.op)
				}
				st, _ := b.State()
				retry := "-"
				if r := b.Retry(); !r.IsZero() {
					retry = r.Sub(t0).String()
				}
				got := fmt.Sprintf("%s | %s streak=%d retry=%s opens=%d", res, st, b.Failures(), retry, b.Opens())
				if got != s.want {
					t.Fatalf("step %d (%s at %v):\n got  %s\n want %s", i, s.op, s.at, got, s.want)
				}
			}
		})
	}
}

// TestOutOfBandHotPath: Ready, and Success with no streak to end, are what
// the proxy calls per request and per reply; they must not allocate.
func TestOutOfBandHotPath(t *testing.T) {
	b := New(Config{})
	if n := testing.AllocsPerRun(100, func() {
		if b.Ready() {
			b.Success()
		}
	}); n != 0 {
		t.Errorf("Ready+Success: %.0f allocations, want 0", n)
	}
}

// TestOutOfBandConcurrent runs every out-of-band operation from many
// goroutines, for the race detector, and checks the breaker ends where the
// last step puts it.
func TestOutOfBandConcurrent(t *testing.T) {
	b := New(Config{Failures: 3, Cooldown: time.Millisecond})
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				now := time.Now()
				switch (g + i) % 4 {
				case 0:
					b.Failure(now, boom)
				case 1:
					if b.Ready() {
						b.Success()
					}
				case 2:
					if b.Probe(now) {
						b.ProbeDone(now, nil)
					}
				default:
					_, _ = b.Failures(), b.Retry()
				}
			}
		}()
	}
	wg.Wait()
	b.Success() // whatever streak the last failures left
	for !b.Ready() {
		if now := time.Now(); b.Probe(now) {
			b.ProbeDone(now, nil)
		}
	}
	if st, _ := b.State(); st != Closed || b.Failures() != 0 || !b.Retry().IsZero() {
		t.Fatalf("after a good probe: %v, streak %d, retry %v", st, b.Failures(), b.Retry())
	}
}
