package server

import (
	"strconv"

	"github.com/relcache/relcache/internal/resp"
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

// RELCHECK a [SINCE t] [UNTIL t] [BATCH] b [b ...]: the relation of a to
// each b from both following sets: bit 1 a follows b, bit 2 b follows a (0
// none, 1, 2, 3 bi-follow), each edge counted only when its time is inside
// the window. -1 when it cannot be known: a needed set is not cached, or a
// truncated set does not hold the uid and there is no source of record to
// ask (with one, it is asked: relset_truncated.go). The reply's shape is
// the form's: RELCHECK a b is an integer, the BATCH form an array whatever
// the number of b's; several b's without BATCH are refused before any
// lookup (resp.ErrRelCheckBatch).
func cmdRelCheck(c *client, args [][]byte) {
	a, o, ok := c.userAndUIDs(args, resp.OptBatch, "relcheck")
	if !ok {
		return
	}
	if !o.Batch && !o.Bin && len(c.uids) > 1 {
		c.err(resp.ErrRelCheckBatch)
		return
	}
	aSet, aFound, ok := c.followingOf(a)
	if !ok || aFound && !c.windowFits(&o, &aSet, c.keyBuf) {
		return
	}
	if o.Batch || o.Bin { // BIN is a batch form: an array, one uid included
		c.arrayHeader(len(c.uids))
	}
	for _, b := range c.uids {
		// a's key is built again: the probe of b below reuses keyBuf.
		code := c.memberInOf(aFound, c.followingKey(a), &aSet, b, &o)
		bSet, bFound, ok := c.followingOf(b)
		if !ok || bFound && !c.windowFits(&o, &bSet, c.keyBuf) {
			continue // the error replied in this position: the array stays whole
		}
		back := c.memberInOf(bFound, c.keyBuf, &bSet, a, &o)
		if code >= 0 && back >= 0 {
			code |= back << 1
		} else {
			code = -1
		}
		c.integer(code)
	}
}

// RELFOLLOWS x [WITHTIMES] [SINCE t] [UNTIL t] u [u ...]: whether each u
// follows x (inside the window), from each u's own following set, in
// order: 1, 0, or -1 when it cannot be known (u's set is not cached, or is
// truncated, lacks x, and there is no source to ask). Always an array. It
// is the per-shard half a sharding proxy needs: RELCHECK a b1..bn across
// shards is RELMULTI on a's shard plus RELFOLLOWS a <the b's of each
// shard>, with the same window, and RELWHO a x is a's list plus RELFOLLOWS
// x <a's members on each shard>.
//
// With WITHTIMES each code is followed by the time u followed x (0 unless
// the code is 1): the proxy's half of a bi-follow list, which is ordered by
// the later of the two follow times.
func cmdRelFollows(c *client, args [][]byte) {
	x, o, ok := c.userAndUIDs(args, resp.OptWithTimes, "relfollows")
	if !ok {
		return
	}
	per := 1
	if o.WithTimes {
		per = 2
	}
	c.arrayHeader(per * len(c.uids))
	for _, u := range c.uids {
		set, found, ok := c.followingOf(u)
		if !ok || found && !c.windowFits(&o, &set, c.keyBuf) {
			// The error replied in this position stands for the code; with
			// WITHTIMES its time follows, so the array stays whole.
			if o.WithTimes {
				c.integer(0)
			}
			continue
		}
		if !o.WithTimes {
			c.integer(c.memberInOf(found, c.keyBuf, &set, x, &o))
			continue
		}
		// The time too, from memberTime: for a truncated set's miss it may
		// be the source's answer.
		code, t := int64(-1), uint32(0)
		if found {
			tm, member, known := c.memberTime(c.keyBuf, &set, x)
			switch {
			case !known:
			case member && o.Holds(tm):
				code, t = 1, tm
			default:
				code = 0
			}
		}
		c.integer(code)
		c.integer(int64(t))
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

// RELMULTI key [BITS] [SINCE t] [UNTIL t] uid [uid ...]: membership of
// each uid in one set, in order: 1 member (with a time inside the window),
// 0 not, -1 unknown (not in a truncated set, and no source to ask). Nil
// when the set is not cached. BITS replies a bitmap instead (bit i set when
// uid i is a member; bit 0 is the high bit of byte 0, as GETBIT counts), or
// the TRUNCATED error when a bit would be unknown.
func cmdRelMulti(c *client, args [][]byte) {
	o, ok := c.optsAndUIDs(args[2:], resp.OptBits|resp.OptBin, "relmulti")
	if !ok {
		return
	}
	set, found, ok := c.relSet(args[1])
	switch {
	case !ok:
		return
	case !found && o.Bits:
		c.null()
		return
	case !found:
		c.nullArray()
		return
	case !c.windowFits(&o, &set, args[1]):
		return
	}
	// 1, 0, or -1: a truncated set's misses are the source's answers, or
	// unknown.
	c.codes = c.codes[:0]
	unknown := false
	if o.Windowed {
		for _, u := range c.uids {
			code := c.memberIn(args[1], &set, u, &o)
			c.codes = append(c.codes, code)
			unknown = unknown || code < 0
		}
	} else {
		c.hits = set.ContainsBatch(c.hits[:0], c.uids)
		if !o.Bits && !set.Truncated() {
			c.hitArray(c.hits) // every answer a 1 or a 0
			return
		}
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
	}
	if o.Bits {
		if unknown {
			// A bit has no "unknown": 0 would say "not a member".
			c.errUnknownMember(args[1])
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
// a fill, a truncated one without x asks the source (relset_truncated.go);
// one that is not cached, holds another kind of value, or is truncated
// without x and no answer from a source cannot answer: follows and known
// are false, and the callers list only the follows they know of.
func (c *client) memberFollows(m, x uint64) (t uint32, follows, known bool) {
	mSet, mFound, err := c.lookupRel(c.followingKey(m))
	if err == nil && !mFound {
		c.noteMiss(c.keyBuf)
	}
	if err != nil || !mFound {
		return 0, false, false
	}
	// memberTime: a truncated list that lacks x asks the source, as
	// RELCHECK m x does, so a listing never disagrees with RELCHECK.
	return c.memberTime(c.keyBuf, &mSet, x)
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

// RELMEMBERS key [WITHTIMES] [SINCE t] [UNTIL t] [BEFORE time uid]
// [LIMIT n]: members newest first (equal times by ascending uid), as
// decimal bulk strings; WITHTIMES interleaves each member's follow time.
// BEFORE continues a listing after the member (time, uid), the last one a
// page returned: the order is total, so no member is skipped or repeated
// across pages, ties included. NEWEST n is LIMIT n. Nil when the set is
// not cached. (The page itself: relpage.go.)
func cmdRelMembers(c *client, args [][]byte) {
	p, ok := c.parsePage(args[2:])
	if !ok {
		return
	}
	set, found, ok := c.relSet(args[1])
	switch {
	case !ok:
		return
	case !found:
		c.nullArray()
		return
	case !c.windowFits(&p.Win, &set, args[1]):
		return
	}
	ms, known := c.page(&p, &set)
	if !known && !c.isBifollowKey(args[1]) {
		// A computed bi-follow list is "truncated" when some member could
		// not be answered for, wherever its time falls: its listings omit
		// those members, as RELWHO omits the pairs it cannot know (docs/
		// commands.md, "Which list answers"), and the proxy's assembly does
		// the same; a stored truncated list lacks exactly its oldest part.
		c.err(errTruncatedPage)
		return
	}
	if p.WithTimes {
		c.arrayHeader(2 * len(ms))
	} else {
		c.arrayHeader(len(ms))
	}
	for _, m := range ms {
		c.bulkUint(m.UID)
		if p.WithTimes {
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
