package server

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
	"github.com/relcache/relcache/zview"
	"go.uber.org/zap"
)

// flushAt is the pending-reply size at which a long pipeline is flushed
// before its end, so a pipeline of many large replies does not sit in memory.
const flushAt = 64 * 1024

// client is one connection. Its goroutine owns everything but the fields
// CLIENT LIST and CLIENT KILL read from other goroutines, which are atomics
// or under mu.
type client struct {
	srv     *Server
	id      int64
	conn    net.Conn
	rd      *resp.Reader
	addr    string
	laddr   string
	created time.Time

	out   []byte // pending reply bytes, flushed before the next blocking read
	proto int    // 2 or 3, set by HELLO
	// writeErr is the error of the last failed flush; the client is done.
	writeErr error
	// authed is read by the protocol guard (same goroutine) and by
	// dispatch; only this client's goroutine writes it.
	authed bool
	// user is who the client is (AUTH); CLIENT LIST reads it from other
	// goroutines.
	user atomic.Pointer[acl.Handle]
	// closeAfterReply makes the loop flush and close after the current
	// command (QUIT, SHUTDOWN, a client over its output limit).
	closeAfterReply bool
	// inLoop is set while an event loop serves the client (io-model
	// eventloop); handOver is set by dispatch, to the reason, when the
	// command must run on the client's own goroutine instead. Both owned
	// by whoever serves the client.
	inLoop   bool
	handOver string
	// handedOver is set while the client's own goroutine serves it after
	// an event loop handed it over: that goroutine gives it back when it
	// is idle (handBack).
	handedOver bool
	// loopRun counts, while handedOver, the commands run since the last
	// one the loop could not have run (handBackAfter).
	loopRun int
	// proxy is set by CLIENT PROXY ON: a reply over the output limit is
	// replaced by an error rather than closing the connection.
	proxy    bool
	lowerBuf [32]byte // scratch for case-folding command names

	// Scratch reused by the relation commands so a batch allocates nothing
	// per member once the client has warmed up.
	uids    []uint64
	times   []uint32
	hits    []bool
	codes   []int64 // RELMULTI's answers, 1, 0 or -1
	members []openhash.Member
	zslots  zview.Scratch // a small set's score order (Z* reads; cached orders are never kept here)
	zpick   []int32       // ranks ZRANDMEMBER and ZSCAN reply
	keyBuf  []byte
	scratch []byte
	// bifollow is the scratch of a bi-follow list's computation, apart
	// from the above, which the handler reading the list may be using.
	bifollow bifollowScratch

	// Relation keys this command found missing, for dispatch to fill from
	// the source (fill.go); refill is set while the handler runs again.
	missed  [][]byte
	missBuf []byte
	refill  bool
	// Uids truncated sets do not hold, for dispatch to ask the source
	// about (relset_truncated.go); their keys are in missBuf too.
	unsure []unsureUID

	netIn, netOut atomic.Int64 // bytes; only this client's goroutine adds

	// Transactions (multi.go). tx is the open MULTI, view the keyspace view
	// an EXEC runs its commands through, watched the keys of WATCH: all
	// owned by the client's goroutine. txLen (queued commands, -1 outside
	// MULTI) and watchTouched (a watched key changed) are read by CLIENT
	// LIST from other goroutines; the store's watch hook sets
	// watchTouched.
	tx           *txState
	txBuf        txState      // what tx points to, reused
	txArgs       [][]byte     // EXEC's argument views, reused
	own          *store.Store // the keyspace, as this client's changes (store.WithOrigin)
	view         *store.Store
	hold         store.Store // the view's storage, reused
	keyScratch   [][]byte
	watched      []watchedKey
	txLen        atomic.Int32
	watchTouched atomic.Bool
	discovering  bool // EXEC's quiet first run of relation reads: errors are not counted

	// ioWait is when this client's goroutine began to wait on the network,
	// in Unix nanoseconds: positive while it waits for the next command,
	// negative while it waits for the client to take its replies, 0 while
	// it runs commands. The housekeeping loop (clientsCron) reads it to
	// hold every client to the timeout in force now, not the one in force
	// when its wait began.
	ioWait atomic.Int64

	// Client tracking, pub/sub and the push messages they send (push.go,
	// tracking.go, pubsub.go). respVer is proto for other goroutines, which
	// encode pushes for this client; gone is set when it has left.
	push    pushQueue
	track   clientTrack
	ps      clientPubSub
	respVer atomic.Int32
	gone    atomic.Bool

	lastActive atomic.Int64            // Unix nanoseconds of the last command
	lastCmd    atomic.Pointer[command] // for CLIENT LIST
	mu         sync.Mutex              // guards name, libName, libVer
	name       string
	// libName and libVer are what CLIENT SETINFO announced (Redis 7.2),
	// shown by CLIENT LIST and CLIENT INFO.
	libName, libVer string
}

