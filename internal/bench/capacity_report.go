package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// CapacityReport is everything a capacity run measured. Latencies are in
// microseconds, memory in bytes, rates per second.
type CapacityReport struct {
	Config CapacityConfig `json:"config"`
	Date   time.Time      `json:"date"`

	Users              int     `json:"users"`
	RelationsGenerated int64   `json:"relations_generated"` // edges the client sent
	Relations          int64   `json:"relations"`           // counted back from the server (RELCARD / HLEN) after the load
	MissingLists       int     `json:"missing_lists"`       // users whose list the server did not have after the load
	LoadSeconds        float64 `json:"load_seconds"`

	RSSBefore        int64   `json:"rss_before"`         // used_memory_rss before the load
	UsedBefore       int64   `json:"used_memory_before"` // used_memory before the load
	RSS              int64   `json:"rss"`                // after the load
	UsedMemory       int64   `json:"used_memory"`        // after the load
	RSSPerRelation   float64 `json:"rss_per_relation"`   // RSS / Relations
	UsedPerRelation  float64 `json:"used_memory_per_relation"`
	ArrayBytes       int64   `json:"array_bytes,omitempty"` // relcache: bytes of all openhash arrays sent
	ArrayPerRelation float64 `json:"array_bytes_per_relation,omitempty"`

	LoadSamples []LoadSample `json:"load_samples"` // memory as the load went, for the RSS-over-load plot
	SizeBuckets []SizeBucket `json:"size_buckets"` // bytes per relation by list size

	Run    RunReport `json:"run"`
	GC     GCReport  `json:"gc"`
	Errors []string  `json:"first_errors,omitempty"` // the first few errors of the run, "op: error"
}

// LoadSample is the server's memory after some of the load.
type LoadSample struct {
	Users      int     `json:"users"`
	Relations  int64   `json:"relations"`
	RSS        int64   `json:"rss"`
	UsedMemory int64   `json:"used_memory"`
	Seconds    float64 `json:"seconds"`
}

// SizeBucket is the users following Min..Max others. For relcache Bytes is
// the size of their openhash arrays (every user, counted client-side); for
// Redis, MEMORY USAGE of the Sampled users (up to 16), over their relations.
type SizeBucket struct {
	MinFollows       int     `json:"min_follows"`
	MaxFollows       int     `json:"max_follows"`
	Users            int     `json:"users"`
	Relations        int64   `json:"relations"`
	Sampled          int     `json:"sampled"`           // users measured
	SampledRelations int64   `json:"sampled_relations"` // their relations
	Bytes            int64   `json:"bytes"`             // their bytes
	BytesPerRelation float64 `json:"bytes_per_relation"`
}

// RunReport is the mixed workload's outcome.
type RunReport struct {
	// Latency is "intended start" at a fixed rate: coordinated omission
	// corrected as wrk2 does, a request due while its connection still
	// waited for an earlier answer is timed from when the schedule meant to
	// send it (one sent on time, from its send). In open loop it is
	// "service": from send to answer.
	Latency    string     `json:"latency"`
	Seconds    float64    `json:"seconds"`
	Requests   int64      `json:"requests"`
	Throughput float64    `json:"throughput"`
	Errors     int64      `json:"errors"`
	Unsent     int64      `json:"unsent"` // fixed rate: requests scheduled before the end but never sent (the client fell too far behind)
	All        OpReport   `json:"all"`
	Ops        []OpReport `json:"ops"`
	Timeline   []Second   `json:"timeline"`
	Host       *HostCPU   `json:"host_cpu,omitempty"` // the client host's CPU while recording; nil off Linux
}

// OpReport is one operation's share of the run.
type OpReport struct {
	Op         string  `json:"op"`
	Command    string  `json:"command"`
	Weight     int     `json:"weight"`
	Requests   int64   `json:"requests"`
	Throughput float64 `json:"throughput"`
	Errors     int64   `json:"errors"`
	Misses     int64   `json:"misses"` // relcache: nil for a list that should be cached (RELMULTI, RELWHO)
	P50        int64   `json:"p50_us"`
	P99        int64   `json:"p99_us"`
	P999       int64   `json:"p999_us"`
	Max        int64   `json:"max_us"`
	Mean       float64 `json:"mean_us"`
}

