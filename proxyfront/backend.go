package proxyfront

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/breaker"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/internal/tlsconf"
)

// A backend is one relcache node of one pool, reached over a few pipelined
// connections. Every client request for the node goes down one of them
// (chosen by the client, so one client's commands to one node stay in
// order) and its reply is matched by position: a connection answers in the
// order it was asked.
//
// Failure handling follows twemproxy's auto_eject_hosts with one
// difference: an ejected node's keys are not re-hashed onto the others (a
// relation cache would then load every list twice, there and back); its
// requests fail fast, or go to the next pool for a read, until a PING probe
// brings it back. The ejection is a circuit breaker driven out-of-band
// (internal/breaker): requests only ask whether it is closed, and the
// watchdog sends the probe.
type backend struct {
	pool     string
	name     string
	addr     string
	settings backendSettings
	log      *zap.Logger
	metrics  *backendMetrics

	conns []*bconn
	// watching are clients' own connections, each holding one client's
	// WATCH (multi.go): the watchdog times them too. *bconn → struct{}.
	watching sync.Map

	// eject is open while the node is ejected; it counts the consecutive
	// failures, and its probe is the watchdog's PING.
	eject     *breaker.Breaker
	ejections atomic.Int64
	requests  atomic.Int64
	errors    atomic.Int64
	closed    atomic.Bool
	stop      chan struct{}

	source        atomic.Pointer[string]         // the node's source_id; nil until known (source.go)
	tlsc          atomic.Pointer[tlsconf.Client] // nil: plaintext; set by topology.adoptTLS
	warnedNoProxy atomic.Bool
	// txChecked: the node answered DISCARD as one that runs transactions
	// (txReady). Cleared on every new shared connection, since the node
	// behind it may have been replaced.
	txChecked atomic.Bool
}

// backendSettings are the pool settings a backend's behaviour depends on;
// a reload keeps a backend (and its connections) only if they are equal.
type backendSettings struct {
	connections  int
	timeout      time.Duration
	dialTimeout  time.Duration
	autoEject    bool
	failureLimit int
	retryTimeout time.Duration
	user         string
	password     string
	maxReply     int
	// tls: a change of paths or server name makes a new backend; new
	// contents at the same paths are loaded on reload and reach the
	// backend through tlsc.
	tls PoolTLS
}

func poolSettings(p *Pool) backendSettings {
	return backendSettings{
		connections:  p.ServerConnections,
		timeout:      p.Timeout.Duration,
		dialTimeout:  p.DialTimeout.Duration,
		autoEject:    p.Eject(),
		failureLimit: p.ServerFailureLimit,
		retryTimeout: p.ServerRetryTimeout.Duration,
		user:         p.User,
		password:     p.Password,
		maxReply:     maxReplySize,
		tls:          p.PoolTLS,
	}
}

// maxReplySize bounds one reply from a node: a node is trusted, but a
// desynchronised stream must not make us buffer without end.
const maxReplySize = 1 << 30

func newBackend(pool, name, addr string, st backendSettings, m *metrics, log *zap.Logger) *backend {
	b := &backend{pool: pool, name: name, addr: addr, settings: st,
		log:   log.With(zap.String("pool", pool), zap.String("backend", name), zap.String("addr", addr)),
		stop:  make(chan struct{}),
		eject: breaker.New(breaker.Config{Failures: st.failureLimit, Cooldown: st.retryTimeout})}
	if !st.autoEject {
		b.eject.Hold() // failures are still counted, for INFO
	}
	b.metrics = m.forBackend(pool, name)
	b.conns = make([]*bconn, st.connections)
	for i := range b.conns {
		b.conns[i] = &bconn{be: b}
	}
	go b.watch()
	return b
}

// sameAs reports whether b can serve a reloaded config's server unchanged.
func (b *backend) sameAs(name, addr string, st backendSettings) bool {
	return b.name == name && b.addr == addr && b.settings == st
}

// close stops the backend once the calls already sent have had their
// timeout to finish: a reload that drops a node must not cut off replies
// in flight.
func (b *backend) close() {
	if b.closed.Swap(true) {
		return
	}
	// A removed node is not ejected any more: its series are forgotten, and
	// an ejection would bring them back.
	b.eject.Hold()
	time.AfterFunc(b.settings.timeout+time.Second, func() {
		close(b.stop)
		for _, c := range b.conns {
			c.shutdown(errBackendRemoved)
		}
		b.watching.Range(func(k, _ any) bool {
			k.(*bconn).shutdown(errBackendRemoved)
			return true
		})
	})
}

var (
	errBackendRemoved = errors.New("removed from the pool by a reload")
	errReleased       = errors.New("given back by its client")
)

