package server

import (
	"encoding/binary"
	"slices"
)

// The per-uid steps of a decimal RELMULTI (and the other batched relation
// reads) kept to a few instructions each: a batch of 500 is 500 parses and
// 500 reply elements, and at that count the loops, not the calls, are the
// cost (docs/benchmarks.md, "RELMULTI of 500 decimal uids, the decimal
// path cut").

// uidBatchCommand reports whether the command named name (as sent, any
// case) takes a batch of decimal uids after its key: the reader parses
// those while it frames them (resp.Reader.SetUintCommands), and parseUIDs
// takes its values instead of parsing the arguments again.
func uidBatchCommand(name []byte) bool {
	switch len(name) {
	case 5:
		return eqFold(name, "hmget")
	case 6:
		return eqFold(name, "reldel")
	case 7:
		return eqFold(name, "relload") || eqFold(name, "reladd")
	case 8:
		return eqFold(name, "relmulti") || eqFold(name, "relcheck")
	case 10:
		return eqFold(name, "relfollows") || eqFold(name, "smismember")
	}
	return false
}

// hitArray replies the array of 1s and 0s that hits say, each element
// ":1\r\n" or ":0\r\n" (the same in RESP2 and RESP3) stored as one 32-bit
// word: redcon.AppendInt's per-element formatting was a tenth of the
// command's instructions.
func (c *client) hitArray(hits []bool) {
	c.arrayHeader(len(hits))
	n := len(c.out)
	c.out = slices.Grow(c.out, 4*len(hits))[:n+4*len(hits)]
	out := c.out[n:]
	const zero = '\n'<<24 | '\r'<<16 | '0'<<8 | ':' // ":0\r\n", little-endian
	for i, h := range hits {
		var one uint32
		if h {
			one = 1 << 8 // '0' + 1 = '1'
		}
		binary.LittleEndian.PutUint32(out[4*i:], zero+one)
	}
}
