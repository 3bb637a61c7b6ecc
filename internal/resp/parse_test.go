package resp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// parseUintRef is ParseUint's meaning, written plainly: digits only after
// any leading zeros, at most 20 of them, no overflow.
func parseUintRef(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	u, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	return u, true
}

// headerRef is header without its fast path: the general path alone.
func headerRef(b []byte, at int) (n int64, next int, ok bool) {
	i := bytes.IndexByte(b[at:], '\r')
	if i < 0 || at+i+1 >= len(b) {
		return 0, -1, true
	}
	v, ok := ParseInt(b[at : at+i])
	if !ok {
		return 0, 0, false
	}
	return v, at + i + 2, true
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"12345678", 12345678, true}, {"1234567890", 1234567890, true},
		{"000000001234", 1234, true}, {"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false}, {"99999999999999999999", 0, false},
		{"1234567:", 0, false}, {"12345678/", 0, false}, {"1234567\xff9", 0, false}, {"", 0, false},
		{"-1", 0, false}, {"+1", 0, false}, {"1 ", 0, false}, {"123456789012345678901", 0, false},
	} {
		got, ok := ParseUint([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseUintEveryLength holds the word-at-a-time reading to the plain
// one at every length from 1 to 21 digits, with leading zeros, and with
// each byte in turn replaced by the bytes around the digits.
func TestParseUintEveryLength(t *testing.T) {
	const digits = "98765432109876543210987"
	for n := 1; n <= 21; n++ {
		for _, s := range []string{digits[:n], strings.Repeat("9", n), "000" + digits[:n], "1" + strings.Repeat("0", n-1)} {
			for pos := -1; pos < len(s); pos++ {
				for _, c := range []byte{'/', ':', 0, 0xff, 0xfa, 0xca, '0' + 16} {
					b := []byte(s)
					if pos >= 0 {
						b[pos] = c
					}
					got, ok := ParseUint(b)
					want, wantOK := parseUintRef(b)
					if got != want || ok != wantOK {
						t.Fatalf("ParseUint(%q) = %d, %v; the plain reading %d, %v", b, got, ok, want, wantOK)
					}
				}
			}
		}
	}
}

// FuzzParseUint: the eight-digits-at-a-time ParseUint agrees with the
// plain reading on any bytes.
func FuzzParseUint(f *testing.F) {
	for _, s := range []string{"1234567890", "00000000000000000001", "18446744073709551615", "9/9999999", "12345678:", "0"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := ParseUint(b)
		want, wantOK := parseUintRef(b)
		if got != want || ok != wantOK {
			t.Fatalf("ParseUint(%q) = %d, %v; the plain reading %d, %v", b, got, ok, want, wantOK)
		}
		all, ok := AppendUints([]uint64{7}, [][]byte{[]byte("12"), b})
		if ok != wantOK || wantOK && (len(all) != 3 || all[2] != want) || !wantOK && len(all) != 2 || all[0] != 7 || all[1] != 12 {
			t.Fatalf("AppendUints([7], 12 %q) = %v, %v; the plain reading %d, %v", b, all, ok, want, wantOK)
		}
	})
}

// AppendUints stops at the first argument that is no uint, keeping those
// before it.
func TestAppendUints(t *testing.T) {
	args := [][]byte{[]byte("1"), []byte("1234567890"), []byte("0000000000000000000000042"), []byte("18446744073709551615"), []byte("x"), []byte("5")}
	got, ok := AppendUints(nil, args)
	if ok || fmt.Sprint(got) != "[1 1234567890 42 18446744073709551615]" {
		t.Fatalf("AppendUints = %v, %v", got, ok)
	}
	got, ok = AppendUints(got[:1], args[1:4])
	if !ok || fmt.Sprint(got) != "[1 1234567890 42 18446744073709551615]" {
		t.Fatalf("AppendUints = %v, %v", got, ok)
	}
}

// FuzzHeader: header's fast path answers as the general path does.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{"$10\r\n", "$0\r\n", "$00\r\n", "$-1\r\n", "$123456789\r\n", "$1234567890\r\n", "$5\r", "$5", "$5\rx", "$+5\r\n", "$5x\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 1 {
			return
		}
		n, next, err := header(b, 1, errBigBulkCount, errInvalidBulk)
		if len(b)-1 > MaxInline && err == errBigBulkCount {
			return // the general path's own refusal of a line with no end
		}
		wn, wnext, ok := headerRef(b, 1)
		if (err == nil) != ok || err == nil && (n != wn || next != wnext) {
			t.Fatalf("header(%q) = %d, %d, %v; general path %d, %d, %v", b, n, next, err, wn, wnext, ok)
		}
	})
}

// FuzzShortBulk: the one-word reading of a bulk header agrees with the
// general path wherever it answers.
func FuzzShortBulk(f *testing.F) {
	for _, s := range []string{"$9\r\nabcdefghi", "$19\r\n12345", "$0\r\n\r\nxyz", "$05\r\nabcd", "$1\rxabcdefg", "$12x\r\nabc", "$-1\r\nabcd", "*1\r\n$1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 8 {
			return
		}
		sn, size := shortBulk(binary.LittleEndian.Uint64(b))
		if size == 0 {
			return
		}
		if b[0] != '$' {
			t.Fatalf("shortBulk(%q) took a header that does not start with '$'", b)
		}
		n, next, err := header(b, 1, errBigBulkCount, errInvalidBulk)
		if err != nil || next < 0 || n != int64(sn) || next != size {
			t.Fatalf("shortBulk(%q) = %d, %d; header %d, %d, %v", b, sn, size, n, next, err)
		}
	})
}
