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
