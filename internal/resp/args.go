package resp

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// Argument parsing and error texts shared by the server and the proxy, so
// that both accept the same input and word refusals the same way.

// Refusals of relation arguments.
const (
	ErrRelMember = "ERR relation members must be unsigned 64-bit integers"
	ErrRelTime   = "ERR relation times must be unsigned 32-bit integers"
	ErrLimit     = "ERR LIMIT must be a positive integer"
	ErrSyntax    = "ERR syntax error"
	// ErrRelCheckBatch refuses RELCHECK a b1 b2 ... without BATCH: its
	// reply would be an array where RELCHECK a b's is an integer, a shape
	// chosen by the number of uids, which a client batching a list whose
	// length happens to be 1 would trip over (issue 17).
	ErrRelCheckBatch = "ERR RELCHECK takes one b, or BATCH before several: RELCHECK a [SINCE t] [UNTIL t] BATCH b1 b2 ... answers an array whatever their number"
)

// ParseUint reads an unsigned decimal: digits only, no sign. Leading zeros
// are allowed, because redis-benchmark's __rand_int__ sends zero-padded
// numbers ("000000001234") and a load test should be able to hit real keys.
func ParseUint(b []byte) (uint64, bool) {
	// A uid's length first, in one call (leading zeros are digits like
	// any other here).
	if n := len(b); n >= 8 && n <= 19 {
		return parseWords(b)
	}
	return parseUintSlow(b)
}

// AppendUints appends ParseUint of each argument to dst, in order; ok is
// false at the first that is not one (dst then holds those before it).
// One call for a batch of uids, the common 8 to 19 digits read inline:
// a call per uid was a tenth of a 500-uid RELMULTI's parsing.
func AppendUints(dst []uint64, args [][]byte) ([]uint64, bool) {
	n := len(dst)
	dst = slices.Grow(dst, len(args))[:n+len(args)]
	out := dst[n:]
	for i, a := range args {
		var u uint64
		var ok bool
		if l := len(a); l >= 8 && l <= 19 {
			u, ok = parseWords(a)
		} else {
			u, ok = parseUintSlow(a)
		}
		if !ok {
			return dst[:n+i], false
		}
		out[i] = u
	}
	return dst, true
}

// parseUintSlow is ParseUint for fewer than 8 or more than 19 bytes.
func parseUintSlow(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if b[0] == '0' {
		for len(b) > 1 && b[0] == '0' {
			b = b[1:]
		}
	}
	switch n := len(b); {
	case n >= 8 && n <= 19:
		return parseWords(b)
	case n < 8:
		return digits(b)
	case n == 20:
		u, ok := parseWords(b[:19])
		c := b[19] - '0'
		if !ok || c > 9 || u > (math.MaxUint64-uint64(c))/10 {
			return 0, false
		}
		return u*10 + uint64(c), true
	}
	return 0, false
}

// parseWords reads 8 to 19 digits (19 cannot overflow a uint64) eight at
// a time, with no loop: the last eight digits are one word, the eight
// before them (when there are 16 or more) another, and the 0 to 7 before
// those a word loaded from the start and shifted up, '0's filling the
// bytes it leaves. A 19-digit uid is three words; a division per digit
// was half a RELMULTI's cost, and one multiply per digit still a quarter
// of it. The digit tests of every word are or'ed and checked once.
func parseWords(b []byte) (uint64, bool) {
	n := len(b)
	if n < 8 || n > 19 {
		return 0, false
	}
	u, bad := word8(binary.LittleEndian.Uint64(b[n-8:]))
	rest := n - 8
	scale := uint64(100_000_000)
	if rest >= 8 {
		v, nd := word8(binary.LittleEndian.Uint64(b[rest-8:]))
		u, bad, rest, scale = u+v*scale, bad|nd, rest-8, scale*100_000_000
	}
	if rest > 0 {
		// The rest digits at the word's high (least significant) end.
		sh := uint(8*(8-rest)) & 63
		v, nd := word8(binary.LittleEndian.Uint64(b)<<sh | 0x3030303030303030>>((64-sh)&63))
		u, bad = u+v*scale, bad|nd
	}
	if bad != 0 {
		return 0, false
	}
	return u, true
}

// digits reads up to 19 digits one at a time (19 cannot overflow).
func digits(b []byte) (uint64, bool) {
	var u uint64
	for _, c := range b {
		c -= '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	return u, true
}

// word8 is the value of eight ASCII digits in a little-endian word (the
// first digit is the lowest byte, so the most significant) and bad, which
// is not 0 unless every byte is '0'..'9'. The digit test: a digit's high
// nibble is 3, and adding 6 keeps it 3 only for '0'..'9'. The value:
// pairs, then quads, then the whole, each step one multiply.
func word8(x uint64) (v, bad uint64) {
	const hi, six = 0xF0F0F0F0F0F0F0F0, 0x0606060606060606
	bad = x&hi | (x+six)&hi>>4 ^ 0x3333333333333333
	x = (x & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	x = (x & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (x & 0x0000FFFF0000FFFF) * 42949672960001 >> 32, bad
}

// CString is b as Redis's error messages quote an argument: they format
// it with C's %s, which stops at the first NUL byte.
func CString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// UnknownCommand is Redis's reply text for a command it does not know,
// quoting the first arguments as Redis does (at most 128 bytes of each,
// each up to its first NUL: CString).
func UnknownCommand(args [][]byte) string {
	var sb strings.Builder
	sb.WriteString("ERR unknown command '")
	name := CString(args[0])
	sb.Write(name[:min(len(name), 128)])
	sb.WriteString("', with args beginning with: ")
	n := 0
	for _, a := range args[1:] {
		if n >= 128 {
			break
		}
		a = CString(a)
		part := a[:min(len(a), 128-n)]
		sb.WriteByte('\'')
		sb.Write(part)
		sb.WriteString("' ")
		n += len(part) + 3
	}
	return sb.String()
}

// SelectError is the refusal of SELECT index for a server with one
// database, in Redis's order of checks: not an integer, outside a C int,
// then any index but 0. "" means the index is 0.
func SelectError(index []byte) string {
	n, ok := ParseInt(index)
	switch {
	case !ok:
		return "ERR value is not an integer or out of range"
	case n < math.MinInt32 || n > math.MaxInt32:
		return "ERR value is out of range, value must between -2147483648 and 2147483647"
	case n != 0:
		return "ERR DB index is out of range"
	}
	return ""
}
