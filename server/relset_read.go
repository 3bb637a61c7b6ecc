package server

import (
	"strconv"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// The relation-set read commands: RELCHECK, RELFOLLOWS, RELMULTI, RELWHO,
// RELCOMMON, RELMEMBERS, RELCARD and RELINFO. A cold list is noted for
// dispatch to fill (relSet, fill.go); the answers are probes of the bytes
// the store handed out, under no lock.

// followingKey builds uid's following key in c.keyBuf, without allocating.
func (c *client) followingKey(uid uint64) []byte {
	c.keyBuf, _ = c.srv.keys.Append(c.keyBuf[:0], uid, shard.Following)
	return c.keyBuf
}

// followingOf looks up uid's following set by the key pattern.
func (c *client) followingOf(uid uint64) (openhash.Set, bool, bool) {
	return c.relSet(c.followingKey(uid))
}

// RELCHECK a b [b ...]: the relation of a to each b from both following
// sets: bit 1 a follows b, bit 2 b follows a (0 none, 1, 2, 3 bi-follow).
// -1 when it cannot be known: a needed set is not cached, or a truncated set
// does not hold the uid and there is no source of record to ask (with one,
// it is asked: relset_truncated.go). One b gets an integer reply, several
// an array.
func cmdRelCheck(c *client, args [][]byte) {
	a, ok := parseUID(args[1])
	if !ok {
		c.err(errRelMember)
		return
	}
	if !c.parseUIDs(args[2:]) {
		return
	}
	aSet, aFound, ok := c.followingOf(a)
	if !ok {
		return
	}
	if len(c.uids) > 1 {
		c.arrayHeader(len(c.uids))
	}
	for _, b := range c.uids {
		code := int64(0)
		known := aFound
		if aFound {
			// The key is built again: the probe of b below reuses keyBuf.
			member, k := c.contains(c.followingKey(a), &aSet, b)
			known = k
			if member {
				code |= 1
			}
		}
		bSet, bFound, ok := c.followingOf(b)
		if !ok {
			continue // WRONGTYPE replied in this position: the array stays whole
		}
		if !bFound {
			known = false
		} else if member, k := c.contains(c.followingKey(b), &bSet, a); !k {
			known = false
		} else if member {
			code |= 2
		}
		if !known {
			code = -1
		}
		c.integer(code)
	}
}

// RELFOLLOWS x u [u ...]: whether each u follows x, from each u's own
// following set, in order: 1, 0, or -1 when it cannot be known (u's set is
// not cached, or is truncated, lacks x, and there is no source to ask).
// Always an array. It is the per-shard half a sharding proxy needs:
// RELCHECK a b1..bn across shards is RELMULTI on a's shard plus RELFOLLOWS
// a <the b's of each shard>, and RELWHO a x is a's list plus RELFOLLOWS x
// <a's members on each shard>.
func cmdRelFollows(c *client, args [][]byte) {
	x, ok := parseUID(args[1])
	if !ok {
		c.err(errRelMember)
		return
	}
	if !c.parseUIDs(args[2:]) {
		return
	}
	c.arrayHeader(len(c.uids))
	for _, u := range c.uids {
		set, found, ok := c.followingOf(u)
		if !ok {
			continue // WRONGTYPE replied in this position: the array stays whole
		}
		c.integer(c.membership(found, c.keyBuf, &set, x))
	}
}

// membership is the REL* answer for uid in the set at key: 1, 0, or -1
// when the set is not cached or cannot answer (relset_truncated.go).
func (c *client) membership(found bool, key []byte, set *openhash.Set, uid uint64) int64 {
	if !found {
		return -1
	}
	switch member, known := c.contains(key, set, uid); {
	case !known:
		return -1
	case member:
		return 1
	}
	return 0
}

// RELMULTI key [BITS] uid [uid ...]: membership of each uid in one set, in
// order: 1 member, 0 not, -1 unknown (not in a truncated set, and no source
// to ask). Nil when the set is not cached. BITS replies a bitmap instead
// (bit i set when uid i is a member; bit 0 is the high bit of byte 0, as
// GETBIT counts), or the TRUNCATED error when a bit would be unknown.
func cmdRelMulti(c *client, args [][]byte) {
	bitsMode := eqFold(args[2], "BITS")
	uidArgs := args[2:]
	if bitsMode {
		if len(args) < 4 {
			c.err("ERR wrong number of arguments for 'relmulti' command")
			return
		}
		uidArgs = args[3:]
	}
	if !c.parseUIDs(uidArgs) {
		return
	}
	set, found, ok := c.relSet(args[1])
	switch {
	case !ok:
		return
	case !found && bitsMode:
		c.null()
		return
	case !found:
		c.nullArray()
		return
	}
	c.hits = set.ContainsBatch(c.hits[:0], c.uids)
	// 1, 0, or -1: a truncated set's misses are the source's answers, or
	// unknown.
	c.codes = c.codes[:0]
	unknown := false
	for i, h := range c.hits {
		code := int64(0)
		switch {
		case h:
			code = 1
		case set.Truncated():
			code = c.membership(true, args[1], &set, c.uids[i])
			unknown = unknown || code < 0
		}
		c.codes = append(c.codes, code)
	}
	if bitsMode {
		if unknown {
			// A bit has no "unknown": 0 would say "not a member".
			c.errUnknownMember()
			return
		}
		n := (len(c.codes) + 7) / 8
		c.scratch = append(c.scratch[:0], make([]byte, n)...)
		for i, code := range c.codes {
			if code == 1 {
				c.scratch[i/8] |= 0x80 >> (i % 8)
			}
		}
		c.bulk(c.scratch)
		return
	}
	c.arrayHeader(len(c.codes))
	for _, code := range c.codes {
		c.integer(code)
	}
}

// keptMembers is the most members' worth of scratch a client keeps between
// commands (1 MiB): one listing of a celebrity's fans should not pin its
// buffer to the connection for good.
const keptMembers = 1 << 16

// trimMembers drops c.members after a command that outgrew keptMembers.
func (c *client) trimMembers() {
	if cap(c.members) > keptMembers {
		c.members = nil
	}
}

// byTime fills c.members with set's members, newest first.
func (c *client) byTime(set *openhash.Set) []openhash.Member {
	c.members = set.AppendByTime(c.members[:0])
	return c.members
}

// RELWHO a x [LIMIT n]: the users a follows who follow x, newest follow of
// a first. In a pure cache it probes each followed user's following set for
// x, skipping users whose set is not cached. With a source, x's fan list is
// filled too and, when it is complete, intersected with a's list: two loads
// instead of one per followed user (the probing remains for a truncated fan
// list, a celebrity x). Nil when a's set is not cached.
func cmdRelWho(c *client, args [][]byte) {
	a, x, limit, ok := c.pairArgs(args)
	if !ok {
		return
	}
	aSet, found, ok := c.followingOf(a)
	if !ok {
		return
	}
	var xFans openhash.Set
	xComplete := false
	if c.srv.fill.HasSource() {
		c.keyBuf, _ = c.srv.keys.Append(c.keyBuf[:0], x, shard.Follower)
		fans, fansFound, err := c.lookupRel(c.keyBuf)
		switch {
		case err == nil && !fansFound && !c.refill:
			// Fill it before deciding whether to probe a's members.
			c.noteMiss(c.keyBuf)
			found = false
		case err == nil && fansFound:
			xFans, xComplete = fans, !fans.Truncated()
		}
	}
	if !found {
		c.nullArray()
		return
	}
	c.uids = c.uids[:0]
	for _, m := range c.byTime(&aSet) {
		if limit >= 0 && len(c.uids) >= limit {
			break
		}
		if xComplete {
			if xFans.Contains(m.UID) {
				c.uids = append(c.uids, m.UID)
			}
			continue
		}
		// A member whose key is not cached, or holds another kind, cannot
		// be answered for; one such user does not fail the query.
		mSet, mFound, err := c.lookupRel(c.followingKey(m.UID))
		if err == nil && !mFound {
			c.noteMiss(c.keyBuf)
		}
		if err == nil && mFound && mSet.Contains(x) {
			c.uids = append(c.uids, m.UID)
		}
	}
	c.uidArray(c.uids)
}

// RELCOMMON a b [LIMIT n]: users both a and b follow, probing the larger set
// with the members of the smaller, newest (in the smaller set) first. Nil
// when either set is not cached.
func cmdRelCommon(c *client, args [][]byte) {
	a, b, limit, ok := c.pairArgs(args)
	if !ok {
		return
	}
	aSet, aFound, ok := c.followingOf(a)
	if !ok {
		return
	}
	bSet, bFound, ok := c.followingOf(b)
	if !ok {
		return
	}
	if !aFound || !bFound {
		c.nullArray()
		return
	}
	small, large := &aSet, &bSet
	if small.Count() > large.Count() {
		small, large = large, small
	}
	c.uids = c.uids[:0]
	for _, m := range c.byTime(small) {
		if limit >= 0 && len(c.uids) >= limit {
			break
		}
		if large.Contains(m.UID) {
			c.uids = append(c.uids, m.UID)
		}
	}
	c.uidArray(c.uids)
}

// uidArray replies uids as an array of decimal bulk strings (uids may exceed
// the int64 range of RESP integers).
func (c *client) uidArray(uids []uint64) {
	c.arrayHeader(len(uids))
	for _, u := range uids {
		c.bulkUint(u)
	}
}

func (c *client) bulkUint(u uint64) {
	c.scratch = strconv.AppendUint(c.scratch[:0], u, 10)
	c.bulk(c.scratch)
}

// RELMEMBERS key [WITHTIMES] [NEWEST n]: members newest first, as decimal
// bulk strings; WITHTIMES interleaves each member's follow time. Nil when the
// set is not cached.
func cmdRelMembers(c *client, args [][]byte) {
	withTimes, limit := false, -1
	for i := 2; i < len(args); i++ {
		switch {
		case eqFold(args[i], "WITHTIMES"):
			withTimes = true
		case eqFold(args[i], "NEWEST") && i+1 < len(args):
			n, ok := parseInt(args[i+1])
			if !ok || n < 1 {
				c.err("ERR NEWEST must be a positive integer")
				return
			}
			limit = int(min(n, 1<<31))
			i++
		default:
			c.err(errSyntax)
			return
		}
	}
	set, found, ok := c.relSet(args[1])
	if !ok {
		return
	}
	if !found {
		c.nullArray()
		return
	}
	ms := c.byTime(&set)
	if limit >= 0 && limit < len(ms) {
		ms = ms[:limit]
	}
	if withTimes {
		c.arrayHeader(2 * len(ms))
	} else {
		c.arrayHeader(len(ms))
	}
	for _, m := range ms {
		c.bulkUint(m.UID)
		if withTimes {
			c.bulkUint(uint64(m.Time))
		}
	}
	c.trimMembers()
}

// RELCARD key [CACHED]: the length of the list, nil when not cached: for
// a truncated set the total recorded when it was loaded (kept by FOLLOW and
// UNFOLLOW), nil when it records none. CACHED counts the members cached
// instead, which is what RELCOMMON compares to pick the list it walks: the
// proxy asks for it to pick as a node does.
func cmdRelCard(c *client, args [][]byte) {
	cached := len(args) == 3 && eqFold(args[2], "CACHED")
	if len(args) > 2 && !cached {
		c.err(errSyntax)
		return
	}
	set, found, ok := c.relSet(args[1])
	if !ok {
		return
	}
	n, known := relTotal(&set)
	if cached {
		n, known = int64(set.Count()), true
	}
	if !found || !known {
		c.null()
		return
	}
	c.integer(n)
}

// RELINFO key: the set's layout, for operators: count (members cached),
// total (the whole list's length), capacity, slot width, load factor,
// bytes, and the truncated and times flags.
func cmdRelInfo(c *client, args [][]byte) {
	e, found := c.db().Peek(args[1])
	if !found {
		c.nullArray()
		return
	}
	if e.Kind != store.KindRelSet {
		c.err(errWrongType)
		return
	}
	set, err := openhash.Open(e.Value)
	if err != nil {
		c.err("ERR stored relation set is corrupt: " + err.Error())
		return
	}
	c.mapHeader(8)
	c.bulkString("count")
	c.integer(int64(set.Count()))
	// total: the whole list's length, -1 when a truncated set records none.
	c.bulkString("total")
	if n, known := relTotal(&set); known {
		c.integer(n)
	} else {
		c.integer(-1)
	}
	c.bulkString("capacity")
	c.integer(int64(set.Capacity()))
	c.bulkString("slot_width")
	c.integer(int64(set.Width()))
	c.bulkString("load_factor")
	c.bulkString(strconv.FormatFloat(float64(set.Count())/float64(set.Capacity()), 'f', 4, 64))
	c.bulkString("bytes")
	c.integer(int64(len(e.Value)))
	c.bulkString("truncated")
	c.boolean(set.Truncated())
	c.bulkString("times")
	c.boolean(set.HasTimes())
}
