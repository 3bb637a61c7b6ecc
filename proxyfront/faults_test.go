package proxyfront_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// backendErr is the prefix of the proxy's error for a failed backend.
func backendErr(name string) string { return "-ERR proxy: backend " + name + " " }

// timed runs one command and returns its raw reply and how long it took.
func timed(t *testing.T, c *rconn, args ...string) ([]byte, time.Duration) {
	t.Helper()
	start := time.Now()
	raw := c.must(t, args...)
	return raw, time.Since(start)
}

// mgetWant is MGET's raw reply for values, "" meaning nil.
func mgetWant(vals []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(vals))
	for _, v := range vals {
		if v == "" {
			b.WriteString("$-1\r\n")
		} else {
			b.WriteString(bulk(v))
		}
	}
	return b.String()
}

// --- 4a, 4d. A node dies, then comes back on its port -------------------------

// TestProxyBackendDownAndBack kills one of three nodes: requests for its
// keys fail fast with the proxy's backend error naming it, the other nodes'
// keys keep working (also inside MGET, where only the dead node's
// positions are errors), and DEL/EXISTS spanning it fail as a whole. The
// node then restarts on its port and, after server_retry_timeout, its keys
// work again.
func TestProxyBackendDownAndBack(t *testing.T) {
	cl := startCluster(t, 3, "node")
	conf := onePool(cl)
	conf.Pools[0].Timeout = "1s"
	conf.Pools[0].DialTimeout = "300ms"
	conf.Pools[0].ServerFailureLimit = 2
	conf.Pools[0].ServerRetryTimeout = "1s"
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	keys := make([][]string, 3)
	for i := range keys {
		keys[i] = pl.keysOn(i, 6, fmt.Sprintf("n%d:", i))
		for _, k := range keys[i] {
			if raw := c.must(t, "SET", k, "v-"+k); string(raw) != "+OK\r\n" {
				t.Fatalf("SET %s: %s", k, show(raw))
			}
		}
	}
	if raw := c.must(t, "RELLOAD", "700.following", "701"); raw[0] != ':' {
		t.Fatalf("RELLOAD: %s", show(raw))
	}

	const dead = 1
	cl.procs[dead].Kill()
	deadName := cl.names[dead]

	for round := range 4 {
		for _, k := range keys[dead][:3] {
			raw, took := timed(t, c, "GET", k)
			if !strings.HasPrefix(string(raw), backendErr(deadName)) {
				t.Errorf("round %d: GET %s on the killed %s: %s, want %q...", round, k, deadName, show(raw), backendErr(deadName))
			}
			if took >= time.Second {
				t.Errorf("round %d: GET %s on the killed %s took %v; want a fast failure (< 1s)", round, k, deadName, took)
			}
			if round == 0 || round == 3 {
				t.Logf("round %d: GET on the killed node: %s in %v", round, show(raw), took)
			}
		}
		for i := range keys {
			if i == dead {
				continue
			}
			k := keys[i][round]
			if raw := c.must(t, "GET", k); string(raw) != bulk("v-"+k) {
				t.Errorf("round %d: GET %s on the live %s: %s", round, k, cl.names[i], show(raw))
			}
		}
	}

	// MGET over all three: errors in the dead node's positions only.
	var mk []string
	for j := range 3 {
		for i := range keys {
			mk = append(mk, keys[i][j])
		}
	}
	v, ok := value(t, c.must(t, append([]string{"MGET"}, mk...)...)).([]any)
	if !ok || len(v) != len(mk) {
		t.Fatalf("MGET across a dead node: %v", v)
	}
	for j, k := range mk {
		if pl.node(k) == dead {
			if e, ok := v[j].(respErr); !ok || !strings.HasPrefix("-"+string(e), backendErr(deadName)) {
				t.Errorf("MGET position %d (%s, on the dead node): %#v, want an error %q...", j, k, v[j], backendErr(deadName))
			}
		} else if b, ok := v[j].([]byte); !ok || string(b) != "v-"+k {
			t.Errorf("MGET position %d (%s, on a live node): %#v, want %q", j, k, v[j], "v-"+k)
		}
	}
	// Whole-command failures for the counting commands.
	for _, args := range [][]string{
		{"EXISTS", keys[0][4], keys[dead][4], keys[2][4]},
		{"DEL", keys[0][5], keys[dead][5]},
		{"MSET", keys[0][5], "x", keys[dead][5], "y"},
	} {
		raw, took := timed(t, c, args...)
		if !strings.HasPrefix(string(raw), backendErr(deadName)) || took >= time.Second {
			t.Errorf("%s across the dead node: %s in %v, want %q... within 1s", showArgs(args), show(raw), took, backendErr(deadName))
		}
	}
	// RELCHECK whose b lives on the dead node.
	var deadUID uint64
	for u := uint64(800); ; u++ {
		if pl.node(fkey(u)) == dead {
			deadUID = u
			break
		}
	}
	if pl.node("700.following") != dead {
		raw, took := timed(t, c, "RELCHECK", "700", u64(deadUID))
		if !strings.HasPrefix(string(raw), backendErr(deadName)) || took >= time.Second {
			t.Errorf("RELCHECK 700 %d (%d's lists on the dead node): %s in %v, want %q...", deadUID, deadUID, show(raw), took, backendErr(deadName))
		}
	}
	if raw := c.must(t, "PING"); string(raw) != "+PONG\r\n" {
		t.Errorf("PING: %s", show(raw))
	}

	// Back on the same port, empty (a pure cache that was killed): after
	// server_retry_timeout the proxy probes it and routes to it again.
	restarted := time.Now()
	back := startNode(t, "--addr", fmt.Sprintf("127.0.0.1:%d", cl.ports[dead]))
	k := keys[dead][0]
	var last []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if last = c.must(t, "SET", k, "again"); string(last) == "+OK\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after %s restarted on its port, SET %s through the proxy still answers %s", deadName, k, show(last))
		}
	}
	t.Logf("%s's keys work again %v after it restarted", deadName, time.Since(restarted).Round(time.Millisecond))
	if raw := c.must(t, "GET", k); string(raw) != bulk("again") {
		t.Errorf("GET %s after the node came back: %s", k, show(raw))
	}
	if raw := dial(t, back.Addr).must(t, "GET", k); string(raw) != bulk("again") {
		t.Errorf("GET %s directly on the restarted %s: %s", k, deadName, show(raw))
	}
	if raw := c.must(t, "MGET", keys[0][0], k, keys[2][0]); string(raw) != mgetWant([]string{"v-" + keys[0][0], "again", "v-" + keys[2][0]}) {
		t.Errorf("MGET after the node came back: %s", show(raw))
	}
}

