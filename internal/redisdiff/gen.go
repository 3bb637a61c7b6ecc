package redisdiff

import (
	"math/rand/v2"
	"slices"
	"strings"
)

// Gated are the commands the generator knows that relcache may not serve
// yet: their generators run only when Gen.Has reports the command, so they
// switch on by themselves when relcache gains it. Every other command the
// generator writes is one relcache serves today; a gap there is a
// divergence, not something to skip.
var Gated = []string{
	"multi", "exec", "discard", "watch", "unwatch",
	"setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro",
	"incrbyfloat", "lcs", "copy", "substr",
}

// Gen writes random programs over a small keyspace: four string keys and
// two relation keys. A relation key is a hash in Redis and a relation set
// in relcache (both made by HSET); the generator gives it to hash
// commands, to commands that treat every type alike (DEL, EXPIREAT, TYPE,
// WATCH, ...) or answer WRONGTYPE on both (APPEND, INCR, the bit commands)
// and as the destination of an overwrite, never to a string read, so the
// allow-listed "relation sets read as bytes" never changes what later
// commands see. Expiries are fixed absolute times far in the
// future or the past, and relative ones only where the reply cannot depend
// on timing (refused, or zero and below: the key goes at once); so every
// reply is deterministic but TTL's and PTTL's, compared within a tolerance.
type Gen struct {
	// Has reports whether relcache serves a command, by lower-case name
	// (COMMAND LIST): it gates the generators of the Gated commands. Nil
	// enables none of them.
	Has func(name string) bool
	// MaxSteps bounds a program's length (100 when zero); each program
	// has between a tenth of it and all of it.
	MaxSteps int
}

// Enabled lists the Gated commands g will write.
func (g Gen) Enabled() []string {
	var out []string
	for _, c := range Gated {
		if g.has(c) {
			out = append(out, c)
		}
	}
	return out
}

func (g Gen) has(name string) bool { return g.Has != nil && g.Has(name) }

// Program writes the program of seed: the same seed and the same enabled
// commands give the same program.
func (g Gen) Program(seed uint64) []Step {
	maxSteps := g.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 100
	}
	w := &writer{r: rand.New(rand.NewPCG(seed, 0x5eed)), g: g}
	for _, o := range ops {
		if !slices.Contains(Gated, o.name) || g.has(o.name) {
			w.ops = append(w.ops, o)
			w.total += o.weight
		}
	}
	nconn := 1 + w.r.IntN(3)
	w.multi = make([]bool, nconn)
	started := make([]bool, nconn)
	length := maxSteps/10 + w.r.IntN(maxSteps-maxSteps/10+1)
	var steps []Step
	for len(steps) < length {
		c := w.r.IntN(nconn)
		if !started[c] {
			started[c] = true
			// A quarter of the connections speak RESP3 throughout.
			if w.r.IntN(4) == 0 {
				steps = append(steps, Step{Conn: c, Args: []string{"HELLO", "3"}})
			}
		}
		for range 1 + w.r.IntN(5) {
			steps = append(steps, Step{Conn: c, Args: w.command(c)})
		}
	}
	return steps
}

// writer is the state of one program being written.
type writer struct {
	r     *rand.Rand
	g     Gen
	ops   []op
	total int
	multi []bool // per connection: inside MULTI, as far as the writer knows
	// expiredKept is set once a SET with an expiry in the past was
	// written: such a key counts in DBSIZE, on either server, until an
	// expiry cycle reclaims it, which is timing; DBSIZE is not written after.
	expiredKept bool
}

// command writes one command for connection c: a transaction step now and
// then when transactions are enabled, otherwise an operation, sometimes
// with its arity broken or its name's case changed.
func (w *writer) command(c int) []string {
	if w.g.has("multi") && w.g.has("exec") {
		if tx := w.transaction(c); tx != nil {
			return tx
		}
	}
	o := w.pick()
	args := o.fn(w)
	switch x := w.r.IntN(100); {
	case x < 2 && len(args) > 1:
		args = args[:len(args)-1]
	case x < 4 && o.hash:
		args = append(args, w.oneOf(uids[1:])) // relation sets refuse fields that are not uids
	case x < 4:
		args = append(args, w.oneOf(values))
	case x < 20:
		args[0] = strings.ToLower(args[0])
	}
	return args
}

