// Package proxyfront is relcache's sharding front: a multicore RESP proxy
// that routes uid-keyed commands to many relcache nodes (twemproxy-
// compatible placement), splits multi-key commands into one sub-request per
// node, composes cross-node relation queries from per-node primitives, and
// keeps a few pipelined connections per node however many clients connect.
// docs/proxy.md is the user's guide.
package proxyfront

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/fdlimit"
	"github.com/relcache/relcache/internal/tlsconf"
)

// Proxy is a running proxy: a listener, its clients, and the current
// topology, which Reload swaps without touching client connections.
type Proxy struct {
	log     *zap.Logger
	metrics *metrics
	cmds    map[string]*command
	users   *acl.Users // clients' users (acl.go); Reload replaces their rules
	version string

	mu   sync.Mutex // serialises Reload
	cfg  atomic.Pointer[Config]
	topo atomic.Pointer[topology]

	ln      net.Listener
	tlsLn   net.Listener    // tls_listen, or nil
	tlsSrv  *tlsconf.Server // its reloadable files, or nil
	mcLn    net.Listener    // the memcache entry's; nil when it is off
	mcStats *mcCounters     // the memcache entry's counters; nil when it is off
	admin   *http.Server
	adminLn net.Listener
	web     *httpEntry // the HTTP/JSON entry (http.go); nil when off
	l1      *l1cache   // the L1 (l1.go); nil when off
	loops   *pxLoops   // io_model eventloop's loops (eventloop.go); nil under goroutine
	clients sync.WaitGroup
	conns   sync.Map // *client → struct{}
	nextID  atomic.Uint64
	nconns  atomic.Int64
	started time.Time

	// loopBackends: the loops do their backends' I/O (io_model
	// eventloop-backends); set before they start.
	loopBackends bool

	reloads    atomic.Int64
	lastReload atomic.Pointer[reloadResult]

	watchConns        atomic.Int64 // clients' own connections holding a WATCH (multi.go)
	outputLimitClosed atomic.Int64 // clients closed for client_output_buffer_limit
	queryLimitClosed  atomic.Int64 // clients closed for client_query_buffer_limit
	// TLS handshakes of clients that failed (no or a bad certificate, a
	// protocol mismatch, none within tlsHandshakeTimeout).
	tlsHandshakeErrors atomic.Int64
}

type reloadResult struct {
	at  time.Time
	err error
}