// --- 4b. A replica pool ---------------------------------------------------------

// TestProxyReplicaPool writes through a proxy with replicate_writes over a
// primary pool dc1 and a replica pool dc2: every write must reach the
// predicted node of both pools. Reads go to read_pool first; after a dc1
// node is killed, reads of its keys are answered from dc2.
func TestProxyReplicaPool(t *testing.T) {
	dc1 := startCluster(t, 3, "node")
	dc2 := startCluster(t, 3, "node") // same names: the same placement, as docs suggest
	conf := proxyConfig{ReplicateWrites: true, Pools: []poolConfig{
		{Name: "dc1", Role: "primary", Servers: dc1.lines(), Timeout: "1s", DialTimeout: "300ms"},
		{Name: "dc2", Role: "replica", Servers: dc2.lines(), Timeout: "1s", DialTimeout: "300ms"},
	}}
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, dc1.lines())
	c := dial(t, px.Addr)
	n1, n2 := dc1.conns(t), dc2.conns(t)

	var keys []string
	for i := range 3 {
		keys = append(keys, pl.keysOn(i, 8, fmt.Sprintf("r%d:", i))...)
	}
	for _, k := range keys[:12] {
		c.send("SET", k, "v-"+k)
	}
	args := []string{"MSET"}
	for _, k := range keys[12:] {
		args = append(args, k, "v-"+k)
	}
	c.send(args...)
	users := []uint64{11, 12, 13, 14, 15, 16, 17, 18}
	for _, u := range users {
		c.send("RELLOAD", fkey(u), "TIMES", u64(u+1), "100", u64(u+2), "200", "42", "300")
	}
	c.send("DEL", keys[0], keys[9], keys[20])
	c.send("RELADD", fkey(11), "XX", "TIMES", "99", "400")
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	for range 12 + 1 + len(users) + 2 {
		raw, err := c.read()
		if err != nil || raw[0] == '-' {
			t.Fatalf("a write through the proxy: %s, %v", show(raw), err)
		}
	}
	deleted := map[string]bool{keys[0]: true, keys[9]: true, keys[20]: true}
	// The copies to the replica pool are sent with the primary's and not
	// waited for (fire and forget): on a busy host the last of them may
	// land a moment after the client has its replies, so the replica is
	// read until it has them all, within a deadline.
	replicated := time.Now().Add(10 * time.Second)
	for pi, pool := range [][]*rconn{n1, n2} {
		name := []string{"dc1", "dc2"}[pi]
		for _, k := range keys {
			want := bulk("v-" + k)
			if deleted[k] {
				want = "$-1\r\n"
			}
			raw := pool[pl.node(k)].must(t, "GET", k)
			for pi == 1 && string(raw) != want && time.Now().Before(replicated) {
				time.Sleep(20 * time.Millisecond)
				raw = pool[pl.node(k)].must(t, "GET", k)
			}
			if string(raw) != want {
				t.Errorf("%s: GET %s directly on its node: %s, want %q", name, k, show(raw), want)
			}
		}
		for _, u := range users {
			want := "*3\r\n$2\r\n42\r\n" + bulk(u64(u+2)) + bulk(u64(u+1))
			if u == 11 {
				want = "*4\r\n$2\r\n99\r\n$2\r\n42\r\n" + bulk(u64(u+2)) + bulk(u64(u+1))
			}
			if raw := pool[pl.node(fkey(u))].must(t, "RELMEMBERS", fkey(u)); string(raw) != want {
				t.Errorf("%s: RELMEMBERS %s directly on its node: %s, want %q", name, fkey(u), show(raw), want)
			}
		}
	}

	// read_pool: dc1 by default; a second proxy reads dc2 first.
	pref := pl.keysOn(0, 1, "pref:")[0]
	n1[0].must(t, "SET", pref, "from-dc1")
	n2[0].must(t, "SET", pref, "from-dc2")
	if raw := c.must(t, "GET", pref); string(raw) != bulk("from-dc1") {
		t.Errorf("GET with read_pool unset (the primary): %s, want from-dc1", show(raw))
	}
	conf2 := conf
	conf2.ReadPool = "dc2"
	px2, _ := startProxy(t, conf2)
	if raw := dial(t, px2.Addr).must(t, "GET", pref); string(raw) != bulk("from-dc2") {
		t.Errorf("GET with read_pool = \"dc2\": %s, want from-dc2", show(raw))
	}

	// Reads that worked before the kill, to compare after it.
	live := []string{}
	for _, k := range keys {
		if !deleted[k] {
			live = append(live, k)
		}
	}
	reads := [][]string{append([]string{"MGET"}, live...)}
	for _, k := range live {
		reads = append(reads, []string{"GET", k})
	}
	for _, u := range users {
		reads = append(reads, []string{"RELMEMBERS", fkey(u), "WITHTIMES"})
		reads = append(reads, []string{"RELCHECK", u64(u), "BATCH", "11", "12", "13", "42"})
		reads = append(reads, []string{"RELMULTI", fkey(u), "42", "11", "13"})
		reads = append(reads, []string{"RELWHO", u64(u), "42"})
		reads = append(reads, []string{"RELCOMMON", u64(u), "11"})
	}
	before := make([][]byte, len(reads))
	for i, r := range reads {
		before[i] = c.must(t, r...)
	}

	const dead = 1
	dc1.procs[dead].Kill()
	for round := range 3 {
		for i, r := range reads {
			raw, took := timed(t, c, r...)
			if string(raw) != string(before[i]) {
				t.Errorf("round %d: after dc1's %s was killed, %s = %s in %v; before: %s", round, dc1.names[dead], showArgs(r), show(raw), took, show(before[i]))
			}
		}
	}
	// A write to the dead primary node: whatever the answer, no hang.
	k := pl.keysOn(dead, 1, "w:")[0]
	raw, took := timed(t, c, "SET", k, "x")
	t.Logf("SET on a key of the dead primary node: %s in %v", show(raw), took)
	if took > 3*time.Second {
		t.Errorf("SET on a key of the dead primary node took %v", took)
	}
}