// pick is the shared connection for a client: by affinity, so that one
// client's commands to one node stay in order.
func (b *backend) pick(affinity uint64) *bconn { return b.conns[affinity%uint64(len(b.conns))] }

// replicaConn is the one connection that carries every replicated write to
// the node. The node serves its connections concurrently, so copies sent
// down different ones could be applied in any order; down one, they are
// applied in the order the proxy sent them, and a write acknowledged by the
// primary before another was sent reaches every replica first.
func (b *backend) replicaConn() *bconn { return b.conns[0] }

// dedicated is a new connection of one client's own (for its WATCH): it
// dials on first use and is never redialled, since a new connection would
// not hold the WATCH. release closes it.
func (b *backend) dedicated() *bconn {
	bc := &bconn{be: b, single: true}
	b.watching.Store(bc, struct{}{})
	return bc
}

// release closes a dedicated connection; calls still on it fail.
func (b *backend) release(bc *bconn) {
	b.watching.Delete(bc)
	bc.shutdown(errReleased)
}

// enqueue queues c on bc, one of b's connections, without writing it: the
// caller flushes bc once it has queued everything it has (a client's
// whole pipeline goes out in one write per node). False when c failed at
// once (ejected, or no connection).
func (b *backend) enqueue(c *call, bc *bconn) bool {
	c.be = b
	b.requests.Add(1)
	b.metrics.requests.Inc()
	if !b.eject.Ready() {
		c.fail(b.errorf("is ejected after %d failures; next probe in %s", b.eject.Failures(),
			max(time.Until(b.eject.Retry()), 0).Round(time.Millisecond)))
		return false
	}
	return bc.enqueue(c)
}

// errorf is a failure of this backend as a client sees it.
func (b *backend) errorf(format string, args ...any) *backendError {
	return &backendError{msg: "ERR proxy: backend " + b.name + " (" + b.addr + ") " + fmt.Sprintf(format, args...)}
}

// backendError is a failure to get a reply from a node (as opposed to an
// error reply the node sent): a read may retry it on another pool.
type backendError struct{ msg string }

func (e *backendError) Error() string { return e.msg }

// ejected reports whether the node is out of rotation (a probe may be
// running).
func (b *backend) ejected() bool { return !b.eject.Ready() }

// failed counts a connection-level failure and ejects the backend when the
// pool's limit is reached.
func (b *backend) failed(err error) {
	b.errors.Add(1)
	b.metrics.errors.Inc()
	n, ejected := b.eject.Failure(time.Now(), err)
	if ejected {
		b.ejections.Add(1)
		b.metrics.ejections.Inc()
		b.metrics.up.Set(0)
		b.log.Warn("backend ejected", zap.Int("failures", n), zap.Duration("retry_in", b.settings.retryTimeout), zap.Error(err))
	}
}

// watch runs for the backend's life: it fails calls that waited longer than
// the timeout (a node that stopped answering) and probes an ejected node.
func (b *backend) watch() {
	tick := max(b.settings.timeout/20, 2*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			for _, c := range b.conns {
				c.checkTimeout(now)
			}
			b.watching.Range(func(k, _ any) bool {
				k.(*bconn).checkTimeout(now)
				return true
			})
			if b.eject.Probe(now) {
				go b.probe()
			}
		}
	}
}

// probe dials the node and sends PING (after AUTH); on PONG the node is
// back in rotation, otherwise it stays out for another retry timeout.
func (b *backend) probe() {
	st := b.settings
	err := func() error {
		nc, rr, err := b.dial(nil)
		if err != nil {
			return err
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(st.timeout))
		if _, err := nc.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			return err
		}
		r, err := rr.Next()
		if err != nil {
			return err
		}
		if string(r) != "+PONG\r\n" {
			return fmt.Errorf("PING answered %q", r)
		}
		return nil
	}()
	b.eject.ProbeDone(time.Now(), err)
	if err != nil {
		b.log.Info("probe failed; backend stays ejected", zap.Error(err), zap.Duration("retry_in", st.retryTimeout))
		return
	}
	b.metrics.up.Set(1)
	b.log.Info("probe answered; backend back in rotation")
}

