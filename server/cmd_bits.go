package server

import (
	"bytes"
	"math"

	"github.com/relcache/relcache/internal/bitstr"
	"github.com/relcache/relcache/store"
)

// Handlers for the bit commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
// BITFIELD and BITFIELD_RO, in Redis's bit order (bit 0 is the high bit of
// byte 0) and with Redis 7.0's argument checks in Redis's order. They work
// on strings only: a relation set answers WRONGTYPE, as the hash Redis
// would hold there would. A write copies the value (readers may be sending
// the old one), so SETBIT and BITFIELD are O(length), as SETRANGE is.

const (
	errBitOffset    = "ERR bit offset is not an integer or out of range"
	errBitValue     = "ERR bit is not an integer or out of range"
	errBitArg       = "ERR The bit argument must be 1 or 0."
	errBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
)

// bitOffset reads a bit offset as Redis's getBitOffsetFromArgument does:
// a non-negative integer whose byte lies below proto-max-bulk-len, so no
// command can grow a string past the bulk limit. With width > 0 (BITFIELD)
// "#n" means n·width; the product wraps on overflow as the C int64 does,
// and is then checked like any offset.
func (s *Server) bitOffset(arg []byte, width uint) (uint64, bool) {
	hash := width > 0 && len(arg) > 0 && arg[0] == '#'
	if hash {
		arg = arg[1:]
	}
	n, ok := parseInt(arg)
	if !ok {
		return 0, false
	}
	if hash {
		n *= int64(width)
	}
	if n < 0 || n>>3 >= s.cfg.ProtoMaxBulkLen {
		return 0, false
	}
	return uint64(n), true
}

// stringOnly looks key up for a bit command's read (counting a hit or a
// miss); any kind but a string is WRONGTYPE, and ok=false means a reply
// was sent.
func (c *client) stringOnly(key []byte) (v []byte, found, ok bool) {
	e, found := c.db().Get(key)
	if found && e.Kind != store.KindString {
		c.err(errWrongType)
		return nil, true, false
	}
	return e.Value, found, true
}

// grownCopy is v copied into a new slice of at least size bytes, zero
// padded, for an edit that may not touch the stored value.
func grownCopy(v []byte, size uint64) []byte {
	out := make([]byte, max(uint64(len(v)), size))
	copy(out, v)
	return out
}

// SETBIT key offset 0|1: the bit's old value. The string grows (zero
// padded) to hold the offset; it is created if missing.
func cmdSetBit(c *client, args [][]byte) {
	off, ok := c.srv.bitOffset(args[2], 0)
	if !ok {
		c.err(errBitOffset)
		return
	}
	on, ok := parseInt(args[3])
	if !ok || on&^1 != 0 {
		c.err(errBitValue)
		return
	}
	var old int
	var wrongType bool
	c.db().Update(args[1], func(cur store.Entry, exists bool) (store.Entry, store.Action) {
		if exists && cur.Kind != store.KindString {
			wrongType = true
			return cur, store.Keep
		}
		old = bitstr.Get(cur.Value, off)
		if exists && old == int(on) && off>>3 < uint64(len(cur.Value)) {
			// Nothing to write; Redis has made the value raw all the
			// same, which is no change to anyone watching it.
			if cur.Enc == store.EncRaw {
				return cur, store.Keep
			}
			cur.Enc = store.EncRaw
			return cur, store.Quiet
		}
		v := grownCopy(cur.Value, off>>3+1)
		bitstr.Set(v, off, int(on))
		return store.Entry{Kind: store.KindString, Value: v, ExpireAt: cur.ExpireAt, Enc: store.EncRaw}, store.Put
	})
	if wrongType {
		c.err(errWrongType)
		return
	}
	c.integer(int64(old))
}

// GETBIT key offset: 0 past the end of the string or for a missing key.
func cmdGetBit(c *client, args [][]byte) {
	off, ok := c.srv.bitOffset(args[2], 0)
	if !ok {
		c.err(errBitOffset)
		return
	}
	if v, _, ok := c.stringOnly(args[1]); ok {
		c.integer(int64(bitstr.Get(v, off)))
	}
}

