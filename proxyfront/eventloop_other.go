//go:build !linux

package proxyfront

import (
	"errors"
	"net"
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

func (c *client) kickDrain() {}