// New validates cfg and builds the proxy; it does not listen yet.
func New(cfg *Config, version string, log *zap.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Proxy{log: log, metrics: newMetrics(), version: version, started: time.Now()}
	cmds, err := commandTable(p.metrics)
	if err != nil {
		return nil, err
	}
	p.cmds = cmds
	if err := p.initUsers(cfg); err != nil {
		return nil, err
	}
	t, _, err := newTopology(cfg, nil, p.metrics, log)
	if err != nil {
		return nil, err
	}
	warnUnalignedPools(cfg, log)
	if cfg.L1.Enabled {
		if p.l1, err = newL1(cfg.L1, log); err != nil {
			return nil, err
		}
	}
	if cfg.IOModel == IOEventLoop || cfg.IOModel == IOEventLoopBackends {
		// With the L1 on, the loops serve clients but leave the node
		// connections' I/O to their goroutines: the L1's write barrier and
		// its staleness tests were built and run on goroutine-read node
		// connections only, and eventloop-backends is not recommended yet
		// (docs/proxy.md).
		p.loopBackends = cfg.IOModel == IOEventLoopBackends && p.l1 == nil
		if p.loops, err = newPxLoops(p, runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
	}
	p.cfg.Store(cfg)
	p.topo.Store(t)
	t.adoptTLS()
	return p, nil
}

func (p *Proxy) cfgNow() *Config { return p.cfg.Load() }

// Listen opens the RESP and admin listeners (so a caller learns the
// addresses before serving).
func (p *Proxy) Listen() error {
	cfg := p.cfgNow()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	p.ln = ln
	if p.tlsLn, err = p.listenTLS(cfg); err != nil {
		ln.Close()
		return err
	}
	if err := p.listenMemcache(); err != nil {
		ln.Close()
		if p.tlsLn != nil {
			p.tlsLn.Close()
		}
		ln.Close()
		return err
	}
	if cfg.Admin != "-" {
		aln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			ln.Close()
			if p.tlsLn != nil {
				p.tlsLn.Close()
			}
			if p.mcLn != nil {
				p.mcLn.Close()
			}
			return fmt.Errorf("admin listen %s: %w", cfg.Admin, err)
		}
		p.adminLn = aln
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(p.metrics.reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", p.healthz)
		mux.HandleFunc("/reload", p.reloadHandler)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		p.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	if err := p.listenHTTP(cfg); err != nil {
		ln.Close()
		if p.adminLn != nil {
			p.adminLn.Close()
		}
		return err
	}
	return nil
}

// Addr is the RESP listener's address; AdminAddr the admin one's, or "-".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// TLSAddr is the TLS listener's address, or "-".
func (p *Proxy) TLSAddr() string {
	if p.tlsLn == nil {
		return "-"
	}
	return p.tlsLn.Addr().String()
}

func (p *Proxy) AdminAddr() string {
	if p.adminLn == nil {
		return "-"
	}
	return p.adminLn.Addr().String()
}

// Serve accepts clients until ctx is done, then closes the listeners, lets
// clients finish what they sent (up to a grace period) and stops.
func (p *Proxy) Serve(ctx context.Context) error {
	if p.admin != nil {
		go p.admin.Serve(p.adminLn)
	}
	if p.web != nil {
		go p.web.serve()
	}
	go func() {
		<-ctx.Done()
		p.ln.Close()
		if p.tlsLn != nil {
			p.tlsLn.Close()
		}
	}()
	go p.sweepOutputLimits(ctx)
	if p.mcLn != nil {
		go p.serveMemcache(ctx)
	}
	if p.tlsLn == nil {
		err := p.acceptLoop(ctx, p.ln)
		p.shutdown()
		return err
	}
	// Either loop failing ends both, as the plaintext one alone did.
	errc := make(chan error, 2)
	for _, ln := range []net.Listener{p.ln, p.tlsLn} {
		go func() {
			err := p.acceptLoop(ctx, ln)
			p.ln.Close()
			p.tlsLn.Close()
			errc <- err
		}()
	}
	err := errors.Join(<-errc, <-errc)
	p.shutdown()
	return err
}

// acceptLoop accepts clients on ln until ctx is done (nil) or ln fails.
func (p *Proxy) acceptLoop(ctx context.Context, ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		if !p.accepted(nc, "-ERR max number of clients reached\r\n") {
			continue
		}
		if p.loops != nil && p.loops.adopt(nc) {
			continue
		}
		c := p.newClient(nc, p.nextID.Add(1))
		p.runClient(c, func() {
			if !p.handshake(nc) {
				nc.Close()
				return
			}
			c.serve()
		})
	}
}

// accepted checks max_clients for a new connection, answering full and
// closing it when they are all taken, and turns Nagle off.
func (p *Proxy) accepted(nc net.Conn, full string) bool {
	if p.nconns.Load() >= int64(p.cfgNow().MaxClients) {
		rejectConn(nc, full)
		return false
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return true
}

// runClient runs serve, c's loop, on a goroutine of its own, counted among
// the proxy's clients until it returns.
func (p *Proxy) runClient(c *client, serve func()) {
	p.clientStarted(c)
	go func() {
		defer p.clientEnded(c)
		serve()
	}()
}

// clientStarted and clientEnded count c among the proxy's clients, from
// its start to its end (its goroutine's, or its event loop's).
func (p *Proxy) clientStarted(c *client) {
	p.nconns.Add(1)
	p.metrics.clients.Inc()
	p.conns.Store(c, struct{}{})
	p.clients.Add(1)
}

func (p *Proxy) clientEnded(c *client) {
	p.conns.Delete(c)
	p.nconns.Add(-1)
	p.metrics.clients.Dec()
	p.clients.Done()
}

// sweepOutputLimits closes clients that stayed over the soft output limit
// for its seconds without receiving another reply (as Redis's clientsCron
// does): the backends' readers only check a client when a reply for it
// arrives, and a client blocked writing may get none.
func (p *Proxy) sweepOutputLimits(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.cfgNow().ClientOutputBufferLimit.Soft == 0 {
			continue
		}
		p.conns.Range(func(k, _ any) bool {
			c := k.(*client)
			if c.softSince.Load() != 0 && !c.dead.Load() {
				c.withinLimit(c.held.Load())
			}
			return true
		})
	}
}

// shutdown stops reading new commands from clients (their pending replies
// are still written) and closes everything.
func (p *Proxy) shutdown() {
	if p.admin != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p.admin.Shutdown(sctx)
		cancel()
	}
	if p.web != nil {
		p.web.shutdown(5 * time.Second)
	}
	// A client blocked reading gets an error now; one in the middle of a
	// pipeline finishes it first (its read deadline only stops the next
	// read).
	p.conns.Range(func(k, _ any) bool {
		k.(*client).nc.SetReadDeadline(time.Now())
		return true
	})
	done := make(chan struct{})
	go func() { p.clients.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.conns.Range(func(k, _ any) bool { k.(*client).nc.Close(); return true })
	}
	if p.loops != nil {
		p.loops.stop()
	}
	p.topo.Load().close()
}

