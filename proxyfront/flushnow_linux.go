//go:build linux

package proxyfront

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// flushNow is an event loop's end-of-turn flush: what is queued on the
// connection goes out in one non-blocking write by the loop itself, as
// twemproxy's loop writes a node once per turn. Waking the writer
// goroutine instead (wake) cost a goroutine switch, its yield and a park
// per connection per turn, on the loop's own P. What the socket does not
// take at once is left to the writer goroutine, so the loop never waits on
// a node (nor on a replica that stopped reading); so is everything on a
// connection without a socket of its own (TLS). The write holds bc.mu: it
// never blocks, and the writer goroutine is idle (writing is false).
func (bc *bconn) flushNow() {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.writing || len(bc.wbuf) == 0 || bc.nc == nil {
		return
	}
	gen := bc.gen
	if bc.rawGen != gen {
		bc.raw, bc.rawGen = nil, gen
		if sc, ok := bc.nc.(syscall.Conn); ok {
			bc.raw, _ = sc.SyscallConn()
		}
	}
	if bc.raw == nil {
		bc.writing = true
		bc.kick <- struct{}{} // never blocks: only the holder of writing kicks
		return
	}
	now := time.Now()
	for _, c := range bc.inflight[bc.unsent:] {
		c.sent = now
	}
	bc.unsent = len(bc.inflight)
	done, werr := 0, error(nil)
	cerr := bc.raw.Write(func(fd uintptr) bool {
		for done < len(bc.wbuf) {
			n, err := unix.Write(int(fd), bc.wbuf[done:])
			if n > 0 {
				done += n
			}
			if err == nil || err == unix.EINTR {
				continue
			}
			if err != unix.EAGAIN {
				werr = err
			}
			break
		}
		return true // never wait for the socket here: the writer does
	})
	if werr == nil {
		werr = cerr // the connection is closed
	}
	if werr != nil {
		bc.failLocked(gen, bc.be.errorf("write failed: %s", shortErr(werr)), werr)
		return
	}
	bc.wbuf = bc.wbuf[:copy(bc.wbuf, bc.wbuf[done:])]
	if len(bc.wbuf) > 0 {
		bc.writing = true
		bc.kick <- struct{}{}
	}
}
