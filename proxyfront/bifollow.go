package proxyfront

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/shard"
)

// A bi-follow list (U.bifollow) is computed by a node from U's following
// list and each member's following list, which a sharded pool spreads over
// every node: U's node alone would find most members' lists missing. So
// across nodes the proxy assembles it, as a single node would compute it:
//
//	U.bifollow = RELMEMBERS U.following WITHTIMES on U's node, then
//	             RELFOLLOWS U WITHTIMES <the members of each node>; the
//	             members answering 1, timed by the later of the two
//	             follows, newest first (ties by ascending uid)
//
// It answers RELMEMBERS (every form: window, cursor, LIMIT, as a node
// pages by resp.Page) and RELCARD; the other readers of a
// bi-follow key are refused across nodes rather than answered from U's
// node, which would miss members (with one node they are forwarded).

// readsRelationSets reports whether commands of a node's command group
// read relation sets (and so read a bi-follow key as its computed list);
// the others (TYPE, TTL, GET, ...) see a bi-follow key as the absent key
// it is on every node, and are forwarded.
func readsRelationSets(group string) bool {
	switch group {
	case "relation", "hash", "set", "sorted_set":
		return true
	}
	return false
}

// bifollowUser reports the uid of a bi-follow key.
func (t *topology) bifollowUser(key []byte) (uint64, bool) {
	uid, kind, ok := t.keys.Parse(key)
	return uid, ok && kind == shard.Bifollow
}

// cmdBifollowRead answers a read command on U's bi-follow key across nodes.
func cmdBifollowRead(c *client, t *topology, args [][]byte, u uint64) {
	name := strings.ToLower(string(args[0]))
	var p resp.Page
	switch name {
	case "relcard":
	case "relmembers":
		var msg string
		if p, msg = resp.ParsePage(args[2:]); msg != "" {
			c.fail(name, msg)
			return
		}
	default:
		c.fail(name, "ERR relcache proxy assembles bi-follow lists across nodes for RELMEMBERS and RELCARD only, not "+strings.ToUpper(name))
		return
	}
	uKey, hU := c.userKey(t, u, shard.Following)
	km := c.start(t, hU, true, []byte("RELMEMBERS"), uKey, []byte("WITHTIMES"))
	var ki *call
	if name == "relcard" {
		// A count needs to know whether U's own list is whole, which its
		// listing does not say: RELINFO does, in the same round.
		ki = c.start(t, hU, true, []byte("RELINFO"), uKey)
	}
	x := strconv.AppendUint(nil, u, 10)
	c.pending = append(c.pending, opFunc(func(c *client) {
		c.await(km)
		defer km.release() // the members point into its reply
		uTruncated := false
		if ki != nil {
			c.await(ki)
			uTruncated = !infoSaysWhole(ki)
			ki.release()
		}
		if name == "relcard" && km.err == nil && resp.IsNil(km.reply) {
			c.out = append(c.out, "$-1\r\n"...) // RELCARD's nil, not RELMEMBERS's
			return
		}
		pairs, ok := c.members(km)
		if !ok {
			return
		}
		mutual, unknown, ok := c.mutualFollows(t, x, pairs)
		switch {
		case !ok:
			return
		case name == "relcard" && (unknown || uTruncated):
			// Some member could not be answered for: the length is not
			// known, as a node answers for its computed list.
			c.out = append(c.out, "$-1\r\n"...)
			return
		case name == "relcard":
			c.out = redcon.AppendInt(c.out, int64(len(mutual)))
			return
		}
		// The page, as a node pages its computed list: window and cursor
		// on the mutual follow's time, then LIMIT.
		mutual = slices.DeleteFunc(mutual, func(m mutualFollow) bool { return !p.Keeps(m.uid, m.time) })
		if p.Limit >= 0 && p.Limit < len(mutual) {
			mutual = mutual[:p.Limit]
		}
		n := len(mutual)
		if p.WithTimes {
			n *= 2
		}
		c.out = redcon.AppendArray(c.out, n)
		for _, m := range mutual {
			c.out = redcon.AppendBulk(c.out, strconv.AppendUint(c.scratch[:0], m.uid, 10))
			if p.WithTimes {
				c.out = redcon.AppendBulk(c.out, strconv.AppendUint(c.scratch[:0], uint64(m.time), 10))
			}
		}
	}))
}

