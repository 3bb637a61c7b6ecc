//go:build !linux

package server

import (
	"errors"
	"net"
)

// The event loop is built on epoll (eventloop_linux.go); elsewhere
// io-model eventloop refuses to start.

// defaultIOModel is io-model's default where there is no event loop.
const defaultIOModel = IOGoroutine

type ioLoops struct{}

func newIOLoops(*Server, int) (*ioLoops, error) {
	return nil, errors.New("io-model eventloop needs Linux (epoll); use goroutine")
}

func (*ioLoops) stop()                     {}
func (*ioLoops) wrap(nc net.Conn) net.Conn { return nc }

type loopConn struct{ net.Conn }

func (*loopConn) start(*client)         {}
func (c *client) loopBeforeRead() error { return nil }
func (c *client) handBack() error       { return nil }
func (c *client) countLoopRun(*command) {}