// transaction returns MULTI, EXEC, DISCARD, WATCH or UNWATCH when it is
// their turn, nil otherwise. Inside MULTI it closes the transaction often
// enough that most are executed, and now and then sends what Redis refuses
// there (a nested MULTI, WATCH).
func (w *writer) transaction(c int) []string {
	x := w.r.IntN(100)
	if w.multi[c] {
		switch {
		case x < 15:
			w.multi[c] = false
			return []string{"EXEC"}
		case x < 19 && w.g.has("discard"):
			w.multi[c] = false
			return []string{"DISCARD"}
		case x < 21:
			return []string{"MULTI"}
		case x < 23 && w.g.has("watch"):
			return []string{"WATCH", w.anyKey()}
		}
		return nil
	}
	switch {
	case x < 7:
		w.multi[c] = true
		return []string{"MULTI"}
	case x < 12 && w.g.has("watch"):
		return append([]string{"WATCH"}, w.keys(w.anyKey, 1+w.r.IntN(2))...)
	case x < 13 && w.g.has("unwatch"):
		return []string{"UNWATCH"}
	case x < 14 && w.g.has("discard") && w.r.IntN(2) == 0:
		return []string{"DISCARD"}
	case x < 14:
		return []string{"EXEC"}
	}
	return nil
}

func (w *writer) pick() op {
	n := w.r.IntN(w.total)
	for _, o := range w.ops {
		if n < o.weight {
			return o
		}
		n -= o.weight
	}
	panic("unreachable")
}

func (w *writer) oneOf(s []string) string { return s[w.r.IntN(len(s))] }

// The keyspace. A string key only ever holds a string. A relation key
// holds a hash (a relation set in relcache) or a string: it gets a string
// by an overwrite (SET, MSET, or a RENAME, COPY or BITOP from a string
// key), and moves only to the other relation key.
var (
	strKeys = []string{"a", "b", "c", "d"}
	relKeys = []string{"1.following", "2.following"}
)

// strKey is a key for what reads a string's bytes (GET, GETDEL, SET ...
// GET, LCS, ...) or moves a key's value to any key (RENAME, COPY).
func (w *writer) strKey() string { return w.oneOf(strKeys) }

func (w *writer) relKey() string { return w.oneOf(relKeys) }

// anyKey is a key for commands that treat every type alike, or refuse a
// non-string with WRONGTYPE on both servers (APPEND, INCR, SETBIT, ...).
func (w *writer) anyKey() string {
	if w.r.IntN(5) == 0 {
		return w.relKey()
	}
	return w.strKey()
}

func (w *writer) keys(key func() string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = key()
	}
	return out
}

