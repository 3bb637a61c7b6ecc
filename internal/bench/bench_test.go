package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

func TestGraph(t *testing.T) {
	g := NewGraph(1, 1_000_000_000, 2000, 300)
	if len(g.Following) != 2000 {
		t.Fatalf("%d users", len(g.Following))
	}
	mean := float64(g.Relations()) / 2000
	if mean < 200 || mean > 400 {
		t.Fatalf("mean follows %.1f, want about 300", mean)
	}
	for i, fs := range g.Following {
		seen := map[uint64]bool{}
		for _, v := range fs {
			if v == g.UID(i) || seen[v] || v < g.Base || v >= g.Base+2000 {
				t.Fatalf("user %d: bad follow %d", i, v)
			}
			seen[v] = true
		}
		if len(g.Times[i]) != len(fs) {
			t.Fatalf("user %d: %d times for %d follows", i, len(g.Times[i]), len(fs))
		}
	}
	if again := NewGraph(1, 1_000_000_000, 2000, 300); again.Relations() != g.Relations() {
		t.Fatal("same seed, different graph")
	}
}

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
