package server

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// newTestServer is an in-process server for the fuzz targets: no listener,
// commands go straight through dispatch.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	cfg := Defaults()
	cfg.ProtoMaxBulkLen, cfg.ClientOutputBufferLimit = 1<<20, 1<<20
	cfg.Dir = t.TempDir() // a fuzzed SAVE must not write into the source tree
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
// input may panic, and every command but SHUTDOWN must produce exactly one
// reply that a strict RESP parser takes apart, every aggregate holding the
// elements its header declares (issue 14).
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
		"acl\x00setuser\x00u\x00on\x00%R~a*\x00+@read", "acl\x00getuser\x00u", "acl\x00log\x002",
		"acl\x00dryrun\x00u\x00set\x00a\x00b", "auth\x00u\x00pw",
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
		if name == "shutdown" {
			return
		}
		if pubsubReplies(parts[0]) {
			for rest := c.out; len(rest) > 0; {
				_, n, err := resp.Decode(rest)
				if err != nil {
					t.Fatalf("%q: not well-formed replies: %v", parts, err)
				}
				rest = rest[n:]
			}
			return
		}
		if _, err := resp.DecodeAll(c.out, 1); err != nil {
			t.Fatalf("%q: not one well-formed reply: %v", parts, err)
		}
	})
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