// --- 4c. A node that accepts connections and never answers ---------------------

// blackhole is a TCP server that reads and discards everything.
func blackhole(t *testing.T) string {
	t.Helper()
	return silentNode(t, true)
}

// silentNode is a TCP server that accepts connections and never writes;
// with drain it reads and discards what comes, else it never reads.
func silentNode(t *testing.T, drain bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if drain {
				go io.Copy(io.Discard, c)
			}
		}
	}()
	return ln.Addr().String()
}

// fakeNode is a RESP server that answers each command with answer(args),
// one at a time in order, on every connection.
func fakeNode(t *testing.T, answer func(args []string) string) string {
	t.Helper()
	return scriptedNode(t, func(args []string) (string, then) { return answer(args), goOn })
}

// What a scriptedNode does after an answer.
type then int

const (
	goOn   then = iota
	hangUp      // close the connection: a node killed
	stall       // write and read nothing more until the test ends
)

// scriptedNode is a node whose answers per command a test scripts; its
// connections are closed when the test ends.
func scriptedNode(t *testing.T, answer func(args []string) (string, then)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended) })
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					args, err := readCommand(rd)
					if err != nil {
						return
					}
					out, next := answer(args)
					if _, err := c.Write([]byte(out)); err != nil || next == hangUp {
						return
					}
					if next == stall {
						<-ended
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// slowServer answers GET k with "v:k", PING with PONG and anything else
// with OK, one command at a time in order, but waits before answering a
// GET of a key that starts with "slow" (delay) or "lazy" (lazy).
func slowServer(t *testing.T, delay, lazy time.Duration) string {
	t.Helper()
	return fakeNode(t, func(args []string) string {
		switch strings.ToUpper(args[0]) {
		case "GET":
			if len(args) > 1 && strings.HasPrefix(args[1], "slow") {
				time.Sleep(delay)
			}
			if len(args) > 1 && strings.HasPrefix(args[1], "lazy") {
				time.Sleep(lazy)
			}
			return bulk("v:" + args[len(args)-1])
		case "PING":
			return "+PONG\r\n"
		}
		return "+OK\r\n"
	})
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), nil // inline
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array header %q", line)
	}
	args := make([]string, n)
	for i := range args {
		h, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		m, err := strconv.Atoi(strings.TrimSpace(h[1:]))
		if err != nil || h[0] != '$' {
			return nil, fmt.Errorf("bad bulk header %q", h)
		}
		b := make([]byte, m+2)
		if _, err := io.ReadFull(rd, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:m])
	}
	return args, nil
}