// Second is one second of the run, all ops together.
type Second struct {
	Second   int   `json:"second"`
	Requests int64 `json:"requests"`
	P50      int64 `json:"p50_us"`
	P99      int64 `json:"p99_us"`
	// Steal is the host's CPU steal that second, in cores (hostcpu.go).
	Steal float64 `json:"steal_cores"`
}

// GCReport is the server's INFO "# GC" after the run (totals since it
// started); nil fields were absent, as on Redis.
type GCReport struct {
	Count       *float64 `json:"gc_count"`
	CountRun    *float64 `json:"gc_count_run"` // cycles during the mixed run
	PauseTotal  *float64 `json:"gc_pause_total_ms"`
	PauseP50    *float64 `json:"gc_pause_p50_us"`
	PauseP99    *float64 `json:"gc_pause_p99_us"`
	PauseMax    *float64 `json:"gc_pause_max_us"`
	CPUFraction *float64 `json:"gc_cpu_fraction"`
}

func opReport(op, command string, weight int, h *hdrhistogram.Histogram, errs, misses int64, elapsed time.Duration) OpReport {
	r := result{h: h}
	return OpReport{Op: op, Command: command, Weight: weight, Requests: h.TotalCount(),
		Throughput: float64(h.TotalCount()) / elapsed.Seconds(), Errors: errs, Misses: misses,
		P50: r.at(0.5), P99: r.at(0.99), P999: r.at(0.999), Max: h.Max(), Mean: math.Round(h.Mean()*10) / 10}
}

// gcReport reads INFO's "# GC" section before and after the run.
func gcReport(before, after string) GCReport {
	f := func(info, name string) *float64 {
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					return &x
				}
			}
		}
		return nil
	}
	r := GCReport{
		Count:       f(after, "gc_count"),
		PauseTotal:  f(after, "gc_pause_total_ms"),
		PauseP50:    f(after, "gc_pause_p50_us"),
		PauseP99:    f(after, "gc_pause_p99_us"),
		PauseMax:    f(after, "gc_pause_max_us"),
		CPUFraction: f(after, "gc_cpu_fraction"),
	}
	if c0 := f(before, "gc_count"); c0 != nil && r.Count != nil {
		d := *r.Count - *c0
		r.CountRun = &d
	}
	return r
}

// clusterGC folds the nodes' GC figures into one: counts and pause time
// add up, the rest is the worst node's, since a client waits on the slowest
// node its batch touches. A figure one node lacks is missing.
func clusterGC(nodes []GCReport) GCReport {
	sum := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := *a + *b
		return &v
	}
	most := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := max(*a, *b)
		return &v
	}
	var r GCReport
	for i, n := range nodes {
		if i == 0 {
			r = n
			continue
		}
		r = GCReport{Count: sum(r.Count, n.Count), CountRun: sum(r.CountRun, n.CountRun),
			PauseTotal: sum(r.PauseTotal, n.PauseTotal), PauseP50: most(r.PauseP50, n.PauseP50),
			PauseP99: most(r.PauseP99, n.PauseP99), PauseMax: most(r.PauseMax, n.PauseMax),
			CPUFraction: most(r.CPUFraction, n.CPUFraction)}
	}
	return r
}

