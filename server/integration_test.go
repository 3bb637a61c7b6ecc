package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
)

func client(t *testing.T, addr string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	// A minute's read timeout, not go-redis's 3 s: the tests check answers,
	// not speed, and under -race on a loaded 2-core host a pipelined load or
	// a command that fills hundreds of lists from the source has taken
	// longer than 3 s (two CI runs failed on "i/o timeout"). go test's
	// -timeout still catches a hang.
	o := &redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, ReadTimeout: time.Minute}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoRedisRESP2AndRESP3(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("resp", proto), func(t *testing.T) {
			c := client(t, p.Addr, func(o *redis.Options) { o.Protocol = proto })
			key := fmt.Sprint("k", proto)
			if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Get(ctx, key).Result(); err != nil || v != "v" {
				t.Fatalf("GET = %q, %v", v, err)
			}
			if _, err := c.Get(ctx, "missing").Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET missing: %v, want redis.Nil", err)
			}
			vals, err := c.MGet(ctx, key, "missing").Result()
			if err != nil || len(vals) != 2 || vals[0] != "v" || vals[1] != nil {
				t.Fatalf("MGET = %#v, %v", vals, err)
			}
			cfg, err := c.ConfigGet(ctx, "maxmemory*").Result()
			if err != nil || cfg["maxmemory-policy"] != "noeviction" {
				t.Fatalf("CONFIG GET = %v, %v", cfg, err)
			}
			ttl, err := c.TTL(ctx, key).Result()
			if err != nil || ttl <= 0 || ttl > time.Minute {
				t.Fatalf("TTL = %v, %v", ttl, err)
			}
			info, err := c.Info(ctx, "keyspace").Result()
			if err != nil || !strings.Contains(info, "db0:keys=") {
				t.Fatalf("INFO keyspace = %q, %v", info, err)
			}
			// Relation sets through the hash and set readers: a map and a
			// set in RESP3, flat arrays in RESP2.
			rk := fmt.Sprint(proto, ".following")
			if err := c.Do(ctx, "RELLOAD", rk, "TIMES", 7, 70, 8, 80).Err(); err != nil {
				t.Fatal(err)
			}
			all, err := c.HGetAll(ctx, rk).Result()
			if err != nil || len(all) != 2 || all["7"] != "70" || all["8"] != "80" {
				t.Fatalf("HGETALL = %v, %v", all, err)
			}
			members, err := c.SMembers(ctx, rk).Result()
			if err != nil || len(members) != 2 {
				t.Fatalf("SMEMBERS = %v, %v", members, err)
			}
		})
	}
}

// TestPipelineAnsweredInOrderInOneWrite sends 1000 commands in one write and
// checks the replies come back in order, and that they arrive as one
// response (a single read gets them all when they fit one flush).
func TestPipelineAnsweredInOrderInOneWrite(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	pipe := c.Pipeline()
	const n = 1000
	for i := range n {
		pipe.Set(ctx, fmt.Sprint("p", i), i, 0)
		pipe.Incr(ctx, fmt.Sprint("p", i))
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := cmds[2*i+1].(*redis.IntCmd).Val(); got != int64(i+1) {
			t.Fatalf("reply %d = %d, want %d", i, got, i+1)
		}
	}

	// Raw: 50 PINGs in one packet must come back in a single read.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Repeat("*1\r\n$4\r\nPING\r\n", 50))); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("+PONG\r\n", 50)
	buf := make([]byte, len(want)+100)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := conn.Read(buf)
	if err != nil || string(buf[:m]) != want {
		t.Fatalf("one read got %d bytes %q, %v; want all 50 PONGs", m, buf[:m], err)
	}
}

func TestWrongTypeAndArity(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	if err := c.Do(ctx, "get").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'get' command" {
		t.Fatalf("GET without key: %v", err)
	}
	if err := c.Do(ctx, "FOO", "x").Err(); err == nil || err.Error() != "ERR unknown command 'FOO', with args beginning with: 'x' " {
		t.Fatalf("unknown command: %v", err)
	}
	c.Set(ctx, "n", "abc", 0)
	if err := c.Incr(ctx, "n").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("INCR on text: %v", err)
	}
}

