// Package server is relcache's RESP front: it accepts connections, frames
// commands with redcon's reader, enforces protocol and client limits, and
// dispatches each command through a table (name, arity, flags) to a small
// handler that translates it into store calls and writes the reply. Nothing
// here knows how values are kept; that is the store's job.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/tlsconf"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
	"github.com/relcache/relcache/zview"
)

// Server is a relcache node.
type Server struct {
	cfg     Config
	log     *zap.Logger
	store   *store.Store
	hooks   *keyHooks      // the store's Watcher: WATCH and client tracking
	watches *watchRegistry // WATCH
	track   *tracker       // client tracking (CLIENT TRACKING)
	pubsub  *pubsubRegistry
	cmds    map[string]*command
	keys    *shard.KeyPattern // names relation lists
	fill    *fill.Engine      // fills, FOLLOW's writes, relation-set edits
	zorders *zview.Cache      // score orders of ranged sets (the Z* view)
	persist *persister
	// shutdownSave overrides the save rules for the final snapshot:
	// 0 the rules decide, 1 SHUTDOWN SAVE, 2 SHUTDOWN NOSAVE.
	shutdownSave atomic.Int32
	metrics      *metrics
	slowlog      *slowlog
	runID        string
	started      time.Time

	// Settings CONFIG SET may change while clients read them.
	noop *noopConfig     // Redis's parameters that mean nothing here
	tls  *tlsconf.Server // nil when tls-port is 0
	// tlsMu orders TLS reloads: SIGHUP's reads the settings in use and
	// swaps in their files' new contents, which must not undo a CONFIG
	// SET that swapped in between.
	tlsMu         sync.Mutex
	requirePass   atomic.Pointer[string]
	acl           aclState     // users, ACL LOG, aclfile (acl.go)
	timeout       atomic.Int64 // idle timeout in nanoseconds
	queryBufLimit atomic.Int64 // client-query-buffer-limit in bytes

	setFormat atomic.Uint32 // rel-set-format, a SetFormat (setformat.go)

	stats serverStats

	nextID  atomic.Int64
	closing atomic.Bool
	mu      sync.Mutex // guards clients, ln, tlsLn
	clients map[int64]*client
	ln      net.Listener
	tlsLn   net.Listener   // the tls-port listener, or nil
	wg      sync.WaitGroup // one per client goroutine or event-loop client
	loops   *ioLoops       // io-model eventloop; nil under goroutine

	shutdownOnce sync.Once
	shutdownCh   chan struct{} // closed by the SHUTDOWN command
}

// serverStats are the counters INFO stats reports; each is an atomic
// bumped on the connection goroutines.
type serverStats struct {
	conns    atomic.Int64
	rejected atomic.Int64
	// Bytes of clients that have left; live clients count their own, so
	// reads and writes never share a counter across cores.
	retiredIn         atomic.Int64
	retiredOut        atomic.Int64
	errorReplies      atomic.Int64
	protoErrors       atomic.Int64
	outputLimitClosed atomic.Int64
	queryLimitClosed  atomic.Int64
	outputLimitErrors atomic.Int64 // replies over the limit answered with an error (CLIENT PROXY)
	opsPerSec         atomic.Int64 // sampled by the housekeeping loop
	// TLS handshakes that failed (no or a bad certificate, a protocol
	// mismatch, a client that sent no handshake in time).
	tlsHandshakeErrors atomic.Int64
	// io-model eventloop: clients an event loop serves now, clients a
	// loop handed over to a goroutine of their own now, and how many
	// hand-overs and hand-backs there were (eventloop_linux.go).
	loopClients, handedOverClients atomic.Int64
	handOvers, handBacks           atomic.Int64
}

