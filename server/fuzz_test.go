package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"
)

// newTestServer is an in-process server for the fuzz targets: no listener,
// commands go straight through dispatch.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	cfg := Defaults()
	cfg.ProtoMaxBulkLen, cfg.ClientOutputBufferLimit = 1<<20, 1<<20
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestClient(s *Server) *client {
	a, b := net.Pipe()
	b.Close()
	c := s.newClient(a)
	c.authed = true
	return c
}

// FuzzDispatch sends random argument vectors through the command table: no
// input may panic, and every command but SHUTDOWN must produce a reply.
func FuzzDispatch(f *testing.F) {
	s := newTestServer(f)
	names := make([]string, 0, len(s.cmds))
	for _, c := range s.sortedCommands() {
		names = append(names, c.name)
	}
	seeds := []string{
		"set\x00k\x00v\x00EX\x0010", "get\x00k", "incrby\x00k\x00-9223372036854775808",
		"getrange\x00k\x00-100\x009223372036854775807", "setrange\x00k\x001048575\x00x",
		"expire\x00k\x00-9223372036854775808\x00GT", "scan\x0018446744073709551615\x00MATCH\x00[",
		"keys\x00[^", "client\x00kill\x00ID\x000", "config\x00set\x00maxmemory\x001",
		"object\x00encoding", "hello\x003\x00AUTH\x00a", "slowlog\x00get\x00-1", "mset\x00a",
		"command\x00docs\x00get", "memory\x00usage\x00k\x00SAMPLES\x00x",
	}
	for i, sd := range seeds {
		f.Add(byte(i), []byte(sd))
	}
	f.Fuzz(func(t *testing.T, pick byte, data []byte) {
		parts := bytes.Split(data, []byte{0})
		if len(parts) > 24 {
			parts = parts[:24]
		}
		// Half the time the first word is replaced by a real command name,
		// so the fuzzer spends its effort inside the handlers.
		if pick&1 == 0 {
			parts[0] = []byte(names[int(pick>>1)%len(names)])
		}
		c := newTestClient(s)
		defer c.conn.Close()
		s.dispatch(c, parts, time.Now())
		name := strings.ToLower(string(parts[0]))
		if len(c.out) == 0 && name != "shutdown" {
			t.Fatalf("%q produced no reply", parts)
		}
	})
}

// readAll frames every command of data through a reader with the given
// limits, one byte per read when oneByte is set, and returns the commands
// (copied) and the error that stopped it.
func readAll(data []byte, oneByte bool, lim guardLimits) ([][]string, error) {
	var src io.Reader = bytes.NewReader(data)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	rd := newReader(src, func() guardLimits { return lim }, nil)
	var out [][]string
	for {
		args, err := rd.next()
		if err != nil {
			return out, err
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		out = append(out, cmd)
	}
}

// FuzzReader feeds random bytes to the command reader: nothing panics, no
// command breaks the limits, the read size does not change what is framed,
// and on streams of RESP commands redcon's reader frames the same arguments.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$300\r\n", "*999\r\n", "PING\r\n",
		"*1\r\n$-1\r\n", "*0\r\n", "\"unterminated\r\n", "*1\r\n$0\r\n\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
		"SET \"a\\x41\\n\" 'b\\'c'\r\n", "*-1\r\n*1\r\n$1\r\nx\r\n",
	} {
		f.Add([]byte(s))
	}
	lim := guardLimits{maxBulk: 64, maxMultibulk: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds, err := readAll(data, false, lim)
		for _, c := range cmds {
			if len(c) == 0 {
				t.Fatal("empty command returned")
			}
			if len(c) > maxInline {
				t.Fatalf("command of %d arguments", len(c))
			}
		}
		if !errors.Is(err, io.EOF) && !isProtoError(err) {
			t.Fatalf("unexpected error %v", err)
		}
		one, err1 := readAll(data, true, lim)
		if fmt.Sprint(one) != fmt.Sprint(cmds) || fmt.Sprint(err1) != fmt.Sprint(err) {
			t.Fatalf("one-byte reads framed %q (%v), whole reads %q (%v)", one, err1, cmds, err)
		}
		// Differential check on input that is exactly canonical RESP
		// commands, as we framed them: redcon must agree argument for
		// argument. (Inline commands are not compared: Redis splits them
		// on \r as on any space, redcon does not, and redcon reports an
		// inline command re-encoded as RESP, so it cannot be told apart.)
		if len(data) == 0 || !errors.Is(err, io.EOF) || !bytes.Equal(data, encodeRESP(cmds)) {
			return
		}
		var ref [][]string
		rr := redcon.NewReader(bytes.NewReader(data))
		for {
			c, err := rr.ReadCommand()
			if err != nil {
				break
			}
			if c.Raw[0] != '*' {
				return // redcon took an inline command; not comparable
			}
			var args []string
			for _, a := range c.Args {
				args = append(args, string(a))
			}
			ref = append(ref, args)
		}
		for _, c := range cmds {
			for _, a := range c {
				if len(a) > int(lim.maxBulk) {
					return // only relevant for RESP args; inline ones may be longer
				}
			}
		}
		if len(ref) == len(cmds) && fmt.Sprint(ref) != fmt.Sprint(cmds) {
			t.Fatalf("redcon framed %q, we framed %q", ref, cmds)
		}
	})
}

// encodeRESP writes cmds as RESP arrays of bulk strings.
func encodeRESP(cmds [][]string) []byte {
	var b []byte
	for _, c := range cmds {
		b = redcon.AppendArray(b, len(c))
		for _, a := range c {
			b = redcon.AppendBulkString(b, a)
		}
	}
	return b
}

func isProtoError(err error) bool {
	var pe *protoError
	return errors.As(err, &pe)
}

