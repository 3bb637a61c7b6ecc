package proxyfront_test

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/relcache/relcache/internal/relcachetest"
)

// l1On is the [l1] table that turns the L1 on.
const l1On = "\n[l1]\nenabled = true\nmax_bytes = 16777216\n"

// l1Info reads one field of the proxy's INFO l1.
func l1Info(t testing.TB, c *rconn, field string) int64 {
	t.Helper()
	raw := c.must(t, "INFO", "l1")
	for line := range strings.SplitSeq(string(raw), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO l1 %s: %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("INFO l1 has no %s: %s", field, show(raw))
	return 0
}

// l1Proxy starts nodes pure-cache nodes and a proxy over them with the L1
// on; edit, when given, changes the config first.
func l1Proxy(t *testing.T, nodes int, edit func(*proxyConfig)) (*cluster, *relcachetest.Proc) {
	t.Helper()
	cl := startCluster(t, nodes, "node", "--source", "none")
	conf := onePool(cl)
	conf.Extra = l1On
	if edit != nil {
		edit(&conf)
	}
	px, _ := startProxy(t, conf)
	return cl, px
}

// warmL1 repeats args through the proxy until the L1 answers it (a hit
// more), and returns the reply.
func warmL1(t testing.TB, c *rconn, args ...string) []byte {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		before := l1Info(t, c, "l1_hits")
		raw := c.must(t, args...)
		if l1Info(t, c, "l1_hits") > before {
			return raw
		}
	}
	t.Fatalf("%s was never answered from the L1", showArgs(args))
	return nil
}

// TestL1Off: without [l1] INFO says so and nothing is counted.
func TestL1Off(t *testing.T) {
	cl := startCluster(t, 1, "node", "--source", "none")
	px, _ := startProxy(t, onePool(cl))
	c := dial(t, px.Addr)
	c.must(t, "SET", "k", "v")
	for range 3 {
		c.must(t, "GET", "k")
	}
	if raw := c.must(t, "INFO", "l1"); !strings.Contains(string(raw), "l1_enabled:0\r\n") || strings.Contains(string(raw), "l1_hits") {
		t.Errorf("INFO l1 with the L1 off: %s", show(raw))
	}
}

// TestL1AnswersAsTheNode: with the L1 on, every read is answered as one
// node holding everything answers it, when it comes from the node (first
// reads) and when it comes from the L1 (the same reads again): strings,
// sets, a truncated set (-1 for a miss without a source), a bi-follow
// list, a key with a TTL, a key of another kind, refusals, and RELMULTI
// and RELCHECK forms the L1 does not answer (windows, BITS).
func TestL1AnswersAsTheNode(t *testing.T) {
	for _, nodes := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", nodes), func(t *testing.T) { testL1AnswersAsTheNode(t, nodes) })
	}
}

