package server

import (
	"bytes"
	"errors"
	"fmt"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fuzzWords are what FuzzArgVectors builds arguments from: integers at every
// edge a size, offset, count or time could overflow at, what Redis's
// string2ll refuses, the option words of the commands, the keys the fuzz
// keyspace holds and a few short strings.
var fuzzWords = []string{
	"0", "1", "-1", "2", "3", "10", "100", "2147483647", "2147483648", "-2147483648", "-2147483649",
	"4294967295", "4294967296", "9007199254740992", "9007199254740993",
	"9223372036854775", "9223372036854776", "-9223372036854775",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616", "-18446744073709551616", "99999999999999999999999",
	"1048575", "1048576", "536870911", "536870912", "+1", "01", "-0", " 1", "1 ", "1e3", "0x10", "1.5",
	"EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "GET", "KEEPTTL", "PERSIST", "COUNT", "MATCH",
	"TYPE", "LIMIT", "NEWEST", "WITHTIMES", "TIMES", "TRUNCATED", "BITS", "SAMPLES", "ID", "SKIPME",
	"ADDR", "ADD", "DEL", "SET", "LIST", "KILL", "INFO", "USAGE", "ENCODING", "IDLETIME", "HELP",
	"timeout", "maxmemory", "slowlog-max-len", "slowlog-log-slower-than", "1kb", "9223372036854775807gb",
	"s", "n", "e", "k", "1.following", "2.following", "1.follower", "*", "[", "", "v", "abc", "string", "hash",
	// The string family of issue 15: bit ranges and fields, INCRBYFLOAT's
	// extremes, LCS and COPY options.
	"BIT", "BYTE", "OVERFLOW", "WRAP", "SAT", "FAIL", "INCRBY", "u8", "i64", "u63", "i1", "u64", "#1",
	"#1152921504606846975", "8388607", "8388608", "AND", "OR", "XOR", "NOT", "REPLACE", "DB", "IDX", "LEN",
	"MINMATCHLEN", "WITHMATCHLEN", "1e4932", "inf", "0x1p-16445", "-1e4932",
	// Client tracking.
	"TRACKING", "ON", "BCAST", "PREFIX", "CACHING", "OPTIN",
}

// FuzzArgVectors runs up to four commands from the command table, with
// arguments drawn from fuzzWords or taken raw from the input, against a
// fresh in-process server holding a few strings and relation sets. For an
// input under 1 KB: no panic (there is no recover here), every command but a
// successful SHUTDOWN answers with exactly one reply that a strict RESP
// parser accepts (RESP3 types only after HELLO 3), no reply over 2 MB, no
// command allocating more than 64 MB, and a keyspace that stays under 8 MB.
// The server's bulk limit is 1 MB, so that is the most one command may
// legitimately build.
func FuzzArgVectors(f *testing.F) {
	dir := f.TempDir()
	if len(fuzzWords) > 0x80 {
		f.Fatalf("%d fuzz words: decodeArgVectors reaches only the first 128", len(fuzzWords))
	}
	names := make([]string, 0, 128)
	for _, c := range newTestServer(f).sortedCommands() {
		names = append(names, c.name)
	}
	// pos is w's index in list, a byte of the encoding decodeArgVectors
	// reads.
	pos := func(list []string, w string) byte {
		i := slices.Index(list, w)
		if i < 0 {
			f.Fatalf("no %q to seed with", w)
		}
		return byte(i)
	}
	// Seeds: the cases that once panicked or misbehaved, in the encoding
	// decodeArgVectors reads.
	seed := func(cmds ...[]string) []byte {
		var b []byte
		for _, c := range cmds {
			b = append(b, pos(names, c[0]), byte(len(c)-1))
			for _, a := range c[1:] {
				b = append(b, pos(fuzzWords, a))
			}
		}
		return b
	}
	f.Add(seed([]string{"zadd", "1.follower", "1", "2", "4294967295", "18446744073709551615"},
		[]string{"zrange", "1.follower", "-9223372036854775808", "9223372036854775807", "LIMIT", "1", "-1"},
		[]string{"zrandmember", "1.following", "-9223372036854775808"}))
	f.Add(seed([]string{"setrange", "s", "9223372036854775807", "v"}))
	f.Add(seed([]string{"setrange", "k", "9223372036854775807", "abc"}, []string{"get", "k"}))
	f.Add(seed([]string{"setrange", "s", "1048575", "v"}, []string{"append", "s", "abc"}))
	f.Add(seed([]string{"getrange", "s", "-9223372036854775808", "9223372036854775807"}))
	f.Add(seed([]string{"incrby", "n", "9223372036854775807"}, []string{"incr", "n"}))
	f.Add(seed([]string{"decrby", "n", "-9223372036854775808"}))
	f.Add(seed([]string{"set", "k", "v", "EX", "9223372036854775807"}, []string{"ttl", "k"}))
	f.Add(seed([]string{"getex", "s", "PXAT", "9223372036854775807"}, []string{"ttl", "s"}))
	f.Add(seed([]string{"expire", "s", "-9223372036854775808"}))
	f.Add(seed([]string{"pexpire", "e", "9223372036854775807", "GT"}))
	f.Add(seed([]string{"scan", "18446744073709551615", "COUNT", "9223372036854775807"}))
	f.Add(seed([]string{"relmembers", "1.following", "WITHTIMES", "NEWEST", "9223372036854775807"}))
	f.Add(seed([]string{"relwho", "1", "2", "LIMIT", "9223372036854775807"}))
	f.Add(seed([]string{"relcommon", "1", "2", "LIMIT", "2147483648"}))
	f.Add(seed([]string{"slowlog", "GET", "9223372036854775807"}))
	f.Add(seed([]string{"config", "SET", "maxmemory", "9223372036854775807gb"}))
	f.Add(seed([]string{"config", "SET", "slowlog-log-slower-than", "9223372036854775807"}, []string{"ping"}))
	f.Add(seed([]string{"hello", "3"}, []string{"relmembers", "1.following", "WITHTIMES"}))
	f.Add(seed([]string{"memory", "USAGE", "s", "SAMPLES", "-9223372036854775808"}))
	f.Add(seed([]string{"setbit", "s", "8388607", "1"}, []string{"bitcount", "s", "0", "-1", "BIT"}))
	f.Add(seed([]string{"setbit", "k", "8388608", "1"}, []string{"getbit", "s", "9223372036854775807"}))
	f.Add(seed([]string{"bitfield", "s", "SET", "i64", "#1152921504606846975", "1"}))
	f.Add(seed([]string{"bitfield", "k", "OVERFLOW", "FAIL", "INCRBY", "u63"}, []string{"bitpos", "k", "0", "-1"}))
	f.Add(seed([]string{"bitop", "NOT", "k", "s"}, []string{"lcs", "k", "s", "IDX", "WITHMATCHLEN"}))
	f.Add(seed([]string{"incrbyfloat", "n", "1e4932"}, []string{"incrbyfloat", "n", "1e4932"}))
	f.Add(seed([]string{"copy", "1.following", "k", "DB", "0"}, []string{"reladd", "k", "1"}))
	f.Add(seed([]string{"hello", "3"}, []string{"client", "TRACKING", "ON"}, []string{"get", "s"}, []string{"set", "s", "v"}))
	f.Add(seed([]string{"client", "TRACKING", "ON", "BCAST", "PREFIX", "s"}, []string{"flushall"}))
	f.Add(seed([]string{"hello", "3"}, []string{"subscribe", "s", "n"}, []string{"publish", "s", "abc"}, []string{"unsubscribe"}))
	f.Add(seed([]string{"psubscribe", "*"}, []string{"get", "s"}, []string{"ping", "v"}))
	f.Add([]byte{pos(names, "set"), 2, 0x83, 'a', 'b', 'c', 0x8f})
	// Issue 17's option words, raw (fuzzWords is full): windows, BATCH
	// and a page cursor.
	raw := func(w string) []byte { return append([]byte{0x80 | byte(len(w))}, w...) }
	f.Add(slices.Concat([]byte{pos(names, "relmulti"), 4, pos(fuzzWords, "1.following")}, raw("SINCE"), []byte{pos(fuzzWords, "100"), pos(fuzzWords, "1")}))
	f.Add(slices.Concat([]byte{pos(names, "relcheck"), 3, pos(fuzzWords, "1")}, raw("BATCH"), []byte{pos(fuzzWords, "2")}))
	f.Add(slices.Concat([]byte{pos(names, "relfollows"), 4, pos(fuzzWords, "1")}, raw("UNTIL"), []byte{pos(fuzzWords, "4294967296"), pos(fuzzWords, "2")}))
	f.Add(slices.Concat([]byte{pos(names, "relmembers"), 6, pos(fuzzWords, "1.following")}, raw("BEFORE"),
		[]byte{pos(fuzzWords, "100"), pos(fuzzWords, "1"), pos(fuzzWords, "LIMIT"), pos(fuzzWords, "1")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1024 {
			return
		}
		s := newFuzzServer(t, dir)
		c := newTestClient(s)
		defer c.conn.Close()
		for _, args := range [][][]byte{
			{[]byte("SET"), []byte("s"), []byte("abc")}, {[]byte("SET"), []byte("n"), []byte("10")},
			{[]byte("SET"), []byte("e"), []byte("v"), []byte("PX"), []byte("100000")},
			{[]byte("RELLOAD"), []byte("1.following"), []byte("TIMES"), []byte("2"), []byte("100"), []byte("3"), []byte("4294967295")},
			{[]byte("RELLOAD"), []byte("2.following"), []byte("1"), []byte("3")},
		} {
			s.dispatch(c, args, time.Now())
		}
		c.out = c.out[:0]
		for _, args := range decodeArgVectors(data, names) {
			resp3 := c.proto == 3 || strings.EqualFold(string(args[0]), "hello")
			before := heapAllocs()
			s.dispatch(c, args, time.Now())
			if grew := heapAllocs() - before; grew > 64<<20 {
				t.Fatalf("%q allocated %d MB", args, grew>>20)
			}
			checkOneReply(t, args, c.out, resp3)
			c.out = c.out[:0]
		}
		if used := s.store.UsedMemory(); used > 8<<20 {
			t.Fatalf("%q left a keyspace of %d MB", data, used>>20)
		}
	})
}

// newFuzzServer is newTestServer with its snapshots in dir, so SAVE and
// BGSAVE do not write into the source tree.
func newFuzzServer(t *testing.T, dir string) *Server {
	cfg := Defaults()
	cfg.Dir = dir
	cfg.ProtoMaxBulkLen, cfg.ClientOutputBufferLimit = 1<<20, 1<<20
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decodeArgVectors reads up to four commands from data: a byte choosing the
// command, a byte for the argument count (0-6), then per argument a byte
// that picks a fuzz word (below 0x80) or says that the next 0-15 bytes are
// the argument itself.
func decodeArgVectors(data []byte, names []string) [][][]byte {
	var cmds [][][]byte
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	for len(cmds) < 4 {
		b, ok := next()
		if !ok {
			break
		}
		args := [][]byte{[]byte(names[int(b)%len(names)])}
		n, _ := next()
		for range n % 7 {
			a, ok := next()
			if !ok {
				break
			}
			if a < 0x80 {
				args = append(args, []byte(fuzzWords[int(a)%len(fuzzWords)]))
				continue
			}
			l := min(int(a&0x0f), len(data))
			args = append(args, bytes.Clone(data[:l]))
			data = data[l:]
		}
		cmds = append(cmds, args)
	}
	return cmds
}

var heapAllocsSample = []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

// heapAllocs is the bytes allocated on the heap since the process started
// (cheap to read: no stop-the-world).
func heapAllocs() uint64 {
	rtmetrics.Read(heapAllocsSample)
	return heapAllocsSample[0].Value.Uint64()
}

// checkOneReply fails t unless out is exactly one well-formed reply to args,
// of at most 2 MB. Only a SHUTDOWN that succeeds sends nothing; the pub/sub
// commands (pubsubReplies) may send several.
func checkOneReply(t *testing.T, args [][]byte, out []byte, resp3 bool) {
	t.Helper()
	if len(out) == 0 {
		if !strings.EqualFold(string(args[0]), "shutdown") {
			t.Fatalf("%q: no reply", args)
		}
		return
	}
	if len(out) > 2<<20 {
		t.Fatalf("%q: a reply of %d bytes", args, len(out))
	}
	for rest := out; len(rest) > 0; {
		n, err := strictReply(rest, resp3, 0)
		if err != nil {
			t.Fatalf("%q: malformed reply %q: %v", args, out[:min(len(out), 256)], err)
		}
		rest = rest[n:]
		if len(rest) > 0 && !pubsubReplies(args[0]) {
			t.Fatalf("%q: %d bytes after the reply: %q", args, len(rest), out[:min(len(out), 256)])
		}
	}
}

// pubsubReplies says whether a command may answer with several messages:
// (P)SUBSCRIBE and (P)UNSUBSCRIBE confirm each name, and a RESP3 PUBLISH to
// a channel its own connection listens on brings the message first.
func pubsubReplies(name []byte) bool {
	switch strings.ToLower(string(name)) {
	case "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "publish":
		return true
	}
	return false
}

var errIncomplete = errors.New("reply ends early")

// strictReply returns the length of the one reply at the start of b. It
// accepts only what a strict client would: CRLF line ends, canonical
// integers, bulk lengths that match the bytes that follow, aggregates whose
// count matches their elements, no more than 8 levels deep; RESP3 types
// (map, set, null, verbatim, double, boolean) only when resp3.
func strictReply(b []byte, resp3 bool, depth int) (int, error) {
	if depth > 8 {
		return 0, errors.New("aggregates nested too deep")
	}
	end := bytes.Index(b, []byte("\r\n"))
	if end < 1 {
		return 0, errIncomplete
	}
	line, next := string(b[1:end]), end+2
	if strings.ContainsAny(line, "\r\n") {
		return 0, fmt.Errorf("CR or LF inside line %q", line)
	}
	length := func(min int64) (int64, error) {
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != line || n < min {
			return 0, fmt.Errorf("bad length %q", line)
		}
		return n, nil
	}
	if strings.IndexByte("%~_=,#>", b[0]) >= 0 && !resp3 {
		return 0, fmt.Errorf("RESP3 type %q on a RESP2 connection", b[0])
	}
	switch b[0] {
	case '+', '-':
		return next, nil
	case ':':
		_, err := length(-1 << 63)
		return next, err
	case '_':
		if line != "" {
			return 0, fmt.Errorf("null with a body %q", line)
		}
		return next, nil
	case '#':
		if line != "t" && line != "f" {
			return 0, fmt.Errorf("bad boolean %q", line)
		}
		return next, nil
	case ',':
		if _, err := strconv.ParseFloat(line, 64); err != nil {
			return 0, fmt.Errorf("bad double %q", line)
		}
		return next, nil
	case '$', '=':
		n, err := length(-1)
		if err != nil || (n == -1 && b[0] == '$') {
			return next, err
		}
		if n < 0 || (b[0] == '=' && n < 4) {
			return 0, fmt.Errorf("bad verbatim length %d", n)
		}
		if int64(len(b)-next) < n+2 {
			return 0, errIncomplete
		}
		if string(b[next+int(n):next+int(n)+2]) != "\r\n" {
			return 0, fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		return next + int(n) + 2, nil
	case '*', '%', '~', '>':
		n, err := length(-1)
		if err != nil || n == -1 {
			return next, err
		}
		if b[0] == '%' {
			n *= 2
		}
		for range n {
			m, err := strictReply(b[next:], resp3, depth+1)
			if err != nil {
				return 0, err
			}
			next += m
		}
		return next, nil
	}
	return 0, fmt.Errorf("unknown type byte %q", b[0])
}

// TestStrictReply keeps the checker honest: it must refuse what the defects
// of issue 14 sent (a count that promises more or fewer elements than
// follow) as well as accept what relcache sends.
func TestStrictReply(t *testing.T) {
	for _, tc := range []struct {
		in    string
		resp3 bool
		ok    bool
	}{
		{"+OK\r\n", false, true}, {":-9223372036854775808\r\n", false, true}, {"$-1\r\n", false, true},
		{"*2\r\n$1\r\na\r\n:1\r\n", false, true}, {"%1\r\n$1\r\na\r\n_\r\n", true, true},
		{"=7\r\ntxt:abc\r\n", true, true}, {"*-1\r\n", false, true},
		{"*3\r\n$1\r\na\r\n:1\r\n", false, false}, {"$3\r\nab\r\n", false, false}, {":01\r\n", false, false},
		{":1\n", false, false}, {"%1\r\n+a\r\n+b\r\n", false, false}, {"_\r\n", false, false}, {"$-2\r\n", false, false},
		{">2\r\n$10\r\ninvalidate\r\n_\r\n", true, true}, {">2\r\n$10\r\ninvalidate\r\n*0\r\n", false, false},
	} {
		n, err := strictReply([]byte(tc.in), tc.resp3, 0)
		if ok := err == nil && n == len(tc.in); ok != tc.ok {
			t.Errorf("strictReply(%q, resp3=%v) = %d, %v; want ok=%v", tc.in, tc.resp3, n, err, tc.ok)
		}
	}
}

// TestParseCursor pins SCAN's cursor to C strtoul's reading, as Redis uses
// it: a sign, digits (none is 0), no space, no overflow.
func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"", 0, true}, {"+0", 0, true}, {"-0", 0, true}, {"007", 7, true},
		{"-1", 1<<64 - 1, true}, {"18446744073709551615", 1<<64 - 1, true}, {"-18446744073709551615", 1, true},
		{"18446744073709551616", 0, false}, {"-18446744073709551616", 0, false}, {"+", 0, false}, {"-", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"--1", 0, false}, {"+-1", 0, false}, {"0x10", 0, false}, {"1e3", 0, false},
	} {
		got, ok := parseCursor([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCursor(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
