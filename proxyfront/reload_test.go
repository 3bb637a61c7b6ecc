package proxyfront_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// loadClient SETs and GETs its own keys until stop is closed, checking
// every reply; a GET may miss (a reload moved the key) but nothing else may
// go wrong.
func loadClient(addr string, id int, stop <-chan struct{}, ops *atomic.Int64) error {
	c, err := dialRESP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		k, v := fmt.Sprintf("load:%d:%d", id, i%500), fmt.Sprintf("v%d-%d", id, i)
		c.send("SET", k, v)
		c.send("GET", k)
		if err := c.flush(); err != nil {
			return fmt.Errorf("client %d op %d: write: %w", id, i, err)
		}
		raw, err := c.read()
		if err != nil {
			return fmt.Errorf("client %d: SET %s: %w (after %s)", id, k, err, show(raw))
		}
		if string(raw) != "+OK\r\n" {
			return fmt.Errorf("client %d: SET %s: %s", id, k, show(raw))
		}
		raw, err = c.read()
		if err != nil {
			return fmt.Errorf("client %d: GET %s: %w (after %s)", id, k, err, show(raw))
		}
		if string(raw) != bulk(v) && string(raw) != "$-1\r\n" {
			return fmt.Errorf("client %d: GET %s right after SET %s: %s", id, k, v, show(raw))
		}
		ops.Add(1)
	}
}

// checkRouting SETs n fresh keys through the proxy and checks each is on
// the node pl predicts, asked directly.
func checkRouting(t *testing.T, what string, proxy *rconn, pl *placer, names []string, nodes []*rconn, n int, prefix string) {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", prefix, i)
		if i%3 == 0 {
			keys[i] = fmt.Sprintf("%d.following", 77_000+i) // routed by uid
		}
		proxy.send("SET", keys[i], prefix)
	}
	if err := proxy.flush(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if raw, err := proxy.read(); err != nil || string(raw) != "+OK\r\n" {
			t.Fatalf("%s: SET %s through the proxy: %s, %v", what, k, show(raw), err)
		}
	}
	bad := 0
	for _, k := range keys {
		i := pl.node(k)
		if raw := nodes[i].must(t, "GET", k); string(raw) != bulk(prefix) {
			bad++
			if bad <= 5 {
				t.Errorf("%s: key %q SET through the proxy is not on %s, where the new ring puts it: GET there = %s", what, k, names[i], show(raw))
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d keys not routed by the config", what, bad, n)
	}
}

// TestProxyReload rewrites the config under load from 8 clients: a node
// added and one removed, reloaded by SIGHUP; another change reloaded by
// `relcache proxy reload`; then broken configs, which must be refused while
// the proxy keeps serving with the config it has.
func TestProxyReload(t *testing.T) {
	cl := startCluster(t, 4, "node")
	nodes := cl.conns(t)
	lines := cl.lines()
	listen := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	with := func(idx ...int) proxyConfig {
		var servers []string
		for _, i := range idx {
			servers = append(servers, lines[i])
		}
		return proxyConfig{Listen: listen, Admin: admin, Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: servers}}}
	}
	placerFor := func(idx ...int) (*placer, []string, []*rconn) {
		c := with(idx...)
		var names []string
		var ns []*rconn
		for _, i := range idx {
			names = append(names, cl.names[i])
			ns = append(ns, nodes[i])
		}
		return newPlacer(t, c, c.Pools[0].Servers), names, ns
	}
	path := filepath.Join(t.TempDir(), "proxy.toml")
	with(0, 1, 2).write(t, path)
	px := relcachetest.StartProxy(t, path)
	stopAtEnd(t, px)
	if px.Addr != listen {
		t.Errorf("proxy logged addr %q, config says %q", px.Addr, listen)
	}
	c := dial(t, px.Addr)
	pl, names, ns := placerFor(0, 1, 2)
	checkRouting(t, "first config", c, pl, names, ns, 60, "a")

	stop := make(chan struct{})
	var ops atomic.Int64
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loadClient(px.Addr, i, stop, &ops)
		}()
	}
	stopLoad := func() {
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("under load: %v", err)
			}
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()
	time.Sleep(300 * time.Millisecond)

	// SIGHUP: node4 in, node2 out.
	with(0, 2, 3).write(t, path)
	if err := px.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pl, names, ns = placerFor(0, 2, 3)
	probe := pl.keysOn(2, 1, "probe:")[0] // on node4, which only the new config has
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if raw := c.must(t, "SET", probe, "x"); string(raw) != "+OK\r\n" {
			t.Fatalf("SET %s after SIGHUP: %s", probe, show(raw))
		}
		if string(nodes[3].must(t, "EXISTS", probe)) == ":1\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after SIGHUP, key %s still does not go to node4 (added by the new config)\n%s", probe, px.Logs())
		}
	}
	checkRouting(t, "after SIGHUP", c, pl, names, ns, 150, "b")
	time.Sleep(200 * time.Millisecond)

	// `relcache proxy reload`: node2 back, node3 out. Synchronous: the
	// next request routes by the new ring.
	with(0, 1, 3).write(t, path)
	out, err := relcachetest.ProxyReload(t, admin)
	if err != nil || !strings.Contains(out, "reloaded") {
		t.Fatalf("relcache proxy reload: %v, output %q; want exit 0 and \"reloaded\"", err, out)
	}
	pl, names, ns = placerFor(0, 1, 3)
	checkRouting(t, "after relcache proxy reload", c, pl, names, ns, 150, "c")
	time.Sleep(200 * time.Millisecond)

	// Broken configs are refused; the proxy keeps the last good one.
	for _, bad := range []struct {
		name, text, mention string
	}{
		{"unknown hash", strings.Replace(with(0, 2).toml(), "[[pool]]", "hash = \"nosuch\"\n\n[[pool]]", 1), "nosuch"},
		{"TOML syntax", with(0, 2).toml() + "\n[[pool\n", "proxy.toml"},
		{"no primary", strings.Replace(with(0, 2).toml(), `role = "primary"`, `role = "replica"`, 1), "primary"},
	} {
		if err := os.WriteFile(path, []byte(bad.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := relcachetest.ProxyReload(t, admin)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s: relcache proxy reload: %v, output %q; want exit status 1", bad.name, err, out)
		}
		if !strings.Contains(out, bad.mention) {
			t.Errorf("%s: relcache proxy reload says %q, which does not mention %q", bad.name, out, bad.mention)
		}
		t.Logf("%s: relcache proxy reload: %v: %s", bad.name, err, out)
		checkRouting(t, bad.name+" refused by reload", c, pl, names, ns, 60, "d")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(with(0, 2).toml(), "[[pool]]", "hash = \"sighupbad\"\n\n[[pool]]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := px.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !px.WaitLog("sighupbad", 10*time.Second) {
		t.Errorf("a SIGHUP with a broken config logged no error naming the problem (\"sighupbad\"):\n%s", px.Logs())
	}
	checkRouting(t, "broken config refused on SIGHUP", c, pl, names, ns, 60, "e")

	stopLoad()
	t.Logf("%d SET+GET pairs under load", ops.Load())
	if ops.Load() < 100 {
		t.Errorf("only %d SET+GET pairs completed under load", ops.Load())
	}
	// A valid config again, so the proxy is left in a normal state.
	with(0, 1, 3).write(t, path)
}
