package proxyfront_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestProxyAuthInfoMetrics puts a password on the front and on the nodes,
// and checks INFO's Backends section, /metrics and /healthz.
func TestProxyAuthInfoMetrics(t *testing.T) {
	cl := startCluster(t, 3, "node", "--requirepass", "nodepw")
	conf := onePool(cl)
	conf.Password = "frontpw"
	conf.Pools[0].Password = "nodepw"
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	expect := func(want string, args ...string) {
		t.Helper()
		if got := c.must(t, args...); string(got) != want {
			t.Errorf("%s: %s, want %q", showArgs(args), show(got), want)
		}
	}
	expect("-NOAUTH Authentication required.\r\n", "GET", "k")
	expect("-NOAUTH Authentication required.\r\n", "MGET", "k", "l")
	expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "nodepw")
	// The comparison is constant-time over hashes now: near misses still fail.
	for _, args := range [][]string{{"AUTH", "frontp"}, {"AUTH", "frontpwx"}, {"AUTH", ""}, {"AUTH", "FRONTPW"},
		{"AUTH", "default", "frontpwx"}, {"AUTH", "other", "frontpw"}} {
		expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", args...)
	}
	expect("-NOAUTH Authentication required.\r\n", "SET", "k", "v")
	expect("+OK\r\n", "AUTH", "frontpw")
	expect("+OK\r\n", "AUTH", "default", "frontpw")

	// Keys on every node, through backends that need AUTH.
	var all []string
	for i := range cl.procs {
		for _, k := range pl.keysOn(i, 3, fmt.Sprintf("auth%d:", i)) {
			expect("+OK\r\n", "SET", k, "v-"+k)
			all = append(all, k)
		}
	}
	var want strings.Builder
	fmt.Fprintf(&want, "*%d\r\n", len(all))
	for _, k := range all {
		want.WriteString(bulk("v-" + k))
	}
	expect(want.String(), append([]string{"MGET"}, all...)...)
	expect(fmt.Sprintf(":%d\r\n", len(all)), append([]string{"EXISTS"}, all...)...)
	expect(":2\r\n", "RELLOAD", "5.following", "TIMES", "6", "100", "7", "200")
	expect(":1\r\n", "RELLOAD", "6.following", "5")
	expect(":0\r\n", "RELLOAD", "7.following")
	expect("*2\r\n:3\r\n:1\r\n", "RELCHECK", "5", "BATCH", "6", "7")
	expect("+PONG\r\n", "PING")
	expect(bulk("hi"), "PING", "hi")
	expect(bulk("hello"), "ECHO", "hello")
	expect("+OK\r\n", "SELECT", "0")

	// A connection that has not authenticated cannot use the proxy even
	// though the proxy's own backend connections are authenticated.
	anon := dial(t, px.Addr)
	if got := anon.must(t, "GET", all[0]); string(got) != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("GET on a new connection without AUTH: %s", show(got))
	}

	info, ok := value(t, c.must(t, "INFO")).([]byte)
	if !ok {
		t.Fatalf("INFO is not a bulk string")
	}
	text := string(info)
	if !strings.Contains(text, "# Backends\r\n") {
		t.Errorf("INFO has no \"# Backends\" section:\n%s", text)
	}
	for i, name := range cl.names {
		prefix := fmt.Sprintf("backend_dc1_%s:addr=127.0.0.1:%d,", name, cl.ports[i])
		line := ""
		for _, l := range strings.Split(text, "\r\n") {
			if strings.HasPrefix(l, prefix) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "state=up") {
			t.Errorf("INFO has no line %q...state=up...: %q\n%s", prefix, line, text)
		}
	}
	if info, ok := value(t, c.must(t, "INFO", "backends")).([]byte); !ok || !strings.Contains(string(info), "backend_dc1_node1:") {
		t.Errorf("INFO backends: %q", info)
	}

	// /metrics counts requests.
	metric := func(prefix string) (float64, string) {
		t.Helper()
		resp, err := http.Get("http://" + px.AdminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, prefix) {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				return v, string(body)
			}
		}
		return -1, string(body)
	}
	getLabel := `relcache_proxy_requests_total{command="get"}`
	before, body := metric(getLabel)
	if before < 0 {
		getLabel = `relcache_proxy_requests_total{command="GET"}`
		before, body = metric(getLabel)
	}
	if before < 0 {
		t.Errorf("/metrics has no %s (nor command=\"GET\"):\n%s", `relcache_proxy_requests_total{command="get"}`, body)
	}
	for range 50 {
		c.must(t, "GET", all[0])
	}
	if after, _ := metric(getLabel); after < before+50 {
		t.Errorf("%s went from %v to %v after 50 GETs", getLabel, before, after)
	}
	_, body = metric("#")
	for _, name := range []string{
		"relcache_proxy_client_connections",
		"relcache_proxy_requests_total",
		"relcache_proxy_backend_requests_total",
		"relcache_proxy_backend_errors_total",
		"relcache_proxy_backend_latency_seconds",
		"relcache_proxy_ejections_total",
		"relcache_proxy_fanout",
	} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, name := range cl.names {
		label := fmt.Sprintf(`relcache_proxy_backend_requests_total{backend=%q,pool="dc1"}`, name)
		v, _ := metric(label)
		if v < 0 {
			label = fmt.Sprintf(`relcache_proxy_backend_requests_total{pool="dc1",backend=%q}`, name)
			v, _ = metric(label)
		}
		if v <= 0 {
			t.Errorf("/metrics: %s is %v, want > 0", label, v)
		}
	}
	if v, _ := metric("relcache_proxy_client_connections"); v < 2 {
		t.Errorf("relcache_proxy_client_connections = %v with 2 clients connected", v)
	}
	resp, err := http.Get("http://" + px.AdminAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %s", resp.Status)
	}

	// A stock go-redis client (HELLO 3 first, CLIENT SETINFO) works too.
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: px.Addr, Password: "frontpw", MaxRetries: -1})
	defer rc.Close()
	if err := rc.Set(ctx, "goredis", "v", 0).Err(); err != nil {
		t.Errorf("go-redis SET through the proxy: %v", err)
	} else if v, err := rc.Get(ctx, "goredis").Result(); err != nil || v != "v" {
		t.Errorf("go-redis GET through the proxy: %q, %v", v, err)
	}
	if vals, err := rc.MGet(ctx, all...).Result(); err != nil || len(vals) != len(all) || vals[0] != "v-"+all[0] {
		t.Errorf("go-redis MGET through the proxy: %v, %v", vals, err)
	}
	if codes, err := rc.Do(ctx, "RELCHECK", 5, "BATCH", 6, 7).Int64Slice(); err != nil || !slices.Equal(codes, []int64{3, 1}) {
		t.Errorf("go-redis RELCHECK 5 6 7 through the proxy: %v, %v", codes, err)
	}

	expect("+OK\r\n", "QUIT")
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := c.rd.ReadByte(); err == nil {
		t.Errorf("QUIT: connection still open, read %q", b)
	}

	// A pool with the wrong node password: requests fail with the proxy's
	// backend error, and do not hang.
	bad := onePool(cl)
	bad.Pools[0].Password = "wrong"
	px2, _ := startProxy(t, bad)
	c2 := dial(t, px2.Addr)
	got := c2.must(t, "GET", all[0])
	if !strings.HasPrefix(string(got), "-ERR proxy: backend ") {
		t.Errorf("GET through a pool with the wrong node password: %s, want \"-ERR proxy: backend <name> ...\"", show(got))
	}
	t.Logf("wrong node password: %s", show(got))
}
