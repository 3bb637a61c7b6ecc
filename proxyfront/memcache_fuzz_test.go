package proxyfront

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// mcLine matches every line the memcache entry may answer with.
var mcLine = regexp.MustCompile(`^(ERROR|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|END|OK|VERSION .*|VALUE \S+ [0-9]+ [0-9]+( [0-9]+)?|[0-9]+|CLIENT_ERROR .+|SERVER_ERROR .+)$`)

// FuzzMemcacheConn feeds client bytes to a memcache connection of a proxy
// whose only node refuses connections, so every command that reaches a
// node fails: the framing (lines, data blocks, swallowed values, line
// limits), the parser and the error paths run on whatever arrives. The
// connection must never panic, and must answer only whole memcache lines.
func FuzzMemcacheConn(f *testing.F) {
	for _, s := range []string{
		"get a b\r\n", "set a 0 0 3\r\nabc\r\n", "set a 0 0 3\r\nabcde\r\nget a\r\n",
		"cas a 0 0 1 5\r\nx\r\n", "incr a 1\r\ndecr a 1 noreply\r\n", "gat 5 a b\r\ntouch a -1\r\n",
		"set a 0 0 2000\r\n", "version\r\nverbosity 1\r\nflush_all\r\nquit\r\nget a\r\n",
		"append a 0 0 1 noreply\r\nz\r\n", "delete a 0 noreply\r\n", strings.Repeat("x", 3000),
	} {
		f.Add([]byte(s))
	}
	core, logs := observer.New(zap.ErrorLevel)
	cfg := &Config{Listen: "127.0.0.1:0", Admin: "-", MemcacheListen: "127.0.0.1:0", MemcacheItemSizeMax: 1024,
		Pools: []Pool{{Name: "dc1", Role: "primary", Servers: []string{"127.0.0.1:1:1"},
			Timeout: Duration{time.Second}, DialTimeout: Duration{100 * time.Millisecond}}}}
	p, err := New(cfg, "fuzz", zap.New(core))
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer ln.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		cc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			p.newMcConn(sc, 1).serve()
			close(done)
		}()
		go func() {
			cc.Write(in)
			cc.(*net.TCPConn).CloseWrite()
		}()
		cc.SetReadDeadline(time.Now().Add(30 * time.Second))
		rd := bufio.NewReader(cc)
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				if l != "" && err == io.EOF {
					t.Fatalf("a partial line %q", l)
				}
				break
			}
			line := strings.TrimSuffix(l, "\r\n")
			if !mcLine.MatchString(line) || len(line)+2 != len(l) {
				t.Fatalf("reply line %q to %q", l, in)
			}
			if m := regexp.MustCompile(`^VALUE \S+ [0-9]+ ([0-9]+)`).FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				io.CopyN(io.Discard, rd, int64(n+2))
			}
		}
		cc.Close()
		<-done
		if logs.Len() > 0 {
			t.Fatalf("logged %v for %q", logs.TakeAll()[0].Message, in)
		}
	})
}