// TestReaderPassesValidStreams checks that well-formed pipelines come through
// unchanged whatever the read sizes are, and that limits are enforced on the
// header with Redis's wording.
func TestReaderPassesValidStreams(t *testing.T) {
	var stream []byte
	var want [][]string
	for i := range 50 {
		args := []string{"SET", strings.Repeat("k", i), strings.Repeat("v", i*37)}
		want = append(want, args)
		stream = redcon.AppendArray(stream, len(args))
		for _, a := range args {
			stream = redcon.AppendBulkString(stream, a)
		}
	}
	stream = append(stream, "PING inline \"q x\" '\\'y'\r\n*0\r\n\r\n"...)
	want = append(want, []string{"PING", "inline", "q x", "'y"})
	for _, one := range []bool{false, true} {
		got, err := readAll(stream, one, guardLimits{maxBulk: 4096, maxMultibulk: 3})
		if !errors.Is(err, io.EOF) {
			t.Fatalf("one-byte=%v: %v", one, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("one-byte=%v: got %q\nwant %q", one, got, want)
		}
	}
	for _, tc := range []struct {
		in   string
		lim  guardLimits
		want string
	}{
		{"*5\r\n", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: invalid multibulk length"},
		{"*1\r\n$11\r\n", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: invalid bulk length"},
		{"*11\r\n", guardLimits{maxBulk: 16384, maxMultibulk: 10, unauth: true}, "Protocol error: unauthenticated multibulk length"},
		{"*1\r\n$16385\r\n", guardLimits{maxBulk: 16384, maxMultibulk: 10, unauth: true}, "Protocol error: unauthenticated bulk length"},
		{"*1\r\nx", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: expected '$', got 'x'"},
		{"*x\r\n", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: invalid multibulk length"},
		{"a \"b\r\n", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: unbalanced quotes in request"},
		{"a \"b\"c\r\n", guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: unbalanced quotes in request"},
		{strings.Repeat("x", maxInline+1), guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: too big inline request"},
		{"*" + strings.Repeat("1", maxInline+1), guardLimits{maxBulk: 10, maxMultibulk: 4}, "Protocol error: too big mbulk count string"},
	} {
		_, err := readAll([]byte(tc.in), false, tc.lim)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%.20q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}

// BenchmarkReader frames a pipeline of GETs; it must not allocate per command.
func BenchmarkReader(b *testing.B) {
	var stream []byte
	for range 100 {
		stream = append(stream, "*2\r\n$3\r\nGET\r\n$10\r\nkey:000001\r\n"...)
	}
	src := bytes.NewReader(stream)
	rd := newReader(src, func() guardLimits { return guardLimits{maxBulk: 1 << 20, maxMultibulk: 1 << 20} }, nil)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		rd.start, rd.end, rd.need = 0, 0, 0
		for range 100 {
			if _, err := rd.next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// globRef is a plain recursive matcher for the same grammar, the oracle for
// FuzzGlob (only run on short inputs: it is exponential).
func globRef(p, s []byte) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && globRef(p[1:], s[1:])
	case '[':
		if len(s) == 0 {
			return false
		}
		ok, next := matchClass(p, 0, s[0])
		return ok && globRef(p[next:], s[1:])
	case '\\':
		if len(p) >= 2 {
			return len(s) > 0 && s[0] == p[1] && globRef(p[2:], s[1:])
		}
	}
	return len(s) > 0 && s[0] == p[0] && globRef(p[1:], s[1:])
}

func FuzzGlob(f *testing.F) {
	for _, c := range [][2]string{
		{"user:*", "user:1"}, {"h?llo", "hello"}, {"h[ae]llo", "hallo"}, {"h[^e]llo", "hello"},
		{"h[a-b]llo", "hbllo"}, {"\\*", "*"}, {"*a*a*a*b", "aaaaaaaaaaaaaaaa"}, {"[", "["}, {"a\\", "a\\"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 12 || len(s) > 16 {
			return
		}
		if got, want := globMatch([]byte(p), s), globRef([]byte(p), []byte(s)); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, reference says %v", p, s, got, want)
		}
	})
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"a*", "a", true}, {"a*b", "ab", true},
		{"a*b", "axxb", true}, {"a*b", "axxc", false}, {"?", "", false}, {"[abc]", "b", true},
		{"[a-c]", "d", false}, {"[c-a]", "b", true}, {"[^a]", "a", false}, {"\\?", "?", true},
		{"\\?", "a", false}, {"user:[0-9]*", "user:1x", true}, {"*a*a*a*a*a*b", strings.Repeat("a", 40), false},
	} {
		if got := globMatch([]byte(tc.p), tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "+1", " 1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt([]byte(s))
		ref, err := strconv.ParseInt(s, 10, 64)
		// string2ll rules: strconv's, minus '+', leading zeros and "-0".
		refOK := err == nil && !strings.HasPrefix(s, "+") && (s == "0" || !strings.HasPrefix(strings.TrimPrefix(s, "-"), "0"))
		if ok != refOK || (ok && got != ref) {
			t.Fatalf("parseInt(%q) = %d,%v; want %d,%v", s, got, ok, ref, refOK)
		}
	})
}

func FuzzParseUID(f *testing.F) {
	for _, s := range []string{"0", "007", "18446744073709551615", "18446744073709551616", "-1", "+1", "", "1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUID([]byte(s))
		ref, err := strconv.ParseUint(s, 10, 64)
		refOK := err == nil && !strings.HasPrefix(s, "+")
		if ok != refOK || (ok && got != ref) {
			t.Fatalf("parseUID(%q) = %d,%v; want %d,%v", s, got, ok, ref, refOK)
		}
	})
}
