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
// does not hold the uid. One b gets an integer reply, several an array.
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
			if aSet.Contains(b) {
				code |= 1
			} else if aSet.Truncated() {
				known = false
			}
		}
		bSet, bFound, ok := c.followingOf(b)
		if !ok {
			continue // WRONGTYPE replied in this position: the array stays whole
		}
		switch {
		case !bFound:
			known = false
		case bSet.Contains(a):
			code |= 2
		case bSet.Truncated():
			known = false
		}
		if !known {
			code = -1
		}
		c.integer(code)
	}
}

// RELFOLLOWS x u [u ...]: whether each u follows x, from each u's own
// following set, in order: 1, 0, or -1 when it cannot be known (u's set is
// not cached, or is truncated and lacks x). Always an array. It is the
// per-shard half a sharding proxy needs: RELCHECK a b1..bn across shards is
// RELMULTI on a's shard plus RELFOLLOWS a <the b's of each shard>, and
// RELWHO a x is a's list plus RELFOLLOWS x <a's members on each shard>.
//
// RELFOLLOWS x WITHTIMES u [u ...] answers two integers per u, the code and
// the time u followed x (0 unless the code is 1): the proxy's half of a
// bi-follow list, which is ordered by the later of the two follow times.
func cmdRelFollows(c *client, args [][]byte) {
	x, ok := parseUID(args[1])
	if !ok {
		c.err(errRelMember)
		return
	}
	uidArgs, withTimes := args[2:], eqFold(args[2], "WITHTIMES")
	if withTimes {
		if len(args) < 4 {
			c.err("ERR wrong number of arguments for 'relfollows' command")
			return
		}
		uidArgs = args[3:]
	}
	if !c.parseUIDs(uidArgs) {
		return
	}
	if withTimes {
		c.arrayHeader(2 * len(c.uids))
	} else {
		c.arrayHeader(len(c.uids))
	}
	for _, u := range c.uids {
		set, found, ok := c.followingOf(u)
		if !ok {
			if withTimes {
				c.integer(0) // the error stands for the code; the pair stays whole
			}
			continue // WRONGTYPE replied in this position: the array stays whole
		}
		code, t := int64(-1), uint32(0)
		if found {
			var in bool
			switch t, in = set.Time(x); {
			case in:
				code = 1
			case !set.Truncated():
				code = 0
			}
		}
		c.integer(code)
		if withTimes {
			c.integer(int64(t))
		}
	}
}

// RELMULTI key [BITS] uid [uid ...]: membership of each uid in one set, in
// order: 1 member, 0 not, -1 not in a truncated set (unknown). Nil when the
// set is not cached. BITS replies a bitmap instead (bit i set when uid i is a
// member; bit 0 is the high bit of byte 0, as GETBIT counts).
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
	if bitsMode {
		n := (len(c.hits) + 7) / 8
		c.scratch = append(c.scratch[:0], make([]byte, n)...)
		for i, h := range c.hits {
			if h {
				c.scratch[i/8] |= 0x80 >> (i % 8)
			}
		}
		c.bulk(c.scratch)
		return
	}
	c.arrayHeader(len(c.hits))
	for _, h := range c.hits {
		switch {
		case h:
			c.integer(1)
		case set.Truncated():
			c.integer(-1)
		default:
			c.integer(0)
		}
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
// a first. Whether m follows x is read where RELCHECK m x reads it, in m's
// own following set (docs/commands.md, "Which list answers"): x's fan list
// is only an index, possibly capped, stale or loaded by a client, so it
// never decides. A member whose set is not cached is filled with a source
// (one parallel round for all of them) and omitted without one, as is one
// whose set is truncated and lacks x: RELWHO lists the users known to
// follow x. Nil when a's set is not cached.
func cmdRelWho(c *client, args [][]byte) {
	a, x, limit, ok := c.pairArgs(args)
	if !ok {
		return
	}
	aSet, found, ok := c.followingOf(a)
	if !ok {
		return
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
		if _, follows, _ := c.memberFollows(m.UID, x); follows {
			c.uids = append(c.uids, m.UID)
		}
	}
	c.uidArray(c.uids)
}

// memberFollows reports whether m's following set, as RELCHECK m x reads
// it, holds x, and when m followed x. A set that is not cached is noted for
// a fill; one that is not cached, holds another kind of value, or is
// truncated without x cannot answer: follows is false and known too, and
// the callers list only the follows they know of.
func (c *client) memberFollows(m, x uint64) (t uint32, follows, known bool) {
	mSet, mFound, err := c.lookupRel(c.followingKey(m))
	if err == nil && !mFound {
		c.noteMiss(c.keyBuf)
	}
	if err != nil || !mFound {
		return 0, false, false
	}
	t, follows = mSet.Time(x)
	return t, follows, follows || !mSet.Truncated()
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

// RELCARD key: the member count, nil when not cached.
func cmdRelCard(c *client, args [][]byte) {
	set, found, ok := c.relSet(args[1])
	switch {
	case !ok:
	case !found:
		c.null()
	default:
		c.integer(int64(set.Count()))
	}
}

// RELINFO key: the set's layout, for operators: count, capacity, slot width,
// load factor, bytes, and the truncated and times flags.
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
	c.mapHeader(7)
	c.bulkString("count")
	c.integer(int64(set.Count()))
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