// Argument pools: the values commands store and the numbers they parse,
// the edges of each parser included.
var (
	values = []string{
		"", "v", "abc", "hello world", "0", "1", "-1", "10", "42", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "3.14", "1e3", " 1", "01", "+1", "0x10",
		"\x00\xff\x80", "a\r\nb", "foobar", "\xff\xf0\x00", "10.5", "5.0e3", "inf", "nan", "ohmytext", "mynewtext",
		strings.Repeat("x", 44), strings.Repeat("y", 45),
	}
	integers = []string{
		"0", "1", "-1", "2", "5", "10", "100", "-100", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "x", "1.5", "", " 1", "01",
	}
	indexes = []string{"0", "1", "2", "3", "-1", "-2", "-3", "5", "10", "100", "-100",
		"9223372036854775807", "-9223372036854775808", "x"}
	// Absolute times: far in the future (2100 and after), in the past,
	// and ones Redis refuses or that overflow in milliseconds.
	futureSec = []string{"4102444800", "4102444801", "4133980800"}
	pastSec   = []string{"1", "1000000000", "946684800", "0", "-1"}
	futureMs  = []string{"4102444800000", "4102444800123", "4102444800999", "4133980800500"}
	pastMs    = []string{"1", "1000000000000", "946684800123", "0", "-1"}
	badTime   = []string{"9223372036854775807", "-9223372036854775808", "9223372036854776", "x", "1.5", ""}
	// Relative times whose outcome does not depend on when they run.
	relTime  = []string{"0", "-1", "-100", "9223372036854775807", "-9223372036854775808", "x", "1.5", ""}
	patterns = []string{"*", "?", "[ab]", "[a-c]*", "1.*", "*o*", "\\a", "[^a]", "a*", "nomatch", "[", "*[", "1.followin?"}
	floats   = []string{"1", "-1", "0.1", "1.5", "-0.5", "1e3", "5.0e3", "10.50", "3", "inf", "-inf", "nan",
		"x", "", "1e308", "-1e308", "0x10", " 1", "1.7976931348623157e308"}
	bitOffsets  = []string{"0", "1", "7", "8", "15", "31", "63", "100", "-1", "8388608", "4294967296", "x"}
	uids        = []string{"1", "2", "3", "42", "4294967295"} // HDEL leaves the first
	followTimes = []string{"0", "100", "200", "4294967295"}
)

// absTime is an absolute time in seconds (ms false) or milliseconds. A
// time in the past is returned with past set.
func (w *writer) absTime(ms bool) (t string, past bool) {
	switch x := w.r.IntN(20); {
	case x < 12 && ms:
		return w.oneOf(futureMs), false
	case x < 12:
		return w.oneOf(futureSec), false
	case x < 17 && ms:
		return w.oneOf(pastMs), true
	case x < 17:
		return w.oneOf(pastSec), true
	}
	return w.oneOf(badTime), false
}

// expiryOpts writes SET's or GETEX's options: NX, XX, GET, KEEPTTL for SET
// (set) and PERSIST for GETEX, and an expiry, in random order, sometimes
// conflicting, now and then with a word neither knows.
func (w *writer) expiryOpts(set bool) []string {
	var out []string
	for range w.r.IntN(3) {
		switch x := w.r.IntN(12); {
		case x < 2:
			out = append(out, "EX", w.oneOf(relTime))
		case x < 3:
			out = append(out, "PX", w.oneOf(relTime))
		case x < 6:
			t, past := w.absTime(false)
			out = append(out, "EXAT", t)
			w.expiredKept = w.expiredKept || (past && set)
		case x < 8:
			t, past := w.absTime(true)
			out = append(out, "PXAT", t)
			w.expiredKept = w.expiredKept || (past && set)
		case x < 11 && set:
			out = append(out, w.oneOf([]string{"NX", "XX", "GET", "KEEPTTL", "nx", "get"}))
		case x < 11:
			out = append(out, "PERSIST")
		default:
			out = append(out, "BOGUS")
		}
	}
	return out
}

// expireFlags writes EXPIRE's NX, XX, GT, LT, sometimes two of them.
func (w *writer) expireFlags() []string {
	n := 0
	if w.r.IntN(3) == 0 {
		n = 1 + w.r.IntN(2)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = w.oneOf([]string{"NX", "XX", "GT", "LT", "gt", "BOGUS"})
	}
	return out
}

// op writes one command; weight is how often, relative to the others.
type op struct {
	name   string // lower case, as COMMAND LIST names it
	weight int
	fn     func(w *writer) []string
	hash   bool // a hash command: its arguments are uids
}

// cmd is an op writing name (upper case) followed by what fn writes.
func cmd(name string, weight int, fn func(w *writer) []string) op {
	return op{name: name, weight: weight, hash: name[0] == 'h', fn: func(w *writer) []string {
		return append([]string{strings.ToUpper(name)}, fn(w)...)
	}}
}