// Reload reads the config file again and, if it is valid, routes by it
// from the next command on. Client connections stay open; backends whose
// address and settings did not change keep their connections. A broken
// file changes nothing and is reported. listen, admin and max_clients
// apply only at start.
func (p *Proxy) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.cfgNow()
	err := func() error {
		cfg, err := LoadConfig(old.Path)
		if err != nil {
			return err
		}
		if cfg.Listen != old.Listen || cfg.Admin != old.Admin || cfg.HTTP.Listen != old.HTTP.Listen {
			p.log.Warn("reload: listen, admin and http.listen addresses apply only at start; keeping the old ones",
				zap.String("listen", old.Listen), zap.String("admin", old.Admin), zap.String("http.listen", old.HTTP.Listen))
			cfg.Listen, cfg.Admin, cfg.HTTP.Listen = old.Listen, old.Admin, old.HTTP.Listen
		}
		if cfg.IOModel != old.IOModel {
			p.log.Warn("reload: io_model applies only at start; keeping the old one", zap.String("io_model", old.IOModel))
			cfg.IOModel = old.IOModel
		}
		// The start fitted max_clients to the open-files limit; a
		// reloaded max_clients (or more node connections) is held to it.
		cfg.OpenFilesLimit = old.OpenFilesLimit
		cfg.MaxClientsRequested = cfg.MaxClients
		if lim := old.OpenFilesLimit; lim > 0 {
			if fit := max(int(min(lim, math.MaxInt32))-fdlimit.Reserve-cfg.Descriptors(), 1); cfg.MaxClients > fit {
				p.log.Warn("reload: max_clients reduced to fit the open files limit",
					zap.Int("max_clients_requested", cfg.MaxClients), zap.Int("max_clients", fit), zap.Uint64("open_files_limit", lim))
				cfg.MaxClients = fit
			}
		}
		if err := p.keepMemcacheListen(cfg, old); err != nil {
			return err
		}
		users, err := readUsers(p.users.Catalog(), cfg)
		if err != nil {
			return err
		}
		swapTLS, err := p.loadListenerTLS(old, cfg)
		if err != nil {
			return err
		}
		t, dropped, err := newTopology(cfg, p.topo.Load(), p.metrics, p.log)
		if err != nil {
			return err
		}
		warnUnalignedPools(cfg, p.log)
		// Users no longer configured can run nothing from here on.
		p.users.Replace(users)
		p.cfg.Store(cfg)
		p.topo.Store(t)
		t.adoptTLS()
		swapTLS()
		for _, b := range dropped {
			b.close()
			p.metrics.forget(b.pool, b.name)
		}
		return nil
	}()
	p.reloads.Add(1)
	p.lastReload.Store(&reloadResult{at: time.Now(), err: err})
	if err != nil {
		p.metrics.reloads.WithLabelValues("error").Inc()
		p.log.Error("reload refused; keeping the running config", zap.Error(err))
		return err
	}
	p.metrics.reloads.WithLabelValues("ok").Inc()
	p.log.Info("config reloaded", zap.String("path", old.Path))
	return nil
}

// warnUnalignedPools says when a replica pool does not mirror the primary
// (same server names and weights): reads that fail over to it stay correct
// for single keys, but a batch grouped by the first pool's layout may ask a
// replica node for keys it does not hold.
func warnUnalignedPools(cfg *Config, log *zap.Logger) {
	prim := cfg.Primary()
	for i := range cfg.Pools {
		p := &cfg.Pools[i]
		if p == prim {
			continue
		}
		same := len(p.Backends) == len(prim.Backends)
		for j := 0; same && j < len(p.Backends); j++ {
			same = p.Backends[j].Name == prim.Backends[j].Name && p.Backends[j].Weight == prim.Backends[j].Weight
		}
		if !same {
			log.Warn("replica pool does not mirror the primary's server names and weights; batched reads that fail over to it may miss keys",
				zap.String("pool", p.Name), zap.String("primary", prim.Name))
		}
	}
}

func (p *Proxy) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var down []string
	for _, pr := range p.topo.Load().all {
		for _, b := range pr.backends {
			if b.ejected() {
				down = append(down, pr.name+"/"+b.name)
			}
		}
	}
	if len(down) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	// Still 200: the proxy serves, and the other nodes' keys work. The body
	// says what is degraded.
	fmt.Fprintf(w, "ok, degraded: ejected %v\n", down)
}

func (p *Proxy) reloadHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST /reload reloads the config file", http.StatusMethodNotAllowed)
		return
	}
	if err := p.Reload(); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	fmt.Fprintln(w, "reloaded")
}
