//go:build linux

package server

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
	"github.com/relcache/relcache/internal/resp"
)

// The event loop (io-model eventloop). Under the goroutine model a request
// at pipeline 1 costs read (the command), write (the reply), read (EAGAIN)
// and a park in Go's poller: a goroutine cannot wait for readiness without
// trying a read first, because the poller clears readiness before each
// attempt. Redis pays epoll_wait, read and write. Here each loop is one
// goroutine over one level-triggered epoll set; on readiness it reads once
// into the client's command reader, runs every complete command through
// the same dispatch and reply helpers as a goroutine would, and writes the
// replies with one non-blocking write; a command cut off by the read's end
// waits in the reader for the next readiness.
//
// The loop never waits on anything but epoll. A client that would make it
// wait is handed over to a goroutine running the goroutine
// model's loop on the same client, reader and pending replies (handOver):
// a command outside flagLoop (EXEC, pub/sub, CLIENT, CONFIG, SAVE, FOLLOW,
// ...) or one that missed and needs a fill, which its goroutine runs again
// from the top; a reply the socket does not take at once (the goroutine
// flushes it with the write limits of the goroutine model); a protocol
// error (the goroutine answers it and closes); a push queued by another
// goroutine. Other goroutines reach a client only through its net.Conn
// (deadlines and Close: CLIENT KILL, clientsCron's timeouts, shutdown,
// push wake-ups), so a loop client's conn is a loopConn (an evloop.Conn,
// as the proxy's loop has) that turns those into wake-ups of its loop
// while the loop has it, and passes them to the real connection once it
// was handed over. The goroutine gives the client back to its loop
// (handBack) when it would block reading with nothing pending and nothing
// the loop cannot do (no subscriptions, no tracking, no open MULTI): a
// client is never served by both at once, because the goroutine returns
// as soon as it has queued the client on the loop.
//
// The socket is taken out of Go's poller when the client is adopted (a
// duplicate of the accepted descriptor is kept, the net.Conn closed), so
// the runtime's own epoll does not also wake for it; a hand-over gives it
// back with net.FileConn.

// defaultIOModel is io-model's default on Linux: the event loop spends
// less CPU per request than the goroutine model (docs/benchmarks.md, "Node
// per-request cost (issue 19 item 1)"), and since handBack a client pays
// the goroutine model only while it needs it.
const defaultIOModel = IOEventLoop

// ioLoops are a server's event loops, one per GOMAXPROCS; clients are dealt
// to them in turn.
type ioLoops struct {
	loops []*ioLoop
	next  atomic.Uint32
}