// WriteMarkdown writes the report as the Markdown tables the other bench
// commands print.
func (r *CapacityReport) WriteMarkdown(w io.Writer) error {
	cfg := r.Config
	us := func(v int64) string { return time.Duration(v * int64(time.Microsecond)).String() }
	opt := func(v *float64, digits int, unit string) string {
		if v == nil {
			return "n/a"
		}
		return strconv.FormatFloat(*v, 'f', digits, 64) + unit
	}
	var b strings.Builder
	graph := fmt.Sprintf("generated: %d users, mean %d, seed %d, uid base %d", r.Users, cfg.Mean, cfg.Seed, cfg.UIDBase)
	if cfg.UIDSpread {
		graph = fmt.Sprintf("generated: %d users, mean %d, seed %d, ten-digit uids spread over [10^9, 10^10)", r.Users, cfg.Mean, cfg.Seed)
	}
	if cfg.GraphFile != "" {
		graph = fmt.Sprintf("read from %s: %d users", cfg.GraphFile, r.Users)
	}
	if cfg.Target == "relcache" {
		graph += "; set format " + cfg.SetFormat
		if cfg.Fit {
			graph += ", fitted to size classes"
		}
	}
	where := "at " + cfg.Addr
	if cfg.Proxy != "" {
		where = fmt.Sprintf("through the proxy at %s to %d nodes (%s); memory summed over the nodes", cfg.Proxy, len(cfg.nodes()), cfg.Addr)
	}
	fmt.Fprintf(&b, "## Capacity: %s %s, %s UTC\n\ngraph %s; %d relations sent, %d counted back (RELCARD/HLEN), %d lists missing\n\n",
		cfg.Target, where, r.Date.Format("2006-01-02 15:04"), graph, r.RelationsGenerated, r.Relations, r.MissingLists)

	fmt.Fprintf(&b, "### Memory after the load\n\n| target | users | relations | load time | RSS | used_memory | RSS / relation | used_memory / relation | array bytes / relation |\n|---|---|---|---|---|---|---|---|---|\n")
	arr := "n/a"
	if cfg.Target == "relcache" {
		arr = fmt.Sprintf("%.1f B", r.ArrayPerRelation)
	}
	fmt.Fprintf(&b, "| %s | %d | %d | %.1f s | %s | %s | %.1f B | %.1f B | %s |\n\n",
		cfg.Target, r.Users, r.Relations, r.LoadSeconds, mib(r.RSS), mib(r.UsedMemory), r.RSSPerRelation, r.UsedPerRelation, arr)

	run := r.Run
	mode := "open loop (each connection sends when its last answer arrives; latency is service time)"
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("fixed rate %.0f requests/s (a request due while its connection was busy is timed from its intended start: coordinated omission corrected)", cfg.Rate)
	}
	if cfg.Warmup > 0 {
		mode += fmt.Sprintf(", after %v of warm-up not recorded", cfg.Warmup)
	}
	fmt.Fprintf(&b, "### Mixed workload: %v on %d connections, %s\n\n| op | command | weight | requests | requests/s | errors | misses | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
		cfg.Duration, cfg.Conns, mode)
	for _, o := range append(slices.Clone(run.Ops), run.All) {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.0f | %d | %d | %s | %s | %s | %s |\n", o.Op, o.Command, o.Weight,
			o.Requests, o.Throughput, o.Errors, o.Misses, us(o.P50), us(o.P99), us(o.P999), us(o.Max))
	}
	fmt.Fprintf(&b, "\nerrors: %d", run.Errors)
	if run.Unsent > 0 {
		fmt.Fprintf(&b, "; unsent: %d requests the client could not send on schedule", run.Unsent)
	}
	b.WriteString("\n")
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	if h := run.Host; h != nil {
		fmt.Fprintf(&b, "\nclient host CPU while recording: %d cores, %.2f busy, %.2f stolen by the hypervisor (worst second %.2f)\n",
			h.Cores, h.Busy, h.Steal, h.StealMaxSecond)
	}

	g := r.GC
	gcWhat := "totals since the server started"
	if n := len(cfg.nodes()); cfg.Proxy != "" && n > 1 {
		gcWhat = fmt.Sprintf("since the servers started: counts summed over %d nodes, pauses and GC CPU the worst node's", n)
	}
	fmt.Fprintf(&b, "\n### Server GC (INFO gc, %s)\n\n", gcWhat)
	fmt.Fprintf(&b, "| gc_count | cycles during run | gc_pause_total_ms | pause p50 | pause p99 | pause max | gc_cpu_fraction |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", opt(g.Count, 0, ""), opt(g.CountRun, 0, ""), opt(g.PauseTotal, 3, ""),
		opt(g.PauseP50, 1, " µs"), opt(g.PauseP99, 1, " µs"), opt(g.PauseMax, 1, " µs"), opt(g.CPUFraction, 3, ""))
	_, err := io.WriteString(w, b.String())
	return err
}
