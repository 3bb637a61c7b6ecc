// Package evloop holds the epoll pieces the node's and the proxy's event
// loops share: a Poller whose wait parks the calling goroutine in Go's own
// poller instead of blocking a thread in epoll_wait, and raw non-blocking
// read, write and epoll_pwait calls.
//
// Why park through Go's poller: a goroutine in a blocking system call loses
// its P to another thread after a few microseconds and must win one back
// when the call returns, a futex wake-up and a thread hand-off per wait
// (measured on the node: 17.5 µs per GET at pipeline 1 that way, against
// 11.4 under the goroutine model). Instead the epoll set is itself in Go's
// poller, which reports it readable when any of its descriptors is: the
// loop parks like any goroutine and, woken, takes the events with
// epoll_pwait of timeout 0 (RawConn.Read clears the poller's readiness
// before it asks, so an event that arrives after an empty answer wakes it
// again).
//
// Linux only: elsewhere the package is empty and the loops refuse to start.
package evloop

import "errors"

// ErrWouldBlock is a Conn's read when the loop's one read of this
// readiness is spent or the socket is empty, and its write when the socket
// takes no more bytes. (Outside the Linux files so that code built
// everywhere can name it.)
var ErrWouldBlock = errors.New("event loop: would block")
