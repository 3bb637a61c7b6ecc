//go:build linux

package evloop

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a client's connection while an event loop serves it, and a thin
// wrapper of an ordinary net.Conn after the loop handed the client over to
// a goroutine (HandOver). Other goroutines reach the client only through
// it (Close, SetReadDeadline), which on the loop become calls of wake: the
// loop then looks at the client (Closed, ReadDeadline).
type Conn struct {
	// Fd is the socket, the loop's while it has the client; -1 once it
	// let it go. Readable: the one read of this readiness is not spent.
	Fd       int
	Readable bool

	laddr, raddr net.Addr
	wake         func()

	mu     sync.Mutex // guards inner, closed, rdl
	inner  net.Conn   // after the hand-over; set once, before its goroutine starts
	closed bool
	rdl    time.Time // the read deadline last set while on the loop
}

// Take takes nc, a plaintext TCP connection, out of Go's poller for an
// event loop: the socket is kept through a duplicate of its descriptor and
// nc is closed. ok is false (and nc untouched) when nc is not a
// *net.TCPConn or its descriptor could not be duplicated. wake is how
// other goroutines get the loop to look at the connection.
func Take(nc net.Conn, wake func()) (c *Conn, ok bool) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, false
	}
	fd, ok := dup(tc)
	if !ok {
		return nil, false
	}
	c = NewConn(fd, tc.LocalAddr(), tc.RemoteAddr(), wake)
	tc.Close() // the duplicate keeps the socket
	return c, true
}

// dup duplicates tc's descriptor; false when tc is closed or the
// duplicate could not be made.
func dup(tc *net.TCPConn) (int, bool) { return DupFd(tc) }

// DupFd duplicates the descriptor of nc, a plain TCP or Unix socket (not
// TLS), for an event loop to use beside nc: the loop's epoll set and raw
// calls, while nc stays open in Go's poller. False when nc is no such
// socket or is closed.
func DupFd(nc net.Conn) (int, bool) {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return -1, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	if cerr != nil || err != nil {
		return -1, false
	}
	return fd, true
}

// NewConn is a Conn over fd, a non-blocking socket the caller owns no
// more.
func NewConn(fd int, laddr, raddr net.Addr, wake func()) *Conn {
	return &Conn{Fd: fd, laddr: laddr, raddr: raddr, wake: wake}
}

// Read is the loop's one read per readiness, or after the hand-over the
// goroutine's (which was started after inner was set).
func (c *Conn) Read(p []byte) (int, error) {
	if c.inner != nil {
		return c.inner.Read(p)
	}
	if !c.Readable {
		return 0, ErrWouldBlock
	}
	c.Readable = false
	for {
		n, err := RawIO(unix.SYS_READ, c.Fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrWouldBlock
		case err != 0:
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: os.NewSyscallError("read", err)}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// WriteNow writes as much of b as the socket takes now; ErrWouldBlock when
// that is not all of it. Only while the loop has the connection.
func (c *Conn) WriteNow(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := RawIO(unix.SYS_WRITE, c.Fd, b[done:])
		if n > 0 {
			done += n
		}
		switch {
		case err == 0, err == unix.EINTR:
		case err == unix.EAGAIN:
			return done, ErrWouldBlock
		default:
			return done, &net.OpError{Op: "write", Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: os.NewSyscallError("write", err)}
		}
	}
	return done, nil
}

// Write is the goroutine's after the hand-over; on the loop it writes what
// the socket takes now.
func (c *Conn) Write(b []byte) (int, error) {
	if c.inner != nil {
		return c.inner.Write(b)
	}
	return c.WriteNow(b)
}

// Close, on the loop, marks the connection closed and wakes the loop,
// which closes the socket (Drop).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		return c.inner.Close()
	}
	if !c.closed {
		c.closed = true
		c.wake()
	}
	return nil
}

// LockedFd is Fd read under the Conn's lock: for a loop looking at a
// wake-up queued before a hand-over, when the goroutine that had the
// connection since may have given it back with another descriptor
// (HandBack).
func (c *Conn) LockedFd() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Fd
}

// Closed reports whether Close was called while the loop had the
// connection.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// SetReadDeadline, on the loop, stores t (HandOver applies it) and, unless
// it is zero, wakes the loop: a deadline set from outside is another
// goroutine asking the client to stop reading (a shutdown).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		return c.inner.SetReadDeadline(t)
	}
	c.rdl = t
	if !t.IsZero() && !c.closed {
		c.wake()
	}
	return nil
}

// ReadDeadline is the read deadline set while on the loop; zero if none.
func (c *Conn) ReadDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rdl
}

// SetWriteDeadline: on the loop nothing waits to write.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner != nil {
		return c.inner.SetWriteDeadline(t)
	}
	return nil
}

func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *Conn) LocalAddr() net.Addr  { return c.laddr }
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// HandOver gives the socket back to Go's poller as an ordinary net.Conn
// that the Conn wraps from now on, with the read deadline set on the loop;
// the loop must have taken Fd out of its epoll set. False (the socket
// closed) when the connection was closed meanwhile or could not be
// converted.
func (c *Conn) HandOver() (bool, error) {
	f := os.NewFile(uintptr(c.Fd), "")
	nc, err := net.FileConn(f) // a duplicate, in Go's poller
	f.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Fd = -1
	if err != nil || c.closed {
		c.closed = true
		if nc != nil {
			nc.Close()
		}
		return false, err
	}
	if !c.rdl.IsZero() {
		nc.SetReadDeadline(c.rdl)
	}
	c.inner = nc
	return true, nil
}

// HandBack takes the socket back from Go's poller after a HandOver, for
// the loop, as Take did: a duplicate of its descriptor becomes Fd and the
// goroutine's net.Conn is closed. may (the caller's own conditions) is
// asked first; queue gives the Conn to its loop, which owns it from then
// on. All of it happens under the Conn's lock, which Close and
// SetReadDeadline take: one of those that comes before reaches the
// goroutine's connection (a Close makes the duplicate fail, and the
// goroutine sees its next read fail; what may looks at is seen), one that
// comes after wakes the loop, behind queue. False (nothing changed, no
// queue): the goroutine keeps the connection.
func (c *Conn) HandBack(may func() bool, queue func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc, ok := c.inner.(*net.TCPConn)
	if !ok || c.closed || !may() {
		return false
	}
	fd, ok := dup(tc)
	if !ok {
		return false // closed under us: the goroutine's next read says so
	}
	tc.Close() // the duplicate keeps the socket
	c.inner, c.Fd, c.Readable, c.rdl = nil, fd, false, time.Time{}
	queue()
	return true
}

// Drop closes the socket for good; the loop must have taken Fd out of its
// epoll set.
func (c *Conn) Drop() {
	c.mu.Lock()
	c.closed = true
	fd := c.Fd
	c.Fd = -1
	c.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
}
