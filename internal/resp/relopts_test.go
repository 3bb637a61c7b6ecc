package resp

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestParseRelOpts(t *testing.T) {
	for _, tc := range []struct {
		in    string
		takes int
		want  RelOpts
		err   string
	}{
		{"1 2", 0, RelOpts{Until: math.MaxUint32}, ""},
		{"SINCE 5 1", 0, RelOpts{Since: 5, Until: math.MaxUint32, Windowed: true, N: 2}, ""},
		{"until 7 Since 5 since 6 2", 0, RelOpts{Since: 6, Until: 7, Windowed: true, N: 6}, ""},
		{"BATCH SINCE 0 batch 1", OptBatch, RelOpts{Until: math.MaxUint32, Windowed: true, Batch: true, N: 4}, ""},
		{"BATCH 1", 0, RelOpts{Until: math.MaxUint32}, ""},
		{"BITS 1", OptBits, RelOpts{Until: math.MaxUint32, Bits: true, N: 1}, ""},
		{"withtimes SINCE 3 WITHTIMES 1", OptWithTimes, RelOpts{Since: 3, Until: math.MaxUint32, Windowed: true, WithTimes: true, N: 4}, ""},
		{"WITHTIMES 1", OptBits, RelOpts{Until: math.MaxUint32}, ""},
		{"SINCE", 0, RelOpts{Until: math.MaxUint32}, ErrSyntax},
		{"UNTIL 4294967296 1", 0, RelOpts{Until: math.MaxUint32}, ErrRelTime},
		{"SINCE -1 1", 0, RelOpts{Until: math.MaxUint32}, ErrRelTime},
		{"SINCE 4294967295", 0, RelOpts{Since: math.MaxUint32, Until: math.MaxUint32, Windowed: true, N: 2}, ""},
	} {
		got, err := ParseRelOpts(fields(tc.in), tc.takes)
		if got != tc.want || err != tc.err {
			t.Errorf("%q: got %+v %q, want %+v %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func fields(s string) [][]byte { return bytes.Fields([]byte(s)) }

// FuzzParseRelOpts: any words parse without panic; the options end where
// no option word is, and what they say is what the words said.
func FuzzParseRelOpts(f *testing.F) {
	f.Add("SINCE 1 UNTIL 2 BATCH 3", uint8(3))
	f.Add("bits until 99999999999 1", uint8(2))
	f.Fuzz(func(t *testing.T, in string, takes uint8) {
		args := fields(in)
		o, err := ParseRelOpts(args, int(takes&7))
		if o.N > len(args) {
			t.Fatalf("took %d of %d arguments", o.N, len(args))
		}
		if err != "" {
			return
		}
		if o.N < len(args) {
			w := strings.ToUpper(string(args[o.N]))
			if w == "SINCE" || w == "UNTIL" || w == "BATCH" && takes&OptBatch != 0 || w == "BITS" && takes&OptBits != 0 ||
				w == "WITHTIMES" && takes&OptWithTimes != 0 {
				t.Fatalf("stopped at the option word %q", args[o.N])
			}
		}
		if !o.Windowed && (o.Since != 0 || o.Until != math.MaxUint32) {
			t.Fatalf("no window words, yet %+v", o)
		}
	})
}