func TestAuth(t *testing.T) {
	p := relcachetest.Start(t, "--requirepass", "s3cret")
	ctx := context.Background()
	anon := client(t, p.Addr)
	if err := anon.Get(ctx, "k").Err(); err == nil || err.Error() != "NOAUTH Authentication required." {
		t.Fatalf("GET before AUTH: %v", err)
	}
	if err := anon.Do(ctx, "AUTH", "wrong").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("AUTH wrong: %v", err)
	}
	good := client(t, p.Addr, func(o *redis.Options) { o.Password = "s3cret" })
	if err := good.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET after AUTH: %v", err)
	}
	resp3 := client(t, p.Addr, func(o *redis.Options) { o.Password = "s3cret"; o.Protocol = 3 })
	if v, err := resp3.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("HELLO 3 AUTH then GET: %q %v", v, err)
	}

	// Before AUTH a client may not make the server buffer much: Redis's
	// unauthenticated limits apply.
	conn, rd := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "*100\r\n")
	if line := readLine(t, rd); line != "-ERR Protocol error: unauthenticated multibulk length" {
		t.Fatalf("unauthenticated *100: %q", line)
	}
	conn, rd = rawConn(t, p.Addr)
	fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$100000\r\n")
	if line := readLine(t, rd); line != "-ERR Protocol error: unauthenticated bulk length" {
		t.Fatalf("unauthenticated big bulk: %q", line)
	}
}

func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn, bufio.NewReader(conn)
}