func testL1AnswersAsTheNode(t *testing.T, nodes int) {
	_, px := l1Proxy(t, nodes, nil)
	ref := startNode(t, "--source", "none")
	p := newPair(t, px.Addr, ref.Addr)
	setup := [][]string{
		{"SET", "s1", "hello"}, {"SET", "s2", ""}, {"SET", "ttl", "v", "EX", "1000"},
		{"RELLOAD", fkey(1), "TIMES", "2", "100", "3", "200", "4", "300"},
		{"RELLOAD", fkey(2), "1", "3"},
		{"RELLOAD", fkey(3), "1", "2"},
		{"RELLOAD", fkey(5), "TRUNCATED", "1", "2"},
		{"RELLOAD", rkey(1), "2", "3"},
		{"HSET", "h", "f", "v"},
	}
	for _, s := range setup {
		p.check(s...)
	}
	reads := [][]string{
		{"GET", "s1"}, {"GET", "s2"}, {"GET", "ttl"}, {"GET", "nope"}, {"GET", "h"}, {"GET", fkey(1)},
		{"RELMULTI", fkey(1), "2", "3", "9"}, {"RELMULTI", fkey(1), "BITS", "2", "9"},
		{"RELMULTI", fkey(1), "SINCE", "150", "2", "3"}, {"RELMULTI", fkey(1), "x"},
		{"RELMULTI", fkey(5), "1", "9"}, {"RELMULTI", "s1", "1"}, {"RELMULTI", "h", "1"},
		{"RELMULTI", fkey(9), "1"},
		{"RELCHECK", "1", "2"}, {"RELCHECK", "1", "BATCH", "2", "3", "4"}, {"RELCHECK", "2", "1"},
		{"RELCHECK", "1", "5"}, {"RELCHECK", "5", "1"}, {"RELCHECK", "1", "9"}, {"RELCHECK", "1", "2", "3"},
		{"RELCHECK", "1", "SINCE", "150", "BATCH", "2", "3"}, {"RELCHECK", "2", "BATCH", "1", "3"},
		{"RELCHECK", "1", "x"},
	}
	if nodes == 1 {
		// The proxy refuses RELMULTI of a bi-follow list it would have to
		// assemble across nodes; on one node it forwards it.
		reads = append(reads, []string{"RELMULTI", "1.bifollow", "2", "3"}, []string{"GET", "1.bifollow"})
	}
	c := dial(t, px.Addr)
	// Warm the L1 on what it caches, so the comparison below is against
	// its answers.
	for _, r := range [][]string{{"GET", "s1"}, {"GET", "ttl"}, {"RELMULTI", fkey(1), "2"}, {"RELCHECK", "1", "2"}} {
		warmL1(t, c, r...)
	}
	for range 4 {
		for _, r := range reads {
			p.queue(r...)
		}
		p.sync()
	}
	if hits := l1Info(t, c, "l1_hits"); hits == 0 {
		t.Errorf("the L1 answered nothing")
	}
}

// TestL1NodeWritesInvalidate: a write made directly on the node (not
// through the proxy) reaches the L1 through tracking: the proxy's answer
// changes (polled, no time asserted) and, once it has, never goes back.
func TestL1NodeWritesInvalidate(t *testing.T) {
	cl, px := l1Proxy(t, 1, nil)
	c := dial(t, px.Addr)
	node := dial(t, cl.procs[0].Addr)
	node.must(t, "SET", "k", "0")
	node.must(t, "RELLOAD", fkey(1), "2")
	warmL1(t, c, "GET", "k")
	warmL1(t, c, "RELMULTI", fkey(1), "2", "3")
	for i := 1; i <= 20; i++ {
		v := strconv.Itoa(i)
		node.must(t, "SET", "k", v)
		node.must(t, "RELADD", fkey(1), strconv.Itoa(i+2))
		seen := false
		for deadline := time.Now().Add(20 * time.Second); !seen; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("GET k through the proxy never showed %s after it was SET on the node", v)
			}
			got := c.must(t, "GET", "k")
			switch string(got) {
			case bulk(v):
				seen = true
			case bulk(strconv.Itoa(i - 1)):
			default:
				t.Fatalf("GET k: %s while waiting for %s", show(got), v)
			}
		}
		// Once the new value showed, the old never again; the set too.
		for range 20 {
			if got := c.must(t, "GET", "k"); string(got) != bulk(v) {
				t.Fatalf("GET k: %s after %s showed", show(got), v)
			}
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			got := c.must(t, "RELMULTI", fkey(1), strconv.Itoa(i+2))
			if string(got) == "*1\r\n:1\r\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("RELMULTI never showed the member RELADDed on the node: %s", show(got))
			}
		}
	}
	if inv := l1Info(t, c, "l1_invalidations"); inv == 0 {
		t.Errorf("no invalidation counted")
	}
}

