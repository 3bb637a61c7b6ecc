package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Push messages: what a client is sent without asking for it, the
// invalidations of client tracking and the messages of pub/sub.
//
// Whoever causes one (a writer, under its key's shard lock; a PUBLISH; the
// active expiry cycle) appends it to the receiving client's push queue and
// never touches that client's socket: a client that stopped reading must
// not stall the writer. The queue counts against client-output-buffer-limit;
// past it the client is closed, as Redis closes a pub/sub client past its
// output limit.
//
// Only the client's own goroutine writes to its socket. It moves the queue
// into its reply buffer between commands (before a command and after it)
// and whenever it flushes, so a push is never inside another reply. A
// client blocked waiting for its next command is woken by a read deadline
// in the past, which its reader takes for what it is (waitedOut), delivers
// the queue and goes back to waiting.
//
// Order. A push may follow a reply that was built before the change it
// announces, never precede one: the queue is only ever appended after the
// replies already built. (A push can also arrive after a reply that
// already showed the new value; clients drop that entry and read again.)
// That is what keeps a client's cache from holding a stale value: it never
// sees "invalidate k" and then an older value of k.
type pushQueue struct {
	mu   sync.Mutex // guards buf, dead
	buf  []byte
	dead bool // closed for going over the output limit; takes no more
	// pending is set while buf is not empty: the owner's check before and
	// after each command is this one load.
	pending atomic.Bool
}

// enqueuePush appends one message, written by build, to c's push queue.
// self says the caller is c's own goroutine (its own change, its own
// PUBLISH), which delivers the queue after the command without a wake-up.
func (c *client) enqueuePush(self bool, build func(dst []byte) []byte) {
	q := &c.push
	q.mu.Lock()
	if q.dead {
		q.mu.Unlock()
		return
	}
	wasEmpty := len(q.buf) == 0
	q.buf = build(q.buf)
	n := len(q.buf)
	over := false
	if lim := c.srv.cfg.ClientOutputBufferLimit; lim > 0 && int64(n) > lim {
		q.dead, q.buf, over = true, nil, true
	}
	q.pending.Store(len(q.buf) > 0)
	q.mu.Unlock()
	switch {
	case over:
		c.srv.stats.outputLimitClosed.Add(1)
		c.srv.log.Warn("client's pending push messages over client-output-buffer-limit; closing the client",
			zap.String("client", c.addr), zap.Int("bytes", n), zap.Int64("limit", c.srv.cfg.ClientOutputBufferLimit))
		// The client's goroutine notices (its read or write fails) and
		// cleans up. Close waits for the I/O in flight on the socket to
		// return, so it runs apart from whatever lock the caller holds.
		go c.conn.Close()
	case wasEmpty && !self:
		c.conn.SetReadDeadline(time.Now())
	}
}

// drainPushes moves the queued pushes to the end of the pending replies;
// only c's goroutine calls it, between commands.
func (c *client) drainPushes() {
	q := &c.push
	q.mu.Lock()
	if len(c.out) == 0 && cap(q.buf) <= 4*flushAt {
		c.out, q.buf = q.buf, c.out[:0]
	} else {
		c.out = append(c.out, q.buf...)
		q.buf = q.buf[:0]
		if cap(q.buf) > 4*flushAt {
			q.buf = nil // a burst's buffer goes back
		}
	}
	q.pending.Store(false)
	q.mu.Unlock()
}

// deliverPushes writes the queued pushes now, for a client woken while it
// waited for a command; false when the write failed.
func (c *client) deliverPushes() bool {
	c.drainPushes()
	ok := c.flush()
	// Redis counts a write as interaction, and so does the idle clock.
	c.ioWait.Store(time.Now().UnixNano())
	return ok
}

// closePushes drops what is queued when the client goes.
func (c *client) closePushes() {
	q := &c.push
	q.mu.Lock()
	q.dead, q.buf = true, nil
	q.pending.Store(false)
	q.mu.Unlock()
}

// Push encodings. RESP3 clients get push types ('>'); RESP2 ones can only be
// sent pub/sub messages, arrays.

// appendPushHeader starts a push of n elements: '>' in RESP3, an array in RESP2.
func appendPushHeader(dst []byte, resp3 bool, n int) []byte {
	if resp3 {
		dst = append(dst, '>')
	} else {
		dst = append(dst, '*')
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// appendNull is RESP3's null or RESP2's null bulk.
func appendNull(dst []byte, resp3 bool) []byte {
	if resp3 {
		return append(dst, "_\r\n"...)
	}
	return append(dst, "$-1\r\n"...)
}
