package proxyfront

// io_model's values (Config.IOModel).
const (
	// IOGoroutine serves each client on a goroutine of its own that blocks
	// in read and in waiting for its replies.
	IOGoroutine = "goroutine"
	// IOEventLoop serves plaintext RESP clients from epoll loops, one per
	// GOMAXPROCS (eventloop_linux.go), handing a client that must wait
	// over to a goroutine for good. Linux only.
	IOEventLoop = "eventloop"
	// IOEventLoopBackends is IOEventLoop whose loops also read and write
	// the backend connections their clients dial, as nutcracker's loop
	// does, instead of each connection's reader and writer goroutines
	// (loopbackend_linux.go). Linux only.
	IOEventLoopBackends = "eventloop-backends"
)
