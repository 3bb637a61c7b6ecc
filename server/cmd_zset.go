package server

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/zview"
)

// The sorted-set view of relation sets: the Z* commands read a relation
// set as a Redis sorted set whose members are the uids' decimal strings
// and whose scores are the follow times, in Redis's order (ascending
// score, ties by the member's bytes; package zview). Arguments are parsed
// and checked in the order Redis checks them, so a bad command gets
// Redis's error whether or not the key exists. An absent key reads as an
// empty sorted set, as the hash and set commands read it (and is noted for
// a fill first).
//
// A truncated set holds only its newest members: every member it lacks is
// at or below its oldest score (the cut). A read whose answer depends on
// members at or below the cut answers errZTruncated instead of an answer
// that would claim they are not there.

const (
	// TRUNCATED, as HEXISTS's, HGET's and HLEN's word for an answer a
	// truncated set cannot give, so a client tests one prefix.
	errZTruncated = "TRUNCATED the relation set holds only its newest members: this read needs older ones"
	errZNotFloat  = "ERR min or max is not a float"
	errZBylex     = "ERR BYLEX is not supported on relation sets: members are ordered by score"
	errZIncr      = "ERR INCR is not supported on relation sets: a score is a follow time"
)

// zread is a Z* command's view of its key.
type zread struct {
	set   openhash.Set
	buf   []byte
	found bool
}

// zset looks key up for a Z* read; ok false means an error was replied.
func (c *client) zset(key []byte) (z zread, ok bool) {
	set, buf, found, err := c.srv.lookupRelBytes(c.db(), key)
	if !found && err == nil {
		// A bi-follow key is computed when read (lookupRel); its bytes are
		// new each time, so its order is never cached (buf nil).
		set, found, err = c.lookupRel(key)
	}
	if err != nil {
		c.replyErr(err)
		return z, false
	}
	if !found {
		c.noteMiss(key)
	}
	return zread{set: set, buf: buf, found: found}, true
}

// order is z's members ranked, from the cache when it has them. A set the
// cache does not take is sorted into the connection's scratch, which an
// earlier read of a huge set may have grown: that is dropped first.
func (c *client) order(key []byte, z *zread) zview.Order {
	c.zslots.Trim(keptMembers)
	return c.srv.zorders.Order(key, z.buf, z.set, &c.zslots)
}

// cut returns the number of members of o at or below a truncated set's
// cut (the lowest ranks, which may have uncached peers): 0 for a complete
// set.
func cutRanks(z *zread, o *zview.Order) int {
	if !z.set.Truncated() || o.Len() == 0 {
		return 0
	}
	_, t := o.At(0)
	lo, _ := o.ScoreRange(zview.Bound{V: float64(t), Excl: true}, zview.PlusInf)
	return lo
}

// parseZMember reads a member as a uid in its canonical decimal form: "042"
// is a different member from "42" in Redis, and no uid's.
func parseZMember(b []byte) (uint64, bool) {
	u, ok := parseUID(b)
	return u, ok && (len(b) == 1 || b[0] != '0')
}

