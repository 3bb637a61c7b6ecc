package proxyfront

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// A client connection. One goroutine reads the client's pipeline, starts
// each command (routing it and sending its sub-requests) and, before it
// would block on the socket or when the pipeline gets long, waits for the
// started commands in order and writes all their replies at once. So a
// pipeline of N commands costs one read, one write per backend touched and
// one write back, and commands to different nodes run in parallel.
type client struct {
	p       *Proxy
	id      uint64
	nc      net.Conn
	rd      *resp.Reader
	out     []byte
	pending []op
	authed  bool
	quit    bool
	scratch []byte // routing scratch (uid text, keys)
	keyBuf  []byte
	dirty   []*bconn // connections with queued, unwritten commands
}

// op is a started command whose reply is not written yet.
type op interface {
	// finish waits for the command's sub-requests (running further rounds
	// if it has any) and appends its reply to c.out.
	finish(c *client)
}

const (
	maxPending = 256      // started commands before replies are collected
	flushAt    = 64 << 10 // reply bytes that trigger a write
)

func (p *Proxy) newClient(nc net.Conn, id uint64) *client {
	c := &client{p: p, id: id, nc: nc, authed: p.cfgNow().Password == "",
		scratch: make([]byte, 0, 64)}
	c.rd = resp.NewReader(nc, c.limits, c.collect)
	return c
}

func (c *client) limits() resp.Limits {
	if !c.authed {
		return resp.Limits{MaxBulk: resp.UnauthMaxBulk, MaxMultibulk: resp.UnauthMaxMultibulk, Unauth: true}
	}
	return resp.Limits{MaxBulk: c.p.cfgNow().ProtoMaxBulkLen, MaxMultibulk: maxMultibulk}
}

// maxMultibulk is Redis's limit on arguments per command.
const maxMultibulk = 1 << 20

func (c *client) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.p.log.Error("panic while serving a client; connection closed",
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
		c.nc.Close()
	}()
	for !c.quit {
		if t := c.p.cfgNow().ClientTimeout.Duration; t > 0 {
			c.nc.SetReadDeadline(time.Now().Add(t))
		}
		args, err := c.rd.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.handle(args)
		if len(c.pending) >= maxPending || len(c.out) >= flushAt {
			if c.collect() != nil {
				return
			}
		}
	}
	c.collect()
}

// collect finishes the started commands in order and writes their replies.
func (c *client) collect() error {
	c.flushBackends()
	for i, o := range c.pending {
		o.finish(c)
		c.pending[i] = nil
	}
	c.pending = c.pending[:0]
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > 1<<20 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// readFailed answers a protocol error as Redis does, an error then close;
// other read errors (EOF, idle timeout) just close.
func (c *client) readFailed(err error) {
	var pe *resp.ProtoError
	switch {
	case errors.As(err, &pe):
		c.collect()
		c.out = redcon.AppendError(c.out, "ERR "+err.Error())
		c.collect()
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
	default:
		c.p.log.Debug("client read failed", zap.Error(err))
	}
}

// Reply helpers: while commands are pending, a reply made now must wait
// its turn, so it is queued as an op.
type fixedReply []byte

func (r fixedReply) finish(c *client) { c.out = append(c.out, r...) }

func (c *client) reply(b []byte) {
	if len(c.pending) == 0 {
		c.out = append(c.out, b...)
		return
	}
	c.pending = append(c.pending, fixedReply(append([]byte(nil), b...)))
}

func (c *client) errReply(msg string) { c.reply(redcon.AppendError(c.scratch[:0], msg)) }

// opFunc is a command that runs when its turn comes (relation commands
// with several rounds).
type opFunc func(c *client)

func (f opFunc) finish(c *client) { f(c) }

// start sends args to the backend that owns h: for a read, in the first
// pool of the read order; for a write, in the primary pool, and a copy to
// every replica pool when writes are replicated. The call must be awaited.
func (c *client) start(t *topology, h uint32, read bool, args ...[]byte) *call {
	k := newCall()
	k.req = resp.AppendCommand(k.req[:0], args...)
	k.t, k.h, k.read, k.pool = t, h, read, 0
	if read {
		c.send(t.reads[0].backendFor(h), k)
		return k
	}
	c.send(t.primary.backendFor(h), k)
	if t.cfg.ReplicateWrites {
		for _, p := range t.replicas {
			// Fire and forget: the primary's reply is the client's. A
			// failure shows in the backend's error counters.
			c.send(p.backendFor(h), &call{req: k.req, done: make(chan struct{}, 1)})
		}
	}
	return k
}

// send queues k for be; it is written when the client next waits for a
// reply (flushBackends), together with everything else queued by then.
func (c *client) send(be *backend, k *call) {
	bc := be.enqueue(k, c.id)
	if bc == nil {
		return
	}
	for _, d := range c.dirty {
		if d == bc {
			return
		}
	}
	c.dirty = append(c.dirty, bc)
}

// flushBackends writes every connection this client queued commands on.
func (c *client) flushBackends() {
	for i, bc := range c.dirty {
		bc.flush()
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
}

// wait flushes what is queued and waits for k.
func (c *client) wait(k *call) {
	c.flushBackends()
	k.wait()
}

// await waits for k; a read whose backend failed is retried on the next
// pool of the read order.
func (c *client) await(k *call) {
	c.wait(k)
	for k.err != nil && k.read && k.pool+1 < len(k.t.reads) {
		k.pool++
		k.err = nil
		c.send(k.t.reads[k.pool].backendFor(k.h), k)
		c.wait(k)
	}
}

// finish makes a forwarded call an op: its reply is the client's.
func (k *call) finish(c *client) {
	c.await(k)
	if k.err != nil {
		c.p.metrics.errors.WithLabelValues("forward").Inc()
		c.out = redcon.AppendError(c.out, k.err.Error())
	} else {
		c.out = append(c.out, k.reply...)
	}
	k.release()
}
