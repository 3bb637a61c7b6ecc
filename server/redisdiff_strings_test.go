package server_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// The differential vectors of the string family added for issue 15: the
// bit commands, BITFIELD, INCRBYFLOAT, LCS, COPY and SUBSTR. TestRedisDifferential
// runs them with its other vectors.

// edgeInts is the part of extremeInts that range ends are crossed with
// (the whole cross product would be thousands of vectors per command).
var edgeInts = []string{
	"0", "1", "-1", "7", "8", "2147483647", "-2147483648", "9223372036854775807",
	"-9223372036854775808", "9223372036854775808", "-0", "+1", "01", "x", "",
}

// floatWords are INCRBYFLOAT operands: what strtold reads and Redis
// refuses, the edges of double and of long double.
var floatWords = []string{
	"0", "1.5", "-1.5", "0.1", "-0.0", "+.5", "5.", "1e", "1e+", "1E2", ".", "-", "0x", "0x1p", "0x1P3", "0X.8p1",
	"1e308", "1e309", "-1e309", "1e4932", "1.18973149535723176502e+4932", "1e4933", "1e-4951", "5e-4951",
	"1e-400", "0x1p-16445", "0x1p-16446", "inf", "-inf", "Infinity", "infinit", "nan", "NaN(1)",
	" 1", "1 ", "1\x00", "\x00", "0.000003814697265625", "3.0e-20", "9223372036854775807", "1e-17", "5e-18",
}

// bitKey is the bitmap the bit vectors read: ones, a mixed byte, zeros.
var bitKey = []string{"SET", "b", "\xff\xf0\x00\x0f\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"}

func stringFamilyTable() []diffCase {
	var cases []diffCase
	add := func(dc diffCase) { cases = append(cases, dc) }
	withBits := func(cmd ...string) diffCase {
		return diffCase{setup: [][]string{bitKey}, cmd: cmd, probes: [][]string{{"GET", "b"}}}
	}
	for _, i := range extremeInts {
		add(diffCase{cmd: []string{"SETBIT", "s", i, "1"}, probes: [][]string{{"STRLEN", "s"}, {"BITCOUNT", "s"}}})
		add(diffCase{cmd: []string{"SETBIT", "k", "7", i}, probes: [][]string{{"GET", "k"}, {"OBJECT", "ENCODING", "k"}}})
		add(diffCase{cmd: []string{"SETBIT", "h", i, "1"}})
		add(diffCase{cmd: []string{"GETBIT", "s", i}})
		add(diffCase{cmd: []string{"GETBIT", "m", i}})
		add(withBits("BITPOS", "b", i))
		add(withBits("BITPOS", "b", "0", i))
		add(withBits("BITPOS", "b", "1", i))
		add(withBits("BITPOS", "m", i))
		for _, j := range edgeInts {
			add(withBits("BITCOUNT", "b", i, j))
			add(withBits("BITCOUNT", "b", i, j, "BIT"))
			add(withBits("BITPOS", "b", "0", i, j, "BIT"))
			add(withBits("BITPOS", "b", "1", i, j))
			add(withBits("BITPOS", "b", "0", i, j))
		}
		for _, typ := range []string{"u8", "i64", "u63", "i1"} {
			add(withBits("BITFIELD", "b", "GET", typ, i))
			add(withBits("BITFIELD", "b", "GET", typ, "#"+i))
			add(withBits("BITFIELD", "b", "SET", typ, "#"+i, "1"))
			add(withBits("BITFIELD_RO", "b", "GET", typ, "#"+i))
		}
		add(withBits("BITFIELD", "b", "GET", "u"+i, "0"))
		add(withBits("BITFIELD", "b", "GET", "i"+i, "0"))
		for _, ow := range []string{"WRAP", "SAT", "FAIL"} {
			for _, typ := range []string{"u8", "i8", "i64", "u63"} {
				add(withBits("BITFIELD", "b", "OVERFLOW", ow, "SET", typ, "0", i))
				add(withBits("BITFIELD", "b", "OVERFLOW", ow, "INCRBY", typ, "4", i, "INCRBY", typ, "4", i))
			}
		}
		for _, key := range []string{"n", "big", "neg", "s", "m", "h"} {
			add(diffCase{cmd: []string{"INCRBYFLOAT", key, i}, probes: [][]string{{"GET", key}}})
		}
		add(diffCase{cmd: []string{"COPY", "s", "k", "DB", i}, probes: [][]string{{"EXISTS", "k"}}})
		add(diffCase{setup: [][]string{{"SET", "x", "ohmytext"}, {"SET", "y", "mynewtext"}},
			cmd: []string{"LCS", "x", "y", "IDX", "MINMATCHLEN", i, "WITHMATCHLEN"}})
		add(diffCase{cmd: []string{"SUBSTR", "s", i, "-1"}})
	}
	for _, f := range floatWords {
		for _, key := range []string{"n", "m", "f"} {
			add(diffCase{setup: [][]string{{"SET", "f", "0.1"}}, cmd: []string{"INCRBYFLOAT", key, f},
				probes: [][]string{{"GET", key}, {"OBJECT", "ENCODING", key}}})
		}
		add(diffCase{setup: [][]string{{"SET", "f", f}}, cmd: []string{"INCRBYFLOAT", "f", "1"}})
	}
	for _, op := range []string{"AND", "or", "XOR", "NOT", "nand", "and\x00"} {
		for _, srcs := range [][]string{{"b"}, {"b", "s"}, {"s", "m"}, {"m"}, {"b", "n", "s", "m"}, {"b", "h"}, {"h"}} {
			for _, dest := range []string{"d", "t", "b", "h"} {
				add(diffCase{setup: [][]string{bitKey}, cmd: append([]string{"BITOP", op, dest}, srcs...),
					probes: [][]string{{"GET", dest}, {"TTL", dest}, {"OBJECT", "ENCODING", dest}}})
			}
		}
	}
	return cases
}

