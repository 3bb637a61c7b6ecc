package server

import (
	"errors"
	"math"
	"strconv"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/store"
)

// Handlers for the keyspace commands: existence, TTLs, renames, iteration.

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

func cmdDel(c *client, args [][]byte) {
	var n int64
	for _, k := range args[1:] {
		if c.db().Delete(k) {
			n++
		}
	}
	c.integer(n)
}

func cmdExists(c *client, args [][]byte) {
	var n int64
	for _, k := range args[1:] {
		if _, ok := c.db().Get(k); ok {
			n++
		}
	}
	c.integer(n)
}

func cmdType(c *client, args [][]byte) {
	e, ok := c.db().Peek(args[1])
	if !ok {
		c.simple("none")
		return
	}
	c.simple(typeName(e.Kind))
}

func renameCmd(nx bool) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		done, err := c.db().Rename(args[1], args[2], nx)
		switch {
		case errors.Is(err, store.ErrNoSuchKey):
			c.err(errNoSuchKey)
		case nx:
			c.boolean(done)
		default:
			c.ok()
		}
	}
}

// expireCmd serves EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with the NX, XX,
// GT and LT conditions of Redis 7. A time in the past deletes the key.
func expireCmd(name string, unitMs int64, absolute bool) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		// Redis reads the options first, then the number.
		var nx, xx, gt, lt bool
		for _, a := range args[3:] {
			switch {
			case eqFold(a, "NX"):
				nx = true
			case eqFold(a, "XX"):
				xx = true
			case eqFold(a, "GT"):
				gt = true
			case eqFold(a, "LT"):
				lt = true
			default:
				c.err("ERR Unsupported option " + cString(a))
				return
			}
		}
		if nx && (xx || gt || lt) {
			c.err("ERR NX and XX, GT or LT options at the same time are not compatible")
			return
		}
		if gt && lt {
			c.err("ERR GT and LT options at the same time are not compatible")
			return
		}
		n, ok := parseInt(args[2])
		if !ok {
			c.err(errNotInt)
			return
		}
		if n > math.MaxInt64/unitMs || n < math.MinInt64/unitMs {
			c.err(errInvalidExpire(name))
			return
		}
		at := n * unitMs
		now := c.db().Now()
		if !absolute {
			// Only the top can overflow: now is positive, so a negative
			// time however large (a deletion) stays in range.
			if at > math.MaxInt64-now {
				c.err(errInvalidExpire(name))
				return
			}
			at += now
		}
		var set bool
		c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
			if !ok {
				return cur, store.Keep
			}
			// A key without TTL counts as an infinite TTL for GT and LT.
			has := cur.ExpireAt != 0
			switch {
			case nx && has, xx && !has, gt && (!has || at <= cur.ExpireAt), lt && has && at >= cur.ExpireAt:
				return cur, store.Keep
			}
			set = true
			if at <= now {
				return cur, store.Remove
			}
			cur.ExpireAt = at
			return cur, store.Put
		})
		c.boolean(set)
	}
}

// ttlCmd serves TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 missing, -1 no TTL.
func ttlCmd(unitMs int64, absolute bool) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		e, ok := c.db().Peek(args[1])
		switch {
		case !ok:
			c.integer(-2)
		case e.ExpireAt == 0:
			c.integer(-1)
		case absolute:
			c.integer(roundDiv(e.ExpireAt, unitMs))
		default:
			c.integer(roundDiv(max(e.ExpireAt-c.db().Now(), 0), unitMs))
		}
	}
}

// roundDiv is ms/unit rounded to the nearest, halves up, as Redis rounds
// TTL and EXPIRETIME, without overflowing near 2^63 (a PXAT of
// 9223372036854775807 has an EXPIRETIME of 9223372036854776). ms >= 0.
func roundDiv(ms, unit int64) int64 {
	q, r := ms/unit, ms%unit
	if r >= unit-r {
		q++
	}
	return q
}

func cmdPersist(c *client, args [][]byte) {
	var done bool
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if !ok || cur.ExpireAt == 0 {
			return cur, store.Keep
		}
		done = true
		cur.ExpireAt = 0
		return cur, store.Put
	})
	c.boolean(done)
}

func cmdKeys(c *client, args [][]byte) {
	pat := args[1]
	all := len(pat) == 1 && pat[0] == '*'
	// The count is unknown until the walk ends: collect, then reply.
	var keys []string
	for cur := uint64(0); ; {
		cur = c.db().Scan(cur, math.MaxInt, func(k string, _ store.Entry) {
			if all || globMatch(pat, k) {
				keys = append(keys, k)
			}
		})
		if cur == 0 {
			break
		}
	}
	c.arrayOfBulk(keys)
}

// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is a
// shard index: each call returns whole shards (COUNT is a hint, as in
// Redis), so every key present for the whole scan is returned exactly once.
func cmdScan(c *client, args [][]byte) {
	cursor, ok := parseCursor(args[1])
	if !ok {
		c.err("ERR invalid cursor")
		return
	}
	pat, typ, count, ok := c.scanOptions(args[2:], true)
	if !ok {
		return
	}
	var keys []string
	next := c.db().Scan(cursor, count, func(k string, e store.Entry) {
		if typ != nil && !eqFold(typ, typeName(e.Kind)) {
			return
		}
		if pat != nil && !globMatch(pat, k) {
			return
		}
		keys = append(keys, k)
	})
	c.arrayHeader(2)
	c.bulkString(strconv.FormatUint(next, 10))
	c.arrayOfBulk(keys)
}

// scanOptions reads the options of SCAN (withType) and ZSCAN: MATCH
// pattern, COUNT n (at least 1; 10 when absent), TYPE name; ok false means
// an error was replied.
func (c *client) scanOptions(args [][]byte, withType bool) (pat, typ []byte, count int, ok bool) {
	count = 10
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.err(errSyntax)
			return nil, nil, 0, false
		}
		switch v := args[i+1]; {
		case eqFold(args[i], "MATCH"):
			pat = v
		case eqFold(args[i], "COUNT"):
			n, isInt := parseInt(v)
			if !isInt {
				c.err(errNotInt)
				return nil, nil, 0, false
			}
			if n < 1 {
				c.err(errSyntax)
				return nil, nil, 0, false
			}
			count = int(min(n, math.MaxInt32))
		case withType && eqFold(args[i], "TYPE"):
			typ = v
		default:
			c.err(errSyntax)
			return nil, nil, 0, false
		}
	}
	return pat, typ, count, true
}

// parseCursor reads a SCAN cursor as Redis does, with strtoul: an optional
// sign ("-1" is 2^64-1), decimal digits (none at all is 0), no leading
// space, no overflow.
func parseCursor(b []byte) (uint64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
		if len(b) == 0 {
			return 0, false // a sign alone converts nothing
		}
	}
	var u uint64
	if len(b) > 0 {
		var ok bool
		if u, ok = resp.ParseUint(b); !ok {
			return 0, false
		}
	}
	if neg {
		u = -u
	}
	return u, true
}

func cmdRandomKey(c *client, _ [][]byte) {
	k, ok := c.db().RandomKey()
	if !ok {
		c.null()
		return
	}
	c.bulkString(k)
}

func cmdDBSize(c *client, _ [][]byte) { c.integer(c.db().Len()) }

// FLUSHDB and FLUSHALL [ASYNC | SYNC]: one database, so both flush it all.
// ASYNC is accepted and done synchronously: dropping the shard maps is
// already cheap for the caller, the collector frees the memory later.
func cmdFlush(c *client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "ASYNC") && !eqFold(args[1], "SYNC")) {
		c.err(errSyntax)
		return
	}
	c.db().Flush()
	c.srv.zorders.Flush() // the orders pin the flushed sets' bytes
	c.ok()
}

// COPY source destination [DB 0] [REPLACE]: 1 if copied, 0 if source is
// missing or destination exists without REPLACE. A source that names a
// relation list is filled from the source of record first. The copy has its own
// bytes (a relation set's array too), the TTL and the encoding of the
// source. One database: DB must name 0, with SELECT's errors otherwise.
func cmdCopy(c *client, args [][]byte) {
	replace := false
	for j := 3; j < len(args); j++ {
		switch {
		case cEqFold(args[j], "REPLACE"):
			replace = true
		case cEqFold(args[j], "DB") && j+1 < len(args):
			if msg := resp.SelectError(args[j+1]); msg != "" {
				c.err(msg)
				return
			}
			j++
		default:
			c.err(errSyntax)
			return
		}
	}
	src, dst := args[1], args[2]
	if string(src) == string(dst) {
		c.err("ERR source and destination objects are the same")
		return
	}
	var done, missing bool
	c.db().UpdateKeys(args[1:3], func(tx *store.Keys) {
		e, ok := tx.Get(src)
		if !ok {
			missing = true
			return
		}
		if _, exists := tx.Peek(dst); exists && !replace {
			return
		}
		e.Value = append([]byte(nil), e.Value...)
		tx.Put(dst, e)
		done = true
	})
	if missing {
		// A relation list that is not cached is filled and the command
		// run again, as GET does: "not cached" is not "missing".
		c.noteMiss(src)
	}
	c.boolean(done)
}
