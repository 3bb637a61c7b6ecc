package server

import (
	"math"
	rtmetrics "runtime/metrics"
	"strconv"
)

// INFO's "# GC" section: what the Go collector costs this server, for
// capacity planning (docs/capacity.md). A cache of tens of millions of
// values lives or dies by these: pause times bound tail latency, and GC CPU
// is taken from serving.
//
//	gc_count            completed GC cycles since start
//	gc_pause_total_ms   stop-the-world time, summed
//	gc_pause_p50_us, gc_pause_p99_us, gc_pause_max_us
//	                    stop-the-world pauses since start (bucket upper bounds
//	                    of the runtime's histogram, so approximate)
//	gc_cpu_fraction     GC CPU time / total process CPU time, since start
//	gc_heap_goal_bytes  heap size at which the next cycle starts
//	gc_memory_limit_bytes  GOMEMLIMIT in force (math.MaxInt64 = none)
var gcMetricNames = []string{
	"/gc/cycles/total:gc-cycles",
	"/sched/pauses/total/gc:seconds",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/gc/heap/goal:bytes",
	"/gc/gomemlimit:bytes",
}

func appendGCInfo(b []byte) []byte {
	samples := make([]rtmetrics.Sample, len(gcMetricNames))
	for i, n := range gcMetricNames {
		samples[i].Name = n
	}
	rtmetrics.Read(samples)
	b = append(b, "# GC\r\n"...)
	b = field(b, "gc_count", uint64Of(samples[0]))
	var total float64
	var p50, p99, pmax float64
	if samples[1].Value.Kind() == rtmetrics.KindFloat64Histogram {
		h := samples[1].Value.Float64Histogram()
		total, p50, p99, pmax = histStats(h)
	}
	b = field(b, "gc_pause_total_ms", fmtFloat(total*1e3))
	b = field(b, "gc_pause_p50_us", fmtFloat(p50*1e6))
	b = field(b, "gc_pause_p99_us", fmtFloat(p99*1e6))
	b = field(b, "gc_pause_max_us", fmtFloat(pmax*1e6))
	frac := 0.0
	if cpu := float64Of(samples[3]); cpu > 0 {
		frac = float64Of(samples[2]) / cpu
	}
	b = field(b, "gc_cpu_fraction", fmtFloat(frac))
	b = field(b, "gc_heap_goal_bytes", uint64Of(samples[4]))
	b = field(b, "gc_memory_limit_bytes", uint64Of(samples[5]))
	return b
}

// histStats estimates the sum, median, 99th percentile and maximum of a
// runtime histogram from its buckets (each count taken at its bucket's
// upper bound, the lower bound for the open last bucket).
func histStats(h *rtmetrics.Float64Histogram) (sum, p50, p99, max float64) {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	bound := func(i int) float64 {
		if v := h.Buckets[i+1]; !math.IsInf(v, 1) {
			return v
		}
		return h.Buckets[i]
	}
	var seen uint64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		v := bound(i)
		sum += float64(c) * v
		prev := seen
		seen += c
		if prev < (n+1)/2 && seen >= (n+1)/2 {
			p50 = v
		}
		if q := uint64(math.Ceil(float64(n) * 0.99)); prev < q && seen >= q {
			p99 = v
		}
		max = v
	}
	return sum, p50, p99, max
}

func uint64Of(s rtmetrics.Sample) uint64 {
	if s.Value.Kind() == rtmetrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

func float64Of(s rtmetrics.Sample) float64 {
	if s.Value.Kind() == rtmetrics.KindFloat64 {
		return s.Value.Float64()
	}
	return 0
}

// fmtFloat keeps three decimals: a GC CPU fraction of 0.004 matters.
func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