// New builds a server from cfg; nothing listens until Serve.
func New(cfg Config, log *zap.Logger) (*Server, error) {
	if log == nil {
		return nil, errors.New("server: nil logger")
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	hooks := &keyHooks{}
	hooks.watches = newWatchRegistry(&hooks.users)
	storeCfg := cfg.Store
	storeCfg.Watcher = hooks
	st, err := store.New(storeCfg)
	if err != nil {
		return nil, fmt.Errorf("server store: %w", err)
	}
	keys, err := shard.ParseKeyPattern(cfg.RelKeyPattern, shard.KeyOptions{
		FollowingName: cfg.RelFollowingName, FollowerName: cfg.RelFollowerName,
		BifollowName: cfg.RelBifollowName, DBs: cfg.RelKeyDBs})
	if err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	s := &Server{
		cfg:        cfg,
		keys:       keys,
		log:        log,
		store:      st,
		hooks:      hooks,
		watches:    hooks.watches,
		pubsub:     newPubSubRegistry(),
		runID:      hex.EncodeToString(id),
		started:    time.Now(),
		clients:    make(map[int64]*client),
		shutdownCh: make(chan struct{}),
		slowlog:    newSlowlog(cfg.SlowlogMaxLen),
		noop:       newNoopConfig(),
		zorders:    zview.NewCache(cfg.RelOrderCache),
	}
	pass := cfg.RequirePass
	s.requirePass.Store(&pass)
	s.timeout.Store(int64(cfg.Timeout))
	s.queryBufLimit.Store(cfg.ClientQueryBufferLimit)
	s.setFormat.Store(uint32(cfg.RelSetFormat))
	s.slowlog.threshold.Store(slowlogMicros(cfg.SlowlogLogSlowerThan))
	hooks.track = newTracker(s, &hooks.users, cfg.TrackingTableMaxKeys)
	s.track = hooks.track
	s.fill, err = fill.New(fill.Config{
		Store: st, Keys: keys, Source: cfg.Source, Log: log,
		LoadTimeout: cfg.LoadTimeout, ListLimit: cfg.SourceListLimit,
		TTL: cfg.LoadTTL, NegativeTTL: cfg.LoadNegativeTTL,
		BreakerFailures: cfg.LoadBreakerFailures, BreakerCooldown: cfg.LoadBreakerCooldown,
		SetVersion: s.setVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("server fill engine: %w", err)
	}
	s.persist = newPersister(&s.cfg, s.started)
	if s.cmds, err = commandTable(); err != nil {
		return nil, fmt.Errorf("server command table: %w", err)
	}
	s.initACL()
	s.metrics = newMetrics(s)
	if cfg.TLSPort != 0 {
		if s.tls, err = tlsconf.NewServer(cfg.TLS); err != nil {
			return nil, fmt.Errorf("server TLS: %w", err)
		}
	}
	return s, nil
}

// Store is the server's keyspace.
func (s *Server) Store() *store.Store { return s.store }

func (s *Server) password() string { return *s.requirePass.Load() }

func (s *Server) idleTimeout() time.Duration { return time.Duration(s.timeout.Load()) }

// ListenAndServe listens on the configured addresses and serves until ctx is
// done or a client sends SHUTDOWN, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if err := s.loadACLFile(); err != nil {
		return err
	}
	if err := s.loadSnapshot(); err != nil {
		return err
	}
	s.recoverSource()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	tlsLn, err := s.listenTLS()
	if err != nil {
		ln.Close()
		return err
	}
	tlsAddr := "-"
	if tlsLn != nil {
		tlsAddr = tlsLn.Addr().String()
		s.mu.Lock()
		s.tlsLn = tlsLn
		s.mu.Unlock()
	}
	closeLns := func() {
		ln.Close()
		if tlsLn != nil {
			tlsLn.Close()
		}
	}
	var admin *http.Server
	adminAddr := "-"
	if s.cfg.AdminAddr != "-" {
		aln, err := net.Listen("tcp", s.cfg.AdminAddr)
		if err != nil {
			closeLns()
			return fmt.Errorf("listen on admin address %s: %w", s.cfg.AdminAddr, err)
		}
		adminAddr = aln.Addr().String()
		admin = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := admin.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin HTTP server stopped", zap.Error(err))
			}
		}()
		defer admin.Close()
	}
	s.log.Info("relcache listening",
		zap.String("addr", ln.Addr().String()),
		zap.String("admin_addr", adminAddr),
		zap.String("tls_addr", tlsAddr),
		zap.String("version", s.cfg.Version),
		zap.Int("maxclients", s.cfg.MaxClients),
		zap.Int("maxclients_requested", max(s.cfg.MaxClientsRequested, s.cfg.MaxClients)),
		zap.Uint64("open_files_limit", s.cfg.OpenFilesLimit),
		zap.Int64("maxmemory", s.store.MaxMemory()),
		zap.Stringer("maxmemory_policy", s.store.Policy()),
		zap.Duration("timeout", s.idleTimeout()),
		zap.Bool("requirepass", s.password() != ""),
		zap.String("dir", s.cfg.Dir))
	return s.Serve(ctx, ln)
}