// double replies a score: a bulk string in RESP2, a double in RESP3, as
// Redis's addReplyDouble (an integer's %.17g is its decimal form).
func (c *client) double(t uint32) {
	if c.proto == 3 {
		c.out = append(c.out, ',')
		c.out = strconv.AppendUint(c.out, uint64(t), 10)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.bulkUint(uint64(t))
}

// ZSCORE key member: the score, nil for a non-member. A truncated set's
// miss is the source's answer (memberTime), or the TRUNCATED error.
func cmdZScore(c *client, args [][]byte) {
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	u, isUID := parseZMember(args[2])
	if !z.found || !isUID {
		c.null()
		return
	}
	switch t, member, known := c.memberTime(args[1], &z.set, u); {
	case !known:
		c.errUnknownMember(args[1])
	case member:
		c.double(t)
	default:
		c.null()
	}
}

// ZMSCORE key member [member ...]: the scores, nil for non-members. Every
// member is asked before any reply, so dispatch asks the source about a
// truncated set's misses at once, as HMGET does.
func cmdZMScore(c *client, args [][]byte) {
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	ms := args[2:]
	c.hits, c.times = c.hits[:0], c.times[:0]
	unknown := false
	for _, m := range ms {
		var (
			t      uint32
			member bool
			known  = true
		)
		if u, isUID := parseZMember(m); z.found && isUID {
			t, member, known = c.memberTime(args[1], &z.set, u)
		}
		unknown = unknown || !known
		c.hits, c.times = append(c.hits, member), append(c.times, t)
	}
	if unknown {
		c.errUnknownMember(args[1])
		return
	}
	c.arrayHeader(len(ms))
	for i, member := range c.hits {
		if member {
			c.double(c.times[i])
		} else {
			c.null()
		}
	}
}

// ZCARD key: the length of the whole list, as HLEN and SCARD: a truncated
// set's recorded total, the TRUNCATED error when it records none.
func cmdZCard(c *client, args [][]byte) {
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	switch n, known := relTotal(&z.set); {
	case !z.found:
		c.integer(0)
	case !known:
		c.err(errTruncatedCount)
	default:
		c.integer(n)
	}
}

// parseBound reads one end of a score range as Redis's zslParseRange does:
// "(" makes it exclusive, then strtod's syntax (leading blanks, inf, an
// empty string is 0), NaN refused.
func parseBound(b []byte) (zview.Bound, bool) {
	var bd zview.Bound
	if len(b) > 0 && b[0] == '(' {
		bd.Excl, b = true, b[1:]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] >= '\t' && b[0] <= '\r') {
		b = b[1:]
	}
	if len(b) == 0 {
		return bd, true
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !isRangeErr(err) || math.IsNaN(v) {
		return bd, false
	}
	bd.V = v
	return bd, true
}

// scoreRange parses min and max, replying Redis's error when either is bad.
func (c *client) scoreRange(minArg, maxArg []byte) (lower, upper zview.Bound, ok bool) {
	lower, ok1 := parseBound(minArg)
	upper, ok2 := parseBound(maxArg)
	if !ok1 || !ok2 {
		c.err(errZNotFloat)
		return lower, upper, false
	}
	return lower, upper, true
}

// isRangeErr: strtod saturates to ±HUGE_VAL (or 0) as ParseFloat does, and
// Redis takes the result.
func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// aboveCut reports whether the range from lower up can be answered from a
// truncated set whose oldest member is at rank 0 of o: every member it
// could hold is above the cut.
func aboveCut(z *zread, o *zview.Order, lower zview.Bound) bool {
	if !z.set.Truncated() {
		return true
	}
	if o.Len() == 0 {
		return false
	}
	_, t := o.At(0)
	return lower.V > float64(t) || lower.V == float64(t) && lower.Excl
}

// ZCOUNT key min max: members with scores in the range.
func cmdZCount(c *client, args [][]byte) {
	lower, upper, ok := c.scoreRange(args[2], args[3])
	if !ok {
		return
	}
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	o := c.order(args[1], &z)
	if !aboveCut(&z, &o, lower) {
		c.err(errZTruncated)
		return
	}
	lo, hi := o.ScoreRange(lower, upper)
	c.integer(int64(hi - lo))
}

// zrangeKind and zrangeDir are what the ZRANGE family's name fixes or its
// options choose, as in Redis's zrangeGenericCommand.
type zrangeKind int

const (
	zAuto zrangeKind = iota
	zByRank
	zByScore
	zByLex
)

type zrangeDir int

const (
	zDirAuto zrangeDir = iota
	zForward
	zReverse
)

func cmdZRange(c *client, args [][]byte)           { c.zrange(args, zAuto, zDirAuto) }
func cmdZRevRange(c *client, args [][]byte)        { c.zrange(args, zByRank, zReverse) }
func cmdZRangeByScore(c *client, args [][]byte)    { c.zrange(args, zByScore, zForward) }
func cmdZRevRangeByScore(c *client, args [][]byte) { c.zrange(args, zByScore, zReverse) }

// zrange serves the ZRANGE family: key start stop and options, parsed and
// refused in Redis's order.
func (c *client) zrange(args [][]byte, kind zrangeKind, dir zrangeDir) {
	withScores := false
	offset, limit := int64(0), int64(-1)
	for j := 4; j < len(args); j++ {
		left := len(args) - j - 1
		switch a := args[j]; {
		case eqFold(a, "WITHSCORES"):
			withScores = true
		case eqFold(a, "LIMIT") && left >= 2:
			o, ok1 := parseInt(args[j+1])
			l, ok2 := parseInt(args[j+2])
			if !ok1 || !ok2 {
				c.err(errNotInt)
				return
			}
			offset, limit = o, l
			j += 2
		case dir == zDirAuto && eqFold(a, "REV"):
			dir = zReverse
		case kind == zAuto && eqFold(a, "BYLEX"):
			kind = zByLex
		case kind == zAuto && eqFold(a, "BYSCORE"):
			kind = zByScore
		default:
			c.err(errSyntax)
			return
		}
	}
	if dir == zDirAuto {
		dir = zForward
	}
	if kind == zAuto {
		kind = zByRank
	}
	switch {
	case limit != -1 && kind == zByRank:
		c.err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	case withScores && kind == zByLex:
		c.err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	case kind == zByLex:
		c.err(errZBylex)
		return
	}
	minArg, maxArg := args[2], args[3]
	if dir == zReverse && kind == zByScore {
		minArg, maxArg = maxArg, minArg // given as max min
	}
	var start, stop int64
	var lower, upper zview.Bound
	ok := true
	if kind == zByRank {
		var ok1, ok2 bool
		start, ok1 = parseInt(minArg)
		stop, ok2 = parseInt(maxArg)
		if !ok1 || !ok2 {
			c.err(errNotInt)
			return
		}
	} else if lower, upper, ok = c.scoreRange(minArg, maxArg); !ok {
		return
	}
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	o := c.order(args[1], &z)
	n := int64(o.Len())
	rev := dir == zReverse
	if kind == zByRank {
		if z.set.Truncated() {
			// Ranks count from the oldest member, which a truncated set
			// may lack; reverse ranks from the newest are known up to the
			// cut, and negative ones count from the unknown total.
			known := n - int64(cutRanks(&z, &o))
			if !rev || start < 0 || stop < 0 || start <= stop && stop >= known {
				c.err(errZTruncated)
				return
			}
		}
		if start < 0 {
			start += n
		}
		if stop < 0 {
			stop += n
		}
		start = max(start, 0)
		if start > stop || start >= n {
			c.zemit(&o, 0, 0, rev, withScores)
			return
		}
		stop = min(stop, n-1)
		from := start
		if rev {
			from = n - 1 - start
		}
		c.zemit(&o, int(from), int(stop-start+1), rev, withScores)
		return
	}
	if !aboveCut(&z, &o, lower) {
		c.err(errZTruncated)
		return
	}
	lo, hi := o.ScoreRange(lower, upper)
	count := int64(hi - lo)
	if offset < 0 || offset >= count && offset > 0 {
		count = 0
	} else {
		count -= offset
	}
	if limit >= 0 {
		count = min(count, limit)
	}
	from := int64(lo) + offset
	if rev {
		from = int64(hi) - 1 - offset
	}
	c.zemit(&o, int(from), int(max(count, 0)), rev, withScores)
}

// zemit replies n members of o from rank from, downwards when rev:
// member, score pairs flat in RESP2 and as two-element arrays in RESP3, as
// Redis's ZRANGE replies them.
func (c *client) zemit(o *zview.Order, from, n int, rev, withScores bool) {
	switch {
	case withScores && c.proto != 3:
		c.arrayHeader(2 * n)
	default:
		c.arrayHeader(n)
	}
	step := 1
	if rev {
		step = -1
	}
	for i, r := 0, from; i < n; i, r = i+1, r+step {
		u, t := o.At(r)
		if withScores && c.proto == 3 {
			c.arrayHeader(2)
		}
		c.bulkUint(u)
		if withScores {
			c.double(t)
		}
	}
}

// ZRANK key member and ZREVRANK key member: the member's rank, nil for a
// non-member.
func cmdZRank(c *client, args [][]byte)    { c.zrank(args, false) }
func cmdZRevRank(c *client, args [][]byte) { c.zrank(args, true) }

func (c *client) zrank(args [][]byte, rev bool) {
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	u, isUID := parseZMember(args[2])
	if !z.found || !isUID {
		c.null()
		return
	}
	o := c.order(args[1], &z)
	r, member := o.Rank(u)
	switch {
	case z.set.Truncated() && (!rev || !member || r < cutRanks(&z, &o)):
		c.err(errZTruncated)
	case !member:
		c.null()
	case rev:
		c.integer(int64(o.Len() - 1 - r))
	default:
		c.integer(int64(r))
	}
}

// ZRANDMEMBER key [count [WITHSCORES]]: random members; a positive count
// gives distinct ones (the whole set, in order, when it has no more), a
// negative one may repeat.
func cmdZRandMember(c *client, args [][]byte) {
	if len(args) == 2 {
		z, ok := c.zset(args[1])
		switch {
		case !ok:
		case !z.found || z.set.Count() == 0:
			c.null()
		case z.set.Truncated():
			c.err(errZTruncated)
		default:
			// The walk's length, not the header's count, bounds the draw
			// (a set taken with rel-verify header is only count-checked).
			if o := c.order(args[1], &z); o.Len() > 0 {
				u, _ := o.At(rand.IntN(o.Len()))
				c.bulkUint(u)
			} else {
				c.null()
			}
		}
		return
	}
	count, isInt := parseInt(args[2])
	switch {
	case !isInt:
		c.err(errNotInt)
		return
	case count == math.MinInt64: // Redis negates counts
		c.err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
		return
	}
	withScores := false
	switch {
	case len(args) > 4 || len(args) == 4 && !eqFold(args[3], "WITHSCORES"):
		c.err(errSyntax)
		return
	case len(args) == 4:
		withScores = true
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			c.err("ERR value is out of range")
			return
		}
	}
	z, ok := c.zset(args[1])
	switch {
	case !ok:
		return
	case !z.found || count == 0 || z.set.Count() == 0:
		c.arrayHeader(0)
		return
	case z.set.Truncated():
		c.err(errZTruncated)
		return
	}
	o := c.order(args[1], &z)
	n := o.Len()
	if n == 0 {
		c.arrayHeader(0)
		return
	}
	if count >= int64(n) {
		// The whole set, highest score first, as Redis replies it.
		c.zemit(&o, n-1, n, true, withScores)
		return
	}
	if -count > int64(c.srv.cfg.RelMaxBatch) {
		// Repeats make a reply of any length; the batch limit bounds it
		// as it bounds every relation command's uids.
		c.err("ERR count is larger than rel-max-batch " + strconv.Itoa(c.srv.cfg.RelMaxBatch))
		return
	}
	pick := c.zpick[:0]
	if count < 0 {
		for range -count {
			pick = append(pick, int32(rand.IntN(n)))
		}
	} else {
		// Distinct ranks by a partial Fisher-Yates shuffle of 0..n-1.
		for i := range n {
			pick = append(pick, int32(i))
		}
		for i := range int(count) {
			j := i + rand.IntN(n-i)
			pick[i], pick[j] = pick[j], pick[i]
		}
		pick = pick[:count]
	}
	c.zpick = pick
	if withScores && c.proto != 3 {
		c.arrayHeader(2 * len(pick))
	} else {
		c.arrayHeader(len(pick))
	}
	for _, r := range pick {
		u, t := o.At(int(r))
		if withScores && c.proto == 3 {
			c.arrayHeader(2)
		}
		c.bulkUint(u)
		if withScores {
			c.double(t)
		}
	}
	c.trimZPick()
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one
// reply with cursor 0, in order, as Redis replies for a small sorted set
// (COUNT is a hint it may ignore). A cursor over ranks would skip members
// when a write shifts them; one reply keeps SCAN's guarantee whole.
func cmdZScan(c *client, args [][]byte) {
	if _, ok := parseCursor(args[2]); !ok {
		c.err("ERR invalid cursor")
		return
	}
	z, ok := c.zset(args[1])
	if !ok {
		return
	}
	if !z.found {
		c.out = append(c.out, "*2\r\n$1\r\n0\r\n*0\r\n"...)
		return
	}
	pat, _, _, ok := c.scanOptions(args[3:], false)
	if !ok {
		return
	}
	if z.set.Truncated() {
		c.err(errZTruncated)
		return
	}
	o := c.order(args[1], &z)
	c.zpick = c.zpick[:0]
	for r := range o.Len() {
		u, _ := o.At(r)
		c.scratch = strconv.AppendUint(c.scratch[:0], u, 10)
		if pat == nil || globMatch(pat, c.scratch) {
			c.zpick = append(c.zpick, int32(r))
		}
	}
	c.arrayHeader(2)
	c.bulkString("0")
	c.arrayHeader(2 * len(c.zpick))
	for _, r := range c.zpick {
		u, t := o.At(int(r))
		c.bulkUint(u)
		c.bulkUint(uint64(t))
	}
	c.trimZPick()
}

// trimZPick drops c.zpick after a command that outgrew keptMembers, as
// trimMembers does c.members.
func (c *client) trimZPick() {
	if cap(c.zpick) > keptMembers {
		c.zpick = nil
	}
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]:
// add members with their follow times, or change them, through the same
// copy-on-write edit as HSET; an absent key becomes a set with times.
// Replies the new members (with CH, also the changed ones). Scores must be
// follow times (integers from 0 to 2^32-1); INCR is refused.
func cmdZAdd(c *client, args [][]byte) {
	var f fill.ZAddFlags
	incr := false
	i := 2
	for ; i < len(args); i++ {
		switch a := args[i]; {
		case eqFold(a, "NX"):
			f.NX = true
		case eqFold(a, "XX"):
			f.XX = true
		case eqFold(a, "CH"):
			f.CH = true
		case eqFold(a, "INCR"):
			incr = true
		case eqFold(a, "GT"):
			f.GT = true
		case eqFold(a, "LT"):
			f.LT = true
		default:
			goto pairs
		}
	}
pairs:
	rest := args[i:]
	switch {
	case len(rest) == 0 || len(rest)%2 != 0:
		c.err(errSyntax)
		return
	case f.NX && f.XX:
		c.err("ERR XX and NX options at the same time are not compatible")
		return
	case f.GT && f.NX || f.LT && f.NX || f.GT && f.LT:
		c.err("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case incr && len(rest) > 2:
		c.err("ERR INCR option supports a single increment-element pair")
		return
	}
	if len(rest)/2 > c.srv.cfg.RelMaxBatch {
		c.err("ERR too many uids in one command (" + strconv.Itoa(len(rest)/2) + ", the limit is rel-max-batch " + strconv.Itoa(c.srv.cfg.RelMaxBatch) + ")")
		return
	}
	// Every score before any member, as Redis checks them, so a bad pair
	// changes nothing.
	c.times = c.times[:0]
	for j := 0; j < len(rest); j += 2 {
		v, err := strconv.ParseFloat(string(rest[j]), 64)
		if err != nil || math.IsNaN(v) {
			c.err("ERR value is not a valid float")
			return
		}
		if v < 0 || v > math.MaxUint32 || v != math.Trunc(v) {
			c.err("ERR relation scores are follow times: integers from 0 to 4294967295")
			return
		}
		c.times = append(c.times, uint32(v))
	}
	if incr {
		c.err(errZIncr)
		return
	}
	c.uids = c.uids[:0]
	for j := 1; j < len(rest); j += 2 {
		u, ok := parseZMember(rest[j])
		if !ok {
			c.err("ERR relation members must be unsigned 64-bit integers in decimal, without leading zeros")
			return
		}
		c.uids = append(c.uids, u)
	}
	// XX adds nothing, so it must not create the key either (Redis leaves
	// an absent key absent).
	create := fill.EmptySet(true, c.srv.setVersion())
	if f.XX {
		create = nil
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], create, fill.ZAdd(c.uids, c.times, f)))
}

// ZREM key member [member ...]: remove members; replies how many were
// there. A string that is no uid's canonical decimal is no member. A set
// emptied this way stays cached as an empty list (as HDEL leaves it).
func cmdZRem(c *client, args [][]byte) {
	c.uids = c.uids[:0]
	for _, m := range args[2:] {
		if u, ok := parseZMember(m); ok {
			c.uids = append(c.uids, u)
		}
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], nil, fill.RemoveMembers(c.uids)))
}
