//go:build linux

package proxyfront

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
)

// The event loop (io_model eventloop). Under the goroutine model a GET at
// pipeline 1 costs the proxy: the client's read, a read that finds nothing
// (EAGAIN) before Go's poller parks the client's goroutine, a park and a
// wake-up when the backend's reader delivers the reply, and the client
// write. Here each loop is one goroutine over one level-triggered epoll set
// (internal/evloop, shared with the node's loop): on readiness it reads a
// client once, starts every complete command through the same code as a
// goroutine would (handle: start, send), and hands the backend connections
// it queued commands on to their writers once per turn, so one backend
// write carries the commands of every client of the turn. Nothing in the
// loop waits: the replies are written by whoever completes a client's head
// command, usually the backend's reader, with one non-blocking write once
// every started command of the client is answered (drainLocked).
//
// A client that would make anyone wait is handed over, for good, to a
// goroutine running the goroutine model's loop on the same client (its
// reader, started commands and unwritten replies): a command outside the
// loop's list (MULTI, WATCH, QUIT, AUTH, CLIENT, INFO, split and composed
// commands: whatever may wait inside its handler or in its turn), a read
// to retry on another pool, a reply the socket does not take at once, a
// pipeline past maxPending or flushAt, a protocol or read error, a
// shutdown. This is the simplest correct design: the loop serves the
// single-key commands that are nearly all of a cache's traffic, and every
// rarer path is today's code unchanged. TLS clients and the memcache and
// HTTP entries are served by goroutines.
//
// With the L1 on (l1.go), the loop answers an L1 hit (GET, RELMULTI,
// RELCHECK) inline in handle, as a goroutine would, and forwards a miss as
// any command; a RELCHECK across nodes is a joinOp, which the drain
// finishes once its calls are answered. The L1's exactness rules hold on
// the loop because none of them depends on who runs the client:
//
//   - A read served from the L1 is a lookup, synchronous in handle, of an
//     entry the tracked connection's reader inserted and deletes in the
//     node's stream order; the loop neither keeps nor delays a looked-up
//     entry, so a read the loop starts after an invalidation was applied
//     cannot find the old value, exactly as on a goroutine.
//   - A write's reply waits for the write barrier (l1Sync: a PING on the
//     tracked connection of every node written, and its PONG) before it
//     is sent. The loop never waits, so a client whose command is a write
//     (handle sets c.l1.writing) is handed over to a goroutine before
//     anything of it is written, and its goroutine runs the barrier in
//     write as before. Its reads pipelined after the write are no longer
//     the loop's. The acknowledgement any other client can see is still
//     sent after the barrier, so a loop-served read that starts after it
//     finds the key gone.
//   - Loss (tracked connection or barrier) bumps the node's epoch, which
//     every lookup compares: a loop's next lookup after it misses.
//
// TestL1LoopReadsBesideWrites runs loop-served readers beside writers;
// TestEventLoopConnectionBehaviours runs TestL1NeverStale on the loop.

// pxLoops are the proxy's event loops, one per GOMAXPROCS; clients are
// dealt to them in turn.
type pxLoops struct {
	loops []*pxLoop
	next  atomic.Uint32
	quit  chan struct{} // closed by stop: ends the idle sweep
}

func newPxLoops(p *Proxy, n int) (*pxLoops, error) {
	ls := &pxLoops{quit: make(chan struct{})}
	go ls.sweepIdle(p)
	for range n {
		poll, err := evloop.NewPoller()
		if err != nil {
			ls.stop()
			return nil, err
		}
		l := &pxLoop{p: p, poll: poll, conns: map[int32]*client{}, backs: map[int32]*loopBackend{}}
		if p.loopBackends {
			poll.Idle = l.flushDirty
		}
		ls.loops = append(ls.loops, l)
		go l.run()
	}
	return ls, nil
}

// stop ends the loops; their clients are gone or handed over.
func (ls *pxLoops) stop() {
	close(ls.quit)
	for _, l := range ls.loops {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.poll.Signal()
	}
}

