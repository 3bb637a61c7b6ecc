package proxyfront

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/resp"
)

// A client connection. One goroutine reads the client's pipeline, starts
// each command (routing it and sending its sub-requests) and, before it
// would block on the socket or when the pipeline gets long, waits for the
// started commands in order and writes all their replies at once. So a
// pipeline of N commands costs one read, one write per backend touched and
// one write back, and commands to different nodes run in parallel.
type client struct {
	p       *Proxy
	id      uint64
	nc      net.Conn
	rd      *resp.Reader
	out     []byte
	pending []op
	authed  bool
	user    *acl.Handle // who the client is (AUTH); the default user until then
	quit    bool
	scratch []byte // routing scratch (uid text, keys)
	keyBuf  []byte
	dirty   []*bconn   // connections with queued, unwritten commands
	tx      *txState   // open transaction (multi.go); nil outside MULTI
	watch   *watchConn // the connection holding the client's WATCH; nil when it watches nothing
	hs      []uint32   // scratch: ring positions of a queued command's keys
	// ctx is an HTTP request's (http.go): once it is done, start sends
	// nothing more and fails the call instead, and a failed read is not
	// retried on the next pool. Nil for RESP clients.
	ctx context.Context

	// held is every reply byte the proxy holds for this client: replies
	// its backends delivered and it has not written yet, plus out. The
	// backends' readers add to it while this goroutine may be blocked
	// writing to a client that does not read, so they are what enforces
	// client_output_buffer_limit: over it, they close the client and drop
	// its replies instead of storing them (admit).
	held      atomic.Int64
	softSince atomic.Int64 // unix nanos held went over the soft limit; 0: under it
	dead      atomic.Bool  // closed, or leaving: its replies are dropped
	outHeld   int          // the part of held that is out; this goroutine's

	// dirtyCopies are connections with queued fire-and-forget copies
	// (replicated writes): handed to their writers, not written here.
	dirtyCopies []*bconn

	l1 l1State // the L1's scratch and write barrier (l1serve.go)

	// lp is the client's event-loop state under io_model eventloop
	// (eventloop.go); nil for a client served by a goroutine from the start.
	lp *loopState
}

// op is a started command whose reply is not written yet.
type op interface {
	// finish waits for the command's sub-requests (running further rounds
	// if it has any) and appends its reply to c.out.
	finish(c *client)
}

const (
	maxPending = 256      // started commands before replies are collected
	flushAt    = 64 << 10 // reply bytes that trigger a write
)

func (p *Proxy) newClient(nc net.Conn, id uint64) *client {
	def := p.users.Default()
	c := &client{p: p, id: id, nc: nc, user: def, authed: def.User().NoPass() && def.User().Enabled(),
		scratch: make([]byte, 0, 64)}
	c.rd = resp.NewReader(nc, c.limits, c.beforeRead)
	c.rd.SetUintCommands(c.uidBatchCommand)
	return c
}

func (c *client) limits() resp.Limits {
	cfg := c.p.cfgNow()
	if !c.authed {
		return resp.Limits{MaxBulk: resp.UnauthMaxBulk, MaxMultibulk: resp.UnauthMaxMultibulk,
			MaxQueryBuf: cfg.ClientQueryBufferLimit, Unauth: true}
	}
	return resp.Limits{MaxBulk: cfg.ProtoMaxBulkLen, MaxMultibulk: maxMultibulk, MaxQueryBuf: cfg.ClientQueryBufferLimit}
}

// maxMultibulk is Redis's limit on arguments per command.
const maxMultibulk = 1 << 20

// beforeRead runs before a read of the client's socket that may block:
// the started commands are finished and their replies written first. On an
// event loop nothing waits (the backends' readers write the replies).
func (c *client) beforeRead() error {
	if c.onLoop() {
		return nil
	}
	return c.collect()
}