func newIOLoops(s *Server, n int) (*ioLoops, error) {
	ls := &ioLoops{}
	for range n {
		l, err := newIOLoop(s)
		if err != nil {
			ls.stop()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
		go l.run()
	}
	return ls, nil
}

// stop ends the loops; their clients are gone (Serve waited for them).
func (ls *ioLoops) stop() {
	for _, l := range ls.loops {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.signal()
	}
}

// wrap returns a loopConn for a plaintext TCP connection, which it takes
// out of Go's poller, or nc unchanged (TLS, or the descriptor could not be
// duplicated: the goroutine model serves it).
func (ls *ioLoops) wrap(nc net.Conn) net.Conn {
	lc := &loopConn{}
	ec, ok := evloop.Take(nc, lc.wake)
	if !ok {
		return nc
	}
	lc.Conn = ec
	lc.l = ls.loops[int(ls.next.Add(1))%len(ls.loops)]
	return lc
}

// ioLoop is one event loop. Only its goroutine touches conns and the
// clients in it.
type ioLoop struct {
	srv   *Server
	p     *evloop.Poller
	epfd  int // p's epoll set
	conns map[int32]*loopConn

	mu      sync.Mutex // guards adds, woken, stopped
	adds    []*loopConn
	woken   []*loopConn
	stopped bool
}

func newIOLoop(s *Server) (*ioLoop, error) {
	p, err := evloop.NewPoller()
	if err != nil {
		return nil, err
	}
	return &ioLoop{srv: s, p: p, epfd: p.Epfd, conns: map[int32]*loopConn{}}, nil
}

// signal wakes the loop to look at adds, woken and stopped.
func (l *ioLoop) signal() { l.p.Signal() }

// run is the loop. It parks through Go's poller (evloop.Poller.Run),
// never blocking a thread in epoll_wait.
func (l *ioLoop) run() {
	ready := func(fd int32) {
		if lc := l.conns[fd]; lc != nil {
			l.ready(lc)
		}
	}
	if err := l.p.Run(ready, nil, l.wakeups); err != nil {
		l.srv.log.Error("event loop: waiting for events failed; the loop stops", zap.Error(err))
	}
}

// wakeups adopts new clients and looks at the clients other goroutines
// woke; false when the loop is to stop.
func (l *ioLoop) wakeups() bool {
	l.mu.Lock()
	adds, woken, stopped := l.adds, l.woken, l.stopped
	l.adds, l.woken = nil, nil
	l.mu.Unlock()
	for _, lc := range adds {
		l.add(lc)
	}
	for _, lc := range woken {
		// A wake-up queued before a hand-over may be looked at after
		// the client's goroutine handed it back (and changed lc.Fd).
		if fd := lc.LockedFd(); fd >= 0 && l.conns[int32(fd)] == lc {
			l.woke(lc)
		}
	}
	return !stopped
}

func (l *ioLoop) add(lc *loopConn) {
	if lc.Closed() {
		l.drop(lc)
		return
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lc.Fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lc.Fd)}); err != nil {
		l.srv.log.Warn("event loop: epoll_ctl failed; the client is served by a goroutine", zap.Error(err))
		l.handOver(lc, "epoll_ctl failed", nil, false, nil)
		return
	}
	l.conns[int32(lc.Fd)] = lc
	lc.c.inLoop = true
	l.srv.stats.loopClients.Add(1)
}

// forget takes a client out of the loop's set, if it is in it.
func (l *ioLoop) forget(lc *loopConn) {
	if l.conns[int32(lc.Fd)] == lc {
		delete(l.conns, int32(lc.Fd))
		l.srv.stats.loopClients.Add(-1)
	}
	lc.c.inLoop = false
}

// woke handles a client another goroutine set a deadline on or closed:
// killed, the server shutting down, a push to deliver, or clientsCron
// checking an idle client.
func (l *ioLoop) woke(lc *loopConn) {
	c := lc.c
	switch {
	case lc.Closed() || c.srv.closing.Load():
		l.drop(lc)
	case c.push.pending.Load():
		l.handOver(lc, "a push", nil, false, nil)
	case c.waitedOut(false):
		c.srv.log.Debug("closing idle client", zap.String("client", c.addr))
		l.drop(lc)
	}
}

// ready serves a client whose socket is readable: one read, every
// complete command, one write.
func (l *ioLoop) ready(lc *loopConn) {
	c := lc.c
	defer func() {
		if r := recover(); r != nil {
			c.logPanic(r)
			l.drop(lc)
		}
	}()
	lc.Readable = true
	for {
		args, err := c.rd.Next()
		if err != nil {
			switch {
			case err == errWouldBlock:
				return
			case err == errHandOver:
				l.handOver(lc, "replies the socket did not take at once", nil, false, nil)
			case isProtoError(err) && c.writeErr == nil:
				l.handOver(lc, "a protocol error", nil, false, err) // its goroutine answers and closes
			default:
				c.readFailed(err)
				l.drop(lc)
			}
			return
		}
		if c.rd.Waited() {
			lc.mark = time.Now()
		}
		if !c.runOne(args, &lc.mark) {
			l.drop(lc)
			return
		}
		if c.handOver != "" {
			why := "command " + c.handOver
			c.handOver = ""
			l.handOver(lc, why, args, false, nil)
			return
		}
		if c.closeAfterReply || len(c.out) >= flushAt {
			switch err := c.loopWrite(); {
			case err == errHandOver:
				l.handOver(lc, "replies the socket did not take at once", nil, c.closeAfterReply, nil)
				return
			case err != nil || c.closeAfterReply:
				l.drop(lc)
				return
			}
		}
	}
}