func readLine(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// expectClosed checks that the server closed the connection.
func expectClosed(t *testing.T, rd *bufio.Reader) {
	t.Helper()
	if b, err := rd.ReadByte(); err == nil {
		t.Fatalf("connection still open: read %q", b)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestMaxClients(t *testing.T) {
	p := relcachetest.Start(t, "--maxclients", "2")
	ctx := context.Background()
	var held []*redis.Client
	for range 2 {
		c := client(t, p.Addr, func(o *redis.Options) { o.PoolSize = 1 })
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	conn, rd := rawConn(t, p.Addr)
	_ = conn
	if line := readLine(t, rd); line != "-ERR max number of clients reached" {
		t.Fatalf("third client got %q", line)
	}
	expectClosed(t, rd)
	// Freeing a slot lets the next client in.
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := client(t, p.Addr, func(o *redis.Options) { o.PoolSize = 1 })
		if err := c.Ping(ctx).Err(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no slot after a client left: %v", err)
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIdleTimeout(t *testing.T) {
	p := relcachetest.Start(t, "--timeout", "1")
	conn, rd := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "PING\r\n")
	if line := readLine(t, rd); line != "+PONG" {
		t.Fatalf("PING: %q", line)
	}
	// Idle for longer than the timeout: the server closes us.
	expectClosed(t, rd)
}

func TestProtocolLimitsAndGarbage(t *testing.T) {
	p := relcachetest.Start(t, "--proto-max-bulk-len", "1mb", "--proto-max-multibulk-len", "100")
	for _, tc := range []struct {
		name, send, want string
	}{
		{"bulk over proto-max-bulk-len", "*2\r\n$3\r\nGET\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length"},
		{"too many arguments", "*101\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"bulk length not a number", "*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length"},
		{"missing $", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'"},
		{"empty and negative multibulk are skipped, as Redis does", "*-5\r\n*0\r\nPING\r\n*x\r\n", "+PONG"},
		{"inline too big", strings.Repeat("a", 70*1024), "-ERR Protocol error: too big inline request"},
		{"unbalanced quotes", "SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request"},
		{"commands before the bad one are answered", "*1\r\n$4\r\nPING\r\n*1\r\n$99999999\r\n", "+PONG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, rd := rawConn(t, p.Addr)
			if _, err := conn.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if line := readLine(t, rd); line != tc.want {
				t.Fatalf("got %q, want %q", line, tc.want)
			}
			if tc.want == "+PONG" {
				if line := readLine(t, rd); !strings.HasPrefix(line, "-ERR Protocol error: invalid") {
					t.Fatalf("then got %q", line)
				}
			}
			expectClosed(t, rd)
		})
	}
	t.Run("random garbage and half commands leave the server healthy", func(t *testing.T) {
		junk := [][]byte{
			{0, 1, 2, 255, 254, '\r', '\n'},
			[]byte("*3\r\n$3\r\nSET\r\n$1\r\na"), // half a command, then hang up
			[]byte("$$$$****\r\n\r\n"),
			[]byte("*1\r\n$4\r\nPINGxx"),
		}
		for _, j := range junk {
			conn, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			conn.Write(j)
			conn.Close()
		}
		// A client that disconnects in the middle of a large reply.
		c := client(t, p.Addr)
		ctx := context.Background()
		if err := c.Set(ctx, "big", strings.Repeat("x", 512*1024), 0).Err(); err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 20)))
		conn.Close()
		if v, err := c.Ping(ctx).Result(); err != nil || v != "PONG" {
			t.Fatalf("healthy client after garbage: %q %v", v, err)
		}
		if p.HasLog("panic") {
			t.Fatalf("server logged a panic:\n%s", p.Logs())
		}
	})
}

func TestClientOutputBufferLimit(t *testing.T) {
	p := relcachetest.Start(t, "--client-output-buffer-limit", "1mb")
	ctx := context.Background()
	c := client(t, p.Addr)
	for i := range 20 {
		c.Set(ctx, fmt.Sprint("big", i), strings.Repeat("x", 100*1024), 0)
	}
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprint("big", i)
	}
	// One MGET reply of 2 MB is over the 1 MB limit: the client is closed.
	if err := c.MGet(ctx, keys...).Err(); err == nil {
		t.Fatal("2 MB MGET reply went through a 1 MB output limit")
	}
	if v, err := c.Get(ctx, "big0").Result(); err != nil || len(v) != 100*1024 {
		t.Fatalf("small reply after the limit: %d bytes, %v", len(v), err)
	}

	// A connection marked CLIENT PROXY ON (a proxy's, shared by many
	// clients) is not closed: that one reply becomes an error, in its
	// place, and the replies around it in the same pipeline are intact.
	c.Set(ctx, "small", "s", 0)
	conn, rd := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "CLIENT PROXY maybe\r\nCLIENT PROXY\r\nCLIENT PROXY ON\r\nGET small\r\nMGET %s\r\nGET small\r\nPING\r\n", strings.Join(keys, " "))
	mgetReply := 5 + 20*(len("$102400\r\n")+100*1024+2)
	for _, want := range []string{
		"-ERR syntax error",
		"-ERR wrong number of arguments for 'client|proxy' command",
		"+OK", "$1", "s",
		fmt.Sprintf("-ERR reply of %d bytes exceeds client-output-buffer-limit (1048576 bytes)", mgetReply),
		"$1", "s", "+PONG",
	} {
		if line := readLine(t, rd); line != want {
			t.Fatalf("pipeline on a CLIENT PROXY connection: %q, want %q", line, want)
		}
	}
	info, err := c.Info(ctx, "stats").Result()
	if err != nil || !strings.Contains(info, "client_output_buffer_limit_disconnections:1\r\n") ||
		!strings.Contains(info, "client_output_buffer_limit_error_replies:1\r\n") {
		t.Errorf("INFO stats after one close and one error reply: %v\n%s", err, info)
	}
}

func TestClientCommands(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	victim, rd := rawConn(t, p.Addr)
	fmt.Fprintf(victim, "CLIENT SETNAME alpha\r\nCLIENT ID\r\n")
	if line := readLine(t, rd); line != "+OK" {
		t.Fatalf("CLIENT SETNAME: %q", line)
	}
	idA := strings.TrimPrefix(readLine(t, rd), ":")
	b := client(t, p.Addr, func(o *redis.Options) { o.PoolSize = 1 })
	list, err := b.ClientList(ctx).Result()
	if err != nil || !strings.Contains(list, "id="+idA+" ") || !strings.Contains(list, "name=alpha") {
		t.Fatalf("CLIENT LIST = %q, %v", list, err)
	}
	info, err := b.ClientInfo(ctx).Result()
	if err != nil || info.Name != "" || info.LastCmd != "client|info" { // the subcommand, as Redis 7 names it
		t.Fatalf("CLIENT INFO = %+v, %v", info, err)
	}
	n, err := b.ClientKillByFilter(ctx, "ID", idA).Result()
	if err != nil || n != 1 {
		t.Fatalf("CLIENT KILL ID = %d, %v", n, err)
	}
	expectClosed(t, rd)
	// The killed connection leaves the list when its goroutine has wound
	// down, which may be just after the socket closed.
	list = ""
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if list, _ = b.ClientList(ctx).Result(); !strings.Contains(list, "id="+idA+" ") {
			break
		}
	}
	if strings.Contains(list, "id="+idA+" ") {
		t.Fatalf("killed client still listed after 5s: %q", list)
	}
}