// Serve accepts clients on ln until ctx is done or SHUTDOWN arrives.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	if s.cfg.IOModel == IOEventLoop {
		loops, err := newIOLoops(s, runtime.GOMAXPROCS(0))
		if err != nil {
			return err
		}
		s.loops = loops
		// After shutdown: every client is gone by then.
		defer loops.stop()
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go s.store.RunExpiry(bg)
	go s.housekeeping(bg)
	go s.runSweeper(bg)

	acceptDone := make(chan struct{})
	s.mu.Lock()
	tlsLn := s.tlsLn
	s.mu.Unlock()
	go func() {
		defer close(acceptDone)
		if tlsLn == nil {
			s.acceptLoop(ln)
			return
		}
		// Both listeners stop together: closing is set before either is
		// closed, so neither loop ends on its own but for a failure.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); s.acceptLoop(tlsLn) }()
		s.acceptLoop(ln)
		tlsLn.Close()
		wg.Wait()
	}()
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", zap.String("reason", "signal"))
	case <-s.shutdownCh:
		s.log.Info("shutting down", zap.String("reason", "SHUTDOWN command"))
	case <-acceptDone:
		return errors.New("listener closed unexpectedly")
	}
	s.shutdown(ln, acceptDone)
	return s.finalSave()
}

// finalSave is the snapshot at exit, taken after the last client finished
// so no write can land after it: when save rules are configured (unless
// SHUTDOWN NOSAVE) or SHUTDOWN SAVE asked. A failure is returned (the
// process exits non-zero) and the previous snapshot stays.
func (s *Server) finalSave() error {
	mode := s.shutdownSave.Load()
	if mode == 2 || (mode == 0 && len(s.persist.saveRules()) == 0) {
		return nil
	}
	if err := s.save(true); err != nil {
		return fmt.Errorf("snapshot at shutdown: %w", err)
	}
	return nil
}

// Addr is the address the server listens on, once Serve has been called.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

func (s *Server) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of
			// spinning, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.stats.conns.Add(1)
		s.mu.Lock()
		if len(s.clients) >= s.cfg.MaxClients {
			s.mu.Unlock()
			s.stats.rejected.Add(1)
			go reject(nc, "ERR max number of clients reached")
			continue
		}
		if s.loops != nil {
			nc = s.loops.wrap(nc)
		}
		c := s.newClient(nc)
		s.clients[c.id] = c
		s.wg.Add(1)
		s.mu.Unlock()
		if lc, ok := c.conn.(*loopConn); ok {
			lc.start(c)
			continue
		}
		go c.serve()
	}
}

// reject tells a connection why it is refused and closes it, without letting
// a client that never reads hold anything. The deadline covers reads too:
// on a TLS connection the write first runs the handshake, which waits for
// the client's hello.
func reject(nc net.Conn, msg string) {
	nc.SetDeadline(time.Now().Add(time.Second))
	nc.Write([]byte("-" + msg + "\r\n"))
	nc.Close()
}

