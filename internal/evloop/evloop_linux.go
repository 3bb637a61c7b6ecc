//go:build linux

package evloop

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller is one epoll set with an eventfd in it, through which other
// goroutines wake the loop that waits on it.
type Poller struct {
	Epfd int             // the epoll set
	Evfd int             // the eventfd: Signal writes it, Wait reports it
	ep   *os.File        // Epfd in Go's poller
	rc   syscall.RawConn // ep's, to park on
	// Idle, when set (before the loop starts), is called by Wait each time
	// it finds the set without events, before it parks: for work a loop
	// gathers over its turns and does once nothing else is ready. What
	// becomes ready meanwhile wakes the park at once.
	Idle func()
}

// NewPoller makes an epoll set with an eventfd in it, registered in Go's
// poller.
func NewPoller() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("event loop: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("event loop: epoll_ctl eventfd: %w", err)
	}
	// Non-blocking, so os.NewFile puts it in Go's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("event loop: epoll set non-blocking: %w", err)
	}
	ep := os.NewFile(uintptr(epfd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		unix.Close(evfd)
		return nil, fmt.Errorf("event loop: epoll in Go's poller: %w", err)
	}
	return &Poller{Epfd: epfd, Evfd: evfd, ep: ep, rc: rc}, nil
}

// Wait parks until the set has events and returns them in events (Evfd's
// among them when Signal was called).
func (p *Poller) Wait(events []unix.EpollEvent) (int, error) {
	var n int
	var werr error
	err := p.rc.Read(func(uintptr) bool {
		n, werr = WaitNow(p.Epfd, events)
		if n == 0 && werr == nil && p.Idle != nil {
			// RawConn.Read cleared the poller's readiness before calling
			// this: an event Idle causes (a reply to what it wrote) ends
			// the park at once.
			p.Idle()
		}
		return n > 0 || werr != nil
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

// Run is a loop's body: it waits, calls ready with each readable
// descriptor but Evfd, then turn (nil: none) once per wait, after them,
// and, when Signal was called, Drain and woke. It ends, closing p, when
// woke returns false, or with the error when waiting fails. ready, turn
// and woke are made once, so a turn allocates nothing.
func (p *Poller) Run(ready func(fd int32), turn func(), woke func() bool) error {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := p.Wait(events)
		if err != nil {
			return err
		}
		signalled := false
		for i := range n {
			fd := events[i].Fd
			if int(fd) == p.Evfd {
				signalled = true
				continue
			}
			ready(fd)
		}
		if turn != nil {
			turn()
		}
		if signalled {
			p.Drain()
			if !woke() {
				p.Close()
				return nil
			}
		}
	}
}

// Signal wakes the loop waiting on p.
func (p *Poller) Signal() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(p.Evfd, one[:]) // EAGAIN: the counter is full, the loop wakes anyway
}

// Drain resets the eventfd after a wake-up, before the loop looks at what
// it was woken for.
func (p *Poller) Drain() {
	var b [8]byte
	unix.Read(p.Evfd, b[:])
}

// Close closes the set and the eventfd.
func (p *Poller) Close() {
	p.ep.Close()
	unix.Close(p.Evfd)
}

// WaitNow is epoll_pwait with timeout 0, which never blocks: a raw system
// call, without the scheduler's bookkeeping around one that may.
func WaitNow(epfd int, events []unix.EpollEvent) (int, error) {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return 0, os.NewSyscallError("epoll_pwait", e)
	}
}

// RawIO is read(2) or write(2) (trap: unix.SYS_READ or unix.SYS_WRITE) on
// a non-blocking socket, which never waits: a raw system call, as WaitNow.
// b is not empty.
func RawIO(trap uintptr, fd int, b []byte) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
