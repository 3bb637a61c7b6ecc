package resp

import (
	"encoding/binary"
	"slices"
)

// Framing and parsing a batch of decimal uids in one pass.
//
// A RELMULTI of 500 uids is 500 arguments "$<len>\r\n<digits>\r\n": framing
// them and then parsing them were two loops over the same 13 KB, together
// half of the command's CPU (docs/benchmarks.md, "RELMULTI of 500 decimal
// uids, the decimal path cut"). Parsing inside the general framing loop
// made that loop dearer than the parse it saved, so the all-numbers tail
// of a command has a loop of its own: it frames an argument and reads its
// digits from the same words, and gives the general loop back anything
// else.

// minUintArgs is the fewest arguments a command needs before the reader
// tries the numbers loop on it: below it, the loop's set-up would cost
// more than it saves.
const minUintArgs = 16

// uintTries is how many arguments after the key the general loop frames
// (one at a time, trying the numbers loop after each) before it takes the
// rest of the command: RELMULTI key BITS SINCE t UNTIL t uid... has three
// option words before its uids.
const uintTries = 4

// keepUints is the most values' room the reader keeps between commands
// (512 KB), as keepBuf for the bytes.
const keepUints = 1 << 16

// SetUintCommands makes the reader parse the decimal arguments after the
// key of the commands isUintCmd names (its argument is the command name
// as sent, any case) while it frames them; Uints hands the values out.
// nil turns it off.
func (rd *Reader) SetUintCommands(isUintCmd func(name []byte) bool) { rd.isUintCmd = isUintCmd }

// Uints returns the values of tail, the last arguments of the command
// Next returned last, when the reader read each of them as an unsigned
// decimal while framing it (what ParseUint would return for each); ok is
// false otherwise (another command's arguments, a copy, or an argument
// the numbers loop left to the general one), and the caller parses tail
// itself. The values are valid until the next call to Next.
func (rd *Reader) Uints(tail [][]byte) ([]uint64, bool) {
	n, all := len(tail), len(rd.args)
	if n == 0 || n > len(rd.uints) || all == 0 || &tail[n-1] != &rd.args[all-1] {
		return nil, false
	}
	return rd.uints[len(rd.uints)-n:], true
}

// frameUints frames arguments of the command at b[0:] from pos, from
// argument len(args) of count, while each is 1 to 19 digits after a
// "$<d>\r" or "$<dd>\r" header, and keeps their values in rd.uints (which
// it starts afresh). It returns where it stopped: the next argument's
// position, the arguments, and need > 0 when the command is not complete
// in b (the bytes it needs at least, for partial); anything else at pos is
// the general loop's. The caller checked pos >= 24 (so the three words
// before an argument's end are in b) and MaxBulk >= 19.
func (rd *Reader) frameUints(b []byte, pos int, args [][]byte, count int) (int, [][]byte, int) {
	// Room for as many arguments as the bytes here can hold (one is 7
	// bytes at least), not for what the header announces.
	m := min(count-len(args), (len(b)-pos)/7)
	n0 := len(args)
	args = slices.Grow(args, m)[:n0+m]
	uints := slices.Grow(rd.uints[:0], m)[:m]
	pos, k, need := scanUints(b, pos, args[n0:], uints)
	args, uints = args[:n0+k], uints[:k]
	if need == 0 && len(args) < count && len(b)-pos == 7 &&
		b[pos] == '$' && b[pos+1] == '1' && b[pos+2] == '\r' && b[pos+4]-'0' <= 9 {
		// The last argument read, "$1\r\n5\r\n": shorter than the word
		// scanUints loads.
		args = append(args, b[pos+4:pos+5:pos+5])
		uints = append(uints, uint64(b[pos+4]-'0'))
		pos += 7
	}
	rd.uints = uints
	return pos, args, need
}