// isProtoError is apart from ready so that its target, which escapes,
// is allocated only when there is an error to look at.
func isProtoError(err error) bool {
	var pe *resp.ProtoError
	return errors.As(err, &pe)
}

// drop closes a client the loop has and forgets it.
func (l *ioLoop) drop(lc *loopConn) {
	c := lc.c
	l.forget(lc)
	if lc.Fd >= 0 {
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.Fd, nil)
	}
	lc.Drop()
	c.srv.removeClient(c)
}

// handOver moves a client from the loop to a goroutine of its own, which
// runs pending first (a command dispatch would not run here), or answers
// failErr, or, with closeAfter, writes what is pending and closes.
func (l *ioLoop) handOver(lc *loopConn, why string, pending [][]byte, closeAfter bool, failErr error) {
	c := lc.c
	c.srv.log.Debug("event loop: client handed over to a goroutine", zap.String("client", c.addr), zap.String("why", why))
	l.forget(lc)
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.Fd, nil)
	// Deadlines set on the loop were wake-ups, answered (woke); the
	// goroutine's connection starts without one.
	lc.SetReadDeadline(time.Time{})
	if ok, err := lc.HandOver(); !ok {
		if err != nil {
			c.srv.log.Warn("event loop: could not hand a client over; closing it", zap.String("client", c.addr), zap.Error(err))
		}
		c.srv.removeClient(c)
		return
	}
	c.handedOver, c.loopRun = true, 0
	c.srv.stats.handOvers.Add(1)
	c.srv.stats.handedOverClients.Add(1)
	go c.serveHandedOver(pending, lc.mark, closeAfter, failErr)
}

// serveHandedOver is a client's goroutine after its event loop let it go.
// It ends when the client leaves, or when it gave the client back to its
// loop (handBack), after which it touches nothing of it.
func (c *client) serveHandedOver(pending [][]byte, mark time.Time, closeAfter bool, failErr error) {
	back := false
	defer func() {
		if !back {
			c.srv.stats.handedOverClients.Add(-1)
			c.srv.removeClient(c)
		}
	}()
	defer c.recoverPanic()
	switch {
	case failErr != nil:
		c.readFailed(failErr)
	case closeAfter:
		c.flush()
	default:
		back = c.serveCommands(pending, mark)
	}
}

// handBackAfter is how many commands the loop could run a handed-over
// client must have sent since the last one it could not before it goes
// back: a hand-over and a hand-back cost a duplicated descriptor, two
// epoll_ctl calls and a goroutine each, so a client that sends EXEC or
// INFO every few commands (a transaction on every request) stays on its
// goroutine, while one that sent CONFIG GET or INFO once at connect goes
// back after a few requests.
const handBackAfter = 16

// countLoopRun keeps loopRun for a handed-over client's command.
func (c *client) countLoopRun(cmd *command) {
	if cmd.flags&flagLoop == 0 {
		c.loopRun = 0
	} else {
		c.loopRun++
	}
}

// mayHandBack reports whether a handed-over client, about to wait for its
// next command with its replies written, needs nothing the loop cannot
// give it: handBackAfter commands the loop could run since the last it
// could not, no bytes of a command read (the loop would frame them too,
// but a client mid-command is rare and the goroutine is already here), no
// open MULTI, no subscriptions or tracking (pushes from other goroutines
// would hand it over again at once; a tracking redirect's target is a
// subscriber), nothing left to push, not closing.
func (c *client) mayHandBack() bool {
	return c.loopRun >= handBackAfter && c.writeErr == nil && len(c.out) == 0 && c.rd.Buffered() == 0 &&
		!c.closeAfterReply && c.tx == nil && !c.track.on && !c.ps.active && !c.push.pending.Load() &&
		!c.srv.closing.Load()
}

