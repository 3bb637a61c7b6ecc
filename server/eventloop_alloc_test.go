//go:build linux

package server

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
)

// The event loop's path for a GET, from readiness to the reply written
// (one read, dispatch, one write), allocates nothing, as the goroutine
// model's does (TestRelHotPathAllocatesNothing and friends).
func TestEventLoopGETAllocatesNothing(t *testing.T) {
	s := newTestServer(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	l, err := newIOLoop(s) // not running: the test plays its part
	if err != nil {
		t.Fatal(err)
	}
	defer l.p.Close()
	addr := &net.UnixAddr{Name: "pair", Net: "unix"}
	lc := &loopConn{l: l}
	lc.Conn = evloop.NewConn(fds[0], addr, addr, lc.wake)
	defer unix.Close(fds[0])
	c := s.newClient(lc)
	c.authed = true
	lc.c = c
	l.conns[int32(lc.Fd)] = lc
	c.inLoop = true
	s.dispatch(c, [][]byte{[]byte("SET"), []byte("k"), []byte("v")}, time.Now())
	c.out = c.out[:0]

	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	const want = "$1\r\nv\r\n"
	reply := make([]byte, 64)
	var got string
	get := func() {
		unix.Write(fds[1], req)
		l.ready(lc)
		n, _ := unix.Read(fds[1], reply)
		if n < 0 {
			n = 0
		}
		if string(reply[:n]) != want {
			got = string(reply[:n])
		}
	}
	get()
	if allocs := testing.AllocsPerRun(1000, get); allocs != 0 || got != "" || !c.inLoop {
		t.Fatalf("%v allocations per GET; a reply %q (want %q); still on the loop: %v", allocs, got, want, c.inLoop)
	}
}