func (s *Server) newClient(nc net.Conn) *client {
	c := &client{
		srv:     s,
		id:      s.nextID.Add(1),
		conn:    nc,
		addr:    nc.RemoteAddr().String(),
		laddr:   nc.LocalAddr().String(),
		created: time.Now(),
		proto:   2,
	}
	// As Redis: a connection starts as the default user, authenticated
	// when that user takes no password.
	def := s.acl.users.Default()
	c.user.Store(def)
	c.authed = def.User().NoPass() && def.User().Enabled()
	c.lastActive.Store(c.created.UnixNano())
	c.txLen.Store(-1)
	c.respVer.Store(2)
	c.own = s.store.WithOrigin(c.id)
	c.rd = resp.NewReader(connReader{c}, c.limits, c.beforeRead)
	c.rd.SetUintCommands(uidBatchCommand)
	return c
}

// errShuttingDown ends a client's loop when the server is closing.
var errShuttingDown = errors.New("server shutting down")

// beforeRead runs whenever the next read may block: flush what is pending
// (so a pipeline's replies leave in one write), stop if the server is
// closing, and start the idle clock clientsCron checks.
func (c *client) beforeRead() error {
	if c.inLoop {
		return c.loopBeforeRead()
	}
	if !c.flush() {
		return c.writeErr
	}
	if c.srv.closing.Load() {
		return errShuttingDown
	}
	c.ioWait.Store(time.Now().UnixNano())
	if c.handedOver {
		return c.handBack()
	}
	return nil
}

// Timeouts. No deadline is armed per read or write (that would cost timer
// work on every pipeline); instead clientsCron, every 100ms, sets a
// deadline in the past on a client that has waited too long, and the
// client checks, when its read or write fails on that deadline, that it
// really has waited that long. So a CONFIG SET timeout reaches clients
// already waiting, and a deadline set just as a client woke up is not
// taken for a timeout.
//
//   - timeout > 0: a client that sends nothing for that long is closed,
//     as in Redis (unless it has subscriptions: Redis exempts those too);
//     so is one that takes none of its replies for that long.
//   - timeout 0: idle clients stay, as in Redis; but a write that makes no
//     progress for stalledWriteLimit closes the client. Redis would keep
//     such a client's replies in its output buffer; here they hold a
//     goroutine and a connection slot, so every write has a deadline.
const stalledWriteLimit = 60 * time.Second

// writeLimit is how long a write may go without progress.
func writeLimit(timeout time.Duration) time.Duration {
	if timeout > 0 {
		return timeout
	}
	return stalledWriteLimit
}

// clientsCron expires the waits of clients that went over their limits.
func (s *Server) clientsCron(now time.Time) {
	t := s.idleTimeout()
	wl := int64(writeLimit(t))
	ns := now.UnixNano()
	s.eachClient(func(c *client) {
		switch w := c.ioWait.Load(); {
		case w > 0 && t > 0 && ns-w >= int64(t) && !c.ps.flag.Load():
			c.conn.SetReadDeadline(now)
		case w < 0 && ns+w >= wl:
			c.conn.SetWriteDeadline(now)
		}
	})
}