func (s *Server) removeClient(c *client) {
	c.conn.Close()
	c.gone.Store(true)
	s.watches.unwatchAll(c)
	s.track.disable(c)
	s.pubsub.unsubscribeAll(c)
	c.closePushes()
	s.mu.Lock()
	delete(s.clients, c.id)
	s.stats.retiredIn.Add(c.netIn.Load())
	s.stats.retiredOut.Add(c.netOut.Load())
	s.mu.Unlock()
	s.wg.Done()
}

// netTotals is the bytes read from and written to clients since start.
func (s *Server) netTotals() (in, out int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, out = s.stats.retiredIn.Load(), s.stats.retiredOut.Load()
	for _, c := range s.clients {
		in += c.netIn.Load()
		out += c.netOut.Load()
	}
	return in, out
}

// shutdown stops accepting, lets each client finish the pipeline it is
// executing and flush its replies, and closes whatever is left when
// ShutdownTimeout runs out.
func (s *Server) shutdown(ln net.Listener, acceptDone <-chan struct{}) {
	s.closing.Store(true)
	ln.Close()
	s.mu.Lock()
	if s.tlsLn != nil {
		s.tlsLn.Close()
	}
	s.mu.Unlock()
	// The accept loop must be gone before wg.Wait: a WaitGroup's Add may
	// not run concurrently with a Wait that could see the counter at zero.
	<-acceptDone
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	deadline := time.After(s.cfg.ShutdownTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// Wake clients blocked in a read. Repeated, because a client
		// between two pipelines may re-arm its idle deadline after we set
		// ours; it sees closing on its next turn.
		s.eachClient(func(c *client) { c.conn.SetReadDeadline(time.Now()) })
		select {
		case <-done:
			s.log.Info("all clients closed; bye")
			return
		case <-deadline:
			s.log.Warn("shutdown timeout; closing remaining clients", zap.Duration("timeout", s.cfg.ShutdownTimeout))
			s.eachClient(func(c *client) { c.conn.Close() })
			<-done
			return
		case <-tick.C:
		}
	}
}

// clientByID returns the connected client with id, or nil.
func (s *Server) clientByID(id int64) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[id]
}

func (s *Server) eachClient(fn func(*client)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		fn(c)
	}
}

func (s *Server) requestShutdown() {
	s.shutdownOnce.Do(func() { close(s.shutdownCh) })
}

// housekeeping samples instantaneous_ops_per_sec the way Redis does: the mean
// rate over the last 16 samples taken 100ms apart.
func (s *Server) housekeeping(ctx context.Context) {
	const samples = 16
	var ring [samples]int64
	var i int
	last := s.totalCommands()
	lastT := time.Now()
	lastRules := lastT
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(lastRules) >= time.Second {
				lastRules = now
				s.maybeSave(now)
			}
			s.clientsCron(now)
			s.track.cron()
			cur := s.totalCommands()
			dt := now.Sub(lastT).Seconds()
			if dt > 0 {
				ring[i%samples] = int64(float64(cur-last) / dt)
				i++
			}
			last, lastT = cur, now
			var sum int64
			n := min(i, samples)
			for _, v := range ring[:n] {
				sum += v
			}
			if n > 0 {
				s.stats.opsPerSec.Store(sum / int64(n))
			}
		}
	}
}

// resetStats is CONFIG RESETSTAT: counters back to zero, state (keys,
// memory, clients) untouched.
func (s *Server) resetStats() {
	s.store.ResetStats()
	for _, c := range s.everyCommand() {
		c.stats.reset()
	}
	s.stats.errorReplies.Store(0)
	s.stats.rejected.Store(0)
	s.stats.conns.Store(0)
	s.stats.protoErrors.Store(0)
	s.stats.outputLimitClosed.Store(0)
	s.stats.queryLimitClosed.Store(0)
	s.stats.outputLimitErrors.Store(0)
	s.stats.tlsHandshakeErrors.Store(0)
	s.mu.Lock()
	s.stats.retiredIn.Store(0)
	s.stats.retiredOut.Store(0)
	for _, c := range s.clients {
		c.netIn.Store(0)
		c.netOut.Store(0)
	}
	s.mu.Unlock()
}