// TestProxyBackendHangs puts a node that accepts TCP and never answers
// beside two real nodes (timeout 300ms): a GET for its key fails within the
// timeout plus a margin while the other nodes' keys are answered at once,
// and after ejection it fails fast. A node that answers after the timeout
// must not have its late reply handed to the next request.
func TestProxyBackendHangs(t *testing.T) {
	cl := startCluster(t, 2, "node")
	hang := blackhole(t)
	slow := slowServer(t, 700*time.Millisecond, 150*time.Millisecond)
	servers := append(cl.lines(), "127.0.0.1:"+portOf(hang)+":1 hang", "127.0.0.1:"+portOf(slow)+":1 slow")
	conf := proxyConfig{Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: servers,
		Timeout: "300ms", DialTimeout: "300ms", ServerFailureLimit: 3, ServerRetryTimeout: "30s",
		ServerConnections: 1}}}
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, servers)
	c := dial(t, px.Addr)
	good := [][]string{pl.keysOn(0, 4, "g0:"), pl.keysOn(1, 4, "g1:")}
	for _, ks := range good {
		for _, k := range ks {
			if raw := c.must(t, "SET", k, "v-"+k); string(raw) != "+OK\r\n" {
				t.Fatalf("SET %s: %s", k, show(raw))
			}
		}
	}
	hk := pl.keysOn(2, 4, "h:")

	// The late reply: GET slow... times out; the reply that arrives 400ms
	// later must not answer the GETs that follow on that node.
	slowKey := pl.keysOn(3, 1, "slow")[0]
	fast := pl.keysOn(3, 3, "fast")
	raw, took := timed(t, c, "GET", slowKey)
	if !strings.HasPrefix(string(raw), backendErr("slow")) || took > 1300*time.Millisecond {
		t.Errorf("GET %s on a node answering after 700ms, timeout 300ms: %s in %v; want %q... within 1.3s", slowKey, show(raw), took, backendErr("slow"))
	}
	t.Logf("timed out: %s in %v", show(raw), took)
	time.Sleep(600 * time.Millisecond) // the late reply is out by now
	for _, k := range fast {
		if raw := c.must(t, "GET", k); string(raw) != bulk("v:"+k) {
			t.Errorf("GET %s after a timed-out GET %s on the same node: %s, want %q (a late reply answering the wrong request?)", k, slowKey, show(raw), bulk("v:"+k))
		}
	}

	// A client that leaves while its GET is on the node: the reply that
	// comes 150ms later is for nobody, and must not answer the next one.
	lazyKey := pl.keysOn(3, 1, "lazy")[0]
	for i := range 3 {
		gone, err := dialRESP(px.Addr)
		if err != nil {
			t.Fatal(err)
		}
		gone.send("GET", lazyKey)
		gone.flush()
		time.Sleep(20 * time.Millisecond)
		gone.Close()
		k := fast[i]
		if raw := c.must(t, "GET", k); string(raw) != bulk("v:"+k) {
			t.Errorf("GET %s after another client left with GET %s pending on the same node: %s, want %q", k, lazyKey, show(raw), bulk("v:"+k))
		}
	}

	// A GET on the silent node, with GETs on the live nodes from another
	// connection while it waits: those must not wait for it.
	other := dial(t, px.Addr)
	hangDone := make(chan time.Time, 1)
	var hangRaw []byte
	var hangTook time.Duration
	go func() {
		start := time.Now()
		hangRaw, _ = c.do("GET", hk[0])
		hangTook = time.Since(start)
		hangDone <- time.Now()
	}()
	time.Sleep(30 * time.Millisecond)
	for _, ks := range good {
		if raw := other.must(t, "GET", ks[0]); string(raw) != bulk("v-"+ks[0]) {
			t.Errorf("GET %s while another client waits on the silent node: %s", ks[0], show(raw))
		}
	}
	othersDone := time.Now()
	hangEnd := <-hangDone
	if !strings.HasPrefix(string(hangRaw), backendErr("hang")) {
		t.Errorf("GET %s on the silent node: %s, want %q...", hk[0], show(hangRaw), backendErr("hang"))
	}
	if hangTook > 1300*time.Millisecond {
		t.Errorf("GET %s on the silent node took %v; timeout 300ms, want < 1.3s", hk[0], hangTook)
	}
	if !othersDone.Before(hangEnd) {
		t.Errorf("GETs on live nodes from another connection finished %v after the GET on the silent node failed: they waited for it", othersDone.Sub(hangEnd))
	}
	t.Logf("silent node: %s in %v", show(hangRaw), hangTook)

	// Pipelined on one connection: the silent node's error, then the live
	// node's value, in order.
	c.send("GET", hk[1])
	c.send("GET", good[0][1])
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	r1, err1 := c.read()
	r2, err2 := c.read()
	if err1 != nil || err2 != nil || !strings.HasPrefix(string(r1), backendErr("hang")) || string(r2) != bulk("v-"+good[0][1]) {
		t.Errorf("pipelined GET silent, GET live: %s (%v), %s (%v)", show(r1), err1, show(r2), err2)
	}

	// MGET waits for the silent node only as long as the timeout, and
	// fails only its positions.
	raw, took = timed(t, c, "MGET", good[0][3], hk[1], good[1][3])
	if v, _ := value(t, raw).([]any); len(v) != 3 || took > 1300*time.Millisecond {
		t.Errorf("MGET live, silent, live: %s in %v", show(raw), took)
	} else if b0, _ := v[0].([]byte); string(b0) != "v-"+good[0][3] {
		t.Errorf("MGET live, silent, live: position 0: %#v", v[0])
	} else if e, _ := v[1].(respErr); !strings.HasPrefix("-"+string(e), backendErr("hang")) {
		t.Errorf("MGET live, silent, live: position 1: %#v", v[1])
	} else if b2, _ := v[2].([]byte); string(b2) != "v-"+good[1][3] {
		t.Errorf("MGET live, silent, live: position 2: %#v", v[2])
	}

	// Three failures in a row eject it: now it fails fast.
	for _, k := range hk[2:] {
		raw, took := timed(t, c, "GET", k)
		if !strings.HasPrefix(string(raw), backendErr("hang")) {
			t.Errorf("GET %s on the ejected silent node: %s", k, show(raw))
		}
		if took >= 250*time.Millisecond {
			t.Errorf("GET %s on the silent node after 3 timeouts took %v: not ejected (limit 3), or not failing fast", k, took)
		}
		t.Logf("after ejection: %s in %v", show(raw), took)
	}
	raw, took = timed(t, c, "MGET", good[0][2], hk[3], good[1][2])
	v, _ := value(t, raw).([]any)
	if len(v) != 3 || took >= 250*time.Millisecond {
		t.Errorf("MGET live, ejected, live: %s in %v", show(raw), took)
	} else {
		if b, _ := v[0].([]byte); string(b) != "v-"+good[0][2] {
			t.Errorf("MGET position 0: %#v", v[0])
		}
		if e, _ := v[1].(respErr); !strings.HasPrefix("-"+string(e), backendErr("hang")) {
			t.Errorf("MGET position 1 (the ejected node): %#v", v[1])
		}
		if b, _ := v[2].([]byte); string(b) != "v-"+good[1][2] {
			t.Errorf("MGET position 2: %#v", v[2])
		}
	}
	if v, _ := value(t, c.must(t, "INFO")).([]byte); !strings.Contains(string(v), "backend_dc1_hang:") || !strings.Contains(string(v), "state=ejected") {
		t.Errorf("INFO does not show the silent node ejected:\n%s", v)
	}
	body := scrape(t, px.AdminAddr)
	if n := sumMetric(body, "relcache_proxy_ejections_total", ""); n < 1 {
		t.Errorf("relcache_proxy_ejections_total sums to %v after an ejection:\n%s", n, grepLines(body, "relcache_proxy_ejections_total"))
	}
	if n := sumMetric(body, "relcache_proxy_backend_errors_total", `"hang"`); n < 3 {
		t.Errorf("relcache_proxy_backend_errors_total for the silent node sums to %v after 3 timeouts:\n%s", n, grepLines(body, "relcache_proxy_backend_errors_total"))
	}
}

