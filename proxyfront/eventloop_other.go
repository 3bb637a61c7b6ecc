//go:build !linux

package proxyfront

import (
	"errors"
	"net"

	"github.com/relcache/relcache/internal/resp"
)

// The event loop is built on epoll (eventloop_linux.go); elsewhere
// io_model eventloop refuses to start.

type pxLoops struct{}

func newPxLoops(*Proxy, int) (*pxLoops, error) {
	return nil, errors.New(`io_model "eventloop" needs Linux (epoll); use "goroutine"`)
}

func (*pxLoops) stop()                  {}
func (*pxLoops) adopt(net.Conn) bool    { return false }
func (*pxLoops) info(func(string, any)) {}

type loopState struct{ onLoop bool }

// pxLoop and loopBackend: eventloop-backends' (loopbackend_linux.go).
type pxLoop struct{}
type loopBackend struct{}

func (*loopState) loop() *pxLoop                                           { return nil }
func (*pxLoop) takeBackendLocked(*bconn, net.Conn, *resp.ReplyReader) bool { return false }
func (*loopBackend) hangUpLocked()                                         {}

func (c *client) kickDrain() {}
