package server

import (
	"context"

	"github.com/relcache/relcache/fill"
)

// FOLLOW a b [time] and UNFOLLOW a b: writes through to the source of
// record, then to the cache. The engine (package fill, edge.go) makes the
// write and keeps the cached lists equal to the database; the handlers
// parse, check and reply.

func cmdFollow(c *client, args [][]byte)   { c.followWrite(args, true) }
func cmdUnfollow(c *client, args [][]byte) { c.followWrite(args, false) }

func (c *client) followWrite(args [][]byte, add bool) {
	name := "follow"
	if !add {
		name = "unfollow"
	}
	if (add && len(args) > 4) || (!add && len(args) != 3) {
		c.err("ERR wrong number of arguments for '" + name + "' command")
		return
	}
	f := c.srv.fill
	if !f.CanWrite() {
		c.err("ERR " + name + " needs a source of record to write to (serve with --source sqlite or mysql)")
		return
	}
	a, ok1 := parseUID(args[1])
	b, ok2 := parseUID(args[2])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return
	}
	if a == b {
		c.err("ERR a user cannot follow itself")
		return
	}
	for _, u := range []uint64{a, b} {
		if err := f.CheckUID(u); err != nil {
			c.err(fillErrReply(err))
			return
		}
	}
	t := uint32(c.srv.store.Now() / 1000)
	if len(args) == 4 {
		var ok bool
		if t, ok = parseTime(args[3]); !ok {
			c.err(errRelTime)
			return
		}
	}
	changed, err := f.ApplyEdge(context.Background(), a, b, t, add)
	if err != nil {
		c.err("ERR " + oneLine(err.Error()))
		return
	}
	c.boolean(changed)
}

// RELEDGE ADD a b time | RELEDGE DEL a b: the cache half of FOLLOW and
// UNFOLLOW, for a node that does not own the write. A sharding proxy sends
// FOLLOW to a's node, which writes the source of record; b.follower lives on
// b's node, which gets RELEDGE; with replicated pools, every other copy gets
// it too. It patches whichever of a.following and b.follower this node has
// cached (XX) and replies how many it patched; it never writes the source.
func cmdRelEdge(c *client, args [][]byte) {
	add := eqFold(args[1], "ADD")
	if !add && !eqFold(args[1], "DEL") {
		c.err(errSyntax)
		return
	}
	// A trailing CHANGED or UNCHANGED says what the source write did to
	// the edge (FOLLOW's and UNFOLLOW's reply on the writing node), which
	// keeps a truncated list's total true; without it such a list is
	// dropped, to be filled again.
	n, change := len(args), fill.EdgeUnknown
	switch {
	case eqFold(args[n-1], "CHANGED"):
		n, change = n-1, fill.EdgeChanged
	case eqFold(args[n-1], "UNCHANGED"):
		n, change = n-1, fill.EdgeUnchanged
	}
	if (add && n != 5) || (!add && n != 4) {
		c.err("ERR wrong number of arguments for 'reledge' command")
		return
	}
	a, ok1 := parseUID(args[2])
	b, ok2 := parseUID(args[3])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return
	}
	var t uint32
	if add {
		var ok bool
		if t, ok = parseTime(args[4]); !ok {
			c.err(errRelTime)
			return
		}
	}
	c.integer(int64(c.srv.fill.PatchEdge(c.db(), a, b, t, add, change)))
}
