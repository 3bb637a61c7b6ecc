package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Relation sets in the keyspace: reading them for the REL* and compatibility
// commands, and changing them.
//
// Concurrency: a stored relation set is never modified. Readers probe the
// bytes they got from the store after releasing the shard lock. A change
// (RELADD, RELDEL, HSET, SADD, ...) copies the set, edits the copy outside any
// lock, and swaps it in only if the key still holds the version it copied
// (compare-and-swap on the value's backing array); if a concurrent writer got
// there first, it starts again from the new version. So a RELCHECK never
// waits for a writer and never sees a half-edited array, and a big edit never
// holds a shard lock.

const (
	errRelMember = resp.ErrRelMember
	errRelTime   = resp.ErrRelTime
)

// parseUID reads an unsigned decimal: digits only, no sign. Leading zeros
// are allowed, because redis-benchmark's __rand_int__ sends zero-padded
// numbers ("000000001234") and a load test should be able to hit real keys.
func parseUID(b []byte) (uint64, bool) { return resp.ParseUint(b) }

func parseTime(b []byte) (uint32, bool) {
	u, ok := parseUID(b)
	if !ok || u > 1<<32-1 {
		return 0, false
	}
	return uint32(u), true
}

// parseUIDs fills c.uids from args; on bad input it replies and reports
// false.
func (c *client) parseUIDs(args [][]byte) bool {
	if len(args) > c.srv.cfg.RelMaxBatch {
		c.err(fmt.Sprintf("ERR too many uids in one command (%d, the limit is rel-max-batch %d)", len(args), c.srv.cfg.RelMaxBatch))
		return false
	}
	c.uids = c.uids[:0]
	for _, a := range args {
		u, ok := parseUID(a)
		if !ok {
			c.err(errRelMember)
			return false
		}
		c.uids = append(c.uids, u)
	}
	return true
}

// parseMembers fills c.uids (and c.times when withTimes) from uid [time]
// arguments.
func (c *client) parseMembers(args [][]byte, withTimes bool) bool {
	c.times = c.times[:0]
	if !withTimes {
		return c.parseUIDs(args)
	}
	if len(args)%2 != 0 {
		c.err(errSyntax)
		return false
	}
	if len(args)/2 > c.srv.cfg.RelMaxBatch {
		c.err(fmt.Sprintf("ERR too many uids in one command (%d, the limit is rel-max-batch %d)", len(args)/2, c.srv.cfg.RelMaxBatch))
		return false
	}
	c.uids = c.uids[:0]
	for i := 0; i < len(args); i += 2 {
		u, ok := parseUID(args[i])
		if !ok {
			c.err(errRelMember)
			return false
		}
		t, ok := parseTime(args[i+1])
		if !ok {
			c.err(errRelTime)
			return false
		}
		c.uids = append(c.uids, u)
		c.times = append(c.times, t)
	}
	return true
}

// verifyRelSet checks a relation set arriving from a client, as deep as
// RelVerify says, and reports whether the full check is still owed.
//
// "header" is openhash.CheckControl, not just the header: every reply
// that lists a set must be able to trust its count, and counting the full
// control bytes is one word per group against Check's hash per member. What
// CheckControl leaves unproven (members outside their groups, a uid twice)
// can make this key's answers wrong, never a reply's framing; the snapshot
// writer runs the full check before such a set reaches a file (persist.go).
func (s *Server) verifyRelSet(v []byte) (unchecked bool, err error) {
	unchecked = s.cfg.RelVerify == "header"
	if unchecked {
		err = openhash.CheckControl(v)
	} else {
		err = openhash.Check(v)
	}
	if err != nil {
		// openhash's errors read "openhash: <reason>: openhash: invalid
		// set"; the client needs only the reason.
		reason := strings.TrimSuffix(err.Error(), ": "+openhash.ErrInvalid.Error())
		return false, fmt.Errorf("invalid relation set: %s", strings.TrimPrefix(reason, "openhash: "))
	}
	return unchecked, nil
}

// lookupRelSet looks key up as a relation set: errWrongTypeKind for a key of
// another kind.
func (s *Server) lookupRelSet(st *store.Store, key []byte) (set openhash.Set, found bool, err error) {
	e, found := st.Get(key)
	if !found {
		return openhash.Set{}, false, nil
	}
	if e.Kind != store.KindRelSet {
		return openhash.Set{}, true, errWrongTypeKind
	}
	set, err = openhash.Open(e.Value)
	if err != nil {
		// Stored sets were validated on the way in; this is a bug.
		return openhash.Set{}, true, fmt.Errorf("stored relation set is corrupt: %w", err)
	}
	return set, true, nil
}

// relSet is lookupRelSet for a handler: on an error it replies (WRONGTYPE,
// or the error) and reports ok false.
func (c *client) relSet(key []byte) (set openhash.Set, found, ok bool) {
	set, found, err := c.lookupRel(key)
	if err != nil {
		c.replyErr(err)
		return set, found, false
	}
	if !found {
		c.noteMiss(key)
	}
	return set, found, true
}

