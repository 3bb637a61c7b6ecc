package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
)

// The mixed run talks RESP itself rather than through go-redis: one
// connection per worker, commands encoded into a reused buffer, replies
// framed in place. go-redis boxes every argument into an interface and
// builds a []any of every reply, about a thousand allocations for one
// RELMULTI of 500; the load generator's own collector then ran often enough
// to show in the latencies it measured (and, sharing the machine, to take CPU
// from the server). The load, the counts and INFO stay on go-redis: nothing
// there is timed.

// maxReply bounds a reply the run accepts (HKEYS of the largest list is the
// biggest it asks for).
const maxReply = 512 << 20

// request is one prepared operation: everything the client computes is done
// before it is timed. It is reused from request to request by one worker.
type request struct {
	out       []byte // the commands, pipelined
	replies   int    // replies they get
	nilIsMiss bool   // a nil first reply means the list was not cached
	// then, when set, builds a second round from the first round's last
	// reply (Redis's RELWHO: HKEYS, then HEXISTS per member), appending its
	// commands to dst and returning how many it wrote.
	then func(dst, last []byte) ([]byte, int)

	zipf *rand.Zipf // the worker's draw of users with CapacityConfig.Zipf; nil until used

	array []byte   // scratch for a reload's openhash array
	elems [][]byte // scratch for the elements of an array reply
}

func (r *request) reset() {
	r.out, r.replies, r.nilIsMiss, r.then = r.out[:0], 0, false, nil
}

// command starts a command of n arguments, name the first.
func (r *request) command(n int, name string) {
	r.out = redcon.AppendArray(r.out, n)
	r.out = redcon.AppendBulkString(r.out, name)
	r.replies++
}

func (r *request) uid(u uint64) { r.out = resp.AppendBulkUint(r.out, u) }

// key appends u's following list key, "<u>.following".
func (r *request) key(u uint64) {
	var num [20]byte
	r.out = appendKeyOf(r.out, strconv.AppendUint(num[:0], u, 10))
}

// membersFollow is Redis's second round of RELWHO: given the HKEYS reply
// of a's list, one HEXISTS m.following x per member m.
func (r *request) membersFollow(x uint64) func(dst, last []byte) ([]byte, int) {
	return func(dst, last []byte) ([]byte, int) {
		r.elems, _ = resp.AppendElements(r.elems[:0], last)
		for _, m := range r.elems {
			name, _ := resp.Bulk(m)
			dst = redcon.AppendArray(dst, 3)
			dst = redcon.AppendBulkString(dst, "HEXISTS")
			dst = appendKeyOf(dst, name)
			dst = resp.AppendBulkUint(dst, x)
		}
		return dst, len(r.elems)
	}
}

// appendKeyOf appends the following list key of the uid whose text is u.
func appendKeyOf(dst, u []byte) []byte {
	const suffix = ".following"
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(u)+len(suffix)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, u...)
	dst = append(dst, suffix...)
	return append(dst, '\r', '\n')
}

// wireConn is one worker's connection.
type wireConn struct {
	nc  net.Conn
	rr  *resp.ReplyReader
	out []byte // second-round commands
}

func dialWire(ctx context.Context, addr string) (*wireConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &wireConn{nc: nc, rr: resp.NewReplyReader(nc, maxReply)}, nil
}

// errReply is an error reply; the connection is still in step.
type errReply struct{ msg string }

func (e *errReply) Error() string { return e.msg }

// do sends r and reads every reply it gets. An error reply is returned as
// *errReply after the rest were read, so the connection stays usable; any
// other error means the connection is broken.
func (c *wireConn) do(r *request, timeout time.Duration) (miss bool, err error) {
	out, n, then := r.out, r.replies, r.then
	for round := 0; ; round++ {
		if err := c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
			return false, err
		}
		if _, err := c.nc.Write(out); err != nil {
			return false, err
		}
		var first error
		next := 0
		for i := range n {
			raw, err := c.rr.Next()
			if err != nil {
				return false, err
			}
			switch {
			case resp.IsError(raw):
				if first == nil {
					first = &errReply{resp.ErrorText(raw)}
				}
			case round == 0 && i == 0 && r.nilIsMiss && resp.IsNil(raw):
				miss = true
			}
			if i == n-1 && then != nil && first == nil {
				// raw aliases the reader's buffer: build the next round
				// before reading again.
				c.out, next = then(c.out[:0], raw)
			}
		}
		if first != nil || next == 0 {
			return miss, first
		}
		out, n, then = c.out, next, nil
	}
}

func (c *wireConn) close() error { return c.nc.Close() }

// broken reports whether err left the connection out of step.
func broken(err error) bool {
	var er *errReply
	return err != nil && !errors.As(err, &er)
}
