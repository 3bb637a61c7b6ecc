package proxyfront_test

// Adversarial tests of the proxy's limits (issue 14): a client that stops
// reading, a reply larger than a node's output limit, each while other
// clients run and count their errors, which must stay at 0.

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// infoField returns field k of the proxy's (or a node's) INFO, or "".
func infoField(t *testing.T, c *rconn, section, k string) string {
	t.Helper()
	args := []string{"INFO"}
	if section != "" {
		args = append(args, section)
	}
	v, _ := value(t, c.must(t, args...)).([]byte)
	for _, l := range strings.Split(string(v), "\r\n") {
		if rest, ok := strings.CutPrefix(l, k+":"); ok {
			return rest
		}
	}
	return ""
}

// procMemKB returns a /proc/PID/status field in kB (VmRSS, VmHWM).
func procMemKB(t *testing.T, pid, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatalf("read the proxy's memory: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	t.Fatalf("/proc/%s/status has no %s", pid, field)
	return 0
}

// getLoad is clients running GETs through a proxy, one at a time each,
// counting the replies that are not the expected value (error replies,
// I/O errors, wrong values).
type getLoad struct {
	stopc     chan struct{}
	wg        sync.WaitGroup
	ops, errs atomic.Int64
	firstErr  atomic.Value
	slowest   atomic.Int64 // nanoseconds, for the log
}

// startGets starts one client per key, GETting it and expecting want(key),
// and returns once they have done 100 GETs between them.
func startGets(addr string, keys []string, want func(key string) string) *getLoad {
	g := &getLoad{stopc: make(chan struct{})}
	for _, k := range keys {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.run(addr, k, want(k))
		}()
	}
	for g.ops.Load() < 100 && g.errs.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	return g
}

func (g *getLoad) run(addr, key, want string) {
	fail := func(what string) {
		g.errs.Add(1)
		g.firstErr.CompareAndSwap(nil, what)
	}
	c, err := dialRESP(addr)
	if err != nil {
		fail(err.Error())
		return
	}
	defer func() { c.Close() }()
	for {
		select {
		case <-g.stopc:
			return
		default:
		}
		start := time.Now()
		raw, err := c.do("GET", key)
		for d := int64(time.Since(start)); ; {
			if old := g.slowest.Load(); d <= old || g.slowest.CompareAndSwap(old, d) {
				break
			}
		}
		switch {
		case err != nil:
			fail(err.Error())
			c.Close()
			if c, err = dialRESP(addr); err != nil {
				return
			}
		case string(raw) != want:
			fail(show(raw))
		default:
			g.ops.Add(1)
		}
	}
}

// stop ends the GETs and reports them: errors must be 0.
func (g *getLoad) stop(t *testing.T, during string) {
	t.Helper()
	close(g.stopc)
	g.wg.Wait()
	t.Logf("other clients %s: %d GETs, %d errors, slowest %v", during, g.ops.Load(), g.errs.Load(), time.Duration(g.slowest.Load()))
	if n := g.errs.Load(); n != 0 {
		t.Errorf("other clients' GETs %s: %d errors (first: %v), want 0", during, n, g.firstErr.Load())
	}
}