// replyErr replies an error from the relation-set helpers.
func (c *client) replyErr(err error) {
	if errors.Is(err, errWrongTypeKind) {
		c.err(errWrongType)
		return
	}
	c.err("ERR " + err.Error())
}

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
		switch {
		case !ok:
			continue // WRONGTYPE replied in this position: the array stays whole
		case !found:
			c.integer(-1)
		case set.Contains(x):
			c.integer(1)
		case set.Truncated():
			c.integer(-1)
		default:
			c.integer(0)
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

// pairArgs reads "CMD a b [LIMIT n]" (RELWHO, RELCOMMON), replying on bad
// input; limit is -1 without LIMIT.
func (c *client) pairArgs(args [][]byte) (a, b uint64, limit int, ok bool) {
	a, ok1 := parseUID(args[1])
	b, ok2 := parseUID(args[2])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return 0, 0, 0, false
	}
	limit, ok = c.parseLimit(args[3:])
	return a, b, limit, ok
}

// parseLimit reads an optional "LIMIT n" at args[i:]; n must be positive.
func (c *client) parseLimit(args [][]byte) (limit int, ok bool) {
	switch len(args) {
	case 0:
		return -1, true
	case 2:
		if eqFold(args[0], "LIMIT") {
			n, isInt := parseInt(args[1])
			if !isInt || n < 1 {
				c.err("ERR LIMIT must be a positive integer")
				return 0, false
			}
			return int(min(n, 1<<31)), true
		}
	}
	c.err(errSyntax)
	return 0, false
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

// RELLOAD key [TIMES] [TRUNCATED] uid [time] [uid [time] ...] [TRUNCATED]:
// build the set server-side and store it with one write, replacing the key
// (and its TTL). The build runs before the store is touched, so no lock is
// held while it runs. Replies the member count.
func cmdRelLoad(c *client, args [][]byte) {
	var withTimes, truncated bool
	rest := args[2:]
	for len(rest) > 0 {
		switch {
		case eqFold(rest[0], "TIMES"):
			withTimes = true
		case eqFold(rest[0], "TRUNCATED"):
			truncated = true
		default:
			goto members
		}
		rest = rest[1:]
	}
members:
	if n := len(rest); n > 0 && eqFold(rest[n-1], "TRUNCATED") {
		truncated, rest = true, rest[:n-1]
	}
	if !c.parseMembers(rest, withTimes) {
		return
	}
	var times []uint32
	if withTimes {
		times = c.times
	}
	buf, err := openhash.Build(nil, c.uids, times, openhash.Options{Seed: rand.Uint64(), Truncated: truncated})
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	c.db().Set(args[1], store.Entry{Kind: store.KindRelSet, Value: buf})
	set, _ := openhash.Open(buf)
	c.integer(int64(set.Count()))
}

// errWrongTypeKind is the error of a relation-set helper for a key that
// holds another kind of value.
var errWrongTypeKind = fill.ErrWrongKind

// replyMutation turns fill.EditSet's result into a reply.
func (c *client) replyMutation(n int, err error) {
	switch {
	case err == nil:
		c.integer(int64(n))
	case errors.Is(err, fill.ErrNotCached):
		c.integer(0)
	case errors.Is(err, errWrongTypeKind):
		c.err(errWrongType)
	default:
		c.err("ERR " + err.Error())
	}
}

// RELADD key [XX] [TIMES] uid [time] ...: add members (in place when the
// set has room, else grown). With TIMES the arguments are uid/time pairs;
// without, members of a set with times get the current time. XX: only if the
// set is cached — a cache must not create a one-member list that looks
// complete. Without XX an absent key becomes a new set (with times when
// TIMES is given). Replies the number of new members.
func cmdRelAdd(c *client, args [][]byte) {
	var xx, withTimes bool
	rest := args[2:]
	for len(rest) > 0 && (eqFold(rest[0], "XX") || eqFold(rest[0], "TIMES")) {
		if eqFold(rest[0], "XX") {
			xx = true
		} else {
			withTimes = true
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		c.err("ERR wrong number of arguments for 'reladd' command")
		return
	}
	if !c.parseMembers(rest, withTimes) {
		return
	}
	var times []uint32
	if withTimes {
		times = c.times
	}
	var create func() ([]byte, error)
	if !xx {
		create = fill.EmptySet(withTimes)
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], create, fill.AddMembers(c.uids, times, uint32(time.Now().Unix()))))
}

// RELDEL key [XX] uid [uid ...]: remove members; replies how many were
// there. XX is accepted for symmetry with RELADD (removing never creates).
// A set emptied this way stays cached as an empty list.
func cmdRelDel(c *client, args [][]byte) {
	rest := args[2:]
	if len(rest) > 0 && eqFold(rest[0], "XX") {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		c.err("ERR wrong number of arguments for 'reldel' command")
		return
	}
	if !c.parseUIDs(rest) {
		return
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], nil, fill.RemoveMembers(c.uids)))
}
