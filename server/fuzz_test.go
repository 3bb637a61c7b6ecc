package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"
)

// newTestServer is an in-process server for the fuzz targets: no listener,
// commands go straight through dispatch.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	s, err := New(Config{ProtoMaxBulkLen: 1 << 20, ClientOutputBufferLimit: 1 << 20}, zap.NewNop())
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
		s.dispatch(c, parts)
		name := strings.ToLower(string(parts[0]))
		if len(c.out) == 0 && name != "shutdown" {
			t.Fatalf("%q produced no reply", parts)
		}
	})
}

// FuzzProtoGuard feeds random bytes through the guard and redcon's reader:
// nothing panics, and no command the reader returns breaks the limits.
func FuzzProtoGuard(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$300\r\n", "*999\r\n", "PING\r\n",
		"*1\r\n$-1\r\n", "*0\r\n", "\"unterminated\r\n", "*1\r\n$0\r\n\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
	} {
		f.Add([]byte(s), uint8(1))
	}
	const maxBulk, maxMulti = 64, 4
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var src io.Reader = bytes.NewReader(data)
		if chunk%2 == 1 {
			src = iotest.OneByteReader(src)
		}
		g := &protoGuard{r: src, limits: func() guardLimits {
			return guardLimits{maxBulk: maxBulk, maxMultibulk: maxMulti}
		}}
		rd := redcon.NewReader(g)
		for range 1000 {
			cmds, err := rd.ReadCommands()
			if err != nil {
				return
			}
			for _, cmd := range cmds {
				// redcon gives inline commands a RESP Raw too; a command
				// whose RESP form is not in the input came inline, where
				// only the 64 KiB line limit applies.
				resp := bytes.Contains(data, cmd.Raw)
				if resp && len(cmd.Args) > maxMulti {
					t.Fatalf("command with %d args passed a limit of %d", len(cmd.Args), maxMulti)
				}
				for _, a := range cmd.Args {
					if (resp && len(a) > maxBulk) || len(a) > maxInline {
						t.Fatalf("argument of %d bytes passed the limits (resp=%v)", len(a), resp)
					}
				}
			}
		}
	})
}

// TestProtoGuardPassesValidStreams checks the guard lets well-formed
// pipelines through unchanged whatever the read sizes are.
func TestProtoGuardPassesValidStreams(t *testing.T) {
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
	stream = append(stream, "PING inline\r\n"...)
	want = append(want, []string{"PING", "inline"})
	for _, one := range []bool{false, true} {
		var src io.Reader = bytes.NewReader(stream)
		if one {
			src = iotest.OneByteReader(src)
		}
		g := &protoGuard{r: src, limits: func() guardLimits { return guardLimits{maxBulk: 4096, maxMultibulk: 3} }}
		rd := redcon.NewReader(g)
		var got [][]string
		for {
			cmds, err := rd.ReadCommands()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("one-byte=%v: %v", one, err)
				}
				break
			}
			for _, c := range cmds {
				var args []string
				for _, a := range c.Args {
					args = append(args, string(a))
				}
				got = append(got, args)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("one-byte=%v: got %d commands, want %d", one, len(got), len(want))
		}
		for i := range want {
			if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
				t.Fatalf("command %d = %q, want %q", i, got[i], want[i])
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