// sweepIdle closes loop clients idle for client_timeout: nothing read from
// them or written to them for that long, and nothing started. (A goroutine
// client's read deadline does this under the goroutine model.)
func (ls *pxLoops) sweepIdle(p *Proxy) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ls.quit:
			return
		case <-tick.C:
		}
		t := p.cfgNow().ClientTimeout.Duration
		if t <= 0 {
			continue
		}
		now := time.Now().UnixNano()
		p.conns.Range(func(k, _ any) bool {
			c := k.(*client)
			lp := c.lp
			if lp == nil {
				return true
			}
			if a := lp.active.Load(); a == 0 || now-a < int64(t) {
				return true
			}
			lp.mu.Lock()
			if lp.onLoop && len(c.pending) == 0 && len(c.out) == 0 {
				p.log.Debug("closing idle client", zap.Uint64("client", c.id), zap.Duration("client_timeout", t))
				lp.ec.Close() // the loop drops it
			}
			lp.mu.Unlock()
			return true
		})
	}
}

// adopt gives a new plaintext TCP client to a loop; false when nc is not
// one (or its socket could not be taken): a goroutine serves it.
func (ls *pxLoops) adopt(nc net.Conn) bool {
	l := ls.loops[int(ls.next.Add(1))%len(ls.loops)]
	lp := &loopState{l: l}
	ec, ok := evloop.Take(nc, func() { l.wake(lp) })
	if !ok {
		return false
	}
	lp.ec = ec
	p := l.p
	c := p.newClient(ec, p.nextID.Add(1))
	c.lp, lp.c = lp, c
	lp.onLoop = true
	l.clients.Add(1)
	p.clientStarted(c)
	l.mu.Lock()
	l.adds = append(l.adds, lp)
	l.mu.Unlock()
	l.poll.Signal()
	return true
}

// pxLoop is one event loop. Only its goroutine touches conns and dirty.
type pxLoop struct {
	p     *Proxy
	poll  *evloop.Poller
	conns map[int32]*client
	dirty []*bconn // backend connections this turn queued commands on
	turns int      // turns since the last flushDirty (endTurn)
	// backs are the backend connections the loop reads and writes
	// (io_model eventloop-backends: loopbackend_linux.go), by the loop's
	// duplicate of their descriptor. Only the loop's goroutine touches it.
	backs map[int32]*loopBackend

	mu       sync.Mutex // guards adds, backAdds, woken, stopped
	adds     []*loopState
	backAdds []*loopBackend // dialled for the loop's clients, to add to backs
	woken    []*loopState
	stopped  bool

	// clients on the loop now, and clients it handed over: INFO's
	// loop_clients and loop_handovers.
	clients, handovers atomic.Int64
}

// info writes INFO's event loop fields (the Clients section).
func (ls *pxLoops) info(field func(k string, v any)) {
	var clients, handovers int64
	for _, l := range ls.loops {
		clients += l.clients.Load()
		handovers += l.handovers.Load()
	}
	field("loop_clients", clients)
	field("loop_handovers", handovers)
}

// leave takes a client off the loop's count (lp.mu held, lp.onLoop set).
func (l *pxLoop) leave(lp *loopState) {
	lp.onLoop = false
	l.clients.Add(-1)
}

// loopState is a client's while an event loop serves it.
type loopState struct {
	l  *pxLoop
	c  *client
	ec *evloop.Conn

	// mu guards the client's serving state while it is on the loop (its
	// reader, pending, out and the counts of out), which the loop and the
	// backends' readers (drainLocked) share, and onLoop and ec.Fd.
	mu sync.Mutex
	// onLoop: the loop serves the client; once false (a hand-over), its
	// goroutine does and nobody else touches its state.
	onLoop bool
	// drain asks mu's holder to drain before it lets go (kickDrain).
	drain atomic.Bool
	// handBack: a drain found the client must go on on a goroutine (a
	// reply the socket did not take whole, a read to retry); the loop
	// hands it over when woken, and nothing is drained meanwhile.
	handBack bool
	// active is when the client last sent or was sent bytes (unix nanos),
	// kept only while client_timeout is on: the loops' idle sweep.
	active atomic.Int64
}

