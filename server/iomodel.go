package server

import (
	"errors"
	"fmt"

	"github.com/relcache/relcache/internal/evloop"
)

// IOModel is how a node's plaintext TCP clients are served (io-model).
type IOModel uint8

const (
	// IOGoroutine serves each connection on a goroutine of its own that
	// blocks in read and write: Go's poller does the waiting.
	IOGoroutine IOModel = iota + 1
	// IOEventLoop serves plaintext TCP connections from one epoll loop per
	// GOMAXPROCS (eventloop_linux.go): on readiness one read, every
	// complete command, one write. A connection that needs to wait (a
	// fill from the source, a reply the socket does not take, pub/sub,
	// tracking, any command outside the loop's list) is handed over to
	// its own goroutine, as under IOGoroutine, which gives it back to the
	// loop when it is idle again and needs nothing the loop cannot do.
	// TLS connections always take the goroutine model. Linux only, and
	// its default (defaultIOModel).
	IOEventLoop
)

func (m IOModel) String() string {
	switch m {
	case IOGoroutine:
		return "goroutine"
	case IOEventLoop:
		return "eventloop"
	}
	return fmt.Sprintf("IOModel(%d)", uint8(m))
}

func (m IOModel) valid() bool { return m == IOGoroutine || m == IOEventLoop }

// ParseIOModel reads io-model's value: goroutine or eventloop.
func ParseIOModel(s string) (IOModel, error) {
	return parseWord("io-model", s, IOGoroutine, IOEventLoop)
}

var (
	// errWouldBlock: a client on an event loop has nothing more to read
	// now (its one read per readiness is spent, or the socket is empty),
	// or its socket takes no more bytes.
	errWouldBlock = evloop.ErrWouldBlock
	// errHandOver: the client must go on on a goroutine of its own.
	errHandOver = errors.New("event loop: hand over to a goroutine")
	// errHandBack: a handed-over client's goroutine gave it back to its
	// event loop and must let go of it.
	errHandBack = errors.New("event loop: handed back to the loop")
)
