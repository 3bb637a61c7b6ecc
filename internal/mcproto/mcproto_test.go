package mcproto

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen)
	for _, tc := range []struct {
		line  string
		want  string // "" or the refusal
		check func(c *Command) bool
	}{
		{"get a b  c\r", "", func(c *Command) bool { return c.Op == OpGet && len(c.Keys) == 3 && string(c.Keys[2]) == "c" }},
		{"gets " + long, "", func(c *Command) bool { return c.Op == OpGets && len(c.Keys) == 1 }},
		{"get " + long + "k", ReplyBadFormat, nil},
		{"get a\x01b", ReplyBadFormat, nil},
		{"get", ReplyError, nil},
		{"gat 10 a b", "", func(c *Command) bool { return c.Op == OpGat && c.Exptime == 10 && len(c.Keys) == 2 }},
		{"gats -1 a", "", func(c *Command) bool { return c.Exptime == -1 }},
		{"gat x a", "CLIENT_ERROR invalid exptime argument\r\n", nil},
		{"gat 1", ReplyError, nil},
		{"set k 4294967295 -5 10 noreply", "", func(c *Command) bool {
			return c.Op == OpSet && c.Flags == 1<<32-1 && c.Exptime == -5 && c.Bytes == 10 && c.NoReply
		}},
		{"set k 4294967296 0 1", ReplyBadFormat, nil},
		{"set k 0 0 -1", ReplyBadFormat, nil},
		{"set k 0 0", ReplyError, nil},
		{"set k 0 0 1 2", "", func(c *Command) bool { return c.Bytes == 1 && !c.NoReply }}, // memcached ignores the extra token
		{"set k 0 0 1 2 3 4", ReplyError, nil},
		{"set k +5 0 1", "", func(c *Command) bool { return c.Flags == 5 }},
		{"cas k 0 0 1", ReplyError, nil},
		{"delete k 0 x", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n", nil},
		{"delete k noreply", "", func(c *Command) bool { return c.NoReply }},
		{"incr k 1 2", "", func(c *Command) bool { return c.Delta == 1 }},
		{"verbosity", ReplyError, nil},
		{"cas k 1 2 3 18446744073709551615", "", func(c *Command) bool { return c.Op == OpCas && c.Cas == 1<<64-1 && c.Bytes == 3 }},
		{"cas k 1 2 3 18446744073709551616", ReplyBadFormat, nil},
		{"delete k", "", func(c *Command) bool { return c.Op == OpDelete && !c.NoReply }},
		{"delete k 0 noreply", "", func(c *Command) bool { return c.NoReply }},
		{"delete k 5", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n", nil},
		{"incr k 18446744073709551615", "", func(c *Command) bool { return c.Delta == 1<<64-1 }},
		{"decr k x", ReplyBadDelta, nil},
		{"touch k 100", "", func(c *Command) bool { return c.Op == OpTouch && c.Exptime == 100 }},
		{"version", "", func(c *Command) bool { return c.Op == OpVersion }},
		{"bogus a", ReplyError, nil},
		{"", ReplyError, nil},
		{"   ", ReplyError, nil},
	} {
		var c Command
		if got := Parse([]byte(tc.line), &c); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.line, got, tc.want)
			continue
		}
		if tc.check != nil && !tc.check(&c) {
			t.Errorf("Parse(%q) = %+v", tc.line, c)
		}
	}
}

func TestExpiryOf(t *testing.T) {
	const now = 2_000_000_000
	for _, tc := range []struct {
		exptime int64
		want    Expiry
		n       int64
	}{
		{0, Never, 0}, {-1, Expired, 0}, {1, In, 1}, {RelativeMax, In, RelativeMax},
		{RelativeMax + 1, Expired, 0}, {now, Expired, 0}, {now + 1, At, now + 1},
	} {
		if e, n := ExpiryOf(tc.exptime, now); e != tc.want || n != tc.n {
			t.Errorf("ExpiryOf(%d) = %d, %d; want %d, %d", tc.exptime, e, n, tc.want, tc.n)
		}
	}
}

func TestItemRoundTrip(t *testing.T) {
	v := AppendItem(nil, 0xdeadbeef, 1<<63+5, []byte("data\r\n"))
	f, c, d, ok := ParseItem(v)
	if !ok || f != 0xdeadbeef || c != 1<<63+5 || string(d) != "data\r\n" {
		t.Fatalf("ParseItem = %x %d %q %v", f, c, d, ok)
	}
	if _, _, _, ok := ParseItem([]byte("plain redis value")); ok {
		t.Fatal("a value not written by the entry parsed as an item")
	}
}

func TestDelta(t *testing.T) {
	for _, tc := range []struct {
		data string
		d    uint64
		incr bool
		want uint64
		ok   bool
	}{
		{"10", 5, true, 15, true},
		{"18446744073709551615", 2, true, 1, true}, // wraps
		{"3", 5, false, 0, true},                   // stops at 0
		{"9 ", 1, false, 8, true},                  // memcached's padding
		{"abc", 1, true, 0, false},
		{"000000000000000000000000007", 1, true, 8, true},
		{"-1", 1, true, 0, false},
		{"", 1, true, 0, false},
		{"18446744073709551616", 1, true, 0, false},
	} {
		got, ok := Delta([]byte(tc.data), tc.d, tc.incr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Delta(%q, %d, %v) = %d, %v", tc.data, tc.d, tc.incr, got, ok)
		}
	}
}

// FuzzParse: no line panics the parser, a parsed command's keys are valid
// keys from the line, and a refusal is one of memcached's lines.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"get a b", "gats 5 a", "set k 1 2 3 noreply", "cas k 0 0 1 9", "delete k 0", "incr k 1", "touch k -1", "", "  get  ", "flush_all"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var c Command
		r := Parse(line, &c)
		if r != "" {
			if !strings.HasSuffix(r, "\r\n") || strings.Count(r, "\r\n") != 1 {
				t.Fatalf("refusal %q is not one line", r)
			}
			return
		}
		for _, k := range c.Keys {
			if !ValidKey(k) || !bytes.Contains(line, k) {
				t.Fatalf("key %q of %q", k, line)
			}
		}
		if c.Op == OpUnknown {
			t.Fatalf("unknown op accepted: %q", line)
		}
		if c.Op.IsStorage() && c.Bytes < 0 {
			t.Fatalf("negative length from %q", line)
		}
	})
}
