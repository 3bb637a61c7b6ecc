//go:build linux

package proxyfront_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/proxyfront"
)

// The connection-level proxy tests, again under io_model eventloop: they
// start their proxies through relcachetest.StartProxy, which passes
// RELCACHE_TEST_PROXY_IO_MODEL on as --io-model. (The whole package runs
// the same way with RELCACHE_TEST_PROXY_IO_MODEL=eventloop go test
// ./proxyfront/.)
//
// Both loop io_models run them: eventloop, and eventloop-backends, whose
// loops also read and write the backend connections.
func TestEventLoopConnectionBehaviours(t *testing.T) {
	// os.Setenv, not t.Setenv: some of these run subtests in parallel.
	old, had := os.LookupEnv("RELCACHE_TEST_PROXY_IO_MODEL")
	t.Cleanup(func() {
		if had {
			os.Setenv("RELCACHE_TEST_PROXY_IO_MODEL", old)
		} else {
			os.Unsetenv("RELCACHE_TEST_PROXY_IO_MODEL")
		}
	})
	for _, model := range []string{proxyfront.IOEventLoop, proxyfront.IOEventLoopBackends} {
		t.Run(model, func(t *testing.T) {
			os.Setenv("RELCACHE_TEST_PROXY_IO_MODEL", model)
			eventLoopConnectionBehaviours(t)
		})
	}
}

func eventLoopConnectionBehaviours(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"pipelines and hand-overs", TestProxyPipelineOrderAcrossHandOver},
		{"idle timeout", TestProxyClientTimeout},
		{"half-closed client", TestProxyHalfClosedClientGetsItsReplies},
		{"matches one node", TestProxyMatchesOneNode},
		{"string family", TestProxyStringFamily},
		{"slow reader and output limit", TestAdversarialSlowReaderBehindProxy},
		{"big pipeline timeout", TestProxyBigPipelineTimeout},
		{"oversized reply", TestAdversarialOversizedReplyBehindProxy},
		{"garbage", TestAdversarialGarbage},
		{"query buffer limit", TestAdversarialQueryBufferLimitProxy},
		{"bad input", TestProxyBadInput},
		{"transactions", TestProxyTxMatchesOneNode},
		{"watch", TestProxyWatch},
		{"backend down and back", TestProxyBackendDownAndBack},
		{"replica pool failover", TestProxyReplicaPool},
		{"backend hangs", TestProxyBackendHangs},
		{"replica that stops reading", TestReplicaThatStopsReadingDoesNotHoldWrites},
		{"reload", TestProxyReload},
		{"l1 never stale", TestL1NeverStale},
	} {
		t.Run(tc.name, tc.fn)
	}
}

// A pipeline of single-key commands (which an event loop serves) with a
// MULTI ... EXEC, an MGET and a QUIT inside it (which hand the client over
// to a goroutine with commands still in flight) is answered in order, as
// the node answers it.
func TestProxyPipelineOrderAcrossHandOver(t *testing.T) {
	cl := startCluster(t, 3, "node")
	px, _ := startProxy(t, onePool(cl))
	for _, cut := range []int{0, 1, 50, 999} {
		t.Run(fmt.Sprint("cut at ", cut), func(t *testing.T) {
			c := dial(t, px.Addr)
			defer c.Close()
			var want []string
			for i := range 1000 {
				k := "k" + strconv.Itoa(i%37)
				if i == cut {
					c.send("MULTI")
					c.send("SET", "tx", strconv.Itoa(i))
					c.send("EXEC")
					c.send("MGET", "tx", k)
					want = append(want, "+OK\r\n", "+QUEUED\r\n", "*1\r\n+OK\r\n", "*2\r\n")
				}
				c.send("SET", k, strconv.Itoa(i))
				c.send("GET", k)
				want = append(want, "+OK\r\n", bulk(strconv.Itoa(i)))
			}
			c.send("PING")
			c.send("QUIT")
			want = append(want, "+PONG\r\n", "+OK\r\n")
			if err := c.flush(); err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				got, err := c.read()
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if !strings.HasPrefix(string(got), w) {
					t.Fatalf("reply %d = %q, want %q", i, got, w)
				}
			}
			if got, err := c.read(); err != io.EOF {
				t.Fatalf("after QUIT: %q, %v; want EOF", got, err)
			}
		})
	}
}

// client_timeout closes a client that sends nothing, and not one that
// keeps sending; a go-redis client's commands (HELLO, CLIENT SETINFO:
// handed over under the event loop) work either way.
func TestProxyClientTimeout(t *testing.T) {
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	conf.Extra = "client_timeout = \"1s\"\n"
	px, _ := startProxy(t, conf)
	idle := dial(t, px.Addr)
	defer idle.Close()
	idle.must(t, "SET", "k", "v")
	busy := dial(t, px.Addr)
	defer busy.Close()
	// The idle one is closed within the timeout and a sweep; the busy one,
	// which sends every 100 ms, outlives it.
	closed := make(chan error, 1)
	go func() {
		_, err := idle.read()
		closed <- err
	}()
	for {
		if got := string(busy.must(t, "GET", "k")); got != bulk("v") {
			t.Fatalf("GET = %q", got)
		}
		select {
		case err := <-closed:
			if err != io.EOF {
				t.Fatalf("idle client's read: %v, want EOF", err)
			}
			rc := redis.NewClient(&redis.Options{Addr: px.Addr, Protocol: 3, MaxRetries: -1})
			defer rc.Close()
			if v, err := rc.Get(t.Context(), "k").Result(); v != "v" || err != nil {
				t.Fatalf("go-redis GET = %q, %v", v, err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// A client that sends its pipeline and shuts its writing side (redis-cli
// < file, nc -q) gets every reply, then the proxy closes: the end of its
// input is not the end of what it is owed.
func TestProxyHalfClosedClientGetsItsReplies(t *testing.T) {
	cl := startCluster(t, 2, "node")
	px, _ := startProxy(t, onePool(cl))
	c := dial(t, px.Addr)
	defer c.Close()
	const n = 50 // 100 commands: under maxPending, so the loop keeps the client to the end
	for i := range n {
		c.send("SET", "h"+strconv.Itoa(i%13), strconv.Itoa(i))
		c.send("GET", "h"+strconv.Itoa(i%13))
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for _, want := range []string{"+OK\r\n", bulk(strconv.Itoa(i))} {
			got, err := c.read()
			if err != nil || string(got) != want {
				t.Fatalf("command %d: %q, %v; want %q", i, got, err, want)
			}
		}
	}
	if got, err := c.read(); err != io.EOF {
		t.Fatalf("after the replies: %q, %v; want EOF", got, err)
	}
}