// rangeUnit reads BITCOUNT's and BITPOS's range unit, BYTE or BIT, at
// args[i] (BYTE when there are fewer arguments), and returns the length
// of a string of n bytes in that unit; on anything else it replies with a
// syntax error and ok is false.
func (c *client) rangeUnit(args [][]byte, i int, n int64) (isBit bool, total int64, ok bool) {
	switch {
	case i >= len(args) || cEqFold(args[i], "BYTE"):
		return false, n, true
	case cEqFold(args[i], "BIT"):
		return true, n << 3, true
	}
	c.err(errSyntax)
	return false, 0, false
}

// clampRange turns a start and end that may count from the end (negative)
// into indexes within [0, total), as BITCOUNT and BITPOS do: end clamps to
// total-1, which leaves start > end for an empty result.
func clampRange(start, end, total int64) (int64, int64) {
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	if end >= total {
		end = total - 1
	}
	return start, end
}

// BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7.0, the key is looked
// up before the range is read: a missing key counts 0 whatever follows.
func cmdBitCount(c *client, args [][]byte) {
	v, found, ok := c.stringOnly(args[1])
	if !ok {
		return
	}
	if !found {
		c.integer(0)
		return
	}
	n := int64(len(v))
	start, end, isBit := int64(0), n-1, false
	switch len(args) {
	case 2:
	case 4, 5:
		var ok1, ok2 bool
		start, ok1 = parseInt(args[2])
		end, ok2 = parseInt(args[3])
		if !ok1 || !ok2 {
			c.err(errNotInt)
			return
		}
		// Redis answers 0 for this before it reads the unit.
		if start < 0 && end < 0 && start > end {
			c.integer(0)
			return
		}
		var total int64
		if isBit, total, ok = c.rangeUnit(args, 4, n); !ok {
			return
		}
		start, end = clampRange(start, end, total)
	default:
		c.err(errSyntax)
		return
	}
	if start > end {
		c.integer(0)
		return
	}
	from, to := toBits(start, end, isBit)
	c.integer(bitstr.Count(v, from, to))
}

// toBits turns a clamped, non-empty range in BYTE or BIT units into bit
// positions.
func toBits(start, end int64, isBit bool) (from, to uint64) {
	if isBit {
		return uint64(start), uint64(end)
	}
	return uint64(start) * 8, uint64(end)*8 + 7
}

// BITPOS key bit [start [end [BYTE|BIT]]]: the first bit set to bit in the
// range, or -1. Looking for a 0 without an end, past the string's last
// byte counts as zeros (the string's bit length is returned), as in Redis.
func cmdBitPos(c *client, args [][]byte) {
	bit, ok := parseInt(args[2])
	if !ok {
		c.err(errNotInt)
		return
	}
	if bit != 0 && bit != 1 {
		c.err(errBitArg)
		return
	}
	v, found, ok := c.stringOnly(args[1])
	if !ok {
		return
	}
	if !found {
		// A missing key is an endless run of zeros.
		c.integer(-bit)
		return
	}
	n := int64(len(v))
	start, end, isBit, endGiven := int64(0), n-1, false, false
	switch len(args) {
	case 3:
	case 4, 5, 6:
		if start, ok = parseInt(args[3]); !ok {
			c.err(errNotInt)
			return
		}
		var total int64
		if isBit, total, ok = c.rangeUnit(args, 5, n); !ok {
			return
		}
		if len(args) >= 5 {
			if end, ok = parseInt(args[4]); !ok {
				c.err(errNotInt)
				return
			}
			endGiven = true
		}
		start, end = clampRange(start, end, total)
	default:
		c.err(errSyntax)
		return
	}
	if start > end {
		c.integer(-1)
		return
	}
	from, to := toBits(start, end, isBit)
	p := bitstr.Pos(v, int(bit), from, to)
	if p < 0 && bit == 0 && !endGiven {
		// (BIT ranges always have an end.)
		p = (end + 1) * 8
	}
	c.integer(p)
}

