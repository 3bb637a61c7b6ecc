package server

import (
	"math"

	"github.com/relcache/relcache/internal/lcs"
	"github.com/relcache/relcache/internal/ldouble"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// Handlers for the string commands. Values are copied out of the request
// buffer before they are stored: redcon's buffer holds the whole command, and
// keeping a slice of it would keep (and mis-account) the key and framing too.

func strEntry(v []byte, expireAt int64) store.Entry {
	return store.Entry{Kind: store.KindString, Value: append([]byte(nil), v...), ExpireAt: expireAt}
}

// valueEntry is what a whole-value write (SET, SETEX, GETSET, MSET, ...)
// stores: a payload that starts with the openhash magic is a relation set,
// validated before anything is stored; anything else is a string. This is how
// a client loads a follow list it built itself with one SET.
func (s *Server) valueEntry(v []byte, expireAt int64) (store.Entry, error) {
	if !openhash.IsSet(v) {
		return strEntry(v, expireAt), nil
	}
	unchecked, err := s.verifyRelSet(v)
	if err != nil {
		return store.Entry{}, err
	}
	return store.Entry{Kind: store.KindRelSet, Value: append([]byte(nil), v...), ExpireAt: expireAt, Unchecked: unchecked}, nil
}

// byteView reports whether GET and the other whole-value reads may return a
// kind's bytes as they are: strings, and relation sets (so arrays can be
// copied between servers with GET and SET).
func byteView(k store.Kind) bool { return k == store.KindString || k == store.KindRelSet }

// getString reads key's bytes for GET, STRLEN and GETRANGE; on a kind
// without a byte view it replies WRONGTYPE and reports ok=false.
func (c *client) getString(key []byte) (v []byte, found, ok bool) {
	e, found := c.db().Get(key)
	if found && !byteView(e.Kind) {
		c.err(errWrongType)
		return nil, true, false
	}
	if !found {
		c.noteMiss(key)
	}
	return e.Value, found, true
}

func cmdGet(c *client, args [][]byte) {
	v, found, ok := c.getString(args[1])
	switch {
	case !ok:
	case !found:
		c.null()
	default:
		c.bulk(v)
	}
}

// The options of SET and GETEX, as flag bits.
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT

	optExpiry = optEX | optPX | optEXAT | optPXAT
)

// parseStringOpts reads SET's (set) or GETEX's options as Redis's
// parseExtendedStringArgumentsOrReply does: only their syntax. An option may
// repeat, an expiry option too (the last value counts), but not conflict.
// The expiry value is returned unread: Redis checks it later (SET: before
// the write; GETEX: after the key's lookup), so a bad number never hides a
// syntax error or a missing key. ok is false on a syntax error.
func parseStringOpts(args [][]byte, set bool) (flags int, expire []byte, ok bool) {
	for j := 0; j < len(args); j++ {
		a := args[j]
		switch {
		case set && eqFold(a, "NX") && flags&optXX == 0:
			flags |= optNX
		case set && eqFold(a, "XX") && flags&optNX == 0:
			flags |= optXX
		case set && eqFold(a, "GET"):
			flags |= optGet
		case set && eqFold(a, "KEEPTTL") && flags&(optPersist|optExpiry) == 0:
			flags |= optKeepTTL
		case !set && eqFold(a, "PERSIST") && flags&(optKeepTTL|optExpiry) == 0:
			flags |= optPersist
		default:
			bit := expiryOption(a)
			if bit == 0 || j+1 == len(args) || flags&(optKeepTTL|optPersist|optExpiry&^bit) != 0 {
				return 0, nil, false
			}
			flags |= bit
			expire = args[j+1]
			j++
		}
	}
	return flags, expire, true
}

func expiryOption(a []byte) int {
	switch {
	case eqFold(a, "EX"):
		return optEX
	case eqFold(a, "PX"):
		return optPX
	case eqFold(a, "EXAT"):
		return optEXAT
	case eqFold(a, "PXAT"):
		return optPXAT
	}
	return 0
}

