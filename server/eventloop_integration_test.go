//go:build linux

package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
)

// connectionBehaviours are the connection-level tests, which run again
// under each io-model: the tests start their servers through
// relcachetest.Start, which passes RELCACHE_TEST_IO_MODEL on as
// --io-model. (The whole package runs the same way with
// RELCACHE_TEST_IO_MODEL=goroutine go test ./server/.)
func connectionBehaviours() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"pipelining":                TestPipelineAnsweredInOrderInOneWrite,
		"resp2 and resp3":           TestGoRedisRESP2AndRESP3,
		"protocol limits":           TestProtocolLimitsAndGarbage,
		"adversarial bulk headers":  TestAdversarialBulkHeaders,
		"output buffer limit":       TestClientOutputBufferLimit,
		"query buffer limit":        TestClientQueryBufferLimit,
		"idle timeout":              TestIdleTimeout,
		"timeout reaches clients":   TestTimeoutReachesExistingClients,
		"stalled writer":            TestStalledWriterReleasedByTimeout,
		"client commands and kill":  TestClientCommands,
		"max clients":               TestMaxClients,
		"auth":                      TestAuth,
		"exec is atomic":            TestExecIsAtomic,
		"watch across clients":      TestWatchAcrossClients,
		"transaction fills":         TestTransactionFillsFromTheSource,
		"lazy fill":                 TestLazyFillMatchesTheSource,
		"tracking lazy fill":        TestTrackingLazyFill,
		"pushes to a slow reader":   TestPushesToAClientThatStopsReading,
		"tracking never stale":      TestTrackingCacheNeverStale,
		"pushes against redis":      TestPushScenariosAgainstRedis,
		"rueidis client-side cache": TestRueidisClientSideCache,
		"graceful shutdown":         TestGracefulShutdown,
		"shutdown command":          TestShutdownCommand,
	}
}

// The connection-level behaviours under io-model eventloop, Linux's
// default: the package's own run already covers them there, so this
// reruns them only when RELCACHE_TEST_IO_MODEL runs the package under
// the other model.
func TestEventLoopConnectionBehaviours(t *testing.T) {
	runConnectionBehaviours(t, "eventloop")
}

// The same under io-model goroutine, the model TLS connections always
// take and a handed-over client runs, so that both stay covered.
func TestGoroutineConnectionBehaviours(t *testing.T) {
	runConnectionBehaviours(t, "goroutine")
}

func runConnectionBehaviours(t *testing.T, model string) {
	if pkg := os.Getenv("RELCACHE_TEST_IO_MODEL"); pkg == model || pkg == "" && model == "eventloop" {
		// Twice the same runs would only cost the package's time limit.
		t.Skipf("the whole package runs under io-model %s", model)
	}
	for name, fn := range connectionBehaviours() {
		t.Run(name, func(t *testing.T) {
			t.Setenv("RELCACHE_TEST_IO_MODEL", model)
			fn(t)
		})
	}
}

// Without --io-model a node on Linux serves its clients from event loops.
func TestIOModelDefaultIsEventLoopOnLinux(t *testing.T) {
	t.Setenv("RELCACHE_TEST_IO_MODEL", "")
	p := relcachetest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1})
	defer c.Close()
	got, err := c.ConfigGet(context.Background(), "io-model").Result()
	if err != nil || got["io-model"] != "eventloop" {
		t.Fatalf("CONFIG GET io-model = %v, %v; want eventloop", got, err)
	}
}

// A go-redis client's connection (HELLO 3, CLIENT SETINFO) and its GETs,
// SETs and pipelines stay on the loop; the first command the loop does
// not run hands the connection over, and what was pipelined behind it is
// answered, in order, by the connection's goroutine.
func TestEventLoopHandsOverOnlyWhatWaits(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop", "--log-level", "debug")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, Protocol: 3, MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, 1000)
	for i := range gets {
		gets[i] = pipe.Get(ctx, "k")
	}
	incr := pipe.Incr(ctx, "n")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, g := range gets {
		if v, err := g.Result(); v != "v" || err != nil {
			t.Fatalf("GET = %q, %v", v, err)
		}
	}
	if n, err := incr.Result(); n != 1 || err != nil {
		t.Fatalf("INCR = %d, %v", n, err)
	}

	// One write: a loop command, one the loop hands over, then more.
	nc, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const in = "GET k\r\nCONFIG GET io-model\r\nGET k\r\nINCR n\r\nPING\r\n"
	const want = "$1\r\nv\r\n*2\r\n$8\r\nio-model\r\n$9\r\neventloop\r\n$1\r\nv\r\n:2\r\n+PONG\r\n"
	if _, err := nc.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(bufio.NewReader(nc), got); err != nil || string(got) != want {
		t.Fatalf("replies = %q, %v; want %q", got, err, want)
	}
	if !p.WaitLog(`"why":"command config|get"`, 30*time.Second) {
		t.Fatalf("no hand-over logged:\n%s", p.Logs())
	}
	if n := strings.Count(p.Logs(), "handed over"); n != 1 {
		t.Fatalf("%d hand-overs logged, want 1 (the raw connection's CONFIG GET):\n%s", n, p.Logs())
	}
}
