package server

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relcache/relcache/store"
)

// metrics holds the server's Prometheus collectors, on a registry of its own
// so two servers in one process (tests) never collide.
type metrics struct {
	reg    *prometheus.Registry
	errors *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relcache_error_replies_total",
		Help: "Error replies sent, by error prefix (ERR, WRONGTYPE, NOAUTH, OOM, ...).",
	}, []string{"kind"})
	stat := func(f func(*store.Stats) int64) func() float64 {
		return func() float64 {
			var st store.Stats
			s.store.ReadStats(&st)
			return float64(f(&st))
		}
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		newLatencyCollector(s), m.errors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("relcache_connected_clients", "Clients connected now.", func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(len(s.clients))
		}),
		counter("relcache_connections_received_total", "Connections accepted, including rejected ones.",
			func() float64 { return float64(s.stats.conns.Load()) }),
		counter("relcache_rejected_connections_total", "Connections refused by maxclients.",
			func() float64 { return float64(s.stats.rejected.Load()) }),
		gauge("relcache_keys", "Keys in the keyspace.", stat(func(st *store.Stats) int64 { return st.Keys })),
		gauge("relcache_keys_with_ttl", "Keys that have a TTL.", stat(func(st *store.Stats) int64 { return st.VolatileKey })),
		gauge("relcache_used_memory_bytes", "Memory used by keys and values, as the store accounts it.",
			stat(func(st *store.Stats) int64 { return st.UsedMemory })),
		gauge("relcache_maxmemory_bytes", "The maxmemory limit; 0 means none.",
			func() float64 { return float64(s.store.MaxMemory()) }),
		counter("relcache_evicted_keys_total", "Keys evicted by the maxmemory policy.",
			stat(func(st *store.Stats) int64 { return st.Evicted })),
		counter("relcache_expired_keys_total", "Keys removed because their TTL passed.",
			stat(func(st *store.Stats) int64 { return st.Expired })),
		counter("relcache_keyspace_hits_total", "Key lookups that found the key.",
			stat(func(st *store.Stats) int64 { return st.Hits })),
		counter("relcache_keyspace_misses_total", "Key lookups that did not.",
			stat(func(st *store.Stats) int64 { return st.Misses })),
		counter("relcache_net_input_bytes_total", "Bytes read from clients.",
			func() float64 { in, _ := s.netTotals(); return float64(in) }),
		counter("relcache_net_output_bytes_total", "Bytes written to clients.",
			func() float64 { _, out := s.netTotals(); return float64(out) }),
		counter("relcache_protocol_errors_total", "Clients closed for a protocol error.",
			func() float64 { return float64(s.stats.protoErrors.Load()) }),
		gauge("relcache_rdb_bgsave_in_progress", "1 while a background snapshot runs.", func() float64 {
			if s.persist.background.Load() {
				return 1
			}
			return 0
		}),
		gauge("relcache_rdb_last_save_ok", "1 if the last snapshot succeeded, 0 if it failed.", func() float64 {
			if s.persist.lastOK.Load() {
				return 1
			}
			return 0
		}),
		gauge("relcache_rdb_last_save_timestamp_seconds", "Unix time of the last good snapshot.",
			func() float64 { return float64(s.persist.lastSave.Load()) }),
		gauge("relcache_rdb_last_save_duration_seconds", "How long the last snapshot took.",
			func() float64 { return float64(s.persist.lastDurationMs.Load()) / 1000 }),
		gauge("relcache_rdb_changes_since_last_save", "Writes since the last good snapshot.",
			func() float64 { return float64(s.changesSinceSave()) }),
		counter("relcache_rdb_saves_total", "Snapshots written.",
			func() float64 { return float64(s.persist.saves.Load()) }),
		counter("relcache_rdb_save_failures_total", "Snapshots that failed (the previous file was kept).",
			func() float64 { return float64(s.persist.failures.Load()) }),
		counter("relcache_rdb_skipped_sets_total", "Relation sets left out of snapshots because they failed the full check.",
			func() float64 { return float64(s.persist.skipped.Load()) }),
	)
	if s.fill.HasSource() {
		m.reg.MustRegister(s.fill.Collector())
	}
	return m
}

// countError counts an error reply by its prefix, the first word.
func (s *Server) countError(msg string) {
	s.stats.errorReplies.Add(1)
	kind, _, _ := strings.Cut(msg, " ")
	s.metrics.errors.WithLabelValues(kind).Inc()
}

// AdminHandler serves /metrics, /healthz and /debug/pprof/.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.closing.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