func (l *pxLoop) wake(lp *loopState) {
	l.mu.Lock()
	l.woken = append(l.woken, lp)
	l.mu.Unlock()
	l.poll.Signal()
}

func (l *pxLoop) run() {
	ready := func(fd int32) {
		if c := l.conns[fd]; c != nil {
			l.ready(c)
		} else if lb := l.backs[fd]; lb != nil {
			l.backendReady(lb)
		}
	}
	if err := l.poll.Run(ready, l.endTurn, l.wakeups); err != nil {
		l.p.log.Error("event loop: waiting for events failed; the loop stops", zap.Error(err))
	}
}

// endTurn flushes what the turn queued (flushDirty); under
// eventloop-backends only every flushTurns turns, since the loop flushes
// whenever it finds nothing more ready (Poller.Idle): a node write then
// carries what every turn of a burst queued, as the writer goroutine's
// yield gathers under eventloop, and the loop is never more than a few
// turns behind under a load that never lets it idle.
func (l *pxLoop) endTurn() {
	if l.p.loopBackends {
		if l.turns++; l.turns < flushTurns {
			return
		}
	}
	l.flushDirty()
}

// flushTurns: see endTurn.
const flushTurns = 4

// flushDirty ends a turn: one write per backend connection for every
// command the turn started, by the connection's writer goroutine, so the
// loop never waits on a node's socket; or, under eventloop-backends, by
// the loop itself with one non-blocking write (flushBackend).
func (l *pxLoop) flushDirty() {
	for i, bc := range l.dirty {
		if l.p.loopBackends {
			bc.flushBackend()
		} else {
			bc.wake()
		}
		l.dirty[i] = nil
	}
	l.dirty = l.dirty[:0]
	l.turns = 0
}

// wakeups adopts new clients and looks at those other goroutines woke;
// false when the loop is to stop.
func (l *pxLoop) wakeups() bool {
	l.mu.Lock()
	adds, backAdds, woken, stopped := l.adds, l.backAdds, l.woken, l.stopped
	l.adds, l.backAdds, l.woken = nil, nil, nil
	l.mu.Unlock()
	for _, lp := range adds {
		l.add(lp)
	}
	for _, lb := range backAdds {
		l.addBackend(lb)
	}
	for _, lp := range woken {
		if lp.ec.Fd >= 0 && l.conns[int32(lp.ec.Fd)] == lp.c {
			l.woke(lp)
		}
	}
	if stopped {
		// Every client is gone or handed over; what endTurn left queued
		// goes out now, and what is still in flight on a backend
		// connection the loop reads is read by a goroutine from now on.
		l.flushDirty()
		for _, lb := range l.backs {
			l.handBack(lb)
		}
	}
	return !stopped
}

func (l *pxLoop) add(lp *loopState) {
	if lp.ec.Closed() {
		l.drop(lp)
		return
	}
	if err := unix.EpollCtl(l.poll.Epfd, unix.EPOLL_CTL_ADD, lp.ec.Fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lp.ec.Fd)}); err != nil {
		l.p.log.Warn("event loop: epoll_ctl failed; the client is served by a goroutine", zap.Error(err))
		lp.mu.Lock()
		l.handOver(lp, "epoll_ctl failed", nil, nil)
		lp.mu.Unlock()
		return
	}
	l.conns[int32(lp.ec.Fd)] = lp.c
	if l.p.cfgNow().ClientTimeout.Duration > 0 {
		lp.active.Store(time.Now().UnixNano())
	}
}

