//go:build linux

package proxyfront

import (
	"io"
	"net"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
	"github.com/relcache/relcache/internal/resp"
)

// Under io_model eventloop-backends the event loops also do the I/O of the
// backend connections their clients dial, as nutcracker's one loop does:
// the socket is in the loop's epoll set; at the end of a turn the loop
// writes what the turn queued on it with one non-blocking write, and when
// epoll says the socket is readable it reads it once, frames the replies
// and delivers them (bconn.replied), which writes the clients' replies
// (drainLocked) — no reader or writer goroutine is woken per request, and
// none of the system calls goes through Go's scheduler (which wakes sysmon:
// docs/benchmarks.md, "The proxy's event loop at memtier's pace").
//
// Only the common case moves to the loop; everything else stays where it
// was:
//   - what the socket does not take at once goes to the connection's
//     writer goroutine, as under eventloop (bc.writing orders the writers:
//     only its holder writes, the loop's non-blocking write included);
//   - the watchdog times the connection by readProgress, which the loop
//     keeps as a reader waiting in one long Read would (seq odd while the
//     loop owns the reads, bumped by two on every read that brings bytes);
//   - a failure from anywhere (the watchdog's timeout, a reload's removal,
//     shutdown, a write error) is failLocked, which shuts the socket down so
//     that the loop, woken by the hang-up, lets its descriptor go;
//   - clients handed over to goroutines (MULTI, composed commands, ...)
//     queue on the same connection and wait on their calls as before: the
//     loop delivers their replies as the reader goroutine would;
//   - connections dialled for a goroutine's client (enqueue's own dial),
//     clients' dedicated (WATCH) connections and TLS ones keep their
//     goroutines;
//   - when a loop stops (shutdown, after every client is done) it hands
//     each connection it reads back to a reader goroutine, with the
//     replies half-read, for good.
//
// Who reads (the invariant): a connection generation's reads have exactly
// one owner for its whole life. bc.lb == lb, under bc.mu, means loop lb.l
// owns the reads of generation lb.gen: only that loop's goroutine calls
// lb.rr.Next, and no reader goroutine exists for lb.gen. A reader goroutine
// is started for a generation only when no loop took it (dialNow) or after
// the loop gave it up under bc.mu (handBack), never both. lb.fd, the loop's
// duplicate of the socket's descriptor, is closed only by lb.l, after
// bc.lb != lb under bc.mu and after taking it out of its epoll set; any
// other goroutine uses it (a write, a shutdown) only under bc.mu while
// bc.lb == lb, so it never touches a closed or reused descriptor.
type loopBackend struct {
	l   *pxLoop
	bc  *bconn
	gen int
	fd  int
	nc  net.Conn // the connection's own, for a hand-back
	rr  *resp.ReplyReader
	// readable: the one read of this readiness is not spent (as
	// evloop.Conn's).
	readable bool
}

// loop is the event loop serving a client's state; nil for none.
func (lp *loopState) loop() *pxLoop {
	if lp == nil {
		return nil
	}
	return lp.l
}

// takeBackendLocked gives connection generation bc.gen (just dialled, nc
// and its reader rr) to loop l to read and write, when l does backends'
// I/O and the connection is a plain socket; false when it does not take
// it: a reader goroutine must read it. bc.mu is held.
func (l *pxLoop) takeBackendLocked(bc *bconn, nc net.Conn, rr *resp.ReplyReader) bool {
	if !l.p.loopBackends {
		return false
	}
	fd, ok := evloop.DupFd(nc) // false for TLS
	if !ok {
		return false
	}
	lb := &loopBackend{l: l, bc: bc, gen: bc.gen, fd: fd, nc: nc, rr: rr}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		unix.Close(fd)
		return false
	}
	l.backAdds = append(l.backAdds, lb)
	l.mu.Unlock()
	rr.SetReader(lb)
	if bc.progress.seq.Load()&1 == 0 {
		bc.progress.seq.Add(1) // the loop waits in one long Read (readProgress)
	}
	bc.lb = lb
	l.poll.Signal()
	return true
}

// addBackend puts a connection a dial gave the loop in its epoll set.
func (l *pxLoop) addBackend(lb *loopBackend) {
	err := unix.EpollCtl(l.poll.Epfd, unix.EPOLL_CTL_ADD, lb.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lb.fd)})
	if err != nil {
		l.p.log.Warn("event loop: epoll_ctl failed; a goroutine reads the backend connection", zap.Error(err))
		l.handBack(lb)
		return
	}
	l.backs[int32(lb.fd)] = lb
}

