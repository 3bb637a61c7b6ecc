package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestRelationsRuns runs the whole benchmark briefly against a real relcache
// (and Redis, when installed) so the tool keeps working; it checks the report,
// not the numbers.
func TestRelationsRuns(t *testing.T) {
	p := relcachetest.Start(t)
	cfg := Config{RelcacheAddr: p.Addr, Users: 300, Mean: 20, Duration: 200 * time.Millisecond,
		Conns: []int{1, 4}, ListSize: 300, UIDBase: 1_000_000_000}
	var out bytes.Buffer
	cfg.Out = &out
	if err := Relations(context.Background(), cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"### 1. Memory per relation", "| relcache | 4 |", "### 3.", "### 4.", "| relcache | true |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestResultQuantiles pins the quantile scale: p(0.5) of 1..100 µs is the
// median, not the 0.5th percentile.
func TestResultQuantiles(t *testing.T) {
	h := newHist()
	for v := int64(1); v <= 100; v++ {
		h.RecordValue(v)
	}
	r := result{h: h}
	if got := r.at(0.5); got != 50 {
		t.Errorf("p50 = %d µs, want 50", got)
	}
	if got := r.at(0.99); got != 99 {
		t.Errorf("p99 = %d µs, want 99", got)
	}
}