// expireAt is the absolute Unix ms time an expiry option's value names, as
// Redis's getExpireMillisecondsOrReply computes it: the value must be
// positive and neither the conversion to ms nor adding now (for EX and PX)
// may overflow. msg is the error reply otherwise.
func expireAt(cmd string, flags int, v []byte, now int64) (at int64, msg string) {
	n, ok := parseInt(v)
	if !ok {
		return 0, errNotInt
	}
	seconds := flags&(optEX|optEXAT) != 0
	if n <= 0 || (seconds && n > math.MaxInt64/1000) {
		return 0, errInvalidExpire(cmd)
	}
	if seconds {
		n *= 1000
	}
	if flags&(optEX|optPX) != 0 {
		if n > math.MaxInt64-now {
			return 0, errInvalidExpire(cmd)
		}
		n += now
	}
	return n, ""
}

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
func cmdSet(c *client, args [][]byte) {
	flags, expire, ok := parseStringOpts(args[3:], true)
	if !ok {
		c.err(errSyntax)
		return
	}
	var at int64
	if flags&optExpiry != 0 {
		var msg string
		if at, msg = expireAt("set", flags, expire, c.db().Now()); msg != "" {
			c.err(msg)
			return
		}
	}
	nx, xx, get, keepTTL := flags&optNX != 0, flags&optXX != 0, flags&optGet != 0, flags&optKeepTTL != 0
	next, err := c.srv.valueEntry(args[2], at)
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	var old []byte
	var existed, wrongType, done bool
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		existed = ok
		if ok && get && !byteView(cur.Kind) {
			wrongType = true
			return cur, store.Keep
		}
		old = cur.Value
		if (nx && ok) || (xx && !ok) {
			return cur, store.Keep
		}
		done = true
		if keepTTL && ok {
			next.ExpireAt = cur.ExpireAt
		}
		return next, store.Put
	})
	switch {
	case wrongType:
		c.err(errWrongType)
	case get && existed:
		c.bulk(old)
	case get:
		c.null()
	case done:
		c.ok()
	default:
		c.null()
	}
}

func cmdSetNX(c *client, args [][]byte) {
	next, err := c.srv.valueEntry(args[2], 0)
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	var done bool
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if ok {
			return cur, store.Keep
		}
		done = true
		return next, store.Put
	})
	c.boolean(done)
}

// setWithTTL serves SETEX (flag optEX) and PSETEX (optPX).
func setWithTTL(name string, flag int) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		at, msg := expireAt(name, flag, args[2], c.db().Now())
		if msg != "" {
			c.err(msg)
			return
		}
		next, err := c.srv.valueEntry(args[3], at)
		if err != nil {
			c.err("ERR " + err.Error())
			return
		}
		c.db().Set(args[1], next)
		c.ok()
	}
}

func cmdGetSet(c *client, args [][]byte) {
	next, err := c.srv.valueEntry(args[2], 0)
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	c.getAndChange(args[1], &next)
}

func cmdGetDel(c *client, args [][]byte) { c.getAndChange(args[1], nil) }

// getAndChange serves GETSET (next given: replace) and GETDEL (next nil:
// remove): it replies the old value, or nil when there was none.
func (c *client) getAndChange(key []byte, next *store.Entry) {
	var old []byte
	var existed, wrongType bool
	c.db().Update(key, func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if ok && !byteView(cur.Kind) {
			wrongType = true
			return cur, store.Keep
		}
		old, existed = cur.Value, ok
		if next == nil {
			return cur, store.Remove
		}
		return *next, store.Put
	})
	switch {
	case wrongType:
		c.err(errWrongType)
	case existed:
		c.bulk(old)
	default:
		c.null()
	}
}

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]. In Redis's order:
// the options' syntax, then the key (nil, WRONGTYPE), then the expiry value.
func cmdGetEx(c *client, args [][]byte) {
	flags, expire, ok := parseStringOpts(args[2:], false)
	if !ok {
		c.err(errSyntax)
		return
	}
	var val []byte
	var existed, wrongType bool
	var msg string
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		existed = ok
		if !ok {
			return cur, store.Keep
		}
		if !byteView(cur.Kind) {
			wrongType = true
			return cur, store.Keep
		}
		val = cur.Value
		now := c.db().Now()
		switch {
		case flags&optExpiry != 0:
			var at int64
			if at, msg = expireAt("getex", flags, expire, now); msg != "" {
				return cur, store.Keep
			}
			if at <= now {
				return cur, store.Remove
			}
			cur.ExpireAt = at
			return cur, store.Put
		case flags&optPersist != 0 && cur.ExpireAt != 0:
			cur.ExpireAt = 0
			return cur, store.Put
		}
		return cur, store.Keep
	})
	switch {
	case wrongType:
		c.err(errWrongType)
	case msg != "":
		c.err(msg)
	case existed:
		c.bulk(val)
	default:
		c.null()
	}
}

func cmdAppend(c *client, args [][]byte) {
	var n int
	var wrongType, tooBig bool
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if !ok {
			n = len(args[2])
			return strEntry(args[2], 0), store.Put
		}
		if cur.Kind != store.KindString {
			wrongType = true
			return cur, store.Keep
		}
		if !c.srv.fitsString(int64(len(cur.Value)), int64(len(args[2]))) {
			tooBig = true
			return cur, store.Keep
		}
		// Appending into spare capacity is safe although readers may hold
		// the old value: they only read up to its old length. This makes
		// repeated APPEND amortized O(1), as in Redis.
		cur.Value = append(cur.Value, args[2]...)
		cur.Enc = store.EncRaw // edited in place, as Redis's value is
		n = len(cur.Value)
		return cur, store.Put
	})
	switch {
	case wrongType:
		c.err(errWrongType)
	case tooBig:
		c.err(errStringSize)
	default:
		c.integer(int64(n))
	}
}

