package proxyfront

import (
	"sync"
	"time"
)

// A call is one command sent to one backend and, once done, its raw reply
// or the failure that kept it from getting one. A read remembers where it
// was routed, so that await can retry it on the next pool.
type call struct {
	req   []byte
	reply []byte
	err   error // a *backendError: no reply came
	sent  time.Time
	be    *backend
	done  chan struct{} // cap 1: finish never blocks

	// owner is the client the reply is for: the backend's reader counts
	// the reply in owner.held (held bytes of it) before storing it, and
	// drops it instead when that would put the client over its output
	// limit. Nil for the proxy's own calls.
	owner *client
	held  int
	// noReply marks a fire-and-forget call (a write copied to a replica
	// pool): nobody reads its reply, so it is not kept.
	noReply bool
	// skip is how many replies the node sends for req before the one
	// that is the call's: a transaction's run (MULTI, the commands, EXEC)
	// is one call whose reply is EXEC's. The backend's reader drops them.
	skip int

	// Routing, for a read's fail-over.
	t    *topology
	h    uint32
	pool int // index in t.reads
	read bool
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func newCall() *call { return callPool.Get().(*call) }

// release returns a call whose reply has been used, and uncounts the reply
// from its client's held bytes. A call must not be released while a
// backend may still finish it.
func (c *call) release() {
	if c.held != 0 {
		c.owner.held.Add(-int64(c.held))
		c.held = 0
	}
	c.owner = nil
	if cap(c.reply) > 64<<10 || cap(c.req) > 64<<10 {
		return // let a big buffer go rather than keep it pooled
	}
	c.req, c.reply, c.err, c.be, c.t, c.skip = c.req[:0], c.reply[:0], nil, nil, nil, 0
	callPool.Put(c)
}

// deliver stores raw as the call's reply and finishes it; the backend's
// reader calls it, and must never block in it (the connection is shared).
func (c *call) deliver(raw []byte) {
	switch {
	case c.noReply:
	case c.owner != nil && !c.owner.admit(len(raw)):
		c.err = errOverOutputLimit
	default:
		if c.owner != nil {
			c.held = len(raw)
		}
		c.reply = append(c.reply[:0], raw...)
	}
	c.complete()
}

// complete signals the call's waiter; for a client on an event loop, whose
// replies its backends' readers write, it also offers the client a drain
// (eventloop.go). The owner is read first: once done is signalled the
// call may be released and reused.
func (c *call) complete() {
	o := c.owner
	c.done <- struct{}{}
	if o != nil && o.lp != nil {
		o.kickDrain()
	}
}

func (c *call) fail(err error) { c.err = err; c.complete() }
func (c *call) wait()          { <-c.done }