// TestActiveExpiry checks keys nobody reads are removed by the background
// cycle: DBSIZE counts them until then.
func TestActiveExpiry(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	for i := range 500 {
		c.Set(ctx, fmt.Sprint("t", i), "v", 100*time.Millisecond)
	}
	c.Set(ctx, "keep", "v", 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE still %d 10s after all TTLs passed", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, _ := c.Info(ctx, "stats").Result()
	if !strings.Contains(info, "expired_keys:500") {
		t.Fatalf("INFO stats does not count 500 expired keys:\n%s", info)
	}
}

func TestMaxmemoryThroughTheServer(t *testing.T) {
	ctx := context.Background()
	t.Run("noeviction refuses writes with Redis's OOM error", func(t *testing.T) {
		p := relcachetest.Start(t, "--maxmemory", "100kb")
		c := client(t, p.Addr)
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			err = c.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 1000), 0).Err()
		}
		if err == nil || err.Error() != "OOM command not allowed when used memory > 'maxmemory'." {
			t.Fatalf("want OOM, got %v", err)
		}
		// Reads and deletes still work.
		if err := c.Get(ctx, "k0").Err(); err != nil {
			t.Fatalf("GET under OOM: %v", err)
		}
		if err := c.Del(ctx, "k0").Err(); err != nil {
			t.Fatalf("DEL under OOM: %v", err)
		}
	})
	t.Run("allkeys-lru evicts and keeps the limit", func(t *testing.T) {
		p := relcachetest.Start(t, "--maxmemory", "100kb", "--maxmemory-policy", "allkeys-lru")
		c := client(t, p.Addr)
		for i := range 1000 {
			if err := c.Set(ctx, fmt.Sprint("k", i), strings.Repeat("x", 1000), 0).Err(); err != nil {
				t.Fatalf("SET %d: %v", i, err)
			}
		}
		info, _ := c.Info(ctx, "memory", "stats").Result()
		used := infoInt(t, info, "used_memory")
		if used > 100*1024+2000 {
			t.Fatalf("used_memory %d over maxmemory", used)
		}
		if ev := infoInt(t, info, "evicted_keys"); ev < 800 {
			t.Fatalf("evicted_keys %d, want ≥ 800", ev)
		}
	})
}

func infoInt(t *testing.T, info, field string) int64 {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s = %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("INFO has no %s:\n%s", field, info)
	return 0
}

func TestInfoSections(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	c.Set(ctx, "a", "1", time.Hour)
	info, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server", "# Clients", "# Memory", "# Stats", "# Keyspace",
		"redis_version:", "tcp_port:", "connected_clients:", "used_memory:", "maxmemory_policy:noeviction",
		"total_commands_processed:", "keyspace_hits:", "db0:keys=1,expires=1", "go_gc_pause_total_us:"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	cs, _ := c.Info(ctx, "commandstats").Result()
	if !strings.Contains(cs, "cmdstat_set:calls=1,usec=") || strings.Contains(cs, "# Server") {
		t.Fatalf("INFO commandstats:\n%s", cs)
	}
	only, _ := c.Info(ctx, "clients").Result()
	if strings.Contains(only, "# Server") || !strings.Contains(only, "# Clients") {
		t.Fatalf("INFO clients returned other sections:\n%s", only)
	}
}

