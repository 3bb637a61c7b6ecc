package resp

import (
	"bytes"
	"encoding/binary"
	"math"
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
	if len(b) == 0 {
		return 0, false
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(b) > 20 {
		return 0, false
	}
	// Up to 19 digits cannot overflow a uint64, so the loops need no
	// check (a division per digit was half the cost of a RELMULTI). Eight
	// digits at a time where there are eight: a ten-digit uid is one word
	// and two bytes (parse8; a quarter of a 500-uid RELMULTI's reading).
	var u uint64
	n, i := min(len(b), 19), 0
	for ; i+8 <= n; i += 8 {
		v, ok := parse8(b[i:])
		if !ok {
			return 0, false
		}
		u = u*100_000_000 + v
	}
	for _, c := range b[i:n] {
		c -= '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	if len(b) == 20 {
		c := b[19] - '0'
		if c > 9 || u > (math.MaxUint64-uint64(c))/10 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	return u, true
}

// parse8 reads the eight ASCII digits at the start of b (len(b) >= 8) as
// one little-endian word: ok is false unless every byte is '0'..'9'. The
// digit test: a digit's high nibble is 3, and adding 6 keeps it 3 only for
// '0'..'9'. The value: pairs, then quads, then the whole, each step one
// multiply (the first digit is the lowest byte, so the most significant).
func parse8(b []byte) (uint64, bool) {
	x := binary.LittleEndian.Uint64(b)
	const hi, six = 0xF0F0F0F0F0F0F0F0, 0x0606060606060606
	if x&hi|(x+six)&hi>>4 != 0x3333333333333333 {
		return 0, false
	}
	x = (x & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	x = (x & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (x & 0x0000FFFF0000FFFF) * 42949672960001 >> 32, true
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