// dial connects and authenticates, within the dial timeout. The returned
// reader's reads are recorded in progress, when given.
func (b *backend) dial(progress *readProgress) (net.Conn, *resp.ReplyReader, error) {
	st := b.settings
	ctx, cancel := context.WithTimeout(context.Background(), st.dialTimeout)
	defer cancel()
	var d net.Dialer
	network := "tcp"
	if len(b.addr) > 0 && b.addr[0] == '/' {
		network = "unix"
	}
	nc, err := d.DialContext(ctx, network, b.addr)
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if nc, err = b.dialTLS(ctx, nc); err != nil {
		return nil, nil, err
	}
	var r io.Reader = nc
	if progress != nil {
		r = progressReader{nc, progress}
	}
	rr := resp.NewReplyReader(r, st.maxReply)
	if st.password != "" {
		nc.SetDeadline(time.Now().Add(st.dialTimeout))
		cmd := resp.AppendCommand(nil, []byte("AUTH"), []byte(st.password))
		if st.user != "" {
			cmd = resp.AppendCommand(nil, []byte("AUTH"), []byte(st.user), []byte(st.password))
		}
		if _, err := nc.Write(cmd); err != nil {
			nc.Close()
			return nil, nil, err
		}
		r, err := rr.Next()
		if err == nil && string(r) != "+OK\r\n" {
			err = fmt.Errorf("AUTH answered %q", r)
		}
		if err != nil {
			nc.Close()
			return nil, nil, err
		}
		nc.SetDeadline(time.Time{})
	}
	return nc, rr, nil
}

// readProgress is what a connection's reader tells its watchdog.
type readProgress struct {
	// at is when bytes last came from the node (unix nanos): the time of
	// the replies they completed.
	at atomic.Int64
	// seq counts the reader's entries into and exits from Read: odd while
	// it waits in one. The watchdog blames the node only for time the
	// reader spent waiting in one Read (checkTimeout): a reader held up
	// with what it already read (the collector's assists while it
	// allocates a big reply, a starved CPU) is not a silent node, and
	// must not fail every call on the connection.
	seq atomic.Uint64
}

// progressReader records every read in its readProgress.
type progressReader struct {
	r io.Reader
	p *readProgress
}

func (p progressReader) Read(b []byte) (int, error) {
	p.p.seq.Add(1)
	n, err := p.r.Read(b)
	if n > 0 {
		p.p.at.Store(time.Now().UnixNano())
	}
	p.p.seq.Add(1)
	return n, err
}

// bconn is one pipelined connection to a backend. Senders append their
// command to wbuf and their call to the in-flight queue under mu; when a
// sender flushes, it writes whatever has accumulated itself unless a write
// is under way (flush), so a burst of commands from many clients goes out
// in few writes and, at one command per round trip, no other goroutine
// has to be woken to send it. A reader goroutine matches replies to the
// queue's head.
type bconn struct {
	be *backend

	mu       sync.Mutex
	single   bool // a client's own connection: dialled once, never again
	dialed   bool
	nc       net.Conn
	gen      int // bumped per connection, so a stale reader cannot fail a new one
	wbuf     []byte
	spare    []byte  // nil while a write holds it as its buffer
	inflight []*call // FIFO; head at index head
	head     int
	// unsent is the index in inflight of the first call not written yet:
	// a write stamps the calls it carries with one clock reading (sent),
	// instead of each call reading the clock as it is queued.
	unsent int
	kick   chan struct{} // wakes the writer; closed with the connection
	// writing: a goroutine (a flushing sender, or the writer) is writing
	// wbuf out for this generation and will take what is appended
	// meanwhile; a flush then only appends. Cleared with the connection.
	writing bool
	// dialing: a dial for an event loop's client is under way (dialLater);
	// commands queue in wbuf meanwhile.
	dialing bool
	// lbLoop is the event loop whose client started the dial under way;
	// lb, the loop that reads and writes this connection generation
	// itself, if one does (io_model eventloop-backends: loopbackend_linux.go,
	// where the invariant of who reads is written down).
	lbLoop *pxLoop
	lb     *loopBackend

	// progress is what the reader did last (readProgress); quietSeq and
	// quietSince, under mu, are the watchdog's: the Read it last saw the
	// reader waiting in, and when it first saw it.
	progress   readProgress
	quietSeq   uint64
	quietSince time.Time
}

