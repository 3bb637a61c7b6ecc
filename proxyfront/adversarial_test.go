package proxyfront_test

// The adversarial suite (issue 14): what a hostile client, or an unlucky
// one, can send or do to a node and to the proxy in front of it, loopback
// only, bounded in time. Every test here is named TestAdversarial*, and so
// are its siblings in other packages (server: the pathological KEYS and the
// kill -9 during a FOLLOW storm); `go test -run Adversarial ./...` runs the
// suite alone. The rule each test holds: nobody crashes, every byte on the
// wire parses as whole replies, and other clients see no error.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// extremes are numbers that break size arithmetic when trusted.
var extremes = []string{
	"0", "-1", "1", "2147483647", "2147483648", "4294967295", "4294967296",
	"9007199254740993", "9223372036854775807", "-9223372036854775808",
	"9223372036854775808", "18446744073709551615", "18446744073709551616",
	"99999999999999999999999", "-99999999999999999999999", "+1", "01", "1e3", "0x10", " 1", "",
}

// verbs are commands whose arguments are sizes, offsets, counts or uids.
var verbs = []string{
	"GET", "SET", "SETRANGE", "GETRANGE", "APPEND", "INCRBY", "DECRBY", "INCR",
	"EXPIRE", "PEXPIRE", "EXPIREAT", "SET k v EX", "SET k v PX", "GETEX k EX",
	"SCAN", "SCAN 0 COUNT", "MGET", "DEL", "TTL", "STRLEN", "SUBSTR k 0",
	"RELCHECK", "RELMULTI 1.following", "RELMEMBERS 1.following NEWEST",
	"RELWHO 1", "RELCOMMON 1", "RELCARD", "RELLOAD 1.following", "RELADD 1.following",
	"HGET 1.following", "HMGET 1.following", "SMISMEMBER 1.following", "HRANDFIELD 1.following",
	"SLOWLOG GET", "CLIENT KILL ID", "SELECT", "OBJECT FREQ", "FOLLOW 1", "UNFOLLOW 1",
}

// fixedGarbage are hand-picked byte streams: lengths a reader must not
// trust, framing a reader must refuse, and commands with extreme integers.
func fixedGarbage() []string {
	out := []string{
		"*9223372036854775807\r\n",
		"*-9223372036854775808\r\n*1\r\n$4\r\nPING\r\n",
		"*1\r\n$9223372036854775807\r\n",
		"*1\r\n$-2\r\n",
		"*2\r\n$3\r\nGET\r\n$99999999999999999999\r\n",
		"*1\r\n$536870912\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n" + strings.Repeat("x", 100000),
		"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n",
		"*2\r\n:1\r\n:2\r\n",
		"$5\r\nhello\r\n",
		"**\r\n", "*\r\n", "$\r\n", "\r\n\r\n\r\n", "\x00\x00\x00\x00",
		strings.Repeat("*0\r\n", 1000) + "PING\r\n",
		"\"unterminated\r\n", "'a'b\r\n", strings.Repeat("a", 70*1024),
		strings.Repeat("*1\r\n$4\r\nPING\r\n", 5000),
		"*1\r\n$4\r\nPING", // no CRLF, then the client goes away
		"SET k " + strings.Repeat("v", 3000) + "\r\nSETRANGE k 9223372036854775807 x\r\nGET k\r\n",
		"MGET " + strings.Repeat("k ", 5000) + "\r\n",
		"RELCHECK 1 " + strings.Repeat("18446744073709551616 ", 100) + "\r\n",
	}
	for _, v := range verbs {
		for _, n := range extremes {
			arg := n
			if arg == "" || strings.ContainsAny(arg, " ") {
				arg = `"` + arg + `"`
			}
			out = append(out, fmt.Sprintf("%s k %s %s\r\n", v, arg, arg))
		}
	}
	return out
}

// randomGarbage is a seeded stream of RESP-looking tokens and bytes.
func randomGarbage(rng *rand.Rand) string {
	var b strings.Builder
	for range 1 + rng.IntN(40) {
		switch rng.IntN(8) {
		case 0:
			fmt.Fprintf(&b, "*%s\r\n", extremes[rng.IntN(len(extremes))])
		case 1:
			fmt.Fprintf(&b, "$%s\r\n", extremes[rng.IntN(len(extremes))])
		case 2:
			fmt.Fprintf(&b, "*%d\r\n", rng.IntN(4))
		case 3:
			s := verbs[rng.IntN(len(verbs))]
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(s), s)
		case 4:
			b.WriteString(verbs[rng.IntN(len(verbs))] + " " + extremes[rng.IntN(len(extremes))] + "\r\n")
		case 5:
			for range rng.IntN(32) {
				b.WriteByte(byte(rng.IntN(256)))
			}
		case 6:
			b.WriteString("\r\n")
		default:
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", rng.IntN(8), strings.Repeat("z", rng.IntN(8)))
		}
	}
	return b.String()
}