// TestL1NodeRestarted: a node killed and started again on its port with
// other data: the proxy never answers from what the old one held.
func TestL1NodeRestarted(t *testing.T) {
	cl, px := l1Proxy(t, 1, func(c *proxyConfig) { c.Pools[0].ServerRetryTimeout = "100ms" })
	c := dial(t, px.Addr)
	node := dial(t, cl.procs[0].Addr)
	node.must(t, "SET", "k", "old")
	node.must(t, "RELLOAD", fkey(1), "2")
	node.must(t, "RELLOAD", fkey(2))
	warmL1(t, c, "GET", "k")
	warmL1(t, c, "RELCHECK", "1", "BATCH", "2")
	cl.procs[0].Kill()
	back := startNode(t, "--source", "none", "--addr", fmt.Sprintf("127.0.0.1:%d", cl.ports[0]))
	nb := dial(t, back.Addr)
	nb.must(t, "SET", "k", "new")
	nb.must(t, "RELLOAD", fkey(1), "3")
	nb.must(t, "RELLOAD", fkey(2))
	gotNew := false
	for deadline := time.Now().Add(20 * time.Second); !gotNew; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the proxy never answered from the restarted node")
		}
		got := c.must(t, "GET", "k")
		switch {
		case string(got) == bulk("old"):
			t.Fatalf("GET k answered the killed node's value after the restart")
		case string(got) == bulk("new"):
			gotNew = true
		}
		if rc := c.must(t, "RELCHECK", "1", "BATCH", "2"); string(rc) == "*1\r\n:1\r\n" {
			t.Fatalf("RELCHECK 1 BATCH 2 answered from the killed node's lists: %s", show(rc))
		}
	}
	if string(warmL1(t, c, "RELCHECK", "1", "BATCH", "2")) != "*1\r\n:0\r\n" {
		t.Errorf("RELCHECK 1 BATCH 2 from the L1 after the restart is not the new node's 0")
	}
	if l1Info(t, c, "l1_drops") == 0 {
		t.Errorf("no drop counted for the lost connection")
	}
}