// scrape returns the proxy's /metrics text.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sumMetric adds up the samples of metric whose labels contain label.
func sumMetric(body, metric, label string) float64 {
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(l, metric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, label) {
			continue
		}
		f := strings.Fields(rest)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

func grepLines(body, s string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// --- 6. Bad input ---------------------------------------------------------------

// TestProxyBadInput sends malformed and refused commands, each on a fresh
// connection, and checks the exact replies (Redis's wording), whether the
// connection is closed, and that the proxy is still alive and its backend
// connections in step: after each case the known keys read back right,
// one by one and in one MGET across all nodes.
func TestProxyBadInput(t *testing.T) {
	cl := startCluster(t, 3, "node")
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	setup := dial(t, px.Addr)
	var known []string
	vals := map[string]string{}
	for i := range cl.procs {
		for j, k := range pl.keysOn(i, 5, fmt.Sprintf("known%d:", i)) {
			known = append(known, k)
			vals[k] = fmt.Sprintf("value of %s\r\n*1\r\n$4\r\nPING\r\n-%d", k, j) // RESP inside a value
			if raw := setup.must(t, "SET", k, vals[k]); string(raw) != "+OK\r\n" {
				t.Fatalf("SET %s: %s", k, show(raw))
			}
		}
	}
	big := strings.Repeat("0123456789abcdef", 256<<10) // 4 MiB
	if raw := setup.must(t, "SET", "big", big); string(raw) != "+OK\r\n" {
		t.Fatalf("SET big: %s", show(raw))
	}
	healthy := func(after string) {
		t.Helper()
		if !alive(px) {
			t.Fatalf("after %s: the proxy exited:\n%s", after, px.Logs())
		}
		c, err := dialRESP(px.Addr)
		if err != nil {
			t.Fatalf("after %s: dial: %v", after, err)
		}
		defer c.Close()
		if raw, err := c.do("PING"); err != nil || string(raw) != "+PONG\r\n" {
			t.Fatalf("after %s: PING on a new connection: %s, %v", after, show(raw), err)
		}
		var want []string
		for _, k := range known {
			c.send("GET", k)
			want = append(want, vals[k])
		}
		c.send(append([]string{"MGET"}, known...)...)
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		for _, k := range known {
			if raw, err := c.read(); err != nil || string(raw) != bulk(vals[k]) {
				t.Fatalf("after %s: GET %s: %s, %v; want %q (backend out of step?)", after, k, show(raw), err, bulk(vals[k]))
			}
		}
		if raw, err := c.read(); err != nil || string(raw) != mgetWant(want) {
			t.Fatalf("after %s: MGET of keys on all nodes: %s, %v", after, show(raw), err)
		}
	}
	healthy("setup")

	k0 := known[0]
	for _, tc := range []struct {
		name   string
		in     string
		want   []string // complete replies, in order
		closed bool     // the proxy closes the connection after them
	}{
		{"oversized bulk", "*1\r\n$999999999999\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"bulk over proto_max_bulk_len", "*2\r\n$3\r\nGET\r\n$600000000\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"negative multibulk with junk", "*-5x\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}, true},
		{"multibulk length not a number", "*abc\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}, true},
		{"huge multibulk", "*99999999999\r\n", []string{"-ERR Protocol error: invalid multibulk length\r\n"}, true},
		{"bulk length not a number", "*1\r\n$abc\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"null bulk argument", "*2\r\n$3\r\nGET\r\n$-1\r\n", []string{"-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"integer where a bulk belongs", "*2\r\n$3\r\nGET\r\n:5\r\n", []string{"-ERR Protocol error: expected '$', got ':'\r\n"}, true},
		{"unbalanced quotes inline", "SET \"a b\r\n", []string{"-ERR Protocol error: unbalanced quotes in request\r\n"}, true},
		{"answered before the protocol error", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(k0)) + "\r\n" + k0 + "\r\n*1\r\n$-7\r\n",
			[]string{"+PONG\r\n", bulk(vals[k0]), "-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"MGET answered before the protocol error", "*4\r\n$4\r\nMGET\r\n$" + strconv.Itoa(len(known[0])) + "\r\n" + known[0] + "\r\n$" + strconv.Itoa(len(known[5])) + "\r\n" + known[5] + "\r\n$" + strconv.Itoa(len(known[10])) + "\r\n" + known[10] + "\r\n*1\r\n$x\r\n",
			[]string{mgetWant([]string{vals[known[0]], vals[known[5]], vals[known[10]]}), "-ERR Protocol error: invalid bulk length\r\n"}, true},
		{"inline PING", "PING\r\n", []string{"+PONG\r\n"}, false},
		{"empty inline lines", "\r\n\r\n*1\r\n$4\r\nPING\r\n", []string{"+PONG\r\n"}, false},
		{"GET without a key", "*1\r\n$3\r\nget\r\n", []string{"-ERR wrong number of arguments for 'get' command\r\n"}, false},
		{"GET with two keys", "*3\r\n$3\r\nGET\r\n$1\r\na\r\n$1\r\nb\r\n", []string{"-ERR wrong number of arguments for 'get' command\r\n"}, false},
		{"MGET without keys", "*1\r\n$4\r\nMGET\r\n", []string{"-ERR wrong number of arguments for 'mget' command\r\n"}, false},
		{"MSET with an odd count", "*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", []string{"-ERR wrong number of arguments for 'mset' command\r\n"}, false},
		{"DEL without keys", "*1\r\n$3\r\nDEL\r\n", []string{"-ERR wrong number of arguments for 'del' command\r\n"}, false},
		{"RELCHECK with one uid", "*2\r\n$8\r\nRELCHECK\r\n$1\r\n1\r\n", []string{"-ERR wrong number of arguments for 'relcheck' command\r\n"}, false},
		{"RELWHO with one uid", "*2\r\n$6\r\nrelwho\r\n$1\r\n1\r\n", []string{"-ERR wrong number of arguments for 'relwho' command\r\n"}, false},
		{"FOLLOW with one uid", "*2\r\n$6\r\nFOLLOW\r\n$1\r\n1\r\n", []string{"-ERR wrong number of arguments for 'follow' command\r\n"}, false},
		{"PING with two arguments", "*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n", []string{"-ERR wrong number of arguments for 'ping' command\r\n"}, false},
		{"ECHO without a message", "*1\r\n$4\r\nECHO\r\n", []string{"-ERR wrong number of arguments for 'echo' command\r\n"}, false},
		{"SELECT without an index", "*1\r\n$6\r\nSELECT\r\n", []string{"-ERR wrong number of arguments for 'select' command\r\n"}, false},
		{"unknown command", "*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n", []string{"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"}, false},
		{"unknown command alone", "*1\r\n$6\r\nfoobar\r\n", []string{"-ERR unknown command 'foobar', with args beginning with: \r\n"}, false},
		{"KEYS", "*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n", []string{"-ERR 'keys' command is not supported by the proxy\r\n"}, false},
		{"keys in mixed case", "*2\r\n$4\r\nKeYs\r\n$1\r\n*\r\n", []string{"-ERR 'keys' command is not supported by the proxy\r\n"}, false},
		{"SCAN", "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n", []string{"-ERR 'scan' command is not supported by the proxy\r\n"}, false},
		{"FLUSHALL", "*1\r\n$8\r\nFLUSHALL\r\n", []string{"-ERR 'flushall' command is not supported by the proxy\r\n"}, false},
		{"FLUSHDB", "*1\r\n$7\r\nFLUSHDB\r\n", []string{"-ERR 'flushdb' command is not supported by the proxy\r\n"}, false},
		{"MULTI, then DISCARD", "*1\r\n$5\r\nMULTI\r\n*1\r\n$7\r\nDISCARD\r\n", []string{"+OK\r\n", "+OK\r\n"}, false},
		{"EXEC without MULTI", "*1\r\n$4\r\nEXEC\r\n", []string{"-ERR EXEC without MULTI\r\n"}, false},
		{"DISCARD without MULTI", "*1\r\n$7\r\nDISCARD\r\n", []string{"-ERR DISCARD without MULTI\r\n"}, false},
		{"WATCH without a key", "*1\r\n$5\r\nWATCH\r\n", []string{"-ERR wrong number of arguments for 'watch' command\r\n"}, false},
		{"MULTI with an argument", "*2\r\n$5\r\nMULTI\r\n$1\r\nx\r\n", []string{"-ERR wrong number of arguments for 'multi' command\r\n"}, false},
		{"a transaction refused at queue time", "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n*1\r\n$4\r\nEXEC\r\n",
			[]string{"+OK\r\n", "-ERR 'keys' command is not supported by the proxy\r\n", "-EXECABORT Transaction discarded because of previous errors.\r\n"}, false},
		{"SUBSCRIBE", "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", []string{"-ERR 'subscribe' command is not supported by the proxy\r\n"}, false},
		{"RANDOMKEY", "*1\r\n$9\r\nRANDOMKEY\r\n", []string{"-ERR 'randomkey' command is not supported by the proxy\r\n"}, false},
		{"SELECT 1", "*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n", []string{"-ERR DB index is out of range\r\n"}, false},
		{"SELECT x, as Redis", "*2\r\n$6\r\nSELECT\r\n$1\r\nx\r\n", []string{"-ERR value is not an integer or out of range\r\n"}, false},
		{"SELECT past a C int, as Redis", "*2\r\n$6\r\nSELECT\r\n$10\r\n2147483648\r\n", []string{"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"}, false},
	} {
		conn, err := net.Dial("tcp", px.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		rd := bufio.NewReader(conn)
		if _, err := io.WriteString(conn, tc.in); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		for i, want := range tc.want {
			raw, err := readReply(rd, nil)
			if err != nil || string(raw) != want {
				t.Errorf("%s: reply %d: %s, %v; want %q", tc.name, i, show(raw), err, want)
				break
			}
		}
		if tc.closed {
			if b, err := rd.ReadByte(); err == nil {
				rest, _ := rd.Peek(rd.Buffered())
				t.Errorf("%s: connection still open after the protocol error; read %q%q", tc.name, b, rest)
			} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("%s: connection not closed after the protocol error: %v", tc.name, err)
			}
		} else {
			io.WriteString(conn, "*1\r\n$4\r\nPING\r\n")
			if raw, err := readReply(rd, nil); err != nil || string(raw) != "+PONG\r\n" {
				t.Errorf("%s: PING on the same connection afterwards: %s, %v", tc.name, show(raw), err)
			}
		}
		conn.Close()
		healthy(tc.name)
	}

	// Garbage: an error, then whatever Redis would do; never a crash.
	for _, g := range []string{"\x00\xff\xfe garbage\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "$5\r\nhello\r\n", ":1\r\n", "*1\r\n*1\r\n$4\r\nPING\r\n", "+OK\r\n-ERR\r\n"} {
		conn, err := net.Dial("tcp", px.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(conn, g)
		if tw, ok := conn.(*net.TCPConn); ok {
			tw.CloseWrite()
		}
		out, _ := io.ReadAll(conn)
		if len(out) > 0 && out[0] != '-' {
			t.Errorf("garbage %q: reply %q, want an error", g, out)
		}
		t.Logf("garbage %q: %q", g, out)
		conn.Close()
		healthy(fmt.Sprintf("garbage %q", g))
	}

	// Half a command, then the client goes away; a big reply nobody reads.
	for _, partial := range []string{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc", "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"} {
		conn, err := net.Dial("tcp", px.Addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, partial)
		conn.Close()
	}
	time.Sleep(100 * time.Millisecond)
	healthy("clients that left mid-command")

	// A 4 MiB value and a pipeline of 2000 commands come back whole.
	c := dial(t, px.Addr)
	if raw := c.must(t, "GET", "big"); string(raw) != bulk(big) {
		t.Errorf("GET of a 4 MiB value: %d bytes, want %d", len(raw), len(bulk(big)))
	}
	for i := range 2000 {
		c.send("GET", known[i%len(known)])
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		k := known[i%len(known)]
		if raw, err := c.read(); err != nil || string(raw) != bulk(vals[k]) {
			t.Fatalf("pipelined GET %d (%s): %s, %v", i, k, show(raw), err)
		}
	}
	if px.HasLog("panic") {
		t.Errorf("the proxy logged a panic:\n%s", px.Logs())
	}
}

// alive reports whether the proxy process still runs.
func alive(p *relcachetest.Proc) bool {
	return p.Signal(syscall.Signal(0)) == nil
}
