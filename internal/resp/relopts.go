package resp

import (
	"math"
	"strings"
)

// RelOpts are the leading options of the batched relation reads (RELCHECK,
// RELFOLLOWS, RELMULTI): a time window, SINCE t and UNTIL t, as TAO's
// assoc_get takes low and high, and the words that choose a reply form
// (RELCHECK's BATCH, RELMULTI's BITS). They come before the uids, which
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
	// N is how many arguments the options took.
	N int
}

// Holds reports whether follow time t is inside the window.
func (o *RelOpts) Holds(t uint32) bool { return t >= o.Since && t <= o.Until }

// The option words a command takes besides SINCE and UNTIL.
const (
	OptBatch = 1 << iota
	OptBits
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