// TestL1NeverStale (issue 19 item 4): readers of hot keys through the
// proxy, with the L1 on, while writers FOLLOW, UNFOLLOW, RELADD and SET
// through the same proxy. A read that starts after a write's reply arrived
// must show that write (or a later one): zero stale answers. Every writer
// only moves forward (follows b_1, b_2, ... and unfollows them in the same
// order, a trail behind; RELADDs uids in order; SETs counters), so a
// stale answer is one older than what was acknowledged before the read
// was sent.
func TestL1NeverStale(t *testing.T) {
	m := relcachetest.StartMariaDB(t)
	source := []string{"--source", "mysql", "--source-dbs", "2", "--source-tables", "2", "--source-mysql", "0-1=" + m.DSN()}
	if out, err := exec.Command(relcachetest.Binary(t), append([]string{"schema"}, source...)...).CombinedOutput(); err != nil {
		t.Fatalf("relcache schema: %v\n%s", err, out)
	}
	cl := startCluster(t, 2, "node", append(slices.Clone(source), "--load-timeout", "10s")...)
	conf := onePool(cl)
	conf.Extra = l1On
	px, _ := startProxy(t, conf)

	const hot, bs, trail = 4, 60, 8 // hot users a; b's each follows; unfollow lags this far
	const strs = 3
	type progress struct {
		followed, unfollowSent, unfollowed atomic.Int64 // how far, acknowledged or sent
	}
	var users [hot]progress
	var added [hot]atomic.Int64 // RELADDs acknowledged on "hot<i>"
	var counters [strs]atomic.Int64
	a := func(i int) uint64 { return uint64(7 + i) }
	b := func(i, k int) uint64 { return uint64(100000 + 1000*i + k) }
	setKey := func(i int) string { return fmt.Sprintf("hotset%d", i) }

	w := dial(t, px.Addr)
	for i := range hot {
		w.must(t, "RELLOAD", setKey(i), "1")
		w.must(t, "RELMULTI", fkey(a(i)), "1") // cached (filled from the source)
	}
	for i := range strs {
		w.must(t, "SET", fmt.Sprintf("hotstr%d", i), "0")
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var stale atomic.Int64
	fail := func(format string, args ...any) {
		if stale.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i := range hot { // writers: one per hot user, one per string
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, px.Addr)
			for k := 1; k <= bs && !stop.Load(); k++ {
				if raw, err := c.do("FOLLOW", u64(a(i)), u64(b(i, k))); err != nil || raw[0] != ':' {
					fail("FOLLOW: %s %v", show(raw), err)
					return
				}
				users[i].followed.Store(int64(k))
				if raw, err := c.do("RELADD", setKey(i), u64(uint64(10+k))); err != nil || raw[0] != ':' {
					fail("RELADD: %s %v", show(raw), err)
					return
				}
				added[i].Store(int64(k))
				if k > trail {
					users[i].unfollowSent.Store(int64(k - trail))
					if raw, err := c.do("UNFOLLOW", u64(a(i)), u64(b(i, k-trail))); err != nil || raw[0] != ':' {
						fail("UNFOLLOW: %s %v", show(raw), err)
						return
					}
					users[i].unfollowed.Store(int64(k - trail))
				}
			}
		}()
	}
	for i := range strs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, px.Addr)
			for n := 1; n <= 300 && !stop.Load(); n++ {
				if raw, err := c.do("SET", fmt.Sprintf("hotstr%d", i), strconv.Itoa(n)); err != nil || string(raw) != "+OK\r\n" {
					fail("SET: %s %v", show(raw), err)
					return
				}
				counters[i].Store(int64(n))
			}
		}()
	}
	var reads atomic.Int64
	var readers sync.WaitGroup
	for r := range 4 { // readers
		readers.Add(1)
		go func() {
			defer readers.Done()
			c := dial(t, px.Addr)
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for !stop.Load() {
				i := rng.IntN(hot)
				switch rng.IntN(4) {
				case 0: // RELMULTI a.following b_1..b_bs
					f, u := users[i].followed.Load(), users[i].unfollowed.Load()
					args := []string{"RELMULTI", fkey(a(i))}
					for k := 1; k <= bs; k++ {
						args = append(args, u64(b(i, k)))
					}
					raw, err := c.do(args...)
					if err != nil {
						fail("RELMULTI: %v", err)
						return
					}
					codes, ok := value(t, raw).([]any)
					if !ok || len(codes) != bs {
						fail("RELMULTI: %s", show(raw))
						return
					}
					sent := users[i].unfollowSent.Load()
					for k := 1; k <= bs; k++ {
						switch {
						case int64(k) <= u && codes[k-1] != int64(0):
							fail("RELMULTI %s: b_%d was unfollowed before the read, answered %v", fkey(a(i)), k, codes[k-1])
						case int64(k) > sent && int64(k) <= f && codes[k-1] != int64(1):
							fail("RELMULTI %s: b_%d was followed before the read, answered %v", fkey(a(i)), k, codes[k-1])
						}
					}
				case 1: // RELCHECK a b_k
					k := 1 + rng.IntN(bs)
					f, u := users[i].followed.Load(), users[i].unfollowed.Load()
					raw, err := c.do("RELCHECK", u64(a(i)), u64(b(i, k)))
					if err != nil {
						fail("RELCHECK: %v", err)
						return
					}
					code, _ := value(t, raw).(int64)
					switch {
					case int64(k) <= u && code&1 != 0:
						fail("RELCHECK %d %d: unfollowed before the read, answered %s", a(i), b(i, k), show(raw))
					case int64(k) > users[i].unfollowSent.Load() && int64(k) <= f && code&1 == 0:
						fail("RELCHECK %d %d: followed before the read, answered %s", a(i), b(i, k), show(raw))
					}
				case 2: // RELMULTI hotset<i> of everything added
					n := added[i].Load()
					raw, err := c.do("RELMULTI", setKey(i), u64(uint64(10+max(n, 1))))
					if err != nil {
						fail("RELMULTI: %v", err)
						return
					}
					if n > 0 && string(raw) != "*1\r\n:1\r\n" {
						fail("RELMULTI %s %d: RELADDed before the read, answered %s", setKey(i), 10+n, show(raw))
					}
				case 3: // GET hotstr
					j := rng.IntN(strs)
					n := counters[j].Load()
					raw, err := c.do("GET", fmt.Sprintf("hotstr%d", j))
					if err != nil {
						fail("GET: %v", err)
						return
					}
					got, _ := value(t, raw).([]byte)
					if v, err := strconv.ParseInt(string(got), 10, 64); err != nil || v < n {
						fail("GET hotstr%d: %s, but %d was acknowledged before the read", j, show(raw), n)
					}
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	c := dial(t, px.Addr)
	t.Logf("%d reads, %d stale; L1: %d hits, %d misses, %d fetches, %d invalidations, %d barriers",
		reads.Load(), stale.Load(), l1Info(t, c, "l1_hits"), l1Info(t, c, "l1_misses"), l1Info(t, c, "l1_fetches"),
		l1Info(t, c, "l1_invalidations"), l1Info(t, c, "l1_barriers"))
	if l1Info(t, c, "l1_hits") == 0 {
		t.Errorf("the L1 answered none of the reads: the test proved nothing")
	}
}

// TestL1ReadYourWrite: each write through the proxy is followed at once by
// a read of the same key on another connection, with the old value in the
// L1 when the write was sent: the read must show the write. This is the
// narrowest window there is between a write's reply and its invalidation
// (TestL1NeverStale spreads the same check over many clients).
func TestL1ReadYourWrite(t *testing.T) {
	_, px := l1Proxy(t, 2, nil)
	w, r, info := dial(t, px.Addr), dial(t, px.Addr), dial(t, px.Addr)
	w.must(t, "SET", "k", "0")
	w.must(t, "RELLOAD", fkey(1), "1000")
	w.must(t, "RELLOAD", fkey(2))
	for n := 1; n <= 150; n++ {
		warmL1(t, info, "GET", "k")
		warmL1(t, info, "RELCHECK", "1", "BATCH", "2")
		w.must(t, "SET", "k", strconv.Itoa(n))
		if got := r.must(t, "GET", "k"); string(got) != bulk(strconv.Itoa(n)) {
			t.Fatalf("GET k right after SET k %d was acknowledged: %s", n, show(got))
		}
		w.must(t, "RELLOAD", fkey(1), "TIMES", "2", strconv.Itoa(n))
		if got := r.must(t, "RELCHECK", "1", "BATCH", "2"); string(got) != "*1\r\n:1\r\n" {
			t.Fatalf("RELCHECK 1 BATCH 2 right after RELLOAD of 1's list with 2 was acknowledged: %s", show(got))
		}
		w.must(t, "RELLOAD", fkey(1), "1000")
	}
}

// TestL1FetchInvalidateOrder: a writer on the node itself SETs a key and
// RELADDs to a set as fast as it can while readers through the proxy keep
// fetching them into the L1. A fetch that read a value before a change
// and were inserted after the change's invalidation would stay in the L1
// (until its ttl, a minute): once the writer stops, every read must come
// to the last value and stay there.
func TestL1FetchInvalidateOrder(t *testing.T) {
	cl, px := l1Proxy(t, 1, nil)
	node := dial(t, cl.procs[0].Addr)
	node.must(t, "RELLOAD", "set")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, px.Addr)
			for !stop.Load() {
				c.send("GET", "k")
				c.send("RELMULTI", "set", "1")
				if err := c.flush(); err != nil {
					t.Error(err)
					return
				}
				for range 2 {
					if _, err := c.read(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	const last = 3000
	for n := 1; n <= last; n++ {
		node.send("SET", "k", strconv.Itoa(n))
		node.send("RELADD", "set", strconv.Itoa(n))
		if n%10 == 0 {
			if err := node.flush(); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				if _, err := node.read(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	c := dial(t, px.Addr)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		g, m := c.must(t, "GET", "k"), c.must(t, "RELMULTI", "set", strconv.Itoa(last))
		if string(g) == bulk(strconv.Itoa(last)) && string(m) == "*1\r\n:1\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the writes stopped the proxy still answers GET k %s and RELMULTI set %d %s", show(g), last, show(m))
		}
	}
	for range 100 {
		g, m := c.must(t, "GET", "k"), c.must(t, "RELMULTI", "set", strconv.Itoa(last))
		if string(g) != bulk(strconv.Itoa(last)) || string(m) != "*1\r\n:1\r\n" {
			t.Fatalf("the proxy went back to GET k %s, RELMULTI set %d %s", show(g), last, show(m))
		}
	}
	t.Logf("L1: %d hits, %d fetches, %d invalidations", l1Info(t, c, "l1_hits"), l1Info(t, c, "l1_fetches"), l1Info(t, c, "l1_invalidations"))
}

// TestL1NodeStopsAnswering: a node that stops answering without closing
// its connections (SIGSTOP: what a network partition looks like) has its
// entries dropped by the tracked connection's keepalive, and from then on
// nothing of it is answered from the L1: a GET of a key that was cached
// fails as the node's other keys do, instead of answering a value the
// node can no longer say is current.
func TestL1NodeStopsAnswering(t *testing.T) {
	cl, px := l1Proxy(t, 1, func(c *proxyConfig) { c.Pools[0].Timeout, c.Pools[0].ServerRetryTimeout = "300ms", "100ms" })
	c := dial(t, px.Addr)
	node := dial(t, cl.procs[0].Addr)
	node.must(t, "SET", "k", "v")
	warmL1(t, c, "GET", "k")
	drops := l1Info(t, c, "l1_drops")
	if err := cl.procs[0].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer cl.procs[0].Signal(syscall.SIGCONT)
	for deadline := time.Now().Add(20 * time.Second); l1Info(t, c, "l1_drops") == drops; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stopped node's entries were never dropped")
		}
	}
	if got := c.must(t, "GET", "k"); string(got) == bulk("v") {
		t.Fatalf("GET k answered from the L1 after the node's entries were dropped: %s", show(got))
	}
	cl.procs[0].Signal(syscall.SIGCONT)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := c.must(t, "GET", "k"); string(got) == bulk("v") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GET k never answered again after the node went on")
		}
	}
}

// TestL1Reload: a reload that takes a node out of the pool moves its keys
// to the others, and the L1 never answers them from what the removed node
// held; the removed node's tracked connection is closed (its tracking
// client goes away).
func TestL1Reload(t *testing.T) {
	cl := startCluster(t, 2, "node", "--source", "none")
	conf := onePool(cl)
	conf.Extra = l1On
	conf.Pools[0].Timeout = "500ms"
	px, path := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	k := pl.keysOn(1, 1, "k")[0]
	c := dial(t, px.Addr)
	c.must(t, "SET", k, "on-node2")
	warmL1(t, c, "GET", k)
	node2 := dial(t, cl.procs[1].Addr)
	tracking := func() string {
		for line := range strings.SplitSeq(string(node2.must(t, "INFO", "clients")), "\r\n") {
			if v, ok := strings.CutPrefix(line, "tracking_clients:"); ok {
				return v
			}
		}
		return "?"
	}
	if n := tracking(); n != "1" {
		t.Fatalf("node2's tracking_clients = %s with the L1 warm, want 1", n)
	}
	conf.Pools[0].Servers = cl.lines()[:1]
	conf.write(t, path)
	if err := px.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := c.must(t, "GET", k)
		if string(got) == "$-1\r\n" {
			break // node1's answer: it never held k
		}
		if string(got) != bulk("on-node2") || time.Now().After(deadline) {
			t.Fatalf("GET %s after node2 left the pool: %s", k, show(got))
		}
	}
	for range 20 {
		if got := c.must(t, "GET", k); string(got) != "$-1\r\n" {
			t.Fatalf("GET %s went back to %s after the reload", k, show(got))
		}
	}
	for deadline := time.Now().Add(20 * time.Second); tracking() != "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node2 still has %s tracking clients after it left the pool", tracking())
		}
	}
}

