package server

import (
	"math"

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
	e, found := c.srv.store.Get(key)
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

// expiry options shared by SET and GETEX.
type expiryOpt struct {
	set     bool  // an EX/PX/EXAT/PXAT was given
	at      int64 // absolute Unix ms
	keepTTL bool
	persist bool
}

// parseExpiry reads the option at args[i] (and its value at args[i+1]) if it
// is an expiry option; it returns how many arguments it consumed (0 when
// args[i] is not one) or an error message.
func (c *client) parseExpiry(cmd string, args [][]byte, i int, o *expiryOpt) (int, string) {
	var unitMs int64
	var absolute bool
	switch {
	case eqFold(args[i], "EX"):
		unitMs = 1000
	case eqFold(args[i], "PX"):
		unitMs = 1
	case eqFold(args[i], "EXAT"):
		unitMs, absolute = 1000, true
	case eqFold(args[i], "PXAT"):
		unitMs, absolute = 1, true
	default:
		return 0, ""
	}
	if o.set || o.keepTTL || o.persist || i+1 >= len(args) {
		return 0, errSyntax
	}
	n, ok := parseInt(args[i+1])
	if !ok {
		return 0, errNotInt
	}
	if n <= 0 || n > math.MaxInt64/unitMs {
		return 0, errInvalidExpire(cmd)
	}
	ms := n * unitMs
	if !absolute {
		now := c.srv.store.Now()
		if ms > math.MaxInt64-now {
			return 0, errInvalidExpire(cmd)
		}
		ms += now
	}
	o.set, o.at = true, ms
	return 2, ""
}

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
func cmdSet(c *client, args [][]byte) {
	var nx, xx, get bool
	var exp expiryOpt
	for i := 3; i < len(args); {
		if n, msg := c.parseExpiry("set", args, i, &exp); msg != "" {
			c.err(msg)
			return
		} else if n > 0 {
			i += n
			continue
		}
		a := args[i]
		switch {
		case eqFold(a, "NX") && !xx:
			nx = true
		case eqFold(a, "XX") && !nx:
			xx = true
		case eqFold(a, "GET"):
			get = true
		case eqFold(a, "KEEPTTL") && !exp.set:
			exp.keepTTL = true
		default:
			c.err(errSyntax)
			return
		}
		i++
	}
	next, err := c.srv.valueEntry(args[2], exp.at)
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	var old []byte
	var existed, wrongType, done bool
	c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
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
		if exp.keepTTL && ok {
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
	c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if ok {
			return cur, store.Keep
		}
		done = true
		return next, store.Put
	})
	c.boolean(done)
}

// setWithTTL serves SETEX (unit 1000) and PSETEX (unit 1).
func setWithTTL(name string, unitMs int64) func(c *client, args [][]byte) {
	return func(c *client, args [][]byte) {
		n, ok := parseInt(args[2])
		if !ok {
			c.err(errNotInt)
			return
		}
		now := c.srv.store.Now()
		if n <= 0 || n > (math.MaxInt64-now)/unitMs {
			c.err(errInvalidExpire(name))
			return
		}
		next, err := c.srv.valueEntry(args[3], now+n*unitMs)
		if err != nil {
			c.err("ERR " + err.Error())
			return
		}
		c.srv.store.Set(args[1], next)
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
	c.srv.store.Update(key, func(cur store.Entry, ok bool) (store.Entry, store.Action) {
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

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
func cmdGetEx(c *client, args [][]byte) {
	var exp expiryOpt
	for i := 2; i < len(args); {
		if n, msg := c.parseExpiry("getex", args, i, &exp); msg != "" {
			c.err(msg)
			return
		} else if n > 0 {
			i += n
			continue
		}
		if !eqFold(args[i], "PERSIST") || exp.set {
			c.err(errSyntax)
			return
		}
		exp.persist = true
		i++
	}
	var val []byte
	var existed, wrongType bool
	c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		existed = ok
		if !ok {
			return cur, store.Keep
		}
		if !byteView(cur.Kind) {
			wrongType = true
			return cur, store.Keep
		}
		val = cur.Value
		switch {
		case exp.set && exp.at <= c.srv.store.Now():
			return cur, store.Remove
		case exp.set:
			cur.ExpireAt = exp.at
			return cur, store.Put
		case exp.persist && cur.ExpireAt != 0:
			cur.ExpireAt = 0
			return cur, store.Put
		}
		return cur, store.Keep
	})
	switch {
	case wrongType:
		c.err(errWrongType)
	case existed:
		c.bulk(val)
	default:
		c.null()
	}
}

func cmdAppend(c *client, args [][]byte) {
	var n int
	var wrongType, tooBig bool
	c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if !ok {
			n = len(args[2])
			return strEntry(args[2], 0), store.Put
		}
		if cur.Kind != store.KindString {
			wrongType = true
			return cur, store.Keep
		}
		if int64(len(cur.Value)+len(args[2])) > c.srv.cfg.ProtoMaxBulkLen {
			tooBig = true
			return cur, store.Keep
		}
		// Appending into spare capacity is safe although readers may hold
		// the old value: they only read up to its old length. This makes
		// repeated APPEND amortized O(1), as in Redis.
		cur.Value = append(cur.Value, args[2]...)
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
	if off+int64(len(patch)) > c.srv.cfg.ProtoMaxBulkLen {
		c.err(errStringSize)
		return
	}
	var n int
	var wrongType bool
	c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
		if ok && cur.Kind != store.KindString {
			wrongType = true
			return cur, store.Keep
		}
		n = len(cur.Value)
		if len(patch) == 0 {
			// Redis: an empty patch changes nothing and creates nothing.
			return cur, store.Keep
		}
		size := max(len(cur.Value), int(off)+len(patch))
		// Copy: the old value may be on its way to another client.
		v := make([]byte, size)
		copy(v, cur.Value)
		copy(v[off:], patch)
		n = size
		return store.Entry{Kind: store.KindString, Value: v, ExpireAt: cur.ExpireAt}, store.Put
	})
	if wrongType {
		c.err(errWrongType)
		return
	}
	c.integer(int64(n))
}

func cmdMGet(c *client, args [][]byte) {
	c.arrayHeader(len(args) - 1)
	for _, k := range args[1:] {
		e, ok := c.srv.store.Get(k)
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
		c.srv.store.SetMany(keys, vals, false)
		c.ok()
	}
}

func cmdMSetNX(c *client, args [][]byte) {
	if keys, vals, ok := c.msetArgs("msetnx", args); ok {
		c.boolean(c.srv.store.SetMany(keys, vals, true))
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
		c.srv.store.Update(args[1], func(cur store.Entry, ok bool) (store.Entry, store.Action) {
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
