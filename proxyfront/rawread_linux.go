//go:build linux

package proxyfront

import (
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
)

// nodeReader is what a backend connection's replies are read through: for
// a plaintext socket, reads by raw system calls that park in Go's poller
// on EAGAIN as net.Conn's do. net.Conn's reads enter and leave the
// scheduler's system call state, and the first system call left after the
// proxy was idle wakes the runtime's sysmon thread from its deep sleep;
// woken, it polls every 20 µs for a while. Under memtier at pipeline 1 that
// was 0.19 context switches and about 2 µs of CPU per GET on one core, the
// larger part of the gap to nutcracker (docs/benchmarks.md, "The proxy's
// event loop at memtier's pace"). The loop's own reads and writes are raw
// already (internal/evloop).
func nodeReader(nc net.Conn) io.Reader {
	if _, ok := nc.(*net.TCPConn); !ok {
		return nc // TLS reads through its own buffers; a unix socket as before
	}
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nc
	}
	return rawReader{rc}
}

type rawReader struct{ rc syscall.RawConn }

func (r rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno unix.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = evloop.RawIO(unix.SYS_READ, int(fd), p)
			if errno != unix.EINTR {
				return errno != unix.EAGAIN // false: park until readable
			}
		}
	})
	switch {
	case err != nil:
		return 0, err // closed, or a deadline (the dial's AUTH)
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