// TestL1MemcacheEntry: the memcache entry's reads go through the L1 too,
// and its writes get the same barrier: a get right after a set was
// answered shows the set, on the same client and on another.
func TestL1MemcacheEntry(t *testing.T) {
	mcAddr, respAddr := startMemcacheProxy(t, 2, l1On)
	w, r := memcache.New(mcAddr), memcache.New(mcAddr)
	for _, c := range []*memcache.Client{w, r} {
		c.Timeout = 30 * time.Second
		defer c.Close()
	}
	info := dial(t, respAddr)
	get := func(c *memcache.Client) string {
		t.Helper()
		it, err := c.Get("k")
		if err != nil {
			t.Fatalf("get k: %v", err)
		}
		return string(it.Value)
	}
	for n := range 40 {
		v := strconv.Itoa(n)
		if err := w.Set(&memcache.Item{Key: "k", Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
		if got := get(r); got != v {
			t.Fatalf("get k on another client right after set k %s: %q", v, got)
		}
		if got := get(w); got != v {
			t.Fatalf("get k right after set k %s: %q", v, got)
		}
		// Until the L1 answers it, so the next set has something to
		// invalidate.
		for deadline := time.Now().Add(20 * time.Second); ; {
			before := l1Info(t, info, "l1_hits")
			get(r)
			if l1Info(t, info, "l1_hits") > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the L1 never answered the memcache get")
			}
		}
	}
}

// TestL1HTTPEntry: the HTTP entry's follow gets the write barrier: its
// relation read right after, answered from the L1 before the follow,
// shows it (one node on its SQLite source).
func TestL1HTTPEntry(t *testing.T) {
	cl := startCluster(t, 1, "node", "--source", "sqlite")
	conf := onePool(cl)
	conf.Extra = "[http]\nlisten = \"127.0.0.1:0\"\n" + l1On
	px, _ := startProxy(t, conf)
	h := newHClient(t, px.HTTPAddr, "")
	c := dial(t, px.Addr)
	for n := range 20 {
		a, b := u64(uint64(10+n)), u64(uint64(1000+n))
		warmL1(t, c, "RELCHECK", a, "BATCH", b) // both lists filled from the source, then held
		h.do("POST", "/v1/follow", []byte(`{"a":`+a+`,"b":`+b+`}`)).want(t, "follow", 200, `{"changed":1}`)
		h.do("GET", "/v1/relation?a="+a+"&b="+b, nil).want(t, "relation right after the follow", 200, `{"relations":[1]}`)
		warmL1(t, c, "RELCHECK", a, "BATCH", b)
		h.do("POST", "/v1/unfollow", []byte(`{"a":`+a+`,"b":`+b+`}`)).want(t, "unfollow", 200, `{"changed":1}`)
		h.do("GET", "/v1/relation?a="+a+"&b="+b, nil).want(t, "relation right after the unfollow", 200, `{"relations":[0]}`)
	}
}

// TestL1FetchReadsNoMoreThanItCaches: a value too big for the L1 is not
// read whole on the tracked connection. That connection is shared by every
// client of the node (their invalidations and write barriers wait behind
// whatever it is reading), and a client that GETs a big value twice must
// not make the proxy buffer a second copy of it there.
func TestL1FetchReadsNoMoreThanItCaches(t *testing.T) {
	const big = 4 << 20 // the L1 below caches values of at most 64 KiB
	cl, px := l1Proxy(t, 1, func(c *proxyConfig) {
		c.Extra = strings.Replace(l1On, "16777216", "1048576", 1)
	})
	c := dial(t, px.Addr)
	node := dial(t, cl.procs[0].Addr)
	node.must(t, "SET", "big", strings.Repeat("x", big))
	node.must(t, "SET", "small", "v")
	sent := func() int64 {
		raw := string(node.must(t, "INFO", "stats"))
		_, v, _ := strings.Cut(raw, "total_net_output_bytes:")
		n, err := strconv.ParseInt(v[:strings.IndexByte(v, '\r')], 10, 64)
		if err != nil {
			t.Fatalf("INFO stats: %q", raw)
		}
		return n
	}
	before := sent()
	for range 2 { // the second miss fetches
		if got := c.must(t, "GET", "big"); len(got) != big+len("$4194304\r\n\r\n") {
			t.Fatalf("GET big: %d bytes", len(got))
		}
	}
	// The tracked connection answers in order: once small is answered from
	// the L1, big's fetch is done.
	warmL1(t, c, "GET", "small")
	if got := c.must(t, "GET", "big"); len(got) != big+len("$4194304\r\n\r\n") {
		t.Fatalf("GET big after its fetch: %d bytes", len(got))
	}
	// Three GETs of big went through to the node; a fetch that read big
	// whole would be a fourth.
	if n := sent() - before; n > 3*big+(1<<20) {
		t.Errorf("the node sent %d bytes for three proxied GETs of a %d-byte value: the L1's fetch read it whole", n, big)
	}
}