// onLoop reports whether an event loop serves the client now; only the
// client's server (its loop, or its goroutine) asks.
func (c *client) onLoop() bool { return c.lp != nil && c.lp.onLoop }

func (c *client) serve() { c.serveFrom(nil, nil) }

// serveFrom is the client's goroutine: it runs first (a command an event
// loop handed over with the client) before reading more, or, with readErr,
// finishes what is started and ends as serve would on that read error.
func (c *client) serveFrom(first [][]byte, readErr error) {
	defer func() {
		if r := recover(); r != nil {
			c.p.log.Error("panic while serving a client; connection closed",
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
		// Replies still on their way are for nobody now: drop them.
		c.dead.Store(true)
		c.dropWatch()
		c.nc.Close()
	}()
	if readErr != nil {
		c.collect()
		c.readFailed(readErr)
		return
	}
	for !c.quit {
		args := first
		first = nil
		if args == nil {
			if t := c.p.cfgNow().ClientTimeout.Duration; t > 0 {
				c.nc.SetReadDeadline(time.Now().Add(t))
			}
			var err error
			if args, err = c.rd.Next(); err != nil {
				c.readFailed(err)
				return
			}
		}
		c.handle(args)
		// Replies that have come in already (big values, fast nodes) are
		// written before more commands are sent: a client gets no more
		// of the proxy's memory than its pipeline needs.
		if len(c.pending) >= maxPending || len(c.out) >= flushAt || c.held.Load() >= flushAt {
			if c.collect() != nil {
				return
			}
		}
	}
	c.collect()
}

// errOutputLimit ends a client closed for its output buffer limit;
// errOverOutputLimit is what its dropped calls hold instead of a reply.
var (
	errOutputLimit     = errors.New("client output buffer over its limit")
	errOverOutputLimit = &backendError{msg: "ERR proxy: reply dropped: the client went over client_output_buffer_limit"}
	errDeadline        = &backendError{msg: msgDeadline}
)

// collect finishes the started commands in order and writes their
// replies, every flushAt bytes and at the end.
func (c *client) collect() error {
	c.flushBackends()
	for i, o := range c.pending {
		o.finish(c)
		c.pending[i] = nil
		if !c.countOut() {
			return errOutputLimit
		}
		if len(c.out) >= flushAt {
			if err := c.write(); err != nil {
				return err
			}
		}
	}
	c.pending = c.pending[:0]
	if !c.countOut() {
		return errOutputLimit
	}
	err := c.write()
	// Every command started is finished and its calls released, so the
	// client holds nothing now: a call some command forgot to release
	// must not count against the client for the rest of its life.
	c.held.Store(0)
	return err
}

// countOut adds what out grew by to held; false when that puts the client
// over its limit (it is closed then).
func (c *client) countOut() bool {
	d := len(c.out) - c.outHeld
	if d == 0 {
		return true
	}
	c.outHeld = len(c.out)
	return c.withinLimit(c.held.Add(int64(d)))
}

// write sends out, uncounts it, and lets a huge buffer go.
func (c *client) write() error {
	if c.l1.writing {
		c.l1Sync()
	}
	if len(c.out) == 0 {
		return nil
	}
	err := c.writeAll(c.out)
	c.held.Add(-int64(c.outHeld))
	c.outHeld = 0
	if cap(c.out) > 1<<20 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// writeAll writes b under client_write_timeout, renewed while the client
// takes bytes: a slow reader is served, one that takes nothing for that
// long is closed (and its goroutine and buffers freed).
func (c *client) writeAll(b []byte) error {
	t := c.p.cfgNow().ClientWriteTimeout.Duration
	for {
		c.nc.SetWriteDeadline(time.Now().Add(t))
		n, err := c.nc.Write(b)
		b = b[n:]
		if err == nil || len(b) == 0 {
			return nil
		}
		if n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.p.log.Debug("client took no reply bytes within client_write_timeout; closing it",
					zap.Uint64("client", c.id), zap.Duration("client_write_timeout", t))
			}
			return err
		}
	}
}

// admit counts n more reply bytes for the client, for a backend's reader
// about to store a reply; false when the client is gone or n puts it over
// its limit (the reply is dropped then, and the client closed).
func (c *client) admit(n int) bool {
	if c.dead.Load() {
		return false
	}
	if c.withinLimit(c.held.Add(int64(n))) {
		return true
	}
	c.held.Add(-int64(n))
	return false
}

// withinLimit checks held against client_output_buffer_limit, closing the
// client when it is over; it runs on the client's goroutine, on backend
// readers and on the proxy's sweep (for the soft limit's time).
func (c *client) withinLimit(held int64) bool {
	lim := c.p.cfgNow().ClientOutputBufferLimit
	var now int64
	if lim.Soft > 0 && held > lim.Soft {
		now = time.Now().UnixNano()
	}
	over, since := lim.over(held, c.softSince.Load(), now)
	c.softSince.Store(since)
	if !over {
		return true
	}
	c.kill(held, lim)
	return false
}

// kill closes a client over its output limit, once: its goroutine's read
// or write fails and it leaves; replies still coming are dropped.
func (c *client) kill(held int64, lim *OutputBufferLimit) {
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	c.p.outputLimitClosed.Add(1)
	c.p.metrics.outputLimitClosed.Inc()
	c.p.log.Warn("client output buffer over limit; closing the client",
		zap.Uint64("client", c.id), zap.Stringer("addr", c.nc.RemoteAddr()), zap.Int64("held_bytes", held),
		zap.Int64("hard_limit", lim.Hard), zap.Int64("soft_limit", lim.Soft), zap.Int64("soft_seconds", lim.SoftSeconds))
	c.nc.Close()
}

// readFailed answers a protocol error as Redis does, an error then close;
// other read errors (EOF, idle timeout) just close.
func (c *client) readFailed(err error) {
	var pe *resp.ProtoError
	var qe *resp.QueryBufError
	switch {
	case errors.As(err, &qe):
		// As Redis: logged, closed, no reply (the client is mid-command).
		c.p.queryLimitClosed.Add(1)
		c.p.metrics.queryLimitClosed.Inc()
		c.p.log.Warn("closing client that reached max query buffer length",
			zap.Int64("bytes", qe.Buffered), zap.Int64("limit", qe.Limit))
	case errors.As(err, &pe):
		c.collect()
		c.out = redcon.AppendError(c.out, "ERR "+err.Error())
		c.collect()
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
	default:
		c.p.log.Debug("client read failed", zap.Error(err))
	}
}

// Reply helpers: while commands are pending, a reply made now must wait
// its turn, so it is queued as an op.
type fixedReply []byte

func (r fixedReply) finish(c *client) { c.out = append(c.out, r...) }

func (c *client) reply(b []byte) {
	if len(c.pending) == 0 {
		c.out = append(c.out, b...)
		return
	}
	c.pending = append(c.pending, fixedReply(append([]byte(nil), b...)))
}

func (c *client) errReply(msg string) { c.reply(redcon.AppendError(c.scratch[:0], msg)) }

// opFunc is a command that runs when its turn comes (relation commands
// with several rounds).
type opFunc func(c *client)

func (f opFunc) finish(c *client) { f(c) }

// start sends args to the backend that owns h: for a read, in the first
// pool of the read order; for a write, in the primary pool, and a copy to
// every replica pool when writes are replicated. The call must be awaited.
func (c *client) start(t *topology, h uint32, read bool, args ...[]byte) *call {
	k := newCall()
	k.req = resp.AppendCommand(k.req[:0], args...)
	k.t, k.h, k.read, k.pool = t, h, read, 0
	if c.ctx != nil && c.ctx.Err() != nil {
		// Past an HTTP request's deadline: its answer is 504 already,
		// and a later round would only load the nodes. Nothing is sent,
		// to the primary or to replicas.
		k.fail(errDeadline)
		return k
	}
	if read {
		be := t.reads[0].backendFor(h)
		if w := c.watch; w != nil && t.primary.backendFor(h) == w.be {
			// A watching client reads the watched node from the primary,
			// where its WATCH is: a value read from a replica that lags
			// would let its transaction overwrite a newer one unnoticed.
			be, k.read = w.be, false
		}
		c.send(be, k)
		return k
	}
	c.send(t.primary.backendFor(h), k)
	if t.cfg.ReplicateWrites {
		for _, p := range t.replicas {
			// Fire and forget: the primary's reply is the client's. A
			// failure shows in the backend's error counters.
			c.replicate(p.backendFor(h), &call{req: k.req, done: make(chan struct{}, 1), noReply: true})
		}
	}
	return k
}

// send queues k for be; it is written when the client next waits for a
// reply (flushBackends), together with everything else queued by then.
// While the client watches keys of be's node, its commands to that node
// go down its watch connection, behind the WATCH and in order with its
// transaction; if that connection was lost, down a shared one.
func (c *client) send(be *backend, k *call) {
	if w := c.watch; w != nil && w.be == be && !w.bc.lost() {
		c.sendOn(w.bc, k)
		return
	}
	c.sendOn(be.pick(c.id), k)
}

// replicate queues k, a fire-and-forget copy of a write for a replica
// pool's node, on that node's replication connection.
func (c *client) replicate(be *backend, k *call) {
	bc := be.replicaConn()
	if c.l1.writing {
		c.l1Wrote(bc.be)
	}
	if bc.be.enqueue(k, bc) {
		c.dirtyCopies = addConn(c.dirtyCopies, bc)
	}
}

// sendOn queues k on bc.
func (c *client) sendOn(bc *bconn, k *call) {
	if !k.noReply {
		k.owner = c
	}
	if c.l1.writing {
		c.l1Wrote(bc.be)
	}
	if bc.be.enqueue(k, bc) {
		c.dirty = addConn(c.dirty, bc)
	}
}

// addConn adds bc to set unless it is there.
func addConn(set []*bconn, bc *bconn) []*bconn {
	for _, d := range set {
		if d == bc {
			return set
		}
	}
	return append(set, bc)
}

// flushBackends writes every connection this client queued commands on,
// and hands those with only fire-and-forget copies to their writers.
func (c *client) flushBackends() {
	for i, bc := range c.dirty {
		bc.flush()
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
	for i, bc := range c.dirtyCopies {
		bc.wake() // nothing left to do if flush wrote it already
		c.dirtyCopies[i] = nil
	}
	c.dirtyCopies = c.dirtyCopies[:0]
}

// wait flushes what is queued and waits for k.
func (c *client) wait(k *call) {
	c.flushBackends()
	k.wait()
}

// await waits for k; a read whose backend failed is retried on the next
// pool of the read order.
func (c *client) await(k *call) {
	c.wait(k)
	for k.err != nil && k.read && k.pool+1 < len(k.t.reads) && !c.dead.Load() && (c.ctx == nil || c.ctx.Err() == nil) {
		k.pool++
		k.err = nil
		c.send(k.t.reads[k.pool].backendFor(k.h), k)
		c.wait(k)
	}
}

// finish makes a forwarded call an op: its reply is the client's.
func (k *call) finish(c *client) {
	c.await(k)
	k.emit(c, "forward")
	k.release()
}

// emit appends a finished call's reply, or the failure that kept it from
// getting one, to the client's output.
func (k *call) emit(c *client, name string) {
	if k.err != nil {
		c.p.metrics.errors.WithLabelValues(name).Inc()
		c.out = redcon.AppendError(c.out, k.err.Error())
		return
	}
	c.out = append(c.out, k.reply...)
}