// waitedOut reports whether a read (or write) that failed on a deadline
// really waited past its limit; otherwise the deadline is a stale one (the
// timeout was raised, or the client woke as clientsCron set it) and is
// cleared so the caller can carry on.
func (c *client) waitedOut(write bool) bool {
	if c.srv.closing.Load() {
		return true
	}
	w, ns := c.ioWait.Load(), time.Now().UnixNano()
	if write {
		if w < 0 && ns+w >= int64(writeLimit(c.srv.idleTimeout())) {
			return true
		}
		c.conn.SetWriteDeadline(time.Time{})
		return false
	}
	// As in Redis, a client with subscriptions is never idle.
	if t := c.srv.idleTimeout(); t > 0 && w > 0 && ns-w >= int64(t) && !c.ps.flag.Load() {
		return true
	}
	c.conn.SetReadDeadline(time.Time{})
	return false
}

// connReader is the client's socket as its command reader sees it: bytes
// are counted, and a deadline that was not a real timeout is retried.
type connReader struct{ c *client }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		n, err := c.conn.Read(p)
		if n > 0 {
			c.netIn.Add(int64(n))
			c.ioWait.Store(0)
			return n, nil
		}
		// (errWouldBlock, an event loop's every turn, is not looked into:
		// isTimeout allocates.)
		if err != nil && err != errWouldBlock && isTimeout(err) && !c.waitedOut(false) {
			// Not a timeout: a deadline set to wake this client, perhaps
			// for push messages queued while it waited (push.go).
			if c.push.pending.Load() && !c.deliverPushes() {
				return 0, c.writeErr
			}
			continue
		}
		return n, err
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// limits are the protocol limits for the client's next command.
func (c *client) limits() resp.Limits {
	if !c.authed {
		return resp.Limits{MaxBulk: resp.UnauthMaxBulk, MaxMultibulk: resp.UnauthMaxMultibulk,
			MaxQueryBuf: c.srv.queryBufLimit.Load(), Unauth: true}
	}
	return resp.Limits{MaxBulk: c.srv.cfg.ProtoMaxBulkLen, MaxMultibulk: c.srv.cfg.ProtoMaxMultibulkLen,
		MaxQueryBuf: c.srv.queryBufLimit.Load()}
}

// serve reads pipelines and answers them until the client leaves, errs or
// the server shuts down. Every reply of a pipeline goes out in one write.
func (c *client) serve() {
	defer c.srv.removeClient(c)
	defer c.recoverPanic()
	if !c.handshake() {
		return
	}
	c.serveCommands(nil, time.Time{})
}

// recoverPanic is the last line of defence, not the design: handlers
// validate their input. A panic here is a bug; keep serving everyone else.
func (c *client) recoverPanic() {
	if r := recover(); r != nil {
		c.logPanic(r)
	}
}

func (c *client) logPanic(r any) {
	c.srv.log.Error("panic while serving client; connection closed",
		zap.Any("panic", r), zap.String("client", c.addr), zap.ByteString("stack", debug.Stack()))
}

// serveCommands is the goroutine model's loop: args, when not nil, is a
// command already framed (an event loop handed the client over with it),
// which runs first. It returns true when it gave the client back to its
// event loop (handBack): the caller must not touch the client again.
//
// mark is when the next command starts: after a read that waited, a fresh
// clock reading; within a pipeline, the end of the command before it. One
// clock read per command serves latency, SLOWLOG and the store's clock
// alike.
func (c *client) serveCommands(args [][]byte, mark time.Time) (back bool) {
	for {
		if args == nil {
			var err error
			if args, err = c.rd.Next(); err != nil {
				if err == errHandBack {
					return true
				}
				c.readFailed(err)
				return false
			}
			if c.rd.Waited() {
				mark = time.Now()
			}
		}
		if !c.runOne(args, &mark) {
			return false
		}
		args = nil
		if c.closeAfterReply {
			c.flush()
			return false
		}
		if len(c.out) >= flushAt && !c.flush() {
			return false
		}
	}
}

