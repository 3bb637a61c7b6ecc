//go:build linux

package evloop

import (
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A loop's life in small: Signal wakes Wait with the eventfd's event, a
// readable socket wakes it with its own, a Conn reads once per readiness
// and writes without waiting, and a hand-over gives an ordinary net.Conn
// with the read deadline set on the loop.
func TestPollerAndConn(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	events := make([]unix.EpollEvent, 8)

	p.Signal()
	if n, err := p.Wait(events); err != nil || n != 1 || int(events[0].Fd) != p.Evfd {
		t.Fatalf("Wait after Signal: %d events (%v), first fd %d; want the eventfd %d", n, err, events[0].Fd, p.Evfd)
	}
	p.Drain()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	woken := 0
	addr := &net.UnixAddr{Name: "pair", Net: "unix"}
	c := NewConn(fds[0], addr, addr, func() { woken++ })
	if err := unix.EpollCtl(p.Epfd, unix.EPOLL_CTL_ADD, c.Fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.Fd)}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := c.Read(buf); n != 0 || err != ErrWouldBlock {
		t.Fatalf("Read before readiness: %d, %v; want ErrWouldBlock", n, err)
	}
	unix.Write(fds[1], []byte("PING"))
	if n, err := p.Wait(events); err != nil || n != 1 || int(events[0].Fd) != c.Fd {
		t.Fatalf("Wait with a readable socket: %d events (%v), first fd %d", n, err, events[0].Fd)
	}
	c.Readable = true
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "PING" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(buf); n != 0 || err != ErrWouldBlock {
		t.Fatalf("second Read of one readiness: %d, %v; want ErrWouldBlock", n, err)
	}
	if n, err := c.WriteNow([]byte("+PONG\r\n")); n != 7 || err != nil {
		t.Fatalf("WriteNow = %d, %v", n, err)
	}
	if n, _ := unix.Read(fds[1], buf); string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("peer read %q", buf[:n])
	}
	// A socket that takes no more: WriteNow says so instead of waiting.
	big := make([]byte, 1<<20)
	total := 0
	for {
		n, err := c.WriteNow(big)
		total += n
		if err == ErrWouldBlock {
			break
		}
		if err != nil || total > 64<<20 {
			t.Fatalf("WriteNow to a full socket: %d, %v", n, err)
		}
	}

	// Other goroutines reach the loop through wake.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if woken != 1 || c.ReadDeadline().IsZero() {
		t.Fatalf("SetReadDeadline on the loop: %d wake-ups, deadline %v", woken, c.ReadDeadline())
	}
	unix.EpollCtl(p.Epfd, unix.EPOLL_CTL_DEL, c.Fd, nil)
	if ok, err := c.HandOver(); !ok || err != nil {
		t.Fatalf("HandOver: %v, %v", ok, err)
	}
	if c.Fd != -1 {
		t.Fatalf("Fd after HandOver = %d", c.Fd)
	}
	// The deadline set on the loop holds after the hand-over.
	if _, err := c.Read(buf); err == nil || err == io.EOF {
		t.Fatalf("Read after HandOver with a past deadline: %v; want a timeout", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// Run calls ready for a readable descriptor and turn after it, woke after
// a Signal, and ends, closing the set, when woke says stop.
func TestPollerRun(t *testing.T) {
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if err := unix.EpollCtl(p.Epfd, unix.EPOLL_CTL_ADD, fds[0], &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fds[0])}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	ready := func(fd int32) {
		buf := make([]byte, 16)
		n, _ := unix.Read(int(fd), buf)
		got <- "ready " + string(buf[:max(n, 0)])
	}
	turn := func() { got <- "turn" }
	stop := make(chan struct{}, 1)
	woke := func() bool {
		got <- "woke"
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ready, turn, woke) }()

	unix.Write(fds[1], []byte("x"))
	for _, want := range []string{"ready x", "turn"} {
		if g := <-got; g != want {
			t.Fatalf("after a write: %q, want %q", g, want)
		}
	}
	p.Signal()
	for _, want := range []string{"turn", "woke"} {
		if g := <-got; g != want {
			t.Fatalf("after Signal: %q, want %q", g, want)
		}
	}
	stop <- struct{}{}
	p.Signal()
	for _, want := range []string{"turn", "woke"} {
		if g := <-got; g != want {
			t.Fatalf("after the stop Signal: %q, want %q", g, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after woke said stop", err)
	}
}

// HandBack takes a handed-over TCP connection back for the loop: the
// goroutine's net.Conn is closed, the loop reads through a new Fd, and the
// loop's read deadline starts clear. It does nothing when may says no or
// the connection was closed.
func TestConnHandBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	var nc net.Conn
	if err == nil {
		defer peer.Close()
		nc, err = ln.Accept()
	}
	if err != nil {
		t.Fatal(err)
	}
	c, ok := Take(nc, func() {})
	if !ok {
		t.Fatal("Take of a TCP connection failed")
	}
	c.SetReadDeadline(time.Now().Add(time.Hour))
	if ok, err := c.HandOver(); !ok || err != nil {
		t.Fatalf("HandOver: %v, %v", ok, err)
	}
	queued := 0
	queue := func() { queued++ }
	if c.HandBack(func() bool { return false }, queue) || queued != 0 || c.Fd != -1 {
		t.Fatalf("HandBack with may false: queued %d, Fd %d", queued, c.Fd)
	}
	peer.Write([]byte("one"))
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "one" {
		t.Fatalf("the goroutine's Read = %q, %v", buf[:n], err)
	}
	if !c.HandBack(func() bool { return true }, queue) || queued != 1 || c.Fd < 0 {
		t.Fatalf("HandBack: queued %d, Fd %d", queued, c.Fd)
	}
	if !c.ReadDeadline().IsZero() {
		t.Fatalf("read deadline after HandBack = %v, want none", c.ReadDeadline())
	}
	if n, err := c.Read(buf); n != 0 || err != ErrWouldBlock {
		t.Fatalf("Read before readiness after HandBack: %d, %v; want ErrWouldBlock", n, err)
	}
	peer.Write([]byte("two"))
	pfd := []unix.PollFd{{Fd: int32(c.Fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, -1); err != nil {
		t.Fatal(err)
	}
	c.Readable = true
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "two" {
		t.Fatalf("the loop's Read after HandBack = %q, %v", buf[:n], err)
	}
	if n, err := c.WriteNow([]byte("three")); n != 5 || err != nil {
		t.Fatalf("WriteNow after HandBack = %d, %v", n, err)
	}
	if n, err := io.ReadFull(peer, buf[:5]); err != nil || string(buf[:n]) != "three" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}

	// Closed by another goroutine after a second hand-over: no way back.
	if ok, err := c.HandOver(); !ok || err != nil {
		t.Fatalf("second HandOver: %v, %v", ok, err)
	}
	c.Close()
	if c.HandBack(func() bool { return true }, queue) || queued != 1 {
		t.Fatalf("HandBack of a closed connection: queued %d", queued)
	}
}