func cmdStrlen(c *client, args [][]byte) {
	if v, _, ok := c.getString(args[1]); ok {
		c.integer(int64(len(v)))
	}
}

// GETRANGE key start end, with Redis's clamping of negative and
// out-of-range indexes.
func cmdGetRange(c *client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.err(errNotInt)
		return
	}
	v, _, ok := c.getString(args[1])
	if !ok {
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.bulk(nil)
		return
	}
	if start < 0 {
		start = max(n+start, 0)
	}
	if end < 0 {
		end = max(n+end, 0)
	}
	end = min(end, n-1)
	if start > end || n == 0 {
		c.bulk(nil)
		return
	}
	c.bulk(v[start : end+1])
}

// SETRANGE key offset value, checked in Redis's order: the offset, the
// key's type, an empty value (which changes and creates nothing, whatever
// the offset), then the size.
func cmdSetRange(c *client, args [][]byte) {
	off, ok := parseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if off < 0 {
		c.err(errOffset)
		return
	}
	patch := args[3]
	var n int
	var msg string
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if ok && cur.Kind != store.KindString {
			msg = errWrongType
			return cur, store.Keep
		}
		n = len(cur.Value)
		if len(patch) == 0 {
			return cur, store.Keep
		}
		if !c.srv.fitsString(off, int64(len(patch))) {
			msg = errStringSize
			return cur, store.Keep
		}
		size := max(len(cur.Value), int(off)+len(patch))
		// Copy: the old value may be on its way to another client.
		v := make([]byte, size)
		copy(v, cur.Value)
		copy(v[off:], patch)
		n = size
		return store.Entry{Kind: store.KindString, Value: v, ExpireAt: cur.ExpireAt, Enc: store.EncRaw}, store.Put
	})
	if msg != "" {
		c.err(msg)
		return
	}
	c.integer(int64(n))
}

// fitsString reports whether a string of size bytes with add more stays
// within proto-max-bulk-len, Redis's checkStringLength. Both are
// non-negative; no sum is formed, so no offset can wrap it (size + add once
// overflowed negative for an offset near 2^63 and passed the check).
func (s *Server) fitsString(size, add int64) bool {
	lim := s.cfg.ProtoMaxBulkLen
	return add <= lim && size <= lim-add
}

func cmdMGet(c *client, args [][]byte) {
	c.arrayHeader(len(args) - 1)
	for _, k := range args[1:] {
		e, ok := c.db().Get(k)
		if !ok || !byteView(e.Kind) {
			c.null()
			continue
		}
		c.bulk(e.Value)
	}
}

// msetArgs splits MSET's arguments; it replies with the arity error and
// returns ok=false when they do not pair up.
func (c *client) msetArgs(name string, args [][]byte) (keys [][]byte, vals []store.Entry, ok bool) {
	if len(args)%2 != 1 {
		c.err("ERR wrong number of arguments for '" + name + "' command")
		return nil, nil, false
	}
	n := (len(args) - 1) / 2
	keys, vals = make([][]byte, n), make([]store.Entry, n)
	for i := range n {
		keys[i] = args[1+2*i]
		v, err := c.srv.valueEntry(args[2+2*i], 0)
		if err != nil {
			c.err("ERR " + err.Error())
			return nil, nil, false
		}
		vals[i] = v
	}
	return keys, vals, true
}

func cmdMSet(c *client, args [][]byte) {
	if keys, vals, ok := c.msetArgs("mset", args); ok {
		c.db().SetMany(keys, vals, false)
		c.ok()
	}
}

func cmdMSetNX(c *client, args [][]byte) {
	if keys, vals, ok := c.msetArgs("msetnx", args); ok {
		c.boolean(c.db().SetMany(keys, vals, true))
	}
}

// incrBy serves INCR, DECR, INCRBY and DECRBY. sign is +1 or -1; fixed is the
// delta for INCR/DECR, or 0 to read it from args[2].
func incrBy(sign int64, fixed int64) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		delta := fixed
		if fixed == 0 {
			d, ok := parseInt(args[2])
			if !ok {
				c.err(errNotInt)
				return
			}
			if sign < 0 {
				if d == math.MinInt64 {
					c.err("ERR decrement would overflow")
					return
				}
				d = -d
			}
			delta = d
		} else {
			delta = sign * fixed
		}
		var result int64
		var msg string
		c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
			var v int64
			if ok {
				if cur.Kind != store.KindString {
					msg = errWrongType
					return cur, store.Keep
				}
				n, isInt := parseInt(cur.Value)
				if !isInt {
					msg = errNotInt
					return cur, store.Keep
				}
				v = n
			}
			if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
				msg = errOverflow
				return cur, store.Keep
			}
			result = v + delta
			next := store.Entry{Kind: store.KindString, Value: appendInt(nil, result), ExpireAt: cur.ExpireAt}
			return next, store.Put
		})
		if msg != "" {
			c.err(msg)
			return
		}
		c.integer(result)
	}
}