// enqueue appends c to the connection's write buffer and in-flight queue,
// connecting first if needed; false when c failed at once.
func (bc *bconn) enqueue(c *call) bool {
	b := bc.be
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.nc == nil && (bc.dialing || (!bc.single && c.owner != nil && c.owner.onLoop())) {
		// An event loop does not wait for a connect: the call queues,
		// and the dial's goroutine writes it once connected.
		bc.dialLaterLocked(c.owner)
		bc.wbuf = append(bc.wbuf, c.req...)
		bc.inflight = append(bc.inflight, c)
		return true
	}
	if bc.nc == nil {
		if bc.single && bc.dialed {
			c.fail(b.errorf("connection lost: it held this client's WATCH, which a new connection would not"))
			return false
		}
		bc.dialed = true
		nc, rr, err := b.dial(&bc.progress)
		if err != nil {
			b.failed(err)
			c.fail(b.errorf("connect failed: %s", shortErr(err)))
			return false
		}
		if !bc.single {
			b.txChecked.Store(false)
		}
		bc.nc = nc
		bc.gen++
		bc.kick = make(chan struct{}, 1)
		for _, h := range b.handshake() {
			bc.wbuf = append(bc.wbuf, h.req...)
			bc.inflight = append(bc.inflight, h)
		}
		go bc.readLoop(nc, rr, bc.gen)
		go bc.writeLoop(bc.kick, bc.gen)
	}
	bc.wbuf = append(bc.wbuf, c.req...)
	bc.inflight = append(bc.inflight, c)
	return true
}

// flush writes what is queued on the connection, from every client, in
// one write: under load, one write carries many clients' commands (as
// twemproxy's event loop does), which is what the node's CPU and the
// proxy's both pay for per system call. The flushing sender writes it
// itself, once: waking a writer goroutine instead costs a hand-off per
// round trip, and on a multi-core machine a wake-up on another core. What
// was queued while it wrote is left to the writer goroutine, so no client
// keeps writing other clients' commands under a steady load. While a
// write is under way a flush returns at once: that writer takes its bytes.
func (bc *bconn) flush() {
	bc.mu.Lock()
	if bc.writing || len(bc.wbuf) == 0 || bc.nc == nil {
		bc.mu.Unlock()
		return
	}
	bc.writing = true
	gen := bc.gen // writing is this generation's: a new connection clears it
	bc.mu.Unlock()
	// Yield once first: the other clients the same network poll woke run
	// before this write and append their commands to it (measured: about
	// one write per command without it on one core).
	runtime.Gosched()
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if !bc.writeOnceLocked(gen) {
		return // the connection failed; writing was cleared with it
	}
	if len(bc.wbuf) > 0 {
		bc.kick <- struct{}{} // the writer takes over; writing stays set
		return
	}
	bc.writing = false
}

// wake hands what is queued on the connection to its writer goroutine
// instead of writing it: for fire-and-forget copies (replicated writes),
// whose sender waits for no reply from this node and so must not wait on
// its socket either (a replica that stops reading would hold the client
// up to the timeout).
func (bc *bconn) wake() {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.writing || len(bc.wbuf) == 0 || bc.nc == nil {
		return
	}
	bc.writing = true
	bc.kick <- struct{}{} // never blocks: only the holder of writing kicks
}

// writeOnceLocked writes wbuf out for connection generation gen, unlocking
// mu during the write; false when the connection is gone or failed (the
// write's failure fails it).
func (bc *bconn) writeOnceLocked(gen int) bool {
	nc := bc.nc
	if bc.gen != gen || nc == nil {
		return false
	}
	buf := bc.wbuf
	bc.wbuf, bc.spare = bc.spare[:0], nil
	now := time.Now()
	for _, c := range bc.inflight[bc.unsent:] {
		c.sent = now
	}
	bc.unsent = len(bc.inflight)
	bc.mu.Unlock()
	_, err := nc.Write(buf)
	bc.mu.Lock()
	if bc.spare == nil {
		bc.spare = buf[:0]
	}
	if err != nil {
		bc.failLocked(gen, bc.be.errorf("write failed: %s", shortErr(err)), err)
		return false
	}
	return bc.gen == gen && bc.nc != nil
}

// writeLoop takes over writing for connection generation gen when a
// flushing sender found more queued after its write, and writes until
// nothing is left. A node that stops reading blocks the write; the
// watchdog's timeout then closes the connection, which ends the write.
func (bc *bconn) writeLoop(kick chan struct{}, gen int) {
	for range kick {
		// Yield first, as flush does, so one write carries what the
		// clients woken meanwhile queue.
		runtime.Gosched()
		bc.mu.Lock()
		for len(bc.wbuf) > 0 && bc.writeOnceLocked(gen) {
		}
		if bc.gen == gen && bc.nc != nil {
			bc.writing = false
		}
		bc.mu.Unlock()
	}
}

// readLoop delivers replies to the calls in order until the connection
// fails.
func (bc *bconn) readLoop(nc net.Conn, rr *resp.ReplyReader, gen int) {
	b := bc.be
	for {
		raw, err := rr.Next()
		if err != nil {
			bc.mu.Lock()
			bc.failLocked(gen, b.errorf("connection lost: %s", shortErr(err)), err)
			bc.mu.Unlock()
			return
		}
		if !bc.replied(raw, gen) {
			return
		}
	}
}