// woke handles a client another goroutine closed (its output limit, the
// idle sweep, shutdown's last resort), set a read deadline on (shutdown:
// its goroutine finishes what it started and stops), or whose reply a
// drain could not write at once.
func (l *pxLoop) woke(lp *loopState) {
	lp.mu.Lock()
	defer lp.unlock()
	switch {
	case !lp.onLoop:
	case lp.ec.Closed():
		l.drop(lp)
	case !lp.ec.ReadDeadline().IsZero():
		l.handOver(lp, "a read deadline (shutdown)", nil, nil)
	case lp.handBack:
		l.handOver(lp, "replies the socket did not take at once", nil, nil)
	}
}

// ready serves a client whose socket is readable: one read, every complete
// command started, and whatever replies are ready written.
func (l *pxLoop) ready(c *client) {
	lp := c.lp
	lp.mu.Lock()
	defer lp.unlock()
	if !lp.onLoop {
		return
	}
	if lp.ec.Closed() || c.dead.Load() {
		l.drop(lp)
		return
	}
	if lp.handBack {
		l.handOver(lp, "replies the socket did not take at once", nil, nil)
		return
	}
	lp.ec.Readable = true
	if l.p.cfgNow().ClientTimeout.Duration > 0 {
		lp.active.Store(time.Now().UnixNano())
	}
	for {
		args, err := c.rd.Next()
		if err != nil {
			switch {
			case err == evloop.ErrWouldBlock:
			case errors.Is(err, io.EOF) && len(c.pending) == 0 && len(c.out) == 0:
				l.drop(lp)
				return
			default:
				// Its goroutine finishes what was started, then answers
				// (a protocol error) or closes.
				l.handOver(lp, "a read error", nil, err)
				return
			}
			break
		}
		if c.tx != nil || c.watch != nil || !l.p.loopServes(args[0], c.scratch) {
			l.handOver(lp, "command "+string(args[0]), args, nil)
			return
		}
		from := len(c.pending)
		c.handle(args)
		if c.l1.writing {
			// The L1's write barrier waits for the nodes' PONGs before
			// the write's reply is sent (l1Sync): a goroutine's work.
			l.handOver(lp, "a write while the L1 is on", nil, nil)
			return
		}
		for _, o := range c.pending[from:] {
			switch o.(type) {
			case *call, fixedReply, joinOp:
			default:
				// A command that finishes in its turn by waiting.
				l.handOver(lp, "a command that waits in its turn", nil, nil)
				return
			}
		}
		if len(c.pending) >= maxPending || len(c.out) >= flushAt || c.held.Load() >= flushAt {
			l.handOver(lp, "a long pipeline", nil, nil)
			return
		}
	}
	for i, bc := range c.dirty {
		l.dirty = addConn(l.dirty, bc)
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
	for i, bc := range c.dirtyCopies {
		l.dirty = addConn(l.dirty, bc)
		c.dirtyCopies[i] = nil
	}
	c.dirtyCopies = c.dirtyCopies[:0]
	c.drainLocked()
}

// loopServes reports whether a command is one an event loop runs: routed
// by its key(s) to one node, refused, or answered at once here. Unknown
// names are answered at once too (handle's error).
func (p *Proxy) loopServes(name, buf []byte) bool {
	cmd := p.lookup(name, buf[:0])
	return cmd == nil || cmd.loop
}

// handOver moves a client from the loop to a goroutine of its own (lp.mu
// held), which runs first (a command not run here), or finishes what was
// started and ends on readErr, or goes on serving.
func (l *pxLoop) handOver(lp *loopState, why string, first [][]byte, readErr error) {
	c := lp.c
	l.p.log.Debug("event loop: client handed over to a goroutine", zap.Uint64("client", c.id), zap.String("why", why))
	l.leave(lp)
	l.handovers.Add(1)
	fd := lp.ec.Fd
	delete(l.conns, int32(fd))
	unix.EpollCtl(l.poll.Epfd, unix.EPOLL_CTL_DEL, fd, nil)
	ok, err := lp.ec.HandOver()
	if !ok {
		if err != nil {
			l.p.log.Warn("event loop: could not hand a client over; closing it", zap.Uint64("client", c.id), zap.Error(err))
		}
		c.dead.Store(true)
		c.dropWatch()
		l.p.clientEnded(c)
		return
	}
	go func() {
		defer l.p.clientEnded(c)
		c.serveFrom(first, readErr)
	}()
}

// drop closes a client the loop has (lp.mu held, or the client not yet
// seen by anyone else) and forgets it.
func (l *pxLoop) drop(lp *loopState) {
	c := lp.c
	if lp.onLoop {
		l.leave(lp)
	}
	c.dead.Store(true) // replies still on their way are for nobody
	if fd := lp.ec.Fd; fd >= 0 {
		delete(l.conns, int32(fd))
		unix.EpollCtl(l.poll.Epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	lp.ec.Drop()
	c.dropWatch()
	// Started commands' calls are finished by their backends; nobody
	// waits for them, and a call is released only by its waiter, so they
	// are left to the garbage collector.
	l.p.clientEnded(c)
}

// kickDrain offers a client on a loop a drain: its head commands may be
// answered now (call.complete). Whoever holds lp.mu drains before letting
// go; nobody waits for it.
func (c *client) kickDrain() {
	lp := c.lp
	lp.drain.Store(true)
	lp.tryDrain()
}

// unlock lets go of lp.mu, draining first if someone asked meanwhile.
func (lp *loopState) unlock() {
	lp.mu.Unlock()
	lp.tryDrain()
}

func (lp *loopState) tryDrain() {
	for lp.drain.Load() && lp.mu.TryLock() {
		lp.drain.Store(false)
		lp.c.drainLocked()
		lp.mu.Unlock()
	}
}

// drainLocked appends the replies of the client's answered head commands,
// in order, and once every started command is answered (or flushAt bytes
// are waiting) writes them with one non-blocking write. A write the socket
// does not take whole hands the client over to a goroutine, which writes
// the rest under client_write_timeout. lp.mu is held.
func (c *client) drainLocked() {
	lp := c.lp
	if !lp.onLoop || c.dead.Load() {
		return
	}
	done := 0
	for _, o := range c.pending {
		if k, ok := o.(*call); ok {
			select {
			case <-k.done:
			default:
				goto answered
			}
			if k.err != nil && k.read && k.pool+1 < len(k.t.reads) {
				// A read to retry on the next pool: its goroutine does.
				k.done <- struct{}{}
				lp.handBack = true
				lp.l.wake(lp)
				break
			}
			k.emit(c, "forward")
			k.release()
		} else if j, ok := o.(joinOp); ok {
			ready, retry := j.ready()
			if !ready {
				break
			}
			if retry {
				// A sub-request to retry on the next pool: its
				// goroutine does (await).
				lp.handBack = true
				lp.l.wake(lp)
				break
			}
			j.finish(c)
		} else {
			o.finish(c)
		}
		done++
		if !c.countOut() {
			break // over its output limit: closed (kill), the loop drops it
		}
	}
answered:
	if done > 0 {
		clear(c.pending[:done])
		c.pending = c.pending[:copy(c.pending, c.pending[done:])]
	}
	if c.dead.Load() || lp.handBack || len(c.out) == 0 || (len(c.pending) > 0 && len(c.out) < flushAt) {
		return
	}
	n, err := lp.ec.WriteNow(c.out)
	if n > 0 {
		c.held.Add(-int64(n))
		c.outHeld -= n
		if lp.active.Load() != 0 {
			lp.active.Store(time.Now().UnixNano())
		}
	}
	switch {
	case err == nil:
		if cap(c.out) > 1<<20 {
			c.out = nil
		} else {
			c.out = c.out[:0]
		}
		if len(c.pending) == 0 {
			c.held.Store(0) // as collect: nothing is started, nothing held
		}
	case err == evloop.ErrWouldBlock:
		c.out = c.out[:copy(c.out, c.out[n:])]
		lp.handBack = true
		lp.l.wake(lp)
	default:
		c.p.log.Debug("client write failed", zap.Uint64("client", c.id), zap.Error(err))
		c.dead.Store(true)
		lp.ec.Close() // the loop drops it
	}
}