// infoSaysWhole reports whether a RELINFO reply says the list is cached
// whole (truncated 0). Anything else (a failure, nil: the list went away
// since it was listed) is not known to be whole.
func infoSaysWhole(k *call) bool {
	if k.err != nil {
		return false
	}
	elems, ok := resp.AppendElements(nil, k.reply)
	for i := 0; ok && i+1 < len(elems); i += 2 {
		if name, _ := resp.Bulk(elems[i]); string(name) == "truncated" {
			v, isInt := resp.Int(elems[i+1])
			return isInt && v == 0
		}
	}
	return false
}

// mutualFollow is one member of an assembled bi-follow list.
type mutualFollow struct {
	uid  uint64
	time uint32
}

// mutualFollows asks the members' nodes which of U's members (uid, time
// pairs, as RELMEMBERS WITHTIMES lists them) follow U (x) back, and
// returns those, newest mutual follow first. A member that cannot be
// answered for (not cached, truncated without U, another kind of value)
// is left out, as a node leaves it out, and unknown says there was one.
// On a failure it has answered the client and reports false.
func (c *client) mutualFollows(t *topology, x []byte, pairs [][]byte) (out []mutualFollow, unknown, ok bool) {
	if len(pairs)%2 != 0 {
		c.out = redcon.AppendError(c.out, "ERR proxy: a node listed an odd number of RELMEMBERS WITHTIMES elements")
		return nil, false, false
	}
	uids := make([]uint64, len(pairs)/2)
	times := make([]uint32, len(uids))
	text := make([][]byte, len(uids))
	for i := range uids {
		u, ok1 := resp.ParseUint(pairs[2*i])
		tm, ok2 := resp.ParseUint(pairs[2*i+1])
		if !ok1 || !ok2 || tm > 1<<32-1 {
			c.out = redcon.AppendError(c.out, "ERR proxy: a node listed "+strconv.Quote(string(pairs[2*i]))+" "+strconv.Quote(string(pairs[2*i+1]))+" as a member and its time")
			return nil, false, false
		}
		uids[i], times[i], text[i] = u, uint32(tm), pairs[2*i]
	}
	if len(uids) == 0 {
		return out, false, true
	}
	gs := c.groupUsers(t, uids, text, true)
	c.startFollows(t, gs, x, [][]byte{[]byte("WITHTIMES")}, false)
	answers, errMsg := c.followPairs(gs, len(uids))
	if errMsg != "" {
		c.out = redcon.AppendError(c.out, errMsg)
		return nil, false, false
	}
	for i, p := range answers {
		// An error in a code's place (another kind of value) cannot be
		// answered for: left out, as a node leaves it out.
		switch code, isInt := resp.Int(p[0]); {
		case isInt && code == 1:
			back, _ := resp.Int(p[1])
			out = append(out, mutualFollow{uids[i], max(times[i], uint32(back))})
		case !isInt || code < 0:
			unknown = true
		}
	}
	slices.SortFunc(out, func(a, b mutualFollow) int {
		if c := cmp.Compare(b.time, a.time); c != 0 {
			return c
		}
		return cmp.Compare(a.uid, b.uid)
	})
	return out, unknown, true
}

// followPairs waits for the groups' RELFOLLOWS WITHTIMES and returns each
// uid's two reply elements (the code, or the node's error in its place,
// and the time) by position, copied out of the replies; errMsg is set when
// a whole sub-request failed.
func (c *client) followPairs(gs []*uidGroup, n int) (pairs [][2][]byte, errMsg string) {
	pairs = make([][2][]byte, n)
	var elems [][]byte
	for _, g := range gs {
		if elems, errMsg = c.groupElems(g, elems[:0], 2, "RELFOLLOWS WITHTIMES", errMsg); errMsg != "" {
			continue
		}
		for j, p := range g.pos {
			pairs[p] = [2][]byte{slices.Clone(elems[2*j]), slices.Clone(elems[2*j+1])}
		}
	}
	for _, g := range gs {
		g.k.release()
	}
	return pairs, errMsg
}

// composeFollowPairs answers RELFOLLOWS x WITHTIMES from the groups'
// replies, pair by pair in the client's order.
func composeFollowPairs(gs []*uidGroup, n int) opFunc {
	return func(c *client) {
		pairs, errMsg := c.followPairs(gs, n)
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		c.out = redcon.AppendArray(c.out, 2*len(pairs))
		for _, p := range pairs {
			c.out = append(append(c.out, p[0]...), p[1]...)
		}
	}
}