var ops = []op{
	// strings
	cmd("get", 6, func(w *writer) []string { return []string{w.strKey()} }),
	cmd("set", 10, func(w *writer) []string {
		return append([]string{w.strKey(), w.oneOf(values)}, w.expiryOpts(true)...)
	}),
	cmd("setnx", 2, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(values)} }),
	cmd("setex", 1, func(w *writer) []string { return []string{w.strKey(), w.oneOf(relTime), w.oneOf(values)} }),
	cmd("psetex", 1, func(w *writer) []string { return []string{w.strKey(), w.oneOf(relTime), w.oneOf(values)} }),
	cmd("getset", 2, func(w *writer) []string { return []string{w.strKey(), w.oneOf(values)} }),
	cmd("getdel", 2, func(w *writer) []string { return []string{w.strKey()} }),
	cmd("getex", 3, func(w *writer) []string { return append([]string{w.strKey()}, w.expiryOpts(false)...) }),
	cmd("append", 3, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(values)} }),
	cmd("strlen", 2, func(w *writer) []string { return []string{w.strKey()} }),
	cmd("getrange", 3, func(w *writer) []string { return []string{w.strKey(), w.oneOf(indexes), w.oneOf(indexes)} }),
	cmd("setrange", 3, func(w *writer) []string {
		return []string{w.anyKey(), w.oneOf([]string{"0", "1", "3", "5", "10", "20", "-1", "1048576", "x"}), w.oneOf(values)}
	}),
	cmd("mget", 3, func(w *writer) []string { return w.keys(w.strKey, 1+w.r.IntN(3)) }),
	cmd("mset", 3, func(w *writer) []string {
		var out []string
		for range 1 + w.r.IntN(3) {
			out = append(out, w.anyKey(), w.oneOf(values))
		}
		return out
	}),
	cmd("msetnx", 2, func(w *writer) []string {
		var out []string
		for range 1 + w.r.IntN(3) {
			out = append(out, w.anyKey(), w.oneOf(values))
		}
		return out
	}),
	cmd("incr", 4, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("decr", 2, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("incrby", 3, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(integers)} }),
	cmd("decrby", 2, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(integers)} }),
	// keyspace
	cmd("del", 3, func(w *writer) []string { return w.keys(w.anyKey, 1+w.r.IntN(3)) }),
	cmd("unlink", 1, func(w *writer) []string { return w.keys(w.anyKey, 1+w.r.IntN(2)) }),
	cmd("exists", 3, func(w *writer) []string { return w.keys(w.anyKey, 1+w.r.IntN(3)) }),
	cmd("touch", 1, func(w *writer) []string { return w.keys(w.anyKey, 1+w.r.IntN(2)) }),
	cmd("type", 2, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("rename", 2, func(w *writer) []string { return w.move() }),
	cmd("renamenx", 1, func(w *writer) []string { return w.move() }),
	cmd("expire", 2, func(w *writer) []string {
		return append([]string{w.anyKey(), w.oneOf(relTime)}, w.expireFlags()...)
	}),
	cmd("pexpire", 1, func(w *writer) []string {
		return append([]string{w.anyKey(), w.oneOf(relTime)}, w.expireFlags()...)
	}),
	cmd("expireat", 4, func(w *writer) []string {
		t, _ := w.absTime(false)
		return append([]string{w.anyKey(), t}, w.expireFlags()...)
	}),
	cmd("pexpireat", 3, func(w *writer) []string {
		t, _ := w.absTime(true)
		return append([]string{w.anyKey(), t}, w.expireFlags()...)
	}),
	cmd("ttl", 3, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("pttl", 2, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("expiretime", 3, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("pexpiretime", 2, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("persist", 2, func(w *writer) []string { return []string{w.anyKey()} }),
	cmd("keys", 2, func(w *writer) []string { return []string{w.oneOf(patterns)} }),
	cmd("scan", 2, func(w *writer) []string {
		out := []string{"0"}
		if w.r.IntN(2) == 0 {
			out = append(out, "MATCH", w.oneOf(patterns))
		}
		if w.r.IntN(2) == 0 {
			out = append(out, "COUNT", "1000")
		}
		// Not TYPE none: Redis 7.0 lists a key that expired but is not yet
		// reclaimed under it, which is timing (and a Redis bug).
		if w.r.IntN(3) == 0 {
			out = append(out, "TYPE", w.oneOf([]string{"string", "hash", "bogus"}))
		}
		return out
	}),
	{name: "dbsize", weight: 2, fn: func(w *writer) []string {
		// Nor inside MULTI: a queued DBSIZE runs at EXEC, after whatever
		// other connections write in between (a SET with a past expiry,
		// say), so its answer would be timing too.
		if w.expiredKept || slices.Contains(w.multi, true) {
			return []string{"EXISTS", w.anyKey()}
		}
		return []string{"DBSIZE"}
	}},
	cmd("flushall", 1, func(w *writer) []string { return nil }),
	cmd("flushdb", 1, func(w *writer) []string { return nil }),
	cmd("ping", 1, func(w *writer) []string { return w.keys(func() string { return w.oneOf(values) }, w.r.IntN(2)) }),
	cmd("echo", 1, func(w *writer) []string { return []string{w.oneOf(values)} }),
	// Connection state: SELECT 0 only (relcache has one database, and
	// another index would leave Redis elsewhere), client names.
	cmd("select", 1, func(w *writer) []string { return []string{w.oneOf([]string{"0", "x", "-1", "2147483648"})} }),
	cmd("client", 1, func(w *writer) []string {
		if w.r.IntN(2) == 0 {
			return []string{"GETNAME"}
		}
		return []string{"SETNAME", w.oneOf([]string{"conn", "other", "", "bad name", "a\nb", "\xff"})}
	}),
	// OBJECT ENCODING of strings depends on their history in Redis (APPEND
	// and SETRANGE make "raw"); relcache gets that with the rest of the
	// string family (issue 15, item 2), so it is gated on SUBSTR, which
	// lands with it.
	{name: "substr", weight: 2, fn: func(w *writer) []string { return []string{"OBJECT", "ENCODING", w.strKey()} }},
	{name: "nosuchcommand", weight: 1, fn: func(w *writer) []string { return []string{"NOSUCHCOMMAND", w.oneOf(values)} }},
	// hash commands, on the relation key only
	// HSET always sets uid 1 and HDEL never removes it: relcache keeps a
	// relation set emptied by HDEL as a cached empty list where Redis
	// deletes an emptied hash (docs/commands.md), so it is never emptied.
	cmd("hset", 3, func(w *writer) []string {
		out := []string{w.relKey(), "1", w.oneOf(followTimes)}
		for range w.r.IntN(2) {
			out = append(out, w.oneOf(uids), w.oneOf(followTimes))
		}
		return out
	}),
	cmd("hget", 2, func(w *writer) []string { return []string{w.relKey(), w.oneOf(uids)} }),
	cmd("hexists", 1, func(w *writer) []string { return []string{w.relKey(), w.oneOf(uids)} }),
	cmd("hdel", 2, func(w *writer) []string {
		return append([]string{w.relKey()}, w.keys(func() string { return w.oneOf(uids[1:]) }, 1+w.r.IntN(2))...)
	}),
	cmd("hlen", 1, func(w *writer) []string { return []string{w.relKey()} }),
	cmd("hmget", 1, func(w *writer) []string {
		return append([]string{w.relKey()}, w.keys(func() string { return w.oneOf(uids) }, 1+w.r.IntN(3))...)
	}),
	cmd("hkeys", 1, func(w *writer) []string { return []string{w.relKey()} }),
	cmd("hgetall", 1, func(w *writer) []string { return []string{w.relKey()} }),
	// gated: the rest of the string family
	cmd("incrbyfloat", 4, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(floats)} }),
	cmd("setbit", 4, func(w *writer) []string {
		return []string{w.anyKey(), w.oneOf(bitOffsets), w.oneOf([]string{"0", "1", "1", "2", "x"})}
	}),
	cmd("getbit", 3, func(w *writer) []string { return []string{w.anyKey(), w.oneOf(bitOffsets)} }),
	cmd("bitcount", 3, func(w *writer) []string { return append([]string{w.anyKey()}, w.bitRange(2)...) }),
	cmd("bitpos", 3, func(w *writer) []string {
		return append([]string{w.anyKey(), w.oneOf([]string{"0", "1", "1", "2"})}, w.bitRange(1)...)
	}),
	cmd("bitop", 3, func(w *writer) []string {
		op := w.oneOf([]string{"AND", "OR", "XOR", "NOT", "and", "BOGUS"})
		n := 1 + w.r.IntN(3)
		if op == "NOT" && w.r.IntN(4) > 0 {
			n = 1
		}
		return append([]string{op, w.anyKey()}, w.keys(w.anyKey, n)...)
	}),
	cmd("bitfield", 3, func(w *writer) []string { return append([]string{w.anyKey()}, w.bitfieldOps(false)...) }),
	cmd("bitfield_ro", 1, func(w *writer) []string { return append([]string{w.anyKey()}, w.bitfieldOps(true)...) }),
	cmd("lcs", 2, func(w *writer) []string {
		out := []string{w.strKey(), w.strKey()}
		for range w.r.IntN(3) {
			switch w.r.IntN(5) {
			case 0:
				out = append(out, "LEN")
			case 1, 2:
				out = append(out, "IDX")
			case 3:
				out = append(out, "MINMATCHLEN", w.oneOf([]string{"0", "1", "2", "4", "-1", "x"}))
			default:
				out = append(out, "WITHMATCHLEN")
			}
		}
		return out
	}),
	cmd("copy", 3, func(w *writer) []string {
		out := w.move()
		if w.r.IntN(4) == 0 {
			// Not DB 1: Redis would copy where this keyspace cannot see.
			out = append(out, "DB", w.oneOf([]string{"0", "0", "x"}))
		}
		if w.r.IntN(2) == 0 {
			out = append(out, "REPLACE")
		}
		return out
	}),
	cmd("substr", 2, func(w *writer) []string { return []string{w.strKey(), w.oneOf(indexes), w.oneOf(indexes)} }),
}

// move writes the source and destination of RENAME or COPY: a string key
// to any key, or a relation key to a relation key.
func (w *writer) move() []string {
	if w.r.IntN(5) == 0 {
		return []string{w.relKey(), w.relKey()}
	}
	return []string{w.strKey(), w.anyKey()}
}

// bitRange writes BITCOUNT's [start end [BYTE|BIT]] (pos 2) or BITPOS's
// [start [end [BYTE|BIT]]] (pos 1).
func (w *writer) bitRange(pos int) []string {
	var out []string
	switch n := w.r.IntN(4); {
	case n == 0:
	case n == 1 && pos == 1:
		out = []string{w.oneOf(indexes)}
	default:
		out = []string{w.oneOf(indexes), w.oneOf(indexes)}
		if w.r.IntN(2) == 0 {
			out = append(out, w.oneOf([]string{"BYTE", "BIT", "bit", "BOGUS"}))
		}
	}
	return out
}

// bitfieldOps writes BITFIELD's subcommands (only GETs, mostly, for
// BITFIELD_RO).
func (w *writer) bitfieldOps(ro bool) []string {
	types := []string{"i1", "i5", "i8", "u8", "u16", "i32", "i64", "u63", "u64", "x8"}
	offsets := []string{"0", "1", "5", "#1", "#2", "100", "-1", "x"}
	nums := []string{"0", "1", "-1", "100", "127", "-128", "255", "9223372036854775807", "x"}
	var out []string
	for range 1 + w.r.IntN(3) {
		x := w.r.IntN(10)
		switch {
		case x < 4 || (ro && x < 9):
			out = append(out, "GET", w.oneOf(types), w.oneOf(offsets))
		case x < 6:
			out = append(out, "SET", w.oneOf(types), w.oneOf(offsets), w.oneOf(nums))
		case x < 8:
			out = append(out, "INCRBY", w.oneOf(types), w.oneOf(offsets), w.oneOf(nums))
		default:
			out = append(out, "OVERFLOW", w.oneOf([]string{"WRAP", "SAT", "FAIL", "BOGUS"}))
		}
	}
	return out
}