// stringFamilyRandom mixes the new commands' options with extreme integers
// and random operands, n vectors from r.
func stringFamilyRandom(r *rand.Rand, n int) []diffCase {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	randBytes := func(alphabet string, max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	offsets := []string{"0", "1", "7", "8", "9", "31", "63", "64", "65", "100", "#0", "#1", "#3", "#7", "-1"}
	types := []string{"i1", "i2", "i7", "i8", "i16", "i32", "i63", "i64", "u1", "u2", "u8", "u16", "u32", "u62", "u63", "u64", "i0", "x"}
	var cases []diffCase
	for range n {
		var dc diffCase
		switch r.IntN(6) {
		case 0: // BITFIELD and BITFIELD_RO with up to five operations
			cmd := []string{pick([]string{"BITFIELD", "BITFIELD", "BITFIELD", "BITFIELD_RO"}), "s"}
			for range 1 + r.IntN(5) {
				switch op := pick([]string{"GET", "SET", "INCRBY", "OVERFLOW", "get", "incrby"}); op {
				case "OVERFLOW":
					cmd = append(cmd, op, pick([]string{"WRAP", "SAT", "FAIL", "sat", "BOGUS"}))
				case "GET", "get":
					cmd = append(cmd, op, pick(types), pick(offsets))
				default:
					v := pick(extremeInts)
					if r.IntN(2) == 0 {
						v = strconv.Itoa(r.IntN(600) - 300)
					}
					cmd = append(cmd, op, pick(types), pick(offsets), v)
				}
			}
			dc = diffCase{setup: [][]string{{"SET", "s", randBytes("\x00\x01\x7f\x80\xffab", 12)}}, cmd: cmd,
				probes: [][]string{{"GET", "s"}, {"OBJECT", "ENCODING", "s"}}}
		case 1: // BITCOUNT and BITPOS ranges
			c := pick([]string{"BITCOUNT", "BITPOS"})
			cmd := []string{c, "s"}
			if c == "BITPOS" {
				cmd = append(cmd, pick([]string{"0", "1"}))
			}
			for range r.IntN(4) {
				cmd = append(cmd, pick([]string{strconv.Itoa(r.IntN(40) - 20), "BIT", "BYTE", pick(edgeInts)}))
			}
			dc = diffCase{setup: [][]string{{"SET", "s", randBytes("\x00\xff\x0f\xf0\x01\x80", 10)}}, cmd: cmd}
		case 2: // INCRBYFLOAT on random decimals
			dc = diffCase{setup: [][]string{{"SET", "f", randFloat(r)}}, cmd: []string{"INCRBYFLOAT", "f", randFloat(r)},
				probes: [][]string{{"GET", "f"}, {"OBJECT", "ENCODING", "f"}}}
		case 3: // LCS on small alphabets (many equally long answers)
			cmd := []string{"LCS", "x", "y"}
			for range r.IntN(4) {
				cmd = append(cmd, pick([]string{"IDX", "LEN", "WITHMATCHLEN", "MINMATCHLEN", strconv.Itoa(r.IntN(4)), "idx"}))
			}
			dc = diffCase{setup: [][]string{{"SET", "x", randBytes("ab", 30)}, {"SET", "y", randBytes("abc", 30)}}, cmd: cmd}
		case 4: // COPY's options
			cmd := []string{"COPY", pick([]string{"s", "t", "n", "h", "m"}), pick([]string{"k", "s", "n"})}
			for range r.IntN(4) {
				cmd = append(cmd, pick([]string{"REPLACE", "DB", "0", "db", "replace", "BOGUS", pick(extremeInts)}))
			}
			dc = diffCase{cmd: cmd, probes: [][]string{{"TTL", cmd[2]}, {"TYPE", cmd[2]}}}
			if cmd[1] != "h" { // a relation set's bytes are not a hash's reply
				dc.probes = append(dc.probes, []string{"GET", cmd[2]})
			}
		default: // SETBIT then the readers
			off := strconv.Itoa(r.IntN(200))
			dc = diffCase{setup: [][]string{{"SET", "s", randBytes("\x00\xffa", 8)}, {"SETBIT", "s", off, pick([]string{"0", "1"})}},
				cmd:    []string{"BITPOS", "s", pick([]string{"0", "1"}), strconv.Itoa(r.IntN(30) - 15), strconv.Itoa(r.IntN(250) - 20), "BIT"},
				probes: [][]string{{"BITCOUNT", "s"}, {"GETBIT", "s", off}, {"OBJECT", "ENCODING", "s"}}}
		}
		cases = append(cases, dc)
	}
	return cases
}

// randFloat is a decimal (sometimes hexadecimal) number of random length
// and magnitude, mostly in everyday ranges.
func randFloat(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		return "0x" + strconv.FormatUint(r.Uint64()>>r.IntN(64), 16) + "p" + strconv.Itoa(r.IntN(200)-100)
	}
	var b strings.Builder
	if r.IntN(3) == 0 {
		b.WriteByte('-')
	}
	digits := 1 + r.IntN(22)
	point := r.IntN(digits + 1)
	for i := range digits {
		if i == point && i > 0 {
			b.WriteByte('.')
		}
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	if r.IntN(3) == 0 {
		b.WriteString("e" + strconv.Itoa(r.IntN(60)-30))
	}
	return b.String()
}