// BITOP AND|OR|XOR|NOT destkey key [key ...]: destkey gets the result
// (as long as the longest source, shorter ones and missing keys read as
// zeros) and loses its TTL; an all-empty result deletes it. The sources
// are read and destkey written under one lock of their shards, so no
// client sees the sources half way through a change.
func cmdBitOp(c *client, args [][]byte) {
	var op byte
	switch a := args[1]; {
	case cEqFold(a, "AND"), cEqFold(a, "OR"), cEqFold(a, "XOR"):
		op = a[0] | 0x20
	case cEqFold(a, "NOT"):
		op = 'n'
		if len(args) != 4 {
			c.err("ERR BITOP NOT must be called with a single source key.")
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	dest, keys := args[2], args[3:]
	var size int
	var wrongType bool
	c.db().UpdateKeys(args[2:], func(tx *store.Keys) {
		srcs := make([][]byte, len(keys))
		for i, k := range keys {
			e, ok := tx.Get(k)
			if ok && e.Kind != store.KindString {
				wrongType = true
				return
			}
			srcs[i] = e.Value
			size = max(size, len(e.Value))
		}
		if size == 0 {
			tx.Remove(dest)
			return
		}
		tx.Put(dest, store.Entry{Kind: store.KindString, Value: bitOp(op, srcs, size), Enc: store.EncRaw})
	})
	if wrongType {
		c.err(errWrongType)
		return
	}
	c.integer(int64(size))
}

// bitOp computes BITOP's result of size bytes; op is the first letter of
// the operation, and bytes past a source's end are zeros.
func bitOp(op byte, srcs [][]byte, size int) []byte {
	out := make([]byte, size)
	copy(out, srcs[0])
	if op == 'n' {
		for i := range out {
			out[i] = ^out[i]
		}
		return out
	}
	for _, s := range srcs[1:] {
		switch op {
		case 'a':
			for i := range out {
				if i < len(s) {
					out[i] &= s[i]
				} else {
					out[i] = 0
				}
			}
		case 'o':
			for i, b := range s {
				out[i] |= b
			}
		case 'x':
			for i, b := range s {
				out[i] ^= b
			}
		}
	}
	return out
}

// fieldOp is one BITFIELD operation.
type fieldOp struct {
	op     byte // 'g' GET, 's' SET, 'i' INCRBY
	signed bool
	width  uint
	off    uint64
	arg    int64
	ow     bitstr.Overflow
}

// fieldType reads a BITFIELD type, i1..i64 or u1..u63. Like Redis, which
// reads the width with strlen, it stops at a NUL byte.
func fieldType(arg []byte) (signed bool, width uint, ok bool) {
	if len(arg) == 0 || (arg[0] != 'i' && arg[0] != 'u') {
		return false, 0, false
	}
	signed = arg[0] == 'i'
	digits := arg[1:]
	if i := bytes.IndexByte(digits, 0); i >= 0 {
		digits = digits[:i]
	}
	n, ok := parseInt(digits)
	if !ok || n < 1 || (signed && n > 64) || (!signed && n > 63) {
		return false, 0, false
	}
	return signed, uint(n), true
}

// parseBitfield reads BITFIELD's operations in Redis's order, replying to
// the first error; write reports whether any SET or INCRBY is among them,
// and top the highest bit they write.
func (c *client) parseBitfield(args [][]byte) (ops []fieldOp, write bool, top uint64, ok bool) {
	ow := bitstr.Wrap
	for j := 2; j < len(args); j++ {
		rest := len(args) - j - 1
		var op fieldOp
		switch a := args[j]; {
		case cEqFold(a, "GET") && rest >= 2:
			op.op = 'g'
		case cEqFold(a, "SET") && rest >= 3:
			op.op = 's'
		case cEqFold(a, "INCRBY") && rest >= 3:
			op.op = 'i'
		case cEqFold(a, "OVERFLOW") && rest >= 1:
			j++
			switch w := args[j]; {
			case cEqFold(w, "WRAP"):
				ow = bitstr.Wrap
			case cEqFold(w, "SAT"):
				ow = bitstr.Sat
			case cEqFold(w, "FAIL"):
				ow = bitstr.Fail
			default:
				c.err("ERR Invalid OVERFLOW type specified")
				return nil, false, 0, false
			}
			continue
		default:
			c.err(errSyntax)
			return nil, false, 0, false
		}
		if op.signed, op.width, ok = fieldType(args[j+1]); !ok {
			c.err(errBitfieldType)
			return nil, false, 0, false
		}
		if op.off, ok = c.srv.bitOffset(args[j+2], op.width); !ok {
			c.err(errBitOffset)
			return nil, false, 0, false
		}
		if op.op != 'g' {
			write = true
			top = max(top, op.off+uint64(op.width)-1)
			if op.arg, ok = parseInt(args[j+3]); !ok {
				c.err(errNotInt)
				return nil, false, 0, false
			}
			j++
		}
		op.ow = ow
		ops = append(ops, op)
		j += 2
	}
	return ops, write, top, true
}

// fieldReply is one BITFIELD reply: a number, or nil for a write OVERFLOW FAIL
// refused.
type fieldReply struct {
	n       int64
	fail    bool
	changed bool // a write that left the field with another value
}

// apply runs op on v (which holds every bit a write touches; reads past
// its end see zeros) and returns its reply.
func (op *fieldOp) apply(v []byte) fieldReply {
	old := bitstr.Field(v, op.off, op.width)
	if op.op == 'g' {
		if op.signed {
			return fieldReply{n: bitstr.SignExtend(old, op.width)}
		}
		return fieldReply{n: int64(old)}
	}
	var next uint64
	var reply int64
	if op.signed {
		prev := bitstr.SignExtend(old, op.width)
		value, incr := op.arg, int64(0)
		if op.op == 'i' {
			value, incr = prev, op.arg
		}
		n, ok := bitstr.AddSigned(value, incr, op.width, op.ow)
		if !ok {
			return fieldReply{fail: true}
		}
		next, reply = uint64(n), n
		if op.op == 's' {
			reply = prev
		}
	} else {
		value, incr := uint64(op.arg), int64(0)
		if op.op == 'i' {
			value, incr = old, op.arg
		}
		n, ok := bitstr.AddUnsigned(value, incr, op.width, op.ow)
		if !ok {
			return fieldReply{fail: true}
		}
		next, reply = n, int64(n)
		if op.op == 's' {
			reply = int64(old)
		}
	}
	bitstr.SetField(v, op.off, op.width, next)
	mask := ^uint64(0) >> (64 - op.width)
	return fieldReply{n: reply, changed: next&mask != old}
}

// BITFIELD key [GET type offset | SET type offset value | INCRBY type
// offset increment | OVERFLOW WRAP|SAT|FAIL] ...: one reply per GET, SET
// and INCRBY. With any write the key is created, or grown to the highest
// bit written, even when OVERFLOW FAIL refuses every write (as Redis 7.0
// does).
func cmdBitField(c *client, args [][]byte) { bitfield(c, args, false) }

// BITFIELD_RO key [GET type offset ...]: BITFIELD limited to GET.
func cmdBitFieldRO(c *client, args [][]byte) { bitfield(c, args, true) }

func bitfield(c *client, args [][]byte, readOnly bool) {
	ops, write, top, ok := c.parseBitfield(args)
	if !ok {
		return
	}
	var out []fieldReply
	switch {
	case !write:
		v, _, ok := c.stringOnly(args[1])
		if !ok {
			return
		}
		out = make([]fieldReply, len(ops))
		for i := range ops {
			out[i] = ops[i].apply(v)
		}
	case readOnly:
		c.err("ERR BITFIELD_RO only supports the GET subcommand")
		return
	default:
		var wrongType bool
		c.db().Update(args[1], func(cur store.Entry, exists bool) (store.Entry, store.Action) {
			if exists && cur.Kind != store.KindString {
				wrongType = true
				return cur, store.Keep
			}
			v := grownCopy(cur.Value, top>>3+1)
			grew := len(v) > len(cur.Value) || !exists
			out = make([]fieldReply, len(ops))
			signal := false
			for i := range ops {
				out[i] = ops[i].apply(v)
				// Redis counts a write that was not refused and either
				// grew the string or changed the field; without one, the
				// key is still created or grown, but nobody watching it is
				// told.
				signal = signal || (ops[i].op != 'g' && !out[i].fail && (grew || out[i].changed))
			}
			next := store.Entry{Kind: store.KindString, Value: v, ExpireAt: cur.ExpireAt, Enc: store.EncRaw}
			if !signal {
				return next, store.Quiet
			}
			return next, store.Put
		})
		if wrongType {
			c.err(errWrongType)
			return
		}
	}
	c.arrayHeader(len(out))
	for _, f := range out {
		if f.fail {
			c.null()
		} else {
			c.integer(f.n)
		}
	}
}

// maxLCSLen is Redis's bound on an LCS operand, which keeps its lengths in
// 32 bits.
const maxLCSLen = math.MaxUint32 - 1
