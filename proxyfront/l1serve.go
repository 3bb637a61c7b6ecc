package proxyfront

import (
	"strings"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/shard"
)

// What the L1 answers, and the client's side of its write barrier. Each
// answer is the node's byte for byte, and only given where the proxy can
// know it is: GET of a string or set; RELMULTI and RELCHECK without a
// window or BITS, on sets that are not truncated, for uids the proxy
// parses as the node does. Everything else (an error to word, a list that
// is not cached, a bi-follow list the node builds from others, a window)
// goes to the node as before.

// l1State is a client's scratch and write notes for the L1.
type l1State struct {
	writing bool       // a write command ran since the replies were last all written
	written []*backend // nodes sent calls since then (l1Wrote)
	uids    []uint64
	hits    []bool
	out     []byte
}

// l1Serves reports whether the L1 may answer c now: it is on; c holds no
// WATCH (a watching client reads the primary, where its WATCH is); and c
// has no write whose reply it has not been sent, since a read pipelined
// after a write must see it, as the node would show it.
func (c *client) l1Serves() bool { return c.p.l1 != nil && c.watch == nil && !c.l1.writing }

// l1Read answers a forwarded read (GET, RELMULTI) from the L1 if it can.
func (c *client) l1Read(t *topology, args [][]byte, pos int) bool {
	if !c.l1Serves() || pos != 1 {
		return false
	}
	switch {
	case len(args) == 2 && strings.EqualFold(string(args[0]), "get"):
		if _, bifollow := t.bifollowUser(args[1]); bifollow {
			return false // built from other lists: the node knows when it changes
		}
		e := c.p.l1.lookup(t.reads[0].backendFor(t.hashOf(args[1], c.scratch)), args[1])
		if e == nil {
			return false
		}
		c.p.l1.hits.Add(1)
		c.reply(e.raw)
		return true
	case len(args) >= 3 && strings.EqualFold(string(args[0]), "relmulti"):
		return c.l1RelMulti(t, args)
	}
	return false
}

// l1Uids reads uids (decimal, or BIN's packed bytes) into c's scratch;
// false for anything the node would refuse, or more than max_batch.
func (c *client) l1Uids(text [][]byte, bin bool) ([]uint64, bool) {
	max := c.p.l1.cfg.MaxBatch
	if bin {
		n, ok := resp.PackedUIDs(text)
		if !ok || n > max {
			return nil, false
		}
		return resp.AppendPackedUIDs(c.l1.uids[:0], text[0]), true
	}
	if len(text) == 0 || len(text) > max {
		return nil, false
	}
	uids, ok := c.appendUIDs(c.l1.uids[:0], text)
	if !ok {
		return nil, false
	}
	return uids, true
}

// l1RelMulti answers RELMULTI key [BIN] uid... from a cached set.
func (c *client) l1RelMulti(t *topology, args [][]byte) bool {
	o, msg := resp.ParseRelOpts(args[2:], resp.OptBits|resp.OptBin)
	if msg != "" || o.Bits || o.Windowed {
		return false
	}
	if _, bifollow := t.bifollowUser(args[1]); bifollow {
		return false
	}
	uids, ok := c.l1Uids(args[2+o.N:], o.Bin)
	if !ok {
		return false
	}
	c.l1.uids = uids
	e := c.p.l1.lookup(t.reads[0].backendFor(t.hashOf(args[1], c.scratch)), args[1])
	if e == nil || e.kind != l1Set {
		return false // a string: the node's WRONGTYPE
	}
	c.p.l1.hits.Add(1)
	c.l1.hits = e.set.ContainsBatch(c.l1.hits[:0], uids)
	out := redcon.AppendArray(c.l1.out[:0], len(uids))
	for _, h := range c.l1.hits {
		out = redcon.AppendInt(out, b2i64(h))
	}
	c.l1.out = out
	c.reply(out)
	return true
}

// l1RelCheck answers RELCHECK a [BATCH] b... (or BIN) when a's following
// set and every b's are cached: bit 1 from a's set, bit 2 from b's, as the
// node computes them.
func (c *client) l1RelCheck(t *topology, args [][]byte, o resp.RelOpts, a uint64, bs []uint64) bool {
	if !c.l1Serves() || o.Windowed || len(bs) > c.p.l1.cfg.MaxBatch {
		return false
	}
	l := c.p.l1
	aKey, hA := c.userKey(t, a, shard.Following)
	ae := l.lookup(t.reads[0].backendFor(hA), aKey)
	if ae == nil || ae.kind != l1Set {
		return false
	}
	out := c.l1.out[:0]
	if o.Batch || o.Bin {
		out = redcon.AppendArray(out, len(bs))
	}
	for _, b := range bs {
		bKey, hB := c.userKey(t, b, shard.Following)
		bk := l.lookup(t.reads[0].backendFor(hB), bKey)
		if bk == nil || bk.kind != l1Set {
			c.l1.out = out
			return false
		}
		code := b2i64(ae.set.Contains(b)) | b2i64(bk.set.Contains(a))<<1
		out = redcon.AppendInt(out, code)
	}
	l.hits.Add(1)
	c.l1.out = out
	c.reply(out)
	return true
}

func b2i64(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// l1Wrote notes, for a client running a write, the node a call went to:
// its reply must not reach the client before that node's invalidations
// reached the L1 (l1Sync).
func (c *client) l1Wrote(be *backend) {
	for _, x := range c.l1.written {
		if x == be {
			return
		}
	}
	c.l1.written = append(c.l1.written, be)
}

// l1Sync runs the write barrier (l1.go) on every node the client wrote to
// since its replies were last all written; called before replies are
// written, while c.l1.writing. The list is kept while commands are
// pending: a write whose reply is not in this batch gets its barrier
// before a later one.
func (c *client) l1Sync() {
	var waits [4]chan struct{}
	dones := waits[:0]
	nodes := make([]*l1node, 0, len(c.l1.written))
	for _, be := range c.l1.written {
		if n := c.p.l1.existing(be); n != nil {
			nodes = append(nodes, n)
			dones = append(dones, n.startBarrier())
		}
	}
	for i, n := range nodes {
		n.waitBarrier(dones[i])
	}
	if len(c.pending) == 0 {
		clear(c.l1.written)
		c.l1.written = c.l1.written[:0]
		c.l1.writing = false
	}
}

// l1Info writes INFO's L1 section.
func (p *Proxy) l1Info(field func(k string, v any)) {
	field("l1_enabled", b2i(p.l1 != nil))
	if p.l1 == nil {
		return
	}
	s := p.l1.stats()
	field("l1_max_bytes", p.l1.cfg.MaxBytes)
	field("l1_bytes", s.bytes)
	field("l1_entries", s.entries)
	field("l1_hits", s.hits)
	field("l1_misses", s.misses)
	field("l1_fetches", s.fetches)
	field("l1_invalidations", s.invalidations)
	field("l1_drops", s.drops)
	field("l1_barriers", s.barriers)
}