// throw sends garbage on a fresh connection, closes the write side, and
// reads everything that comes back: it must parse as whole replies up to
// the close. It returns a description of what was wrong, or "".
func throw(addr, garbage string) string {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	// Written concurrently: the server may answer, or close, before it has
	// read everything, and a full socket must not block the reading.
	go func() {
		nc.Write([]byte(garbage))
		nc.(*net.TCPConn).CloseWrite()
	}()
	rd := bufio.NewReaderSize(nc, 64<<10)
	var got []byte
	for replies := 0; ; replies++ {
		if _, err := rd.Peek(1); err != nil {
			if errors.Is(err, io.EOF) || isReset(err) {
				return "" // closed between replies: fine
			}
			return fmt.Sprintf("after %d whole replies: %v", replies, err)
		}
		start := len(got)
		if got, err = readReply(rd, got); err != nil {
			return fmt.Sprintf("reply %d is not a whole reply (%v): %q", replies, err, trim(got[start:]))
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func trim(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// answersPing checks that addr still answers PING at once.
func answersPing(t *testing.T, addr, after string) {
	t.Helper()
	c, err := dialRESP(addr)
	if err != nil {
		t.Fatalf("after %s: dial: %v", after, err)
	}
	defer c.Close()
	c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if raw, err := c.do("PING"); err != nil || string(raw) != "+PONG\r\n" {
		t.Fatalf("after %s: PING: %q %v", after, raw, err)
	}
}

// TestAdversarialGarbage throws fixed and random garbage at a node and at a
// proxy in front of two nodes: no process dies or logs a panic, every reply
// is whole, and both answer PING after each stream.
func TestAdversarialGarbage(t *testing.T) {
	cl := startCluster(t, 2, "n", "--source", "none")
	proxy, _ := startProxy(t, onePool(cl))
	cases := fixedGarbage()
	rng := rand.New(rand.NewPCG(14, 14))
	for range 150 {
		cases = append(cases, randomGarbage(rng))
	}
	for _, target := range []struct {
		name string
		p    *relcachetest.Proc
	}{{"node", cl.procs[0]}, {"proxy", proxy}} {
		t.Run(target.name, func(t *testing.T) {
			for i, g := range cases {
				if msg := throw(target.p.Addr, g); msg != "" {
					t.Fatalf("case %d %q: %s", i, trim([]byte(g)), msg)
				}
				if i%50 == 0 || i == len(cases)-1 {
					answersPing(t, target.p.Addr, fmt.Sprintf("case %d", i))
				}
			}
		})
	}
	for _, p := range append([]*relcachetest.Proc{proxy}, cl.procs...) {
		if p.HasLog("panic") {
			t.Fatalf("a process logged a panic:\n%s", p.Logs())
		}
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "%d garbage streams per target\n", len(cases))
	}
}

// TestAdversarialQueryBufferLimitProxy: an unfinished command past
// client_query_buffer_limit closes that client, without a reply, as Redis
// does, and other clients go on.
func TestAdversarialQueryBufferLimitProxy(t *testing.T) {
	cl := startCluster(t, 1, "n", "--source", "none")
	cfg := onePool(cl)
	cfg.Extra = "client_query_buffer_limit = 1048576\n"
	proxy, _ := startProxy(t, cfg)
	nc, err := net.Dial("tcp", proxy.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		fmt.Fprintf(nc, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
		nc.Write(make([]byte, 3<<20))
	}()
	if b, err := io.ReadAll(nc); len(b) != 0 || (err != nil && !isReset(err)) {
		t.Fatalf("want the connection closed without a reply; got %q, %v", b, err)
	}
	c := dial(t, proxy.Addr)
	info := string(c.must(t, "INFO", "stats"))
	if !strings.Contains(info, "client_query_buffer_limit_disconnections:1\r\n") {
		t.Fatalf("INFO stats:\n%s", info)
	}
	if raw := c.must(t, "SET", "k", strings.Repeat("v", 900<<10)); string(raw) != "+OK\r\n" {
		t.Fatalf("SET under the limit: %q", raw)
	}
}
