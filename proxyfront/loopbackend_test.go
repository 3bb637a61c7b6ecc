//go:build linux

package proxyfront_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/proxyfront"
)

// Tests of io_model eventloop-backends, where the event loops read and
// write the backend connections their clients dial (loopbackend_linux.go).
// Each client here starts on a loop, so the connection it dials is the
// loop's.

// startLoopBackendsProxy starts a proxy on c under eventloop-backends,
// whatever RELCACHE_TEST_PROXY_IO_MODEL says.
func startLoopBackendsProxy(t *testing.T, c proxyConfig) *relcachetest.Proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.toml")
	c.write(t, path)
	p := relcachetest.StartProxy(t, path, "--io-model", proxyfront.IOEventLoopBackends)
	stopAtEnd(t, p)
	return p
}

// scriptedGets is a scriptedNode answering GET k with "v:k", or with
// what special says for k (and then does what it says), and anything else
// with +OK.
func scriptedGets(t *testing.T, special map[string]string, next then) string {
	return scriptedNode(t, func(args []string) (string, then) {
		if strings.ToUpper(args[0]) != "GET" {
			return "+OK\r\n", goOn
		}
		if out, ok := special[args[1]]; ok {
			return out, next
		}
		return bulk("v:" + args[1]), goOn
	})
}

// oneNodePool is a pool of one node at addr named name, which a client
// reaches over one connection and which is not ejected.
func oneNodePool(addr, name, timeout string) proxyConfig {
	return proxyConfig{Pools: []poolConfig{{Name: "dc1", Role: "primary",
		Servers: []string{addr + ":1 " + name}, Timeout: timeout, ServerConnections: 1,
		ServerFailureLimit: 100, ServerRetryTimeout: "30s"}}}
}

// A node that sends half a reply and then nothing while the loop reads its
// connection: the call fails at the pool's timeout (the loop's reads count
// as the watchdog's readProgress), and the next command gets a new
// connection and its own reply, not the rest of the stalled one.
func TestLoopBackendNodeStallsMidReply(t *testing.T) {
	// Half the bulk of 10 bytes, then silence.
	addr := scriptedGets(t, map[string]string{"stall": "$10\r\nhal"}, stall)
	px := startLoopBackendsProxy(t, oneNodePool(addr, "stall", "300ms"))
	c := dial(t, px.Addr)
	if got := string(c.must(t, "GET", "a")); got != bulk("v:a") {
		t.Fatalf("GET a = %q", got)
	}
	// The stalled reply's call is followed by another on the same
	// connection, in one pipeline: both fail, in order.
	c.send("GET", "stall")
	c.send("GET", "b")
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stall", "b"} {
		got, err := c.read()
		if err != nil || !strings.HasPrefix(string(got), backendErr("stall")) || !strings.Contains(string(got), "timed out after 300ms") {
			t.Fatalf("GET %s behind a reply stalled halfway: %q, %v; want %q... timed out", k, got, err, backendErr("stall"))
		}
	}
	for i := range 5 {
		k := "after" + strconv.Itoa(i)
		if got := string(c.must(t, "GET", k)); got != bulk("v:"+k) {
			t.Fatalf("GET %s after the stalled connection failed: %q, want %q", k, got, bulk("v:"+k))
		}
	}
}

// A node that dies with calls in flight while the loop reads its
// connection: each of them fails (the loop reads the end of the stream),
// none gets another's reply, and the next command dials again.
func TestLoopBackendNodeKilled(t *testing.T) {
	addr := scriptedGets(t, map[string]string{"die": ""}, hangUp)
	px := startLoopBackendsProxy(t, oneNodePool(addr, "mortal", "5s"))
	c := dial(t, px.Addr)
	for round := range 3 {
		c.send("GET", "a")
		c.send("GET", "die")
		c.send("GET", "b")
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		if got, err := c.read(); err != nil || string(got) != bulk("v:a") {
			t.Fatalf("round %d: GET a before the node died: %q, %v", round, got, err)
		}
		for _, k := range []string{"die", "b"} {
			got, err := c.read()
			if err != nil || !strings.HasPrefix(string(got), backendErr("mortal")) || !strings.Contains(string(got), "connection lost") {
				t.Fatalf("round %d: GET %s in flight when the node died: %q, %v; want %q... connection lost", round, k, got, err, backendErr("mortal"))
			}
		}
		if got := string(c.must(t, "GET", "c")); got != bulk("v:c") {
			t.Fatalf("round %d: GET c on a new connection: %q", round, got)
		}
	}
}

// Replies larger than the loop's read buffer (16 KiB at first) come in
// many reads across turns, between small ones, whole and in order; so do
// many small replies that one read brings in at once.
func TestLoopBackendBigReplies(t *testing.T) {
	cl := startCluster(t, 1, "node")
	px := startLoopBackendsProxy(t, onePool(cl))
	c := dial(t, px.Addr)
	big := map[string]string{}
	for i, n := range []int{16 << 10, 16<<10 + 1, 100 << 10, 3 << 20} {
		k := "big" + strconv.Itoa(i)
		v := strings.Repeat(strconv.Itoa(i%10), n-7) + "the-end"
		big[k] = v
		if got := string(c.must(t, "SET", k, v)); got != "+OK\r\n" {
			t.Fatalf("SET %s: %q", k, got)
		}
	}
	c.must(t, "SET", "small", "s")
	var want []string
	for range 3 {
		for i := range 4 {
			k := "big" + strconv.Itoa(i)
			c.send("GET", k)
			c.send("GET", "small")
			want = append(want, bulk(big[k]), bulk("s"))
		}
		for range 200 {
			c.send("GET", "small")
			want = append(want, bulk("s"))
		}
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got, err := c.read()
		if err != nil || string(got) != w {
			t.Fatalf("reply %d: %d bytes (%v), want %d bytes", i, len(got), err, len(w))
		}
	}
}
