package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// splitReader returns parts one per Read (a part longer than the caller's
// buffer is returned over several).
type splitReader struct{ parts [][]byte }

func (s *splitReader) Read(p []byte) (int, error) {
	for len(s.parts) > 0 && len(s.parts[0]) == 0 {
		s.parts = s.parts[1:]
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	return n, nil
}

// framed is one command as a reader framed it: its arguments, and for
// each index k, the values Uints gave for args[k:] ("-" when it gave
// none).
type framed struct {
	args  []string
	tails []string
}

// frameAllUints frames src through a reader that parses uid tails of
// every command (uints) or of none, and checks each value Uints hands out
// against ParseUint's meaning.
func frameAllUints(t testing.TB, src io.Reader, lim Limits, uints bool) ([]framed, error) {
	rd := NewReader(src, func() Limits { return lim }, nil)
	if uints {
		rd.SetUintCommands(func([]byte) bool { return true })
	}
	var out []framed
	for {
		args, err := rd.Next()
		if err != nil {
			return out, err
		}
		f := framed{}
		for _, a := range args {
			f.args = append(f.args, string(a))
		}
		for k := range args {
			vals, ok := rd.Uints(args[k:])
			if !ok {
				f.tails = append(f.tails, "-")
				continue
			}
			if len(vals) != len(args)-k {
				t.Fatalf("Uints of %d arguments gave %d values", len(args)-k, len(vals))
			}
			for i, v := range vals {
				if want, ok := parseUintRef(args[k+i]); !ok || want != v {
					t.Fatalf("Uints read %q as %d; ParseUint: %d, %v", args[k+i], v, want, ok)
				}
			}
			f.tails = append(f.tails, fmt.Sprint(vals))
		}
		// A copy of the arguments is not the reader's: no values.
		if len(args) > 0 {
			cp := append([][]byte(nil), args...)
			if _, ok := rd.Uints(cp); ok {
				t.Fatal("Uints answered for a copy of the arguments")
			}
		}
		out = append(out, f)
	}
}

// argsOnly drops the values: what a reader without uid tails frames.
func argsOnly(fs []framed) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%q\n", f.args)
	}
	return b.String()
}

func batchCmd(name string, args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n$%d\r\n%s\r\n", len(args)+1, len(name), name)
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

func uidArgs(n int, uid func(i int) string) []string {
	var out []string
	for i := range n {
		out = append(out, uid(i))
	}
	return out
}

// uintStream is commands that take the numbers loop and the general one
// in turn: every length of uid 1 to 20, leading zeros, option words before
// the uids, a bad uid in the middle and at the end, too few arguments, a
// header the loop leaves to the general one, and a command after them.
func uintStream() []byte {
	every := uidArgs(40, func(i int) string {
		if i == 0 {
			return "0"
		}
		return strings.Repeat(strconv.Itoa(i%9+1), i%19+1)
	})
	var s []byte
	s = append(s, batchCmd("RELMULTI", append([]string{"u.following"}, every...)...)...)
	s = append(s, batchCmd("RELMULTI", append([]string{"k", "BITS", "SINCE", "5", "UNTIL", "7"}, every[:30]...)...)...)
	bad := append([]string{}, every...)
	bad[17] = "12a4567890"
	s = append(s, batchCmd("RELCHECK", append([]string{"1", "BATCH"}, bad...)...)...)
	last := append([]string{}, every...)
	last[39] = "+1"
	s = append(s, batchCmd("RELMULTI", append([]string{"some.key"}, last...)...)...)
	s = append(s, batchCmd("RELMULTI", "k", "1", "2", "3")...)
	s = append(s, batchCmd("RELFOLLOWS", append([]string{"00000000000000000000042"}, every...)...)...)
	// A uid of 20 digits (leading zeros) is left to the general loop.
	long := append([]string{}, every[:20]...)
	long[6] = "00000000000000000042"
	s = append(s, batchCmd("RELMULTI", append([]string{"u.following.key"}, long...)...)...)
	s = append(s, batchCmd("GET", "k")...)
	return s
}

// The numbers loop frames what the general one frames, hands out values
// only for a tail it read whole, and a command cut in two at any byte
// frames the same.
func TestReaderUintsEverySplit(t *testing.T) {
	stream := uintStream()
	lim := Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 20}
	ref, refErr := frameAllUints(t, bytes.NewReader(stream), lim, false)
	whole, err := frameAllUints(t, bytes.NewReader(stream), lim, true)
	if !errors.Is(err, io.EOF) || !errors.Is(refErr, io.EOF) {
		t.Fatalf("errors %v and %v", err, refErr)
	}
	if argsOnly(whole) != argsOnly(ref) {
		t.Fatalf("framed\n%s\nthe general loop framed\n%s", argsOnly(whole), argsOnly(ref))
	}
	// Which tails have values: the first command's after its key, the
	// second's after UNTIL (from the 7), the third's after its bad uid,
	// the fourth's none (its last uid is "+1"), a short command's none,
	// RELFOLLOWS' after its key, the next after its 20-digit uid, GET's
	// none.
	for i, want := range []int{2, 6, 21, -1, -1, 2, 9, -1} {
		got := -1
		for k, v := range whole[i].tails {
			if v != "-" {
				got = k
				break
			}
		}
		if got != want {
			t.Errorf("command %d (%.20q...): values from argument %d, want %d", i, whole[i].args, got, want)
		}
	}
	for cut := 1; cut < len(stream); cut++ {
		src := &splitReader{parts: [][]byte{bytes.Clone(stream[:cut]), bytes.Clone(stream[cut:])}}
		got, err := frameAllUints(t, src, lim, true)
		if !errors.Is(err, io.EOF) || len(got) != len(whole) {
			t.Fatalf("cut at byte %d: framed %d commands (%v), whole %d", cut, len(got), err, len(whole))
		}
		for i := range got {
			if fmt.Sprint(got[i]) != fmt.Sprint(whole[i]) {
				t.Fatalf("cut at byte %d: command %d framed %.300v, whole %.300v", cut, i, got[i], whole[i])
			}
		}
	}
}