// TestAdversarialSlowReaderBehindProxy: clients that pipeline GETs of a 5 MB value and never
// read must cost the proxy no more than their client-output-buffer-limit
// each, be closed for it (and counted), and not fail or stall the other
// clients' GETs on the backend connection they share.
func TestAdversarialSlowReaderBehindProxy(t *testing.T) {
	const (
		slowClients = 2
		slowGets    = 40
		bigSize     = 2 << 20
		hardLimit   = 16 << 20
	)
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	// One connection that every client shares, and the default timeout: a
	// big pipeline in flight must not make it fire for everyone queued
	// behind it.
	conf.Pools[0].ServerConnections = 1
	conf.Pools[0].Timeout = "1s"
	conf.Extra = fmt.Sprintf("client_output_buffer_limit = \"%d 8mb 10\"\n", hardLimit)
	px, _ := startProxy(t, conf)
	c := dial(t, px.Addr)
	c.must(t, "SET", "big", strings.Repeat("x", bigSize))
	c.must(t, "SET", "small", "v")
	pid := strconv.Itoa(px.Pid())
	rssBefore := procMemKB(t, pid, "VmRSS")

	small := func(string) string { return bulk("v") }
	load := startGets(px.Addr, []string{"small", "small", "small", "small"}, small)

	// The slow readers: a pipeline of GETs big, then nothing read.
	var pipeline strings.Builder
	for range slowGets {
		pipeline.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	}
	var slow []net.Conn
	for range slowClients {
		nc, err := net.Dial("tcp", px.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write([]byte(pipeline.String())); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, nc)
	}

	// Each slow reader is closed by the proxy once it holds more than the
	// limit of its replies.
	deadline := time.Now().Add(30 * time.Second)
	closed := ""
	for time.Now().Before(deadline) {
		if closed = infoField(t, c, "stats", "client_output_buffer_limit_disconnections"); closed == strconv.Itoa(slowClients) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if closed != strconv.Itoa(slowClients) {
		t.Errorf("INFO client_output_buffer_limit_disconnections = %q 30s after %d clients stopped reading, want %d", closed, slowClients, slowClients)
	}
	// Reading now, each gets what the proxy had written before closing it
	// (what the sockets' buffers hold), then EOF or a reset.
	for i, nc := range slow {
		var n int64
		buf := make([]byte, 1<<20)
		var err error
		for err == nil {
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			var k int
			k, err = nc.Read(buf)
			n += int64(k)
		}
		if os.IsTimeout(err) || n >= slowGets*bigSize {
			t.Errorf("slow reader %d: read %d bytes of %d, then %v; want the proxy to have closed it over its %d byte limit", i, n, slowGets*bigSize, err, hardLimit)
		}
		t.Logf("slow reader %d: read %d bytes (%d replies) before %v", i, n, n/bigSize, err)
	}
	// Once a GET behind the dead clients' pipelines is answered, the
	// shared connection has finished them (their replies dropped).
	c.must(t, "GET", "small")
	time.Sleep(200 * time.Millisecond)
	load.stop(t, "while slow readers stalled")

	hwm := procMemKB(t, pid, "VmHWM")
	t.Logf("proxy RSS before %d MB, peak %d MB", rssBefore>>10, hwm>>10)
	if bound := int64(slowClients*hardLimit+256<<20) >> 10; hwm > rssBefore+bound {
		t.Errorf("proxy peak RSS %d MB, from %d MB before: more than %d clients × the %d MB limit + 256 MB", hwm>>10, rssBefore>>10, slowClients, hardLimit>>20)
	}
	if raw := c.must(t, "GET", "small"); string(raw) != bulk("v") {
		t.Errorf("GET after the slow readers: %s", show(raw))
	}
}

// TestProxyBigPipelineTimeout: one client's pipeline of big replies keeps
// the shared backend connection busy for longer than the pool's timeout.
// The node is answering all along, so the calls queued behind it (other
// clients' GETs) wait, and must not fail with a timeout.
func TestProxyBigPipelineTimeout(t *testing.T) {
	// 480 MB of replies: seconds on any host, so the calls at the back
	// wait several timeouts while the node sends all along. The timeout
	// itself is not tight: a -race node on a busy 2-core CI host can pause
	// for a few hundred milliseconds without being down.
	const gets, size = 120, 4 << 20
	cl := startCluster(t, 1, "node")
	conf := onePool(cl)
	conf.Pools[0].ServerConnections = 1
	conf.Pools[0].Timeout = "1s"
	px, _ := startProxy(t, conf)
	c := dial(t, px.Addr)
	c.must(t, "SET", "big", strings.Repeat("x", size))
	c.must(t, "SET", "small", "v")

	load := startGets(px.Addr, []string{"small", "small", "small", "small"}, func(string) string { return bulk("v") })
	start := time.Now()
	for range gets {
		c.send("GET", "big")
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i := range gets {
		raw, err := c.read()
		if err != nil {
			t.Fatalf("reply %d of the big pipeline: %v", i, err)
		}
		if len(raw) != size+len(fmt.Sprintf("$%d\r\n\r\n", size)) {
			if bad++; bad == 1 {
				t.Errorf("reply %d of the big pipeline: %.100s", i, show(raw))
			}
		}
	}
	t.Logf("%d GETs of %d bytes in %v (timeout 1s), %d failed", gets, size, time.Since(start), bad)
	load.stop(t, "behind a big pipeline on a node that answers all along")
}

// TestAdversarialOversizedReplyBehindProxy: an MGET whose reply is over a node's
// client-output-buffer-limit fails for the client that sent it, and only
// for it: the node must not close the proxy's connection, which carries
// other clients' GETs at the same time.
func TestAdversarialOversizedReplyBehindProxy(t *testing.T) {
	cl := startCluster(t, 2, "node", "--client-output-buffer-limit", "1mb")
	conf := onePool(cl)
	conf.Pools[0].ServerConnections = 1
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	value100k := strings.Repeat("v", 100<<10)
	bigKeys := pl.keysOn(0, 24, "big:") // 2.4 MB from node1 in one reply
	for _, k := range bigKeys {
		c.must(t, "SET", k, value100k)
	}
	other := pl.keysOn(1, 1, "other:")[0]
	c.must(t, "SET", other, "o")
	small := pl.keysOn(0, 4, "small:")
	for _, k := range small {
		c.must(t, "SET", k, "s-"+k)
	}

	load := startGets(px.Addr, small, func(k string) string { return bulk("s-" + k) })
	mget := append([]string{"MGET"}, bigKeys...)
	mget = append(mget, other)
	const rounds = 20
	badMGets := 0
	for i := range rounds {
		raw := c.must(t, mget...)
		v, ok := value(t, raw).([]any)
		if !ok || len(v) != len(bigKeys)+1 {
			t.Fatalf("MGET round %d: %.200s, want an array of %d", i, show(raw), len(bigKeys)+1)
		}
		if e, ok := v[0].(respErr); !ok || !strings.Contains(string(e), "client-output-buffer-limit") {
			badMGets++
			if badMGets == 1 {
				t.Errorf("MGET round %d, node1's keys (a reply over its limit): %.200v, want the node's client-output-buffer-limit error", i, v[0])
			}
		}
		for j := 1; j < len(bigKeys); j++ {
			if fmt.Sprint(v[j]) != fmt.Sprint(v[0]) {
				t.Errorf("MGET round %d: node1's keys answered differently: %.200v and %.200v", i, v[0], v[j])
			}
		}
		if b, _ := v[len(bigKeys)].([]byte); string(b) != "o" {
			t.Errorf("MGET round %d, node2's key: %#v, want \"o\"", i, v[len(bigKeys)])
		}
	}
	t.Logf("%d oversized MGETs, %d answered otherwise than with the limit's error", rounds, badMGets)
	load.stop(t, "on the node answering oversized MGETs")
	node := dial(t, cl.procs[0].Addr)
	if got := infoField(t, node, "stats", "client_output_buffer_limit_disconnections"); got != "0" {
		t.Errorf("node1 closed %s connections for their output limit; want 0 (the proxy's connection must stay)", got)
	}

	// A direct client gains nothing but its connection by saying it is a
	// proxy: the reply over the limit is still not sent.
	sub := append([]string{"MGET"}, bigKeys...)
	if raw := node.must(t, "CLIENT", "PROXY", "ON"); string(raw) != "+OK\r\n" {
		t.Fatalf("CLIENT PROXY ON: %s", show(raw))
	}
	if raw := node.must(t, sub...); !strings.HasPrefix(string(raw), "-ERR reply of ") || !strings.Contains(string(raw), "client-output-buffer-limit") {
		t.Errorf("MGET over the limit on a connection marked CLIENT PROXY: %.200s, want -ERR reply of ... client-output-buffer-limit", show(raw))
	}
	if raw := node.must(t, "GET", small[0]); string(raw) != bulk("s-"+small[0]) {
		t.Errorf("GET after the refused reply: %s", show(raw))
	}
	if raw := node.must(t, "CLIENT", "PROXY", "OFF"); string(raw) != "+OK\r\n" {
		t.Fatalf("CLIENT PROXY OFF: %s", show(raw))
	}
	if raw, err := node.do(sub...); err == nil {
		t.Errorf("MGET over the limit on an ordinary connection: %.200s, want the connection closed", show(raw))
	}
}

// TestProxyFollowSeparateSQLite: two nodes, each on its own embedded
// SQLite file, behind one proxy. FOLLOW a b with a and b on different
// nodes would write both rows into a's file while b's fan list reloads
// from b's: the proxy refuses it, writing nothing, and says why. Users on
// one node share its file, so a FOLLOW between them works.
func TestProxyFollowSeparateSQLite(t *testing.T) {
	cl := startCluster(t, 2, "node", "--source", "sqlite")
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	var on [2][]uint64
	for u := uint64(1); len(on[0]) < 2 || len(on[1]) < 1; u++ {
		n := pl.node(fkey(u))
		on[n] = append(on[n], u)
	}
	a, a2, b := on[0][0], on[0][1], on[1][0]
	c := dial(t, px.Addr)
	for _, args := range [][]string{{"FOLLOW", u64(a), u64(b)}, {"UNFOLLOW", u64(a), u64(b)}, {"FOLLOW", u64(b), u64(a), "1700000000"}} {
		raw := c.must(t, args...)
		if !strings.HasPrefix(string(raw), "-ERR proxy: ") || !strings.Contains(string(raw), "source of record") {
			t.Errorf("%s across two nodes with their own SQLite files: %s, want the proxy's refusal naming the source of record", showArgs(args), show(raw))
		}
		t.Logf("%s: %s", showArgs(args), show(raw))
	}
	for _, k := range []string{fkey(a), rkey(a), fkey(b), rkey(b)} {
		if raw := c.must(t, "RELCARD", k); string(raw) != ":0\r\n" {
			t.Errorf("RELCARD %s after refused FOLLOWs: %s, want :0 (nothing written)", k, show(raw))
		}
	}
	if raw := c.must(t, "FOLLOW", u64(a), u64(a2)); string(raw) != ":1\r\n" {
		t.Errorf("FOLLOW %d %d, both on node1: %s, want :1", a, a2, show(raw))
	}
	if raw := c.must(t, "RELMEMBERS", rkey(a2)); string(raw) != "*1\r\n"+bulk(u64(a)) {
		t.Errorf("RELMEMBERS %s after FOLLOW %d %d: %s", rkey(a2), a, a2, show(raw))
	}
}
