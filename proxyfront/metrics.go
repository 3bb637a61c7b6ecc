package proxyfront

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's Prometheus series, on its own registry (no
// globals): served at the admin address's /metrics.
type metrics struct {
	reg        *prometheus.Registry
	clients    prometheus.Gauge
	requests   *prometheus.CounterVec
	errors     *prometheus.CounterVec
	beRequests *prometheus.CounterVec
	beErrors   *prometheus.CounterVec
	beLatency  *prometheus.HistogramVec
	ejections  *prometheus.CounterVec
	up         *prometheus.GaugeVec
	fanout     prometheus.Histogram
	reloads    *prometheus.CounterVec

	outputLimitClosed prometheus.Counter
	queryLimitClosed  prometheus.Counter
	watchConns        prometheus.Gauge
}

func newMetrics() *metrics {
	be := []string{"pool", "backend"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relcache_proxy_client_connections",
			Help: "Client connections open."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_requests_total",
			Help: "Client commands, by command."}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_errors_total",
			Help: "Client commands answered with an error the proxy made (bad input, backend failures), by command."}, []string{"command"}),
		beRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_backend_requests_total",
			Help: "Commands sent to each backend."}, be),
		beErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_backend_errors_total",
			Help: "Connection failures and timeouts of each backend."}, be),
		beLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "relcache_proxy_backend_latency_seconds",
			Help:    "Time from sending a command to a backend to its reply.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16)}, be),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_ejections_total",
			Help: "Times each backend was ejected."}, be),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "relcache_proxy_backend_up",
			Help: "1 while a backend is in rotation, 0 while ejected."}, be),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "relcache_proxy_fanout",
			Help:    "Backends one multi-key or relation command was split over.",
			Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 32, 64}}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_reloads_total",
			Help: "Config reloads, by result (ok, error)."}, []string{"result"}),
		outputLimitClosed: prometheus.NewCounter(prometheus.CounterOpts{Name: "relcache_proxy_client_output_buffer_limit_disconnections_total",
			Help: "Clients closed for holding more reply bytes than client_output_buffer_limit allows."}),
		queryLimitClosed: prometheus.NewCounter(prometheus.CounterOpts{Name: "relcache_proxy_client_query_buffer_limit_disconnections_total",
			Help: "Clients closed for an unfinished command larger than client_query_buffer_limit."}),
		watchConns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "relcache_proxy_watch_connections",
			Help: "Connections to nodes that hold a client's WATCH (at most max_watch_connections)."}),
	}
	m.reg.MustRegister(m.clients, m.requests, m.errors, m.beRequests, m.beErrors, m.beLatency,
		m.ejections, m.up, m.fanout, m.reloads, m.outputLimitClosed, m.queryLimitClosed, m.watchConns)
	return m
}

// backendMetrics are one backend's series, looked up once.
type backendMetrics struct {
	requests  prometheus.Counter
	errors    prometheus.Counter
	latency   prometheus.Observer
	ejections prometheus.Counter
	up        prometheus.Gauge
}

func (m *metrics) forBackend(pool, name string) *backendMetrics {
	bm := &backendMetrics{
		requests:  m.beRequests.WithLabelValues(pool, name),
		errors:    m.beErrors.WithLabelValues(pool, name),
		latency:   m.beLatency.WithLabelValues(pool, name),
		ejections: m.ejections.WithLabelValues(pool, name),
		up:        m.up.WithLabelValues(pool, name),
	}
	bm.up.Set(1)
	return bm
}

// forget drops a removed backend's series, so /metrics shows the pools as
// they are.
func (m *metrics) forget(pool, name string) {
	for _, v := range []*prometheus.MetricVec{m.beRequests.MetricVec, m.beErrors.MetricVec, m.ejections.MetricVec, m.up.MetricVec} {
		v.DeleteLabelValues(pool, name)
	}
	m.beLatency.DeleteLabelValues(pool, name)
}
