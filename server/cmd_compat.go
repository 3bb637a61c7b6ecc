package server

import (
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/openhash"
)

// Hash and set commands on relation sets, so clients written for Weibo's
// Redis layout (uid.following as a hash {touid: addTime}, or a set of
// touids) keep working unchanged. Fields and members must be uids; a hash
// value is the follow time. An absent key reads as empty, as in Redis.

// uidsIn is the common start of the reads below: args[2:] parsed as uids
// into c.uids, and args[1] looked up; ok false means a reply was sent.
func (c *client) uidsIn(args [][]byte) (openhash.Set, bool, bool) {
	if !c.parseUIDs(args[2:]) {
		return openhash.Set{}, false, false
	}
	return c.relSet(args[1])
}

func cmdHExists(c *client, args [][]byte) {
	set, found, ok := c.uidsIn(args)
	if !ok {
		return
	}
	member, known := false, true
	if found {
		member, known = c.contains(args[1], &set, c.uids[0])
	}
	if !known {
		c.errUnknownMember(args[1])
		return
	}
	c.boolean(member)
}

// HGET key field: the follow time as a decimal string ("0" in a set built
// without times), nil for a non-member.
func cmdHGet(c *client, args [][]byte) { c.hmget(args, false) }

// HMGET key field [field ...] (and HGET, one field): the follow times. A
// truncated set's answers are all known before the reply starts: one that
// is not makes the reply the TRUNCATED error (relset_truncated.go).
func cmdHMGet(c *client, args [][]byte) { c.hmget(args, true) }

func (c *client) hmget(args [][]byte, array bool) {
	set, found, ok := c.uidsIn(args)
	if !ok {
		return
	}
	// c.hits: member; c.times: its time. Every uid is asked before any
	// error, so dispatch asks the source about all of them at once.
	c.hits, c.times = c.hits[:0], c.times[:0]
	unknown := false
	for _, u := range c.uids {
		var (
			t      uint32
			member bool
			known  = true
		)
		if found {
			t, member, known = c.memberTime(args[1], &set, u)
		}
		unknown = unknown || !known
		c.hits, c.times = append(c.hits, member), append(c.times, t)
	}
	if unknown {
		c.errUnknownMember(args[1])
		return
	}
	if array {
		c.arrayHeader(len(c.uids))
	}
	for i, member := range c.hits {
		if member {
			c.bulkUint(uint64(c.times[i]))
		} else {
			c.null()
		}
	}
}

// cardinality serves HLEN and SCARD (and can serve ZCARD): the length of
// the whole list, a truncated set's recorded total; 0 for an absent key, as
// in Redis; the TRUNCATED error for a truncated set that records none.
func cardinality(c *client, args [][]byte) {
	set, found, ok := c.relSet(args[1])
	if !ok {
		return
	}
	n, known := relTotal(&set)
	switch {
	case !found:
		c.integer(0)
	case !known:
		c.err(errTruncatedCount)
	default:
		c.integer(n)
	}
}

// listMembers serves HGETALL (uid, time pairs), HKEYS, HVALS and SMEMBERS,
// in table order (Redis promises no order either). The members are
// gathered first and the header written from what was gathered, so the
// length and the elements come from one walk of the table: the header
// count of a set is a claim about the table, not something a reply may
// take on trust (issue 14).
func listMembers(keys, vals, asSet bool) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		set, found, ok := c.relSet(args[1])
		if !ok {
			return
		}
		c.members = c.members[:0]
		if found {
			set.Range(func(uid uint64, t uint32) bool {
				c.members = append(c.members, openhash.Member{UID: uid, Time: t})
				return true
			})
		}
		switch n := len(c.members); {
		case keys && vals:
			c.mapHeader(n)
		case asSet:
			c.setHeader(n)
		default:
			c.arrayHeader(n)
		}
		for _, m := range c.members {
			if keys {
				c.bulkUint(m.UID)
			}
			if vals {
				c.bulkUint(uint64(m.Time))
			}
		}
		c.trimMembers()
	}
}

// HSET key field value [field value ...]: add members with their follow
// times (ignored by a set built without times); an absent key becomes a set
// with times, as HSET creates a hash. Replies the number of new fields.
func cmdHSet(c *client, args [][]byte) {
	c.hset(args, "hset", func(n int) { c.integer(int64(n)) })
}

// HMSET is HSET replying OK, as in Redis.
func cmdHMSet(c *client, args [][]byte) {
	c.hset(args, "hmset", func(int) { c.ok() })
}

func (c *client) hset(args [][]byte, name string, reply func(int)) {
	if len(args)%2 != 0 {
		c.err("ERR wrong number of arguments for '" + name + "' command")
		return
	}
	if !c.parseMembers(args[2:], true) {
		return
	}
	n, err := fill.EditSet(c.db(), args[1], fill.EmptySet(true, c.srv.setVersion()), fill.AddMembers(c.uids, c.times, 0))
	if err != nil {
		c.replyErr(err)
		return
	}
	// Redis's HSET counts as a change even when every field already held
	// its value (fill.EditSet then wrote nothing).
	c.db().Signal(args[1])
	reply(n)
}

// SADD key member [member ...]: add members (a set with times gives them the
// current time); an absent key becomes a set without times.
func cmdSAdd(c *client, args [][]byte) {
	if !c.parseUIDs(args[2:]) {
		return
	}
	n, err := fill.EditSet(c.db(), args[1], fill.EmptySet(false, c.srv.setVersion()), fill.AddMembers(c.uids, nil, uint32(time.Now().Unix())))
	if err != nil {
		c.replyErr(err)
		return
	}
	c.integer(int64(n))
}

// removeCmd serves HDEL and SREM.
func removeCmd(c *client, args [][]byte) {
	if !c.parseUIDs(args[2:]) {
		return
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], nil, fill.RemoveMembers(c.uids)))
}

func cmdSIsMember(c *client, args [][]byte) { cmdHExists(c, args) }

func cmdSMIsMember(c *client, args [][]byte) {
	set, found, ok := c.uidsIn(args)
	if !ok {
		return
	}
	c.hits = c.hits[:0]
	if found {
		c.hits = set.ContainsBatch(c.hits, c.uids)
	}
	unknown := false
	for i := range c.uids {
		if !found {
			c.hits = append(c.hits, false)
			continue
		}
		if c.hits[i] || !set.Truncated() {
			continue
		}
		member, known := c.contains(args[1], &set, c.uids[i])
		unknown = unknown || !known
		c.hits[i] = member
	}
	if unknown {
		c.errUnknownMember(args[1])
		return
	}
	c.arrayHeader(len(c.uids))
	for _, h := range c.hits {
		c.boolean(h)
	}
}