// scanUints is frameUints' loop: it fills args and uints (the same length)
// from b[pos:] and returns the position after the last argument it took,
// how many it took, and need as frameUints says. Its own function, with
// no call and no append in it, because the compiler kept the loop's
// values in registers only so (the same loop with the receiver and
// appends in it spilled about as much as it saved). pos >= 24.
func scanUints(b []byte, pos int, args [][]byte, uints []uint64) (int, int, int) {
	// The same lengths, and b's capacity its length, let the compiler
	// drop the bounds checks it would otherwise repeat (and the registers
	// they hold).
	args, b = args[:len(uints)], b[:len(b):len(b)]
	k := 0
	for k < len(uints) && pos+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[pos:])
		// The header, "$1<d>\r" (10 to 19 digits) or "$<d>\r" (1 to 9),
		// as shortBulk reads it, each from one masked compare.
		var n, next int
		if uint32(w)&0xFF00FFFF == '\r'<<24|'1'<<8|'$' {
			d2 := byte(w>>16) - '0'
			if d2 > 9 {
				break
			}
			n, next = 10+int(d2), pos+5
		} else {
			d1 := byte(w>>8) - '0'
			if uint32(w)&0xFF00FF != '\r'<<16|'$' || d1-1 > 8 {
				break // 1 to 9 is what a uid's length starts with
			}
			n, next = int(d1), pos+4
		}
		end := next + n
		if end+2 > len(b) {
			return pos, k, end + 2
		}
		// The digits from the one to three words that end at end: whole
		// words of digits, and a top word whose low bytes (the header's)
		// are masked off (topMask).
		d := b[end-24 : end]
		m := &topMask[n&31]
		var y, bad, u uint64
		switch {
		case n <= 8:
			y = binary.LittleEndian.Uint64(d[16:])&m.keep - m.zeros
			bad, u = y|(y+0x7676767676767676), digitsValue(y)
		case n <= 16:
			y = binary.LittleEndian.Uint64(d[16:]) - 0x3030303030303030
			z := binary.LittleEndian.Uint64(d[8:])&m.keep - m.zeros
			bad = y | (y + 0x7676767676767676) | z | (z + 0x7676767676767676)
			u = digitsValue(y) + digitsValue(z)*100_000_000
		default:
			y = binary.LittleEndian.Uint64(d[16:]) - 0x3030303030303030
			z := binary.LittleEndian.Uint64(d[8:]) - 0x3030303030303030
			x := binary.LittleEndian.Uint64(d)&m.keep - m.zeros
			bad = y | (y + 0x7676767676767676) | z | (z + 0x7676767676767676) | x | (x + 0x7676767676767676)
			u = digitsValue(y) + digitsValue(z)*100_000_000 + digitsValue(x)*100_000_000_00000000
		}
		// Subtracting '0' from each byte borrows from the next only
		// below the first byte under '0', which itself comes out 0xD0 or
		// more; adding 0x76 sets the high bit of any 10 or more.
		if bad&0x8080808080808080 != 0 {
			break
		}
		args[k] = b[next:end:end]
		uints[k] = u
		k++
		pos = end + 2
	}
	return pos, k, 0
}

// topMask[n] is, for n digits, the mask of the bytes of the top word
// (the one holding the first digits) that are digits, and the '0's
// subtracted from them: the rest are the header's bytes.
var topMask = func() (t [32]struct{ keep, zeros uint64 }) {
	for n := 1; n < len(t); n++ {
		k := (n-1)%8 + 1 // digits in the top word
		t[n].keep = ^uint64(0) << (8 * (8 - k))
		t[n].zeros = 0x3030303030303030 & t[n].keep
	}
	return t
}()

// digitsValue is the number the eight digit values (0 to 9) of y spell,
// the first in the lowest byte: pairs, then quads, then the whole, each
// one multiply (as word8).
func digitsValue(y uint64) uint64 {
	y = y * 2561 >> 8
	y = (y & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (y & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
}