// runOne runs one framed command and the pushes around it, and holds the
// pending replies to client-output-buffer-limit; false: close the client.
// Under the event loop dispatch may set handOver instead of running it.
func (c *client) runOne(args [][]byte, mark *time.Time) bool {
	// Pushes queued before this command go before its reply; those its
	// own run queued (its own changes, under tracking) after it.
	if c.push.pending.Load() {
		c.drainPushes()
	}
	start := len(c.out)
	*mark = c.srv.dispatch(c, args, *mark)
	if c.handOver != "" {
		return true
	}
	if c.track.on {
		c.afterTracked(args)
	}
	if c.push.pending.Load() {
		c.drainPushes()
	}
	if lim := c.srv.cfg.ClientOutputBufferLimit; lim > 0 && int64(len(c.out)) > lim && !c.outputOverLimit(start, lim) {
		return false
	}
	return true
}

// outputOverLimit handles a pending reply over client-output-buffer-limit
// after the command whose reply starts at out[start:]; false closes the
// client. A proxy's connection (CLIENT PROXY ON) carries other clients'
// replies, before this one and after: closing it would fail them all, so
// that command alone gets an error and the stream stays in step. The
// node's memory is protected the same either way: the reply was built
// and is dropped unsent, so marking a connection gains it nothing but the
// connection.
func (c *client) outputOverLimit(start int, lim int64) bool {
	n := len(c.out) - start
	if c.proxy && int64(n) <= lim {
		return true // the replies before it make the bulk; they are flushed
	}
	if !c.proxy {
		c.srv.log.Warn("client output buffer over limit; closing the client",
			zap.String("client", c.addr), zap.Int("bytes", len(c.out)), zap.Int64("limit", lim))
		c.srv.stats.outputLimitClosed.Add(1)
		return false
	}
	c.out = c.out[:start]
	c.err("ERR reply of " + strconv.Itoa(n) + " bytes exceeds client-output-buffer-limit (" + strconv.FormatInt(lim, 10) + " bytes)")
	c.srv.stats.outputLimitErrors.Add(1)
	c.srv.log.Warn("reply over client-output-buffer-limit on a proxy's connection; answered with an error",
		zap.String("client", c.addr), zap.Int("bytes", n), zap.Int64("limit", lim))
	return true
}

// readFailed answers a protocol error the way Redis does (an error reply,
// then close) and stays quiet about ordinary disconnects and idle timeouts.
func (c *client) readFailed(err error) {
	var pe *resp.ProtoError
	var qe *resp.QueryBufError
	switch {
	case errors.Is(err, errShuttingDown), c.writeErr != nil:
	case errors.As(err, &qe):
		// As Redis: logged, closed, no reply (the client is mid-command).
		c.srv.stats.queryLimitClosed.Add(1)
		c.srv.log.Warn("closing client that reached max query buffer length",
			zap.String("client", c.addr), zap.Int64("bytes", qe.Buffered), zap.Int64("limit", qe.Limit))
	case errors.As(err, &pe):
		c.srv.stats.protoErrors.Add(1)
		c.srv.log.Debug("protocol error; closing client", zap.String("client", c.addr), zap.Error(err))
		c.errReply("ERR " + err.Error())
		c.flush()
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
	case isTimeout(err):
		if !c.srv.closing.Load() {
			c.srv.log.Debug("closing idle client", zap.String("client", c.addr))
		}
	default:
		c.srv.log.Debug("client read failed", zap.String("client", c.addr), zap.Error(err))
	}
}