// backendReady reads a connection the loop owns once and delivers every
// reply it completed.
func (l *pxLoop) backendReady(lb *loopBackend) {
	bc := lb.bc
	bc.mu.Lock()
	mine := bc.lb == lb
	bc.mu.Unlock()
	if !mine {
		l.letGo(lb) // failed meanwhile (failLocked hung it up)
		return
	}
	lb.readable = true
	for {
		raw, err := lb.rr.Next()
		if err == evloop.ErrWouldBlock {
			return
		}
		if err != nil {
			bc.mu.Lock()
			bc.failLocked(lb.gen, bc.be.errorf("connection lost: %s", shortErr(err)), err)
			bc.mu.Unlock()
			l.letGo(lb)
			return
		}
		if !bc.replied(raw, lb.gen) {
			l.letGo(lb)
			return
		}
	}
}

// Read is the loop's one read of a readiness, for lb.rr: the bytes come
// with the time and count the watchdog reads (readProgress).
func (lb *loopBackend) Read(p []byte) (int, error) {
	if !lb.readable {
		return 0, evloop.ErrWouldBlock
	}
	lb.readable = false
	for {
		n, e := evloop.RawIO(unix.SYS_READ, lb.fd, p)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return 0, evloop.ErrWouldBlock
		case e != 0:
			return 0, os.NewSyscallError("read", e)
		case n == 0:
			return 0, io.EOF
		}
		lb.bc.progress.at.Store(time.Now().UnixNano())
		lb.bc.progress.seq.Add(2) // still odd: waiting in the next read
		return n, nil
	}
}

// hangUpLocked shuts the socket down for failLocked (bc.mu held, bc.lb ==
// lb): closing the connection's own descriptor would not, the loop's
// duplicate keeps the socket open; the loop, woken by the hang-up, lets the
// duplicate go. readProgress's seq is made even again: the next
// generation's reader goroutine makes it odd while it waits in a Read (a
// last read of the loop's still adds two, which keeps it even).
func (lb *loopBackend) hangUpLocked() {
	unix.Shutdown(lb.fd, unix.SHUT_RDWR)
	if lb.bc.progress.seq.Load()&1 == 1 {
		lb.bc.progress.seq.Add(1)
	}
}

// letGo takes a connection the loop no longer owns out of its epoll set and
// closes its duplicate descriptor.
func (l *pxLoop) letGo(lb *loopBackend) {
	bc := lb.bc
	bc.mu.Lock()
	if bc.lb == lb {
		// Never expected: the loop lets go only of a failed connection.
		err := bc.be.errorf("connection lost: the event loop let it go")
		bc.failLocked(lb.gen, err, err)
	}
	bc.mu.Unlock()
	l.forget(lb)
}

func (l *pxLoop) forget(lb *loopBackend) {
	if l.backs[int32(lb.fd)] == lb {
		delete(l.backs, int32(lb.fd))
		unix.EpollCtl(l.poll.Epfd, unix.EPOLL_CTL_DEL, lb.fd, nil)
	}
	unix.Close(lb.fd)
	lb.fd = -1
}

// handBack gives a connection the loop reads back to a reader goroutine,
// for good (the loop stops), with the replies half-read in lb.rr; what is
// still queued goes out by the writer goroutine. A connection failed
// meanwhile is only let go.
func (l *pxLoop) handBack(lb *loopBackend) {
	bc := lb.bc
	bc.mu.Lock()
	if bc.lb == lb {
		bc.lb = nil
		lb.rr.SetReader(progressReader{lb.nc, &bc.progress})
		bc.progress.seq.Add(1) // even: not in a Read
		go bc.readLoop(lb.nc, lb.rr, lb.gen)
		if !bc.writing && len(bc.wbuf) > 0 && bc.nc != nil {
			bc.writing = true
			bc.kick <- struct{}{}
		}
	}
	bc.mu.Unlock()
	l.forget(lb)
}

// flushBackend ends a turn for one backend connection: what the turn
// queued goes out with one non-blocking write by the loop when a loop owns
// the connection (any loop may write it: bc.writing orders the writers),
// and by its writer goroutine for what the socket does not take, or when
// no loop owns it.
func (bc *bconn) flushBackend() {
	bc.mu.Lock()
	lb := bc.lb
	if lb == nil || bc.writing || len(bc.wbuf) == 0 || bc.nc == nil {
		bc.mu.Unlock()
		if lb == nil {
			bc.wake()
		}
		return
	}
	defer bc.mu.Unlock()
	now := time.Now()
	for _, c := range bc.inflight[bc.unsent:] {
		c.sent = now
	}
	bc.unsent = len(bc.inflight)
	done := 0
	for done < len(bc.wbuf) {
		n, e := evloop.RawIO(unix.SYS_WRITE, lb.fd, bc.wbuf[done:])
		switch {
		case e == 0:
			done += n
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			// The rest, in order, by the writer goroutine, which waits
			// for the socket (and the watchdog for the node).
			bc.wbuf = bc.wbuf[:copy(bc.wbuf, bc.wbuf[done:])]
			bc.writing = true
			bc.kick <- struct{}{}
			return
		default:
			err := os.NewSyscallError("write", e)
			bc.failLocked(bc.gen, bc.be.errorf("write failed: %s", shortErr(err)), err)
			return
		}
	}
	bc.wbuf = bc.wbuf[:0]
}