// replied delivers raw, the next reply read on connection generation gen,
// to the call it answers; false when it answers none (the connection is
// failed then, or was already). Whoever owns the connection's reads calls
// it: its reader goroutine, or the event loop that reads it
// (loopbackend_linux.go).
func (bc *bconn) replied(raw []byte, gen int) bool {
	b := bc.be
	bc.mu.Lock()
	if bc.gen != gen || bc.head >= bc.unsent {
		// A reply nobody asked for (none is waiting, or the call at
		// the head is not even written): the stream is not to be
		// trusted.
		bc.failLocked(gen, b.errorf("sent a reply nobody asked for"), errors.New("unexpected reply"))
		bc.mu.Unlock()
		return false
	}
	c := bc.inflight[bc.head]
	if c.skip > 0 {
		// A reply ahead of the call's own, within one request
		// (a transaction's +OK and +QUEUED replies).
		c.skip--
		bc.mu.Unlock()
		return true
	}
	bc.inflight[bc.head] = nil
	bc.head++
	if bc.head == len(bc.inflight) {
		// unsent is len too: a reply answers a call that was written.
		bc.inflight, bc.head, bc.unsent = bc.inflight[:0], 0, 0
	}
	bc.mu.Unlock()
	// The reply came with the last read (progressReader's time):
	// no clock reading per reply.
	b.metrics.latency.Observe(max(float64(bc.progress.at.Load()-c.sent.UnixNano())/1e9, 0))
	b.eject.Success()
	c.deliver(raw)
	return true
}

// checkTimeout fails the connection when its oldest call has waited longer
// than the timeout and the reader has waited in one Read as long: a node
// that stopped answering (packets dropped, not refused) must cost a client
// no more than that. A node still sending is not stopped, however long the
// replies queued ahead of a call take: one client's pipeline of big
// replies must not fail every other client's call behind it (issue 14);
// nor is one the reader is too busy to read from (readProgress).
func (bc *bconn) checkTimeout(now time.Time) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.head >= bc.unsent {
		return // nothing written is waiting for a reply
	}
	t := bc.be.settings.timeout
	waited := now.Sub(bc.inflight[bc.head].sent)
	// How long the reader has waited in its current Read, to within a
	// tick (the first tick that sees a Read starts its clock): no clock
	// reading in the reader for it.
	quiet := time.Duration(0)
	if seq := bc.progress.seq.Load(); seq&1 == 1 {
		if seq != bc.quietSeq {
			bc.quietSeq, bc.quietSince = seq, now
		}
		quiet = now.Sub(bc.quietSince)
	}
	if quiet < waited {
		waited = quiet
	}
	if waited > t {
		err := bc.be.errorf("timed out after %s", t)
		bc.failLocked(bc.gen, err, err)
	}
}

// failLocked closes connection generation gen, fails every call in flight
// on it and counts one failure for the backend.
func (bc *bconn) failLocked(gen int, clientErr *backendError, cause error) {
	if gen != bc.gen || bc.nc == nil {
		return
	}
	if bc.lb != nil {
		bc.lb.hangUpLocked() // the loop's duplicate would keep the socket open
		bc.lb = nil
	}
	bc.nc.Close()
	bc.nc = nil
	close(bc.kick)
	bc.kick = nil
	bc.writing = false // a write still under way is for the closed connection
	bc.wbuf = bc.wbuf[:0]
	pending := bc.inflight[bc.head:]
	// Count the failure (and eject) before telling the callers: a client
	// that sends its next command the moment it hears must find the
	// backend already ejected, not wait out another timeout. Closing a
	// connection on purpose is no failure of the node.
	if !errors.Is(cause, errBackendRemoved) && !errors.Is(cause, errReleased) {
		bc.be.log.Debug("backend connection failed", zap.Error(cause), zap.Int("calls_failed", len(pending)))
		bc.be.failed(cause)
	}
	for _, c := range pending {
		c.fail(clientErr)
	}
	clear(bc.inflight)
	bc.inflight, bc.head, bc.unsent = bc.inflight[:0], 0, 0
}

// lost reports whether a dedicated connection was dialled and is closed
// now, for good.
func (bc *bconn) lost() bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return bc.single && bc.dialed && bc.nc == nil
}

func (bc *bconn) shutdown(err error) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	bc.failLocked(bc.gen, bc.be.errorf("%s", err), err)
}

// shortErr drops the "dial tcp 127.0.0.1:1->127.0.0.1:2:" prefix Go puts
// on network errors; the client already gets the backend's address.
func shortErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return err.Error()
}
