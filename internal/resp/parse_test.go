package resp

import (
	"bytes"
	"math"
	"strconv"
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
	})
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