// flush writes the pending replies and reports whether the client is still
// usable. A client that takes none of them for the write limit (timeout,
// or stalledWriteLimit) is failed rather than left holding its goroutine.
func (c *client) flush() bool {
	if c.writeErr != nil {
		return false
	}
	c.takePushes()
	if len(c.out) == 0 {
		return true
	}
	// Large replies go out in slices, so that a slow reader that keeps
	// taking bytes is not mistaken for a stalled one.
	const slice = 1 << 20
	buf := c.out
	c.ioWait.Store(-time.Now().UnixNano())
	var err error
	for len(buf) > 0 && err == nil {
		var n int
		n, err = c.conn.Write(buf[:min(len(buf), slice)])
		c.netOut.Add(int64(n))
		buf = buf[n:]
		if n > 0 && len(buf) > 0 {
			c.ioWait.Store(-time.Now().UnixNano())
		}
		if err != nil && isTimeout(err) && !c.waitedOut(true) {
			err = nil
		}
	}
	c.ioWait.Store(0)
	c.resetOut()
	if err != nil {
		c.writeErr = err
		c.srv.log.Debug("client write failed", zap.String("client", c.addr), zap.Error(err))
		return false
	}
	return true
}

// takePushes runs before replies are written: the broadcast invalidations
// of what this pipeline changed go out now, to every BCAST client (this one
// too: after its replies), and this client's queued pushes join its
// replies.
func (c *client) takePushes() {
	if t := c.srv.track; t.dirty.Load() {
		t.broadcast()
	}
	if c.push.pending.Load() {
		c.drainPushes()
	}
}

// resetOut empties the written reply buffer.
func (c *client) resetOut() {
	if cap(c.out) > 4*flushAt {
		c.out = nil // give a huge reply's buffer back
	} else {
		c.out = c.out[:0]
	}
}

// Reply helpers. They append to c.out; RESP3 types are used after HELLO 3
// where RESP2 and RESP3 differ.

func (c *client) ok()                 { c.out = append(c.out, "+OK\r\n"...) }
func (c *client) simple(s string)     { c.out = redcon.AppendString(c.out, s) }
func (c *client) integer(n int64)     { c.out = redcon.AppendInt(c.out, n) }
func (c *client) bulk(b []byte)       { c.out = redcon.AppendBulk(c.out, b) }
func (c *client) bulkString(s string) { c.out = redcon.AppendBulkString(c.out, s) }
func (c *client) arrayHeader(n int)   { c.out = redcon.AppendArray(c.out, n) }
func (c *client) boolean(b bool)      { c.integer(b2i(b)) }
func (c *client) errReply(msg string) { c.out = redcon.AppendError(c.out, msg) }
func (c *client) arrayOfBulk(n []string) {
	c.arrayHeader(len(n))
	for _, s := range n {
		c.bulkString(s)
	}
}

// err sends an error reply and counts it by its first word for INFO and
// metrics.
func (c *client) err(msg string) {
	if !c.discovering {
		c.srv.countError(msg)
	}
	c.errReply(msg)
}

func (c *client) null() {
	if c.proto == 3 {
		c.out = append(c.out, "_\r\n"...)
		return
	}
	c.out = append(c.out, "$-1\r\n"...)
}

func (c *client) nullArray() {
	if c.proto == 3 {
		c.out = append(c.out, "_\r\n"...)
		return
	}
	c.out = append(c.out, "*-1\r\n"...)
}

// mapHeader starts a map of n pairs: a RESP3 map, or a flat array of 2n.
func (c *client) mapHeader(n int) {
	if c.proto == 3 {
		c.resp3Header('%', n)
		return
	}
	c.arrayHeader(2 * n)
}

// setHeader starts a set reply: a RESP3 set, or an array.
func (c *client) setHeader(n int) {
	if c.proto == 3 {
		c.resp3Header('~', n)
		return
	}
	c.arrayHeader(n)
}

// resp3Header writes an aggregate header of a RESP3-only type.
func (c *client) resp3Header(kind byte, n int) {
	c.out = append(c.out, kind)
	c.out = strconv.AppendInt(c.out, int64(n), 10)
	c.out = append(c.out, '\r', '\n')
}

// verbatim sends a text blob: a RESP3 verbatim string ("txt"), or a bulk.
func (c *client) verbatim(s []byte) {
	if c.proto == 3 {
		c.out = append(c.out, '=')
		c.out = strconv.AppendInt(c.out, int64(len(s)+4), 10)
		c.out = append(c.out, "\r\ntxt:"...)
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.bulk(s)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
