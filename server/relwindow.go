package server

import (
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
)

// Time windows on the relation reads: SINCE t and UNTIL t (resp.RelOpts,
// which the proxy reads too), answered from each member's follow time.

// relOpts reads the options at the head of args (resp.ParseRelOpts) and
// returns the arguments after them; on bad input it replies and reports
// false.
func (c *client) relOpts(args [][]byte, takes int) (o resp.RelOpts, rest [][]byte, ok bool) {
	o, msg := resp.ParseRelOpts(args, takes)
	if msg != "" {
		c.err(msg)
		return o, nil, false
	}
	return o, args[o.N:], true
}

// userAndUIDs reads "CMD x [options] uid [uid ...]" (RELCHECK, RELFOLLOWS):
// x, the options, and the uids into c.uids; on bad input it replies and
// reports false.
func (c *client) userAndUIDs(args [][]byte, takes int, name string) (x uint64, o resp.RelOpts, ok bool) {
	x, ok = parseUID(args[1])
	if !ok {
		c.err(errRelMember)
		return 0, o, false
	}
	o, ok = c.optsAndUIDs(args[2:], takes|resp.OptBin, name)
	return x, o, ok
}

// optsAndUIDs reads "[options] uid [uid ...]" (or "[options] BIN
// <packed uids>") into o and c.uids; on bad input it replies and reports
// false.
func (c *client) optsAndUIDs(args [][]byte, takes int, name string) (o resp.RelOpts, ok bool) {
	o, rest, ok := c.relOpts(args, takes)
	switch {
	case !ok:
		return o, false
	case len(rest) == 0:
		c.err("ERR wrong number of arguments for '" + name + "' command")
		return o, false
	case !o.Bin:
		return o, c.parseUIDs(rest)
	}
	n, packed := resp.PackedUIDs(rest)
	switch {
	case !packed:
		c.err(resp.ErrRelBin)
		return o, false
	case n > c.srv.cfg.RelMaxBatch:
		c.errTooManyUIDs(n)
		return o, false
	}
	c.uids = resp.AppendPackedUIDs(c.uids[:0], rest[0])
	return o, true
}

// windowFits reports whether set can answer o's window; when it cannot (a
// window on a set stored without times, which would call every member's
// time 0) it replies the error and reports false. An empty set answers
// any window: nothing is in it.
func (c *client) windowFits(o *resp.RelOpts, set *openhash.Set, key []byte) bool {
	if !o.Windowed || set.HasTimes() || set.Count() == 0 {
		return true
	}
	key = resp.CString(key) // quoted as Redis quotes arguments: to the first NUL, at most 128 bytes
	c.err("ERR SINCE and UNTIL need follow times, and the relation set '" + string(key[:min(len(key), 128)]) + "' was stored without them")
	return false
}

// memberIn is whether uid is a member of the set stored at key with a
// follow time inside o's window: 1, 0, or -1 when it cannot be known (a
// miss in a truncated set that the source has not answered for: noted for
// dispatch to ask, relset_truncated.go). A member outside the window is a
// known 0: a set holds each uid once. Without a window it is as cheap as
// Set.Contains.
func (c *client) memberIn(key []byte, set *openhash.Set, uid uint64, o *resp.RelOpts) int64 {
	return c.memberInOf(true, key, set, uid, o)
}

// memberInOf is memberIn for a set that may not be cached (found false):
// -1 then.
func (c *client) memberInOf(found bool, key []byte, set *openhash.Set, uid uint64, o *resp.RelOpts) int64 {
	if !o.Windowed || !found {
		return c.membership(found, key, set, uid)
	}
	t, member, known := c.memberTime(key, set, uid)
	switch {
	case !known:
		return -1
	case member && o.Holds(t):
		return 1
	}
	return 0
}
