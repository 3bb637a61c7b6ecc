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
	get, c, got := loopGET(t)
	get()
	if allocs := testing.AllocsPerRun(1000, get); allocs != 0 || *got != "" || !c.inLoop {
		t.Fatalf("%v allocations per GET; a reply %q (want %q); still on the loop: %v", allocs, *got, loopGETReply, c.inLoop)
	}
}

const loopGETReply = "$1\r\nv\r\n"

// loopGET sets up a client on a loop that is not running (the caller plays
// its part) over a socketpair, with k set to v; get sends GET k, serves it
// and reads the reply, and records in *got a reply that is not
// loopGETReply.
func loopGET(tb testing.TB) (get func(), c *client, got *string) {
	s := newTestServer(tb)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fds[1]) })
	l, err := newIOLoop(s)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.p.Close)
	addr := &net.UnixAddr{Name: "pair", Net: "unix"}
	lc := &loopConn{l: l}
	lc.Conn = evloop.NewConn(fds[0], addr, addr, lc.wake)
	tb.Cleanup(func() { unix.Close(fds[0]) })
	c = s.newClient(lc)
	c.authed = true
	lc.c = c
	l.conns[int32(lc.Fd)] = lc
	c.inLoop = true
	s.dispatch(c, [][]byte{[]byte("SET"), []byte("k"), []byte("v")}, time.Now())
	c.out = c.out[:0]

	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	reply := make([]byte, 64)
	got = new(string)
	get = func() {
		unix.Write(fds[1], req)
		l.ready(lc)
		n, _ := unix.Read(fds[1], reply)
		if n < 0 {
			n = 0
		}
		if string(reply[:n]) != loopGETReply {
			*got = string(reply[:n])
		}
	}
	return get, c, got
}
