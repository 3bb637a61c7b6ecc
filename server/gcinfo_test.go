package server

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestInfoGC: INFO gc reports the collector's figures, consistently.
func TestInfoGC(t *testing.T) {
	s := newTestServer(t)
	runtime.GC()
	runtime.GC()
	out := do(s, newTestClient(s), "INFO", "gc")
	v := map[string]float64{}
	for _, line := range strings.Split(out, "\r\n") {
		k, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("%s: %q is not a number", k, val)
		}
		v[k] = f
	}
	for _, k := range []string{"gc_count", "gc_pause_total_ms", "gc_pause_p50_us", "gc_pause_p99_us",
		"gc_pause_max_us", "gc_cpu_fraction", "gc_heap_goal_bytes", "gc_memory_limit_bytes"} {
		if _, ok := v[k]; !ok {
			t.Errorf("INFO gc has no %s:\n%s", k, out)
		}
	}
	if v["gc_count"] < 2 {
		t.Errorf("gc_count %v after two runtime.GC()", v["gc_count"])
	}
	if !(v["gc_pause_p50_us"] > 0 && v["gc_pause_p50_us"] <= v["gc_pause_p99_us"] && v["gc_pause_p99_us"] <= v["gc_pause_max_us"]) {
		t.Errorf("pause quantiles out of order: %v", v)
	}
	if f := v["gc_cpu_fraction"]; f < 0 || f > 1 {
		t.Errorf("gc_cpu_fraction %v", f)
	}
}
