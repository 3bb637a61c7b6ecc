package proxyfront_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/relcache/relcache/internal/relcachetest"
)

// startMemcacheProxy starts a proxy over n nodes with the memcache entry
// on; it returns the entry's address and the proxy's RESP address.
func startMemcacheProxy(t *testing.T, n int, extra string) (mcAddr, respAddr string) {
	t.Helper()
	mcAddr, p := startMemcacheProxyProc(t, n, extra)
	return mcAddr, p.Addr
}

func startMemcacheProxyProc(t *testing.T, n int, extra string) (string, *relcachetest.Proc) {
	t.Helper()
	cl := startCluster(t, n, "node")
	cfg := onePool(cl)
	mcAddr := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	cfg.Extra = fmt.Sprintf("memcache_listen = %q\n%s", mcAddr, extra)
	p, _ := startProxy(t, cfg)
	return mcAddr, p
}

// startMemcached starts a real memcached for differential tests, or skips.
func startMemcached(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed (Debian package memcached)")
	}
	for range 5 {
		addr := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(bin, "-l", "127.0.0.1", "-p", port, "-U", "0", "-u", "nobody")
		if os.Geteuid() != 0 {
			cmd = exec.Command(bin, "-l", "127.0.0.1", "-p", port, "-U", "0")
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for range 100 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return addr
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
	}
	t.Fatal("memcached did not listen")
	return ""
}

// runScript plays a testdata/memcache script against addr (see the
// scripts' headers for the steps).
func runScript(t *testing.T, addr, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	rd := bufio.NewReader(c)
	vars := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		where := fmt.Sprintf("%s:%d (%s)", filepath.Base(path), n+1, addr)
		if arg != "" && verb != "send-zeros" {
			if arg, err = strconv.Unquote(arg); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
		switch verb {
		case "send":
			for k, v := range vars {
				arg = strings.ReplaceAll(arg, "$"+k, v)
			}
			if _, err := io.WriteString(c, arg); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case "send-zeros":
			n, _ := strconv.Atoi(arg)
			if _, err := c.Write(make([]byte, n)); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case "recv":
			got := make([]byte, len(arg))
			if _, err := io.ReadFull(rd, got); err != nil {
				t.Fatalf("%s: want %q, got %q then %v", where, arg, got, err)
			}
			if string(got) != arg {
				t.Fatalf("%s: want %q, got %q", where, arg, got)
			}
		case "recvline", "save-cas":
			for k, v := range vars {
				arg = strings.ReplaceAll(arg, "$"+k+"$", v+"$")
			}
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: want a line matching %q, got %q then %v", where, arg, l, err)
			}
			m := regexp.MustCompile(arg).FindStringSubmatch(strings.TrimSuffix(l, "\r\n"))
			if m == nil {
				t.Fatalf("%s: want a line matching %q, got %q", where, arg, l)
			}
			if verb == "save-cas" {
				vars["cas"] = m[1]
			}
		case "closed":
			if b, err := rd.ReadByte(); err == nil {
				t.Fatalf("%s: want the connection closed, got %q", where, b)
			}
		default:
			t.Fatalf("%s: unknown step %q", where, verb)
		}
	}
}

// TestMemcacheGolden plays the testdata/memcache scripts through the proxy
// (3 nodes) and, when memcached is installed, against a real memcached:
// the same bytes must get the same bytes back from both.
func TestMemcacheGolden(t *testing.T) {
	scripts, _ := filepath.Glob("testdata/memcache/*.txt")
	mcAddr, _ := startMemcacheProxy(t, 3, "")
	var real string
	if _, err := exec.LookPath("memcached"); err == nil {
		real = startMemcached(t)
	} else {
		t.Log("memcached not installed (Debian package memcached): checking the proxy against the scripts only")
	}
	for _, s := range scripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			runScript(t, mcAddr, s)
			if real != "" {
				runScript(t, real, s)
			}
		})
	}
}