// FuzzReaderUints holds the numbers loop to the general one on arbitrary
// bytes: the same commands and the same error, read whole or a byte at a
// time, and every value it hands out is ParseUint's.
func FuzzReaderUints(f *testing.F) {
	f.Add(uintStream())
	f.Add(batchCmd("RELMULTI", append([]string{"key"}, uidArgs(20, func(i int) string { return strconv.Itoa(i * 1234567) })...)...))
	f.Add([]byte("*20\r\n$8\r\nRELMULTI\r\n$3\r\nkey\r\n$1\r\n1\r\n$2\r\n12\r\n$-1\r\n"))
	lim := Limits{MaxBulk: 64, MaxMultibulk: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, refErr := frameAllUints(t, bytes.NewReader(data), lim, false)
		got, err := frameAllUints(t, bytes.NewReader(data), lim, true)
		if argsOnly(got) != argsOnly(ref) || fmt.Sprint(err) != fmt.Sprint(refErr) {
			t.Fatalf("framed %s (%v), the general loop %s (%v)", argsOnly(got), err, argsOnly(ref), refErr)
		}
		one, oneErr := frameAllUints(t, iotest.OneByteReader(bytes.NewReader(data)), lim, true)
		if fmt.Sprint(one) != fmt.Sprint(got) || fmt.Sprint(oneErr) != fmt.Sprint(err) {
			t.Fatalf("one byte a read framed %v (%v), whole %v (%v)", one, oneErr, got, err)
		}
	})
}

// Every uid length 1 to 19 with each byte in turn replaced by a byte that
// is no digit (just below '0', just above '9', NUL, 0x80, 0xFF, a space,
// a letter) is left to the general loop: frameAllUints fails the test if
// the reader hands out a value ParseUint would not give.
func TestReaderUintsBadByteEveryPosition(t *testing.T) {
	lim := Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 20}
	good := uidArgs(20, func(i int) string { return strconv.Itoa(i + 1) })
	for n := 1; n <= 19; n++ {
		for at := range n {
			for _, c := range []byte{'/', ':', 0, 0x80, 0xFF, ' ', 'a'} {
				uid := []byte(strings.Repeat("9", n))
				uid[at] = c
				args := append([]string{"k"}, good...)
				args = append(args, string(uid))
				got, err := frameAllUints(t, bytes.NewReader(batchCmd("RELMULTI", args...)), lim, true)
				if !errors.Is(err, io.EOF) || len(got) != 1 || got[0].tails[len(args)] != "-" {
					t.Fatalf("uid %q: framed %v, %v", uid, got, err)
				}
			}
		}
		// And the digits alone are read.
		args := append([]string{"k"}, good...)
		args = append(args, strings.Repeat("9", n))
		got, _ := frameAllUints(t, bytes.NewReader(batchCmd("RELMULTI", args...)), lim, true)
		if len(got) != 1 || got[0].tails[2] == "-" {
			t.Fatalf("%d nines: no values", n)
		}
	}
}