func TestAdminHTTP(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	c.Set(ctx, "a", "1", 0)
	c.Get(ctx, "a")
	c.Do(ctx, "NOPE")
	get := func(path string) string {
		resp, err := http.Get("http://" + p.AdminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return string(b)
	}
	if h := get("/healthz"); h != "ok\n" {
		t.Fatalf("/healthz = %q", h)
	}
	m := get("/metrics")
	for _, want := range []string{
		`relcache_command_duration_seconds_count{cmd="get"} 1`,
		`relcache_command_duration_seconds_count{cmd="set"} 1`,
		`relcache_error_replies_total{kind="ERR"} 1`,
		"relcache_keys 1", "relcache_connected_clients 1", "relcache_used_memory_bytes",
		"relcache_evicted_keys_total 0", "relcache_expired_keys_total 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(get("/debug/pprof/"), "goroutine") {
		t.Error("/debug/pprof/ does not list profiles")
	}
}

// TestGracefulShutdown: SIGTERM while a client has a pipeline in flight; the
// pipeline is answered in full and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	var wg sync.WaitGroup
	wg.Add(1)
	var pipeErr error
	var answered int
	go func() {
		defer wg.Done()
		pipe := c.Pipeline()
		for i := range 20000 {
			pipe.Set(ctx, fmt.Sprint("g", i), i, 0)
		}
		cmds, err := pipe.Exec(ctx)
		pipeErr = err
		for _, cmd := range cmds {
			if cmd.Err() == nil {
				answered++
			}
		}
	}()
	time.Sleep(5 * time.Millisecond)
	if err := p.Stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	wg.Wait()
	// Either the pipeline got in before the listener closed and was
	// answered completely, or it never got in at all: never half.
	if pipeErr == nil && answered != 20000 {
		t.Fatalf("pipeline half answered: %d of 20000", answered)
	}
	if !p.HasLog("shutting down") {
		t.Fatalf("no shutdown log:\n%s", p.Logs())
	}
}

func TestShutdownCommand(t *testing.T) {
	p := relcachetest.Start(t)
	conn, rd := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "SHUTDOWN NOSAVE\r\n")
	expectClosed(t, rd)
	if err := p.Wait(15 * time.Second); err != nil {
		t.Fatalf("after SHUTDOWN: %v", err)
	}
}

func TestConfigFileAndFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relcache.toml")
	os.WriteFile(path, []byte(`
maxmemory = "64mb"
maxmemory-policy = "allkeys-lru"
maxclients = 77
requirepass = "fromfile"
timeout = "5m"
`), 0o644)
	p := relcachetest.Start(t, "--config", path, "--maxclients", "88")
	ctx := context.Background()
	c := client(t, p.Addr, func(o *redis.Options) { o.Password = "fromfile" })
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"maxmemory": "67108864", "maxmemory-policy": "allkeys-lru", "maxclients": "88", "timeout": "300",
	} {
		if cfg[k] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", k, cfg[k], want)
		}
	}
}

func TestBadConfigRefusedAtStart(t *testing.T) {
	bin := relcachetest.Binary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	os.WriteFile(path, []byte("maxmemroy = 1\n"), 0o644)
	for _, args := range [][]string{
		{"serve", "--config", path},
		{"serve", "--maxmemory-policy", "sometimes"},
		{"serve", "--shards", "3", "--addr", "127.0.0.1:0", "--admin-addr", "-"},
		{"serve", "--addr", "nonsense"},
	} {
		out, err := runBinary(bin, args...)
		if err == nil {
			t.Errorf("relcache %v started; output:\n%s", args, out)
		}
	}
	// Refused before opening anything: no source file in the working dir.
	if _, err := os.Stat("relcache-source.db"); err == nil {
		os.Remove("relcache-source.db")
		t.Error("a refused start created relcache-source.db")
	}
}

// TestMemoryLimitFromMaxmemory: serve sets GOMEMLIMIT a quarter above
// maxmemory (at least 64 MiB above), so the heap does not double it.
func TestMemoryLimitFromMaxmemory(t *testing.T) {
	for _, tc := range []struct {
		maxmemory string
		want      string
	}{
		{"1gb", strconv.FormatInt(1<<30+1<<28, 10)},
		{"100mb", strconv.FormatInt(100<<20+64<<20, 10)},
	} {
		p := relcachetest.Start(t, "--maxmemory", tc.maxmemory)
		rdb := redis.NewClient(&redis.Options{Addr: p.Addr})
		info, err := rdb.Info(context.Background(), "gc").Result()
		rdb.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, "gc_memory_limit_bytes:"+tc.want+"\r\n") {
			t.Errorf("maxmemory %s: want gc_memory_limit_bytes:%s in\n%s", tc.maxmemory, tc.want, info)
		}
	}
}
