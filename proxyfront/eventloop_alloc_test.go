//go:build linux

package proxyfront

import (
	"net"
	"testing"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
	"github.com/relcache/relcache/internal/relcachetest"
)

// TestEventLoopGETAllocatesNothing: a GET at pipeline 1 through an event
// loop's client (the loop's read, route, queue and turn's flush; the
// backend's writer and reader; the reader's drain writing the reply)
// allocates nothing, as the goroutine model's path does
// (BenchmarkBackendPipeline). The node is loopNode, in memory.
func TestEventLoopGETAllocatesNothing(t *testing.T) {
	cfg, err := ParseConfig([]byte(`admin = "-"
route_by = "key"
[[pool]]
name = "dc1"
role = "primary"
servers = ["127.0.0.1:1:1 n1"]
server_connections = 1
`), "alloc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	topo := p.topo.Load()
	defer topo.close()
	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	const reply = "$1\r\nv\r\n"
	node := &loopNode{reqLen: len(req), reply: len(reply), ch: make(chan []byte, 64)}
	for range 64 {
		node.replies = append(node.replies, reply...)
	}
	benchStart(topo.primary.backendFor(topo.hashOf([]byte("k"), nil)).conns[0], node)

	poll, err := evloop.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Close()
	l := &pxLoop{p: p, poll: poll, conns: map[int32]*client{}} // not running: the test plays its part
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	addr := &net.UnixAddr{Name: "pair", Net: "unix"}
	lp := &loopState{l: l, onLoop: true}
	lp.ec = evloop.NewConn(fds[0], addr, addr, func() { l.wake(lp) })
	defer func() {
		lp.mu.Lock() // as the loop drops a client: the reader's drain may be writing
		defer lp.mu.Unlock()
		lp.ec.Drop()
	}()
	c := p.newClient(lp.ec, 1)
	c.lp, lp.c = lp, c
	l.conns[int32(fds[0])] = c

	buf := make([]byte, 64)
	get := func() {
		if _, err := unix.Write(fds[1], req); err != nil {
			t.Fatal(err)
		}
		l.ready(c)
		l.flushDirty()
		got := 0
		for got < len(reply) {
			n, err := unix.Read(fds[1], buf[got:])
			if err != nil || n == 0 {
				t.Fatalf("read the reply: %d, %v", n, err)
			}
			got += n
		}
		if string(buf[:got]) != reply {
			t.Fatalf("reply %q, want %q", buf[:got], reply)
		}
	}
	for range 100 {
		get() // warm: pools, queues and buffers at their size
	}
	if relcachetest.RaceEnabled {
		// -race drops sync.Pool's items at random (the calls' pool).
		t.Skip("allocations are not counted under -race")
	}
	if n := testing.AllocsPerRun(1000, get); n != 0 {
		t.Errorf("%.2f allocations per GET on the event loop, want 0", n)
	}
	if !lp.onLoop {
		t.Fatal("the client left the loop")
	}
}
