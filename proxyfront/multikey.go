package proxyfront

import (
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
)

// Multi-key commands are split into ONE sub-request per node holding any
// of the keys (not one per key), sent in parallel and merged back in the
// client's key order.

// group is the part of a multi-key command bound for one backend: the
// positions (in the client's command) of its keys.
type group struct {
	be  *backend
	pos []int
	k   *call
}

// split groups the keys at args[first], args[first+step], ... by the
// backend that owns them in pool p, in order of first appearance.
func (c *client) split(t *topology, p *poolRoute, args [][]byte, first, step int) []*group {
	var gs []*group
	for i := first; i < len(args); i += step {
		be := p.backendFor(t.hashOf(args[i], c.scratch))
		var g *group
		for _, x := range gs {
			if x.be == be {
				g = x
				break
			}
		}
		if g == nil {
			g = &group{be: be}
			gs = append(gs, g)
		}
		g.pos = append(g.pos, i)
	}
	c.p.metrics.fanout.Observe(float64(len(gs)))
	return gs
}

// startGroups sends each group's sub-command: name, then for each position
// the argument there and the step-1 arguments after it. Reads go to the
// first pool of the read order (and fail over per group in await).
func (c *client) startGroups(t *topology, gs []*group, read bool, name []byte, args [][]byte, step int) {
	for _, g := range gs {
		sub := make([][]byte, 0, 1+len(g.pos)*step)
		sub = append(sub, name)
		for _, p := range g.pos {
			sub = append(sub, args[p:p+step]...)
		}
		// Every key of the group hashes to the same backend; route the
		// call by the first so that a read's fail-over finds its twin.
		g.k = c.start(t, t.hashOf(args[g.pos[0]], c.scratch), read, sub...)
	}
}

// awaitGroups waits for every group; it returns the first failure (the
// proxy's or the node's error reply), if any.
func (c *client) awaitGroups(gs []*group) (errMsg string, failed bool) {
	for _, g := range gs {
		c.await(g.k)
		switch {
		case failed:
		case g.k.err != nil:
			errMsg, failed = g.k.err.Error(), true
		case resp.IsError(g.k.reply):
			errMsg, failed = resp.ErrorText(g.k.reply), true
		}
	}
	return errMsg, failed
}

func releaseGroups(gs []*group) {
	for _, g := range gs {
		g.k.release()
	}
}

// MGET: each value lands at its key's position. A node that fails leaves
// its error in its keys' positions only; the other values still arrive.
func cmdMGet(c *client, t *topology, args [][]byte) {
	gs := c.split(t, t.reads[0], args, 1, 1)
	c.startGroups(t, gs, true, args[0], args, 1)
	n := len(args) - 1
	c.pending = append(c.pending, opFunc(func(c *client) {
		defer releaseGroups(gs)
		vals := make([][]byte, n)
		var elems [][]byte
		for _, g := range gs {
			c.await(g.k)
			var ok bool
			if g.k.err == nil {
				elems, ok = resp.AppendElements(elems[:0], g.k.reply)
			}
			for j, p := range g.pos {
				switch {
				case g.k.err != nil:
					vals[p-1] = redcon.AppendError(nil, g.k.err.Error())
				case ok && len(elems) == len(g.pos):
					vals[p-1] = elems[j]
				case resp.IsError(g.k.reply):
					vals[p-1] = g.k.reply
				default:
					vals[p-1] = redcon.AppendError(nil, "ERR proxy: backend "+g.be.name+" answered MGET with "+strconv.Quote(string(g.k.reply)))
				}
			}
		}
		c.out = redcon.AppendArray(c.out, n)
		for _, v := range vals {
			c.out = append(c.out, v...)
		}
	}))
}

// MSET: +OK when every node took its pairs. Atomicity cannot span nodes:
// if one fails, the others' pairs are set and the client gets the error.
func cmdMSet(c *client, t *topology, args [][]byte) {
	if len(args)%2 != 1 {
		c.fail("mset", "ERR wrong number of arguments for 'mset' command")
		return
	}
	gs := c.split(t, t.primary, args, 1, 2)
	c.startGroups(t, gs, false, args[0], args, 2)
	c.pending = append(c.pending, opFunc(func(c *client) {
		defer releaseGroups(gs)
		if msg, failed := c.awaitGroups(gs); failed {
			c.out = redcon.AppendError(c.out, msg)
			return
		}
		c.out = append(c.out, "+OK\r\n"...)
	}))
}

// DEL, UNLINK, EXISTS, TOUCH: the nodes' counts summed. A key given twice
// goes to the same node in the same sub-command, so it counts as the node
// counts it (EXISTS twice, DEL once).
func sumKeys(read bool) func(c *client, t *topology, args [][]byte) {
	return func(c *client, t *topology, args [][]byte) {
		p := t.primary
		if read {
			p = t.reads[0]
		}
		gs := c.split(t, p, args, 1, 1)
		c.startGroups(t, gs, read, args[0], args, 1)
		name := strings.ToLower(string(args[0]))
		c.pending = append(c.pending, opFunc(func(c *client) {
			defer releaseGroups(gs)
			if msg, failed := c.awaitGroups(gs); failed {
				c.p.metrics.errors.WithLabelValues(name).Inc()
				c.out = redcon.AppendError(c.out, msg)
				return
			}
			var sum int64
			for _, g := range gs {
				n, ok := resp.Int(g.k.reply)
				if !ok {
					c.out = redcon.AppendError(c.out, "ERR proxy: backend "+g.be.name+" answered "+name+" with "+strconv.Quote(string(g.k.reply)))
					return
				}
				sum += n
			}
			c.out = redcon.AppendInt(c.out, sum)
		}))
	}
}

// DBSIZE: the sum over the read pool's nodes, each of which holds its
// share of the keys once.
func cmdDBSize(c *client, t *topology, args [][]byte) {
	p := t.reads[0]
	ks := make([]*call, len(p.backends))
	for i, be := range p.backends {
		k := newCall()
		k.req = resp.AppendCommand(k.req[:0], args[0])
		c.send(be, k)
		ks[i] = k
	}
	c.pending = append(c.pending, opFunc(func(c *client) {
		var sum int64
		var errMsg string
		for _, k := range ks {
			c.wait(k)
			n, ok := resp.Int(k.reply)
			switch {
			case errMsg != "":
			case k.err != nil:
				errMsg = k.err.Error()
			case !ok:
				errMsg = "ERR proxy: backend " + k.be.name + " answered DBSIZE with " + strconv.Quote(string(k.reply))
			}
			sum += n
			k.release()
		}
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		c.out = redcon.AppendInt(c.out, sum)
	}))
}
