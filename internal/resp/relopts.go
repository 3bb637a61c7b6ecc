package resp

import (
	"encoding/binary"
	"math"
	"strings"
)

// RelOpts are the leading options of the batched relation reads (RELCHECK,
// RELFOLLOWS, RELMULTI): a time window, SINCE t and UNTIL t, as TAO's
// assoc_get takes low and high, and the words that choose a reply form
// (RELCHECK's BATCH, RELMULTI's BITS, RELFOLLOWS' WITHTIMES), and BIN,
// which says how the uids are written. They come before the uids, which
// are digits only, so the first argument that is no option word starts
// the uids. The server answers by them and the proxy splits by them, so
// both read them here.
type RelOpts struct {
	// Since and Until bound the window; both ends are inclusive, as TAO's
	// low and high are, so SINCE t UNTIL t is the one second t. Without
	// SINCE and UNTIL they are 0 and MaxUint32 and Windowed is false.
	Since, Until uint32
	Windowed     bool
	Batch        bool // RELCHECK BATCH: an array whatever the number of b's
	Bits         bool // RELMULTI BITS: a bitmap reply
	WithTimes    bool // RELFOLLOWS WITHTIMES: each code followed by its time
	// Bin: the uids follow as ONE argument, little-endian 64-bit integers
	// 8 bytes each (AppendPackedUIDs), instead of one decimal argument
	// each. BIN is the last option: the bytes after it are data, which
	// could spell an option word.
	Bin bool
	// N is how many arguments the options took.
	N int
}

// Holds reports whether follow time t is inside the window.
func (o *RelOpts) Holds(t uint32) bool { return t >= o.Since && t <= o.Until }

// The option words a command takes besides SINCE and UNTIL.
const (
	OptBatch = 1 << iota
	OptBits
	OptWithTimes
	OptBin
)

// ParseRelOpts reads the options at the head of args. errMsg is the
// refusal of bad input ("" when none). A word given twice counts once,
// and the last SINCE or UNTIL wins, as Redis takes repeated options.
func ParseRelOpts(args [][]byte, takes int) (o RelOpts, errMsg string) {
	o.Until = math.MaxUint32
	for o.N < len(args) {
		a := string(args[o.N]) // compared only: no copy
		if n, msg := o.ParseWindow(args[o.N:]); msg != "" || n > 0 {
			o.N += n
			if msg != "" {
				return o, msg
			}
			continue
		}
		switch {
		case takes&OptBatch != 0 && strings.EqualFold(a, "BATCH"):
			o.Batch = true
			o.N++
		case takes&OptBits != 0 && strings.EqualFold(a, "BITS"):
			o.Bits = true
			o.N++
		case takes&OptWithTimes != 0 && strings.EqualFold(a, "WITHTIMES"):
			o.WithTimes = true
			o.N++
		case takes&OptBin != 0 && strings.EqualFold(a, "BIN"):
			o.Bin = true
			o.N++
			return o, ""
		default:
			return o, ""
		}
	}
	return o, ""
}

// ParseWindow reads "SINCE t" or "UNTIL t" at the head of args into o and
// returns how many arguments it took: 0 when args does not start with
// either word. The caller starts o with Until at MaxUint32.
func (o *RelOpts) ParseWindow(args [][]byte) (n int, errMsg string) {
	if len(args) == 0 {
		return 0, ""
	}
	since := strings.EqualFold(string(args[0]), "SINCE")
	if !since && !strings.EqualFold(string(args[0]), "UNTIL") {
		return 0, ""
	}
	if len(args) < 2 {
		return 0, ErrSyntax
	}
	t, ok := ParseUint(args[1])
	if !ok || t > math.MaxUint32 {
		return 0, ErrRelTime
	}
	if since {
		o.Since = uint32(t)
	} else {
		o.Until = uint32(t)
	}
	o.Windowed = true
	return 2, ""
}

// Page is what a RELMEMBERS command line asks for: TAO's assoc_time_range,
// a window, a (time, uid) cursor and a LIMIT over a list newest first
// (equal times by ascending uid). The node pages a stored or computed list
// by it and the proxy an assembled bi-follow list, so both read it here.
type Page struct {
	WithTimes bool
	Limit     int     // -1 without LIMIT or NEWEST
	Win       RelOpts // SINCE and UNTIL only
	// With Paged (BEFORE time uid), only the members after (AfterTime,
	// AfterUID) in that order are listed.
	AfterTime uint32
	AfterUID  uint64
	Paged     bool
}

// ParsePage reads RELMEMBERS's options. errMsg is the refusal of bad
// input ("" when none).
func ParsePage(args [][]byte) (p Page, errMsg string) {
	p.Limit, p.Win.Until = -1, math.MaxUint32
	for i := 0; i < len(args); i++ {
		a := string(args[i]) // compared only: no copy
		switch {
		case strings.EqualFold(a, "WITHTIMES"):
			p.WithTimes = true
		case (strings.EqualFold(a, "LIMIT") || strings.EqualFold(a, "NEWEST")) && i+1 < len(args):
			n, isInt := ParseInt(args[i+1])
			if !isInt || n < 1 {
				return p, "ERR " + strings.ToUpper(a) + " must be a positive integer"
			}
			p.Limit = int(min(n, 1<<31))
			i++
		case strings.EqualFold(a, "SINCE") || strings.EqualFold(a, "UNTIL"):
			n, msg := p.Win.ParseWindow(args[i:])
			if msg != "" {
				return p, msg
			}
			i += n - 1
		case strings.EqualFold(a, "BEFORE") && i+2 < len(args):
			t, isTime := ParseUint(args[i+1])
			if !isTime || t > math.MaxUint32 {
				return p, ErrRelTime
			}
			u, isUID := ParseUint(args[i+2])
			if !isUID {
				return p, ErrRelMember
			}
			p.AfterTime, p.AfterUID, p.Paged = uint32(t), u, true
			i += 2
		default:
			return p, ErrSyntax
		}
	}
	return p, ""
}

// Keeps reports whether a member (uid, time t) is on p's pages: inside
// the window and after the cursor, in newest-first order.
func (p *Page) Keeps(uid uint64, t uint32) bool {
	return p.Win.Holds(t) && (!p.Paged || t < p.AfterTime || t == p.AfterTime && uid > p.AfterUID)
}

// ErrRelBin refuses what follows BIN when it is not one argument of whole
// 8-byte uids.
const ErrRelBin = "ERR BIN takes one argument: the uids as little-endian unsigned 64-bit integers, 8 bytes each, at least one"

// PackedUIDs reports how many uids the arguments after BIN carry: ok is
// false unless they are one non-empty argument of whole 8-byte uids.
func PackedUIDs(rest [][]byte) (n int, ok bool) {
	if len(rest) != 1 || len(rest[0]) == 0 || len(rest[0])%8 != 0 {
		return 0, false
	}
	return len(rest[0]) / 8, true
}

// AppendPackedUIDs appends the little-endian 64-bit uids of b (whole 8-byte
// words; PackedUIDs checked) to dst: a load each, no parsing, which is
// what BIN is for (500 decimal uids took a third of RELMULTI's time).
func AppendPackedUIDs(dst []uint64, b []byte) []uint64 {
	for ; len(b) >= 8; b = b[8:] {
		dst = append(dst, binary.LittleEndian.Uint64(b))
	}
	return dst
}

// AppendPacked appends uids to dst as BIN writes them.
func AppendPacked(dst []byte, uids ...uint64) []byte {
	for _, u := range uids {
		dst = binary.LittleEndian.AppendUint64(dst, u)
	}
	return dst
}