// handBack gives a handed-over client back to its event loop when it
// would otherwise block reading with nothing pending (beforeRead), so a
// client that once needed its own goroutine (CONFIG GET or INFO at
// connect, CLIENT TRACKING off again, a fill, one slow write) is not
// served the expensive way for the rest of its life. errHandBack: the loop
// has the client now, and the caller must return without touching it;
// nil: carry on reading here.
//
// The socket goes back as it came (evloop.Conn.HandBack), under the
// connection's lock, which Close and the deadline setters take: one of
// those that comes before reaches the goroutine's connection (a Close
// makes the duplicate fail, and the client stays here to see its read
// fail; a push wake-up's pending flag is seen by may), one that comes
// after finds the loop's and wakes the loop, whose adds it is queued
// behind.
func (c *client) handBack() error {
	if !c.mayHandBack() {
		return nil
	}
	lc := c.conn.(*loopConn)
	l := lc.l
	may := func() bool { return !c.push.pending.Load() }
	queue := func() {
		c.handedOver = false
		c.srv.stats.handBacks.Add(1)
		c.srv.stats.handedOverClients.Add(-1)
		c.srv.log.Debug("event loop: client handed back to its loop", zap.String("client", c.addr))
		// From here on the loop owns the client.
		l.mu.Lock()
		l.adds = append(l.adds, lc)
		l.mu.Unlock()
		l.signal()
	}
	if !lc.HandBack(may, queue) {
		return nil
	}
	return errHandBack
}

// loopBeforeRead is beforeRead on an event loop: write the pending
// replies without waiting (errHandOver when the socket does not take them
// all), and start the idle clock.
func (c *client) loopBeforeRead() error {
	if err := c.loopWrite(); err != nil {
		return err
	}
	if c.srv.closing.Load() {
		return errShuttingDown
	}
	// The wait began when the last event ended, not at this one's start.
	if c.ioWait.Load() == 0 {
		c.ioWait.Store(time.Now().UnixNano())
	}
	return nil
}

// loopWrite writes the pending replies without waiting. What the socket
// does not take stays at the front of c.out, for the goroutine the client
// is handed over to (errHandOver).
func (c *client) loopWrite() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	c.takePushes()
	if len(c.out) == 0 {
		return nil
	}
	n, err := c.conn.(*loopConn).WriteNow(c.out)
	c.netOut.Add(int64(n))
	switch {
	case err == errWouldBlock:
		c.out = c.out[:copy(c.out, c.out[n:])]
		return errHandOver
	case err != nil:
		c.writeErr = err
		c.srv.log.Debug("client write failed", zap.String("client", c.addr), zap.Error(err))
		return err
	}
	c.resetOut()
	return nil
}

// loopConn is a client's connection while an event loop serves it, and a
// thin wrapper of the real one after a hand-over (evloop.Conn), with what
// the node's loop keeps beside it.
type loopConn struct {
	*evloop.Conn
	l    *ioLoop
	c    *client
	mark time.Time // the next command's start (serveCommands' mark); the loop's
}

// start gives the connection's client to its loop.
func (lc *loopConn) start(c *client) {
	lc.c = c
	lc.l.mu.Lock()
	lc.l.adds = append(lc.l.adds, lc)
	lc.l.mu.Unlock()
	lc.l.signal()
}

// wake asks the loop to look at the client (woke): evloop.Conn's Close
// and SetReadDeadline call it while the loop has the client, for CLIENT
// KILL, removeClient, shutdown, clientsCron and push wake-ups.
func (lc *loopConn) wake() {
	lc.l.mu.Lock()
	lc.l.woken = append(lc.l.woken, lc)
	lc.l.mu.Unlock()
	lc.l.signal()
}
