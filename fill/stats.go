package fill

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relcache/relcache/internal/breaker"
)

// counters are the engine's own, bumped where things happen.
type counters struct {
	loads, loadErrors, timeouts, failFast, empty, discarded atomic.Int64
	lookups, lookedUp                                       atomic.Int64 // Resolve's queries, and the uids they asked
	latency                                                 prometheus.Histogram
	errorsByShard                                           sync.Map // shard -> *atomic.Int64
	// The journal's work (journal.go).
	intentsCompleted, intentsFailed, listsDropped atomic.Int64
}

func (c *counters) init() {
	c.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "relcache_load_duration_seconds",
		Help:    "Time one list query to the source took, failures included.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs .. 3.3s
	})
}

// Stats are the engine's counters since start, as INFO reports them.
type Stats struct {
	Loads      int64 // list queries sent to the source
	LoadsEmpty int64 // of which found an empty list
	LoadErrors int64 // failed queries
	// Timeouts counts clients answered LOADFAIL because the source
	// missed the deadline.
	Timeouts int64
	FailFast int64 // misses answered at once by an open breaker
	// Discarded counts loaded lists not stored because a write raced
	// their query (the fill then asked again).
	Discarded        int64
	IntentsCompleted int64 // interrupted writes the journal sweep completed
	IntentsFailed    int64 // and those it could not, yet
	// ListsDropped counts relation lists a start dropped from a loaded
	// snapshot because the source changed them after it.
	ListsDropped int64
	// Lookups counts the queries that asked the source about uids a
	// truncated list does not hold (probe.go), LookedUp the uids asked.
	Lookups, LookedUp int64
}

// ReadStats fills st with the engine's counters.
func (e *Engine) ReadStats(st *Stats) {
	c := &e.stats
	*st = Stats{
		Loads: c.loads.Load(), LoadsEmpty: c.empty.Load(), LoadErrors: c.loadErrors.Load(),
		Timeouts: c.timeouts.Load(), FailFast: c.failFast.Load(), Discarded: c.discarded.Load(),
		IntentsCompleted: c.intentsCompleted.Load(), IntentsFailed: c.intentsFailed.Load(),
		ListsDropped: c.listsDropped.Load(), Lookups: c.lookups.Load(), LookedUp: c.lookedUp.Load(),
	}
}

// BreakerStates snapshots every source shard's breaker, by shard name.
func (e *Engine) BreakerStates() map[string]breaker.State {
	e.bmu.Lock()
	bs := make(map[string]*breaker.Breaker, len(e.breakers))
	for k, b := range e.breakers {
		bs[k] = b
	}
	e.bmu.Unlock()
	out := make(map[string]breaker.State, len(bs))
	for k, b := range bs {
		out[k], _ = b.State()
	}
	return out
}

// Collector renders the engine's counters for Prometheus at scrape time.
func (e *Engine) Collector() prometheus.Collector {
	return &collector{
		e:        e,
		loads:    prometheus.NewDesc("relcache_loads_total", "List queries sent to the source on cache misses.", nil, nil),
		errs:     prometheus.NewDesc("relcache_load_errors_total", "Failed list queries, by shard.", []string{"shard"}, nil),
		timeouts: prometheus.NewDesc("relcache_load_timeouts_total", "Clients answered LOADFAIL because the source missed the deadline.", nil, nil),
		fast:     prometheus.NewDesc("relcache_load_fail_fast_total", "Misses answered LOADFAIL at once by an open breaker.", nil, nil),
		empty:    prometheus.NewDesc("relcache_loads_empty_total", "Loads that found an empty list (cached as negative entries).", nil, nil),
		breaks:   prometheus.NewDesc("relcache_load_breaker_state", "A shard's circuit breaker: 0 closed, 1 open, 2 half-open.", []string{"shard"}, nil),
	}
}

type collector struct {
	e                                          *Engine
	loads, errs, timeouts, fast, empty, breaks *prometheus.Desc
}

func (fc *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{fc.loads, fc.errs, fc.timeouts, fc.fast, fc.empty, fc.breaks} {
		ch <- d
	}
	fc.e.stats.latency.Describe(ch)
}

func (fc *collector) Collect(ch chan<- prometheus.Metric) {
	st := &fc.e.stats
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(fc.loads, st.loads.Load())
	counter(fc.timeouts, st.timeouts.Load())
	counter(fc.fast, st.failFast.Load())
	counter(fc.empty, st.empty.Load())
	st.errorsByShard.Range(func(k, v any) bool {
		counter(fc.errs, v.(*atomic.Int64).Load(), k.(string))
		return true
	})
	for name, state := range fc.e.BreakerStates() {
		ch <- prometheus.MustNewConstMetric(fc.breaks, prometheus.GaugeValue, float64(state), name)
	}
	st.latency.Collect(ch)
}