const errNotFloat = "ERR value is not a valid float"

// INCRBYFLOAT key increment, in Redis's long double arithmetic and
// formatting (internal/ldouble): the reply and the stored value are the
// sum printed with 17 decimals, trailing zeros cut. The TTL stays. Checked
// in Redis's order: the key's type, its value, the increment, then a sum
// that is NaN or infinite.
func cmdIncrByFloat(c *client, args [][]byte) {
	incr, incrOK := ldouble.Parse(args[2])
	var next []byte
	var msg string
	c.db().Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		var value ldouble.Value
		if ok {
			if cur.Kind != store.KindString {
				msg = errWrongType
				return cur, store.Keep
			}
			var valid bool
			if value, valid = ldouble.Parse(cur.Value); !valid {
				msg = errNotFloat
				return cur, store.Keep
			}
		}
		if !incrOK {
			msg = errNotFloat
			return cur, store.Keep
		}
		sum, finite := ldouble.Add(value, incr)
		if !finite {
			msg = "ERR increment would produce NaN or Infinity"
			return cur, store.Keep
		}
		next = ldouble.AppendHuman(nil, sum)
		// Redis stores the result as a plain string object: never "int".
		return store.Entry{Kind: store.KindString, Value: next, ExpireAt: cur.ExpireAt, Enc: store.EncNoInt}, store.Put
	})
	if msg != "" {
		c.err(msg)
		return
	}
	c.bulk(next)
}

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest
// common subsequence, its length, or its match ranges, exactly as Redis
// chooses them (internal/lcs). Both keys are read under one lock. Redis
// refuses operands whose table of 32-bit lengths would pass
// proto-max-bulk-len bytes, and so does relcache, although its table
// takes a bit per cell.
func cmdLCS(c *client, args [][]byte) {
	var a, b []byte
	var wrongType bool
	// Both keys at one version: dispatch holds their shards' read locks
	// while a multi-key command runs (runHolding).
	ea, oka := c.db().Get(args[1])
	eb, okb := c.db().Get(args[2])
	wrongType = (oka && ea.Kind != store.KindString) || (okb && eb.Kind != store.KindString)
	a, b = ea.Value, eb.Value
	if wrongType {
		c.err("ERR The specified keys must contain string values")
		return
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(args); j++ {
		switch o := args[j]; {
		case cEqFold(o, "IDX"):
			getIdx = true
		case cEqFold(o, "LEN"):
			getLen = true
		case cEqFold(o, "WITHMATCHLEN"):
			withLen = true
		case cEqFold(o, "MINMATCHLEN") && j+1 < len(args):
			n, ok := parseInt(args[j+1])
			if !ok {
				c.err(errNotInt)
				return
			}
			minLen = max(n, 0)
			j++
		default:
			c.err(errSyntax)
			return
		}
	}
	switch {
	case getIdx && getLen:
		c.err("ERR If you want both the length and indexes, please just use IDX.")
		return
	case len(a) >= maxLCSLen || len(b) >= maxLCSLen:
		c.err("ERR String too long for LCS")
		return
	case (uint64(len(a))+1)*(uint64(len(b))+1)*4 > uint64(c.srv.cfg.ProtoMaxBulkLen):
		c.err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	t := lcs.New(a, b)
	if getLen && !getIdx {
		c.integer(int64(t.Len()))
		return
	}
	seq, ranges := t.Walk()
	if !getIdx {
		c.bulk(seq)
		return
	}
	kept := ranges[:0]
	for _, r := range ranges {
		if int64(r.A1-r.A0+1) >= minLen {
			kept = append(kept, r)
		}
	}
	c.mapHeader(2)
	c.bulkString("matches")
	c.arrayHeader(len(kept))
	for _, r := range kept {
		if withLen {
			c.arrayHeader(3)
		} else {
			c.arrayHeader(2)
		}
		c.arrayHeader(2)
		c.integer(int64(r.A0))
		c.integer(int64(r.A1))
		c.arrayHeader(2)
		c.integer(int64(r.B0))
		c.integer(int64(r.B1))
		if withLen {
			c.integer(int64(r.A1 - r.A0 + 1))
		}
	}
	c.bulkString("len")
	c.integer(int64(t.Len()))
}