// TestMemcacheClient drives the entry with gomemcache, a real memcache
// client, over three nodes: flags and values round-trip, a multi-get
// spans every node, and the RESP keyspace is untouched by the memcache one.
func TestMemcacheClient(t *testing.T) {
	mcAddr, respAddr := startMemcacheProxy(t, 3, "")
	mc := memcache.New(mcAddr)
	mc.Timeout = 30 * time.Second
	defer mc.Close()

	rc := dial(t, respAddr)
	if r := string(rc.must(t, "SET", "shared", "resp-value")); r != "+OK\r\n" {
		t.Fatalf("RESP SET: %q", r)
	}
	var keys []string
	for i := range 200 {
		k := fmt.Sprintf("key:%d", i)
		keys = append(keys, k)
		v := bytes.Repeat([]byte{byte(i)}, i*37)
		if err := mc.Set(&memcache.Item{Key: k, Value: v, Flags: uint32(i) * 16777259}); err != nil {
			t.Fatalf("Set %s: %v", k, err)
		}
	}
	if err := mc.Set(&memcache.Item{Key: "shared", Value: []byte("mc-value"), Flags: 7}); err != nil {
		t.Fatal(err)
	}
	got, err := mc.GetMulti(append(keys, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMulti: %d items, want %d", len(got), len(keys))
	}
	for i, k := range keys {
		it := got[k]
		if it == nil || !bytes.Equal(it.Value, bytes.Repeat([]byte{byte(i)}, i*37)) || it.Flags != uint32(i)*16777259 {
			t.Fatalf("GetMulti %s = %+v", k, it)
		}
	}
	// Disjoint keyspaces: each side reads its own value of "shared".
	if r := string(rc.must(t, "GET", "shared")); r != "$10\r\nresp-value\r\n" {
		t.Fatalf("RESP GET after a memcache set of the same key: %q", r)
	}
	if it, err := mc.Get("shared"); err != nil || string(it.Value) != "mc-value" || it.Flags != 7 {
		t.Fatalf("Get shared = %+v, %v", it, err)
	}

	if err := mc.Add(&memcache.Item{Key: "key:1", Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Add of an existing key: %v", err)
	}
	if err := mc.Replace(&memcache.Item{Key: "nope", Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("Replace of a missing key: %v", err)
	}
	mc.Set(&memcache.Item{Key: "list", Value: []byte("b"), Flags: 3})
	mc.Append(&memcache.Item{Key: "list", Value: []byte("c")})
	mc.Prepend(&memcache.Item{Key: "list", Value: []byte("a")})
	if it, err := mc.Get("list"); err != nil || string(it.Value) != "abc" || it.Flags != 3 {
		t.Fatalf("after append/prepend: %+v, %v", it, err)
	}

	it, _ := mc.Get("list")
	it.Value = []byte("first")
	if err := mc.CompareAndSwap(it); err != nil {
		t.Fatalf("CompareAndSwap: %v", err)
	}
	it.Value = []byte("second")
	if err := mc.CompareAndSwap(it); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CompareAndSwap with a stale cas: %v", err)
	}

	mc.Set(&memcache.Item{Key: "n", Value: []byte("18446744073709551614")})
	if v, err := mc.Increment("n", 3); err != nil || v != 1 {
		t.Fatalf("Increment past 2^64-1 = %d, %v; want 1 (wrap-around)", v, err)
	}
	if v, err := mc.Decrement("n", 5); err != nil || v != 0 {
		t.Fatalf("Decrement below 0 = %d, %v; want 0", v, err)
	}
	if _, err := mc.Increment("list", 1); err == nil || !strings.Contains(err.Error(), "non-numeric") {
		t.Fatalf("Increment of a non-numeric value: %v", err)
	}
	if err := mc.Touch("n", 100); err != nil {
		t.Fatal(err)
	}
	if r := string(rc.must(t, "TTL", "mc:n")); !regexp.MustCompile(`^:([1-9]|[1-9][0-9]|100)\r\n$`).MatchString(r) {
		t.Fatalf("TTL after touch 100: %q, want 1..100", r)
	}
	if it, err := mc.GetAndTouch("n", 0); err != nil || string(it.Value) != "0" {
		t.Fatalf("GetAndTouch = %+v, %v", it, err)
	}
	if r := string(rc.must(t, "TTL", "mc:n")); r != ":-1\r\n" {
		t.Fatalf("TTL after gat 0: %q", r)
	}
	// The read-modify-write commands keep one connection per node for
	// the client, not one per command.
	for range 20 {
		if _, err := mc.Increment("n", 1); err != nil {
			t.Fatal(err)
		}
	}
	if info := string(rc.must(t, "INFO", "clients")); !strings.Contains(info, "watch_connections:1\r\n") {
		t.Fatalf("INFO clients after 20 incr by one client:\n%s", info)
	}
	if err := mc.Delete("n"); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Get("n"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get after Delete: %v", err)
	}
	// A value the entry did not write is not passed off as an item.
	rc.must(t, "SET", "mc:foreign", "x")
	if _, err := mc.Get("foreign"); err == nil || !strings.Contains(err.Error(), "not written by the memcache entry") {
		t.Fatalf("Get of a RESP-written mc: key: %v", err)
	}
}

// TestMemcacheCasRace: clients add to one counter with gets + cas, and
// others with incr, all at once; no update is lost, so cas is atomic.
func TestMemcacheCasRace(t *testing.T) {
	mcAddr, _ := startMemcacheProxy(t, 2, "")
	mc := memcache.New(mcAddr)
	mc.Timeout = 60 * time.Second
	mc.MaxIdleConns = 16
	if err := mc.Set(&memcache.Item{Key: "ctr", Value: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range 2 * workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if w%2 == 0 {
					if _, err := mc.Increment("ctr", 1); err != nil {
						errs <- err
						return
					}
					continue
				}
				for {
					it, err := mc.Get("ctr")
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(string(it.Value))
					it.Value = []byte(strconv.Itoa(n + 1))
					err = mc.CompareAndSwap(it)
					if err == nil {
						break
					}
					if !errors.Is(err, memcache.ErrCASConflict) {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	it, err := mc.Get("ctr")
	if err != nil || string(it.Value) != strconv.Itoa(2*workers*each) {
		t.Fatalf("counter = %+v, %v; want %d", it, err, 2*workers*each)
	}
}

// mcReplyLine matches every line the entry may answer with.
var mcReplyLine = regexp.MustCompile(`^(ERROR|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|END|OK|VERSION .*|VALUE \S+ [0-9]+ [0-9]+( [0-9]+)?|[0-9]+|CLIENT_ERROR .+|SERVER_ERROR .+)$`)

// TestMemcacheAdversarial: clients sending garbage, huge values and
// endless lines beside one doing its work. Every reply is one of the
// entry's lines, the proxy never panics, the worker sees no error, and a
// 64 MiB value announced and sent is dropped as it comes, not buffered.
func TestMemcacheAdversarial(t *testing.T) {
	mcAddr, p := startMemcacheProxyProc(t, 2, "")
	pid := strconv.Itoa(p.Pid())
	rssBefore := procMemKB(t, pid, "VmRSS")

	stop := make(chan struct{})
	workerErr := make(chan error, 1)
	go func() {
		mc := memcache.New(mcAddr)
		mc.Timeout = 60 * time.Second
		for i := 0; ; i++ {
			select {
			case <-stop:
				workerErr <- nil
				return
			default:
			}
			k, v := fmt.Sprintf("w%d", i%50), []byte(strconv.Itoa(i))
			if err := mc.Set(&memcache.Item{Key: k, Value: v}); err != nil {
				workerErr <- err
				return
			}
			if it, err := mc.Get(k); err != nil || !bytes.Equal(it.Value, v) {
				workerErr <- fmt.Errorf("get %s: %+v, %v", k, it, err)
				return
			}
		}
	}()

	// A 64 MiB value: refused, and its bytes never held.
	nc, err := net.Dial("tcp", mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(120 * time.Second))
	const huge = 64 << 20
	go func() {
		fmt.Fprintf(nc, "set huge 0 0 %d\r\n", huge)
		chunk := make([]byte, 1<<20)
		for range huge >> 20 {
			nc.Write(chunk)
		}
		nc.Write([]byte("\r\nget huge\r\n"))
	}()
	rd := bufio.NewReader(nc)
	want := "SERVER_ERROR object too large for cache\r\nEND\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(rd, got); err != nil || string(got) != want {
		t.Fatalf("huge value: %q, %v", got, err)
	}
	nc.Close()

	verbs := []string{"get", "gets", "gat", "set", "add", "cas", "append", "incr", "decr", "touch", "delete", "version", "verbosity", "flush_all", "x"}
	args := []string{"k", "0", "-1", "1", "5", "99999999999999999999", "4294967296", "noreply", "\x00", strings.Repeat("k", 251), "", "2147483648"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		var b strings.Builder
		for range 1 + rng.IntN(10) {
			b.WriteString(verbs[rng.IntN(len(verbs))])
			for range rng.IntN(7) {
				b.WriteString(" " + args[rng.IntN(len(args))])
			}
			if rng.IntN(4) == 0 {
				for range rng.IntN(40) {
					b.WriteByte(byte(rng.IntN(256)))
				}
			}
			b.WriteString([]string{"\r\n", "\n", "\r\n", ""}[rng.IntN(4)])
		}
		if i%50 == 0 {
			b.WriteString(strings.Repeat("z", 5000)) // no end: closed
		}
		c, err := net.Dial("tcp", mcAddr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		go func() {
			c.Write([]byte(b.String()))
			c.(*net.TCPConn).CloseWrite()
		}()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				if l != "" {
					t.Fatalf("garbage %q: a partial line %q then %v", b.String(), l, err)
				}
				break
			}
			line := strings.TrimSuffix(l, "\r\n")
			if mcReplyLine.MatchString(line) {
				if m := regexp.MustCompile(`^VALUE \S+ [0-9]+ ([0-9]+)`).FindStringSubmatch(line); m != nil {
					n, _ := strconv.Atoi(m[1])
					io.CopyN(io.Discard, r, int64(n+2))
				}
				continue
			}
			t.Fatalf("garbage %q: reply line %q", b.String(), l)
		}
		c.Close()
	}
	close(stop)
	if err := <-workerErr; err != nil {
		t.Fatalf("the well-behaved client: %v", err)
	}
	if p.HasLog("panic") {
		t.Fatalf("the proxy panicked:\n%s", p.Logs())
	}
	// 64 MiB went through; what the proxy kept of it is its buffers
	// (item_size_max and a little), not the value.
	if grew := procMemKB(t, pid, "VmHWM") - rssBefore; grew > 48<<10 {
		t.Fatalf("the proxy's peak RSS grew by %d kB while a 64 MiB value was refused", grew)
	}
}

// TestMemcacheOutOfMemory: a node past its maxmemory with noeviction
// refuses writes; the memcache client gets memcached's line for it, and
// reads still work.
func TestMemcacheOutOfMemory(t *testing.T) {
	cl := startCluster(t, 1, "node", "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
	cfg := onePool(cl)
	mcAddr := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	cfg.Extra = fmt.Sprintf("memcache_listen = %q\n", mcAddr)
	startProxy(t, cfg)
	c, err := net.Dial("tcp", mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	rd := bufio.NewReader(c)
	val := strings.Repeat("v", 100<<10)
	for i := range 100 {
		fmt.Fprintf(c, "set k%d 0 0 %d\r\n%s\r\n", i, len(val), val)
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		switch l {
		case "STORED\r\n":
			continue
		case "SERVER_ERROR out of memory storing object\r\n":
			fmt.Fprintf(c, "get k0\r\n")
			want := fmt.Sprintf("VALUE k0 0 %d\r\n%s\r\nEND\r\n", len(val), val)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(rd, got); err != nil || string(got) != want {
				t.Fatalf("get after out of memory: %.80q, %v", got, err)
			}
			// append runs in a transaction, whose SET the node refuses
			// when it is queued.
			fmt.Fprintf(c, "append k0 0 0 %d\r\n%s\r\n", len(val), val)
			if l, err := rd.ReadString('\n'); err != nil || l != "SERVER_ERROR out of memory storing object\r\n" {
				t.Fatalf("append past maxmemory: %q, %v", l, err)
			}
			return
		default:
			t.Fatalf("set %d: %q", i, l)
		}
	}
	t.Fatal("10 MB stored into a node with maxmemory 2mb and noeviction")
}

// TestMemcacheReplicated: with replicate_writes, every memcache write
// (the read-modify-write ones, sent after the primary ran them, included)
// reaches the replica pool, which ends with the primary's bytes.
func TestMemcacheReplicated(t *testing.T) {
	dc1, dc2 := startCluster(t, 1, "node"), startCluster(t, 1, "node")
	mcAddr := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	startProxy(t, proxyConfig{ReplicateWrites: true, Extra: fmt.Sprintf("memcache_listen = %q\n", mcAddr),
		Pools: []poolConfig{
			{Name: "dc1", Role: "primary", Servers: dc1.lines()},
			{Name: "dc2", Role: "replica", Servers: dc2.lines()},
		}})
	mc := memcache.New(mcAddr)
	mc.Timeout = 30 * time.Second
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(mc.Set(&memcache.Item{Key: "s", Value: []byte("v"), Flags: 9, Expiration: 1000}))
	must(mc.Set(&memcache.Item{Key: "n", Value: []byte("41"), Expiration: 1000}))
	_, err := mc.Increment("n", 1)
	must(err)
	must(mc.Append(&memcache.Item{Key: "s", Value: []byte("w")}))
	it, err := mc.Get("s")
	must(err)
	it.Value = []byte("cas")
	must(mc.CompareAndSwap(it))
	must(mc.Set(&memcache.Item{Key: "gone", Value: []byte("x")}))
	must(mc.Delete("gone"))
	must(mc.Set(&memcache.Item{Key: "last", Value: []byte("x")}))

	pri, rep := dc1.conns(t)[0], dc2.conns(t)[0]
	// Fire and forget, down one connection in order: once the last write
	// is there, the others are.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if string(rep.must(t, "EXISTS", "mc:last")) == ":1\r\n" {
			break
		}
	}
	for _, k := range []string{"mc:s", "mc:n", "mc:gone", "mc:last"} {
		p, r := pri.must(t, "GET", k), rep.must(t, "GET", k)
		if !bytes.Equal(p, r) {
			t.Errorf("GET %s: primary %q, replica %q", k, p, r)
		}
	}
	if ttl := string(rep.must(t, "TTL", "mc:n")); ttl == ":-1\r\n" || ttl == ":-2\r\n" {
		t.Errorf("replica lost the expiry of mc:n (incr keeps it): TTL %q", ttl)
	}
}

// TestMemcacheMaxClients: memcache and RESP clients count together
// against max_clients; past it, a memcache client gets memcached's line
// for it and is closed.
// TestMemcacheMetrics: memcache commands are counted by name, refused
// lines apart.
func TestMemcacheMetrics(t *testing.T) {
	mcAddr, p := startMemcacheProxyProc(t, 1, "")
	c, err := net.Dial("tcp", mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "set a 0 0 1\r\nx\r\nget a\r\nget a b\r\nbogus\r\nversion\r\n")
	rd := bufio.NewReader(c)
	for {
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "VERSION ") {
			break
		}
	}
	resp, err := http.Get("http://" + p.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`relcache_proxy_memcache_commands_total{command="set"} 1`,
		`relcache_proxy_memcache_commands_total{command="get"} 2`,
		`relcache_proxy_memcache_commands_total{command="refused"} 1`,
		`relcache_proxy_memcache_commands_total{command="version"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMemcacheMaxClients(t *testing.T) {
	mcAddr, respAddr := startMemcacheProxy(t, 1, "max_clients = 2\n")
	r := dial(t, respAddr)
	r.must(t, "PING")
	first, err := net.Dial("tcp", mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(first, "version\r\n")
	if l, err := bufio.NewReader(first).ReadString('\n'); err != nil || !strings.HasPrefix(l, "VERSION ") {
		t.Fatalf("version: %q, %v", l, err)
	}
	third, err := net.Dial("tcp", mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(third)
	if err != nil || string(got) != "SERVER_ERROR Too many open connections\r\n" {
		t.Fatalf("a third client: %q, %v", got, err)
	}
}
