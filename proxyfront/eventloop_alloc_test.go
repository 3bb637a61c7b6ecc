//go:build linux

package proxyfront

import (
	"io"
	"net"
	"os"
	"testing"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/relcache/relcache/internal/evloop"
	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestEventLoopGETAllocatesNothing: a GET at pipeline 1 through an event
// loop's client (the loop's read, route, queue and turn's flush; the
// backend's writer and reader; the reader's drain writing the reply)
// allocates nothing, as the goroutine model's path does
// (BenchmarkBackendPipeline). The node is loopNode, in memory.
//
// Under eventloop-backends (the second subtest) the loop writes the node's
// socket (a socket pair whose other end the test answers) and reads its
// reply itself.
func TestEventLoopGETAllocatesNothing(t *testing.T) {
	t.Run(IOEventLoop, func(t *testing.T) { loopGETAllocatesNothing(t, false) })
	t.Run(IOEventLoopBackends, func(t *testing.T) { loopGETAllocatesNothing(t, true) })
}

func loopGETAllocatesNothing(t *testing.T, backends bool) {
	p, l, be := testLoop(t, backends)
	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	const reply = "$1\r\nv\r\n"
	bc := be.conns[0]
	// node plays the node's part of one GET, once the loop has flushed.
	node := func() {}
	if backends {
		nfd := loopOwnedNode(t, l, bc)
		nreq := make([]byte, len(req))
		node = func() {
			if n, err := io.ReadFull(fdReader(nfd), nreq); err != nil || string(nreq[:n]) != string(req) {
				t.Fatalf("the node read %q, %v; want %q", nreq[:n], err, req)
			}
			if _, err := unix.Write(nfd, []byte(reply)); err != nil {
				t.Fatal(err)
			}
			for _, lb := range l.backs {
				l.backendReady(lb)
			}
		}
	} else {
		ln := &loopNode{reqLen: len(req), reply: len(reply), ch: make(chan []byte, 64)}
		for range 64 {
			ln.replies = append(ln.replies, reply...)
		}
		benchStart(bc, ln)
	}
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
		node()
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

// testLoop is an event loop that does not run (the test plays its part)
// in a proxy of one node, which it returns: the node of key "k", that no
// one dials (1 connection).
func testLoop(t *testing.T, backends bool) (*Proxy, *pxLoop, *backend) {
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
	p.loopBackends = backends
	topo := p.topo.Load()
	t.Cleanup(topo.close)
	poll, err := evloop.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(poll.Close)
	l := &pxLoop{p: p, poll: poll, conns: map[int32]*client{}, backs: map[int32]*loopBackend{}}
	return p, l, topo.primary.backendFor(topo.hashOf([]byte("k"), nil))
}

// loopOwnedNode connects bc to a socket pair whose other end it returns
// (blocking; closed when the test ends) and gives the connection to l, as
// dialNow does under eventloop-backends, with l's part of the adoption
// played.
func loopOwnedNode(t *testing.T, l *pxLoop, bc *bconn) int {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	f := os.NewFile(uintptr(fds[0]), "node")
	nc, err := net.FileConn(f) // a duplicate, in Go's poller
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	bc.mu.Lock()
	bc.nc, bc.dialed = nc, true
	bc.gen++
	bc.kick = make(chan struct{}, 1)
	go bc.writeLoop(bc.kick, bc.gen)
	ok := l.takeBackendLocked(bc, nc, resp.NewReplyReader(progressReader{nc, &bc.progress}, maxReplySize))
	bc.mu.Unlock()
	if !ok {
		t.Fatal("the loop did not take the node's connection")
	}
	l.poll.Drain()
	l.wakeups() // adds it to l.backs
	if len(l.backs) != 1 {
		t.Fatalf("the loop reads %d backend connections, want 1", len(l.backs))
	}
	return fds[1]
}

// fdReader reads a blocking descriptor.
type fdReader int

func (fd fdReader) Read(b []byte) (int, error) { return unix.Read(int(fd), b) }
