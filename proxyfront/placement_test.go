package proxyfront_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestProxyPlacementMatchesNutcracker SETs keys through a real nutcracker
// over three relcache nodes and GETs them through proxyfront (route_by =
// "key", same hash and distribution): every key must be found, and sit on
// exactly the node package shard predicts. With fnv1a_64 and md5, each
// without and with hash_tag "{}".
func TestProxyPlacementMatchesNutcracker(t *testing.T) {
	bin := "/usr/sbin/nutcracker"
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath("nutcracker")
		if err != nil {
			t.Skip("nutcracker not installed (Debian package nutcracker)")
		}
		bin = p
	}
	cl := startCluster(t, 3, "node")
	nodes := cl.conns(t)
	variants := []proxyConfig{
		{Hash: "fnv1a_64", Distribution: "ketama"},
		{Hash: "md5", Distribution: "ketama"},
		{Hash: "fnv1a_64", Distribution: "ketama", HashTag: "{}"},
		{Hash: "md5", Distribution: "ketama", HashTag: "{}"},
	}
	dir := t.TempDir()
	var yml strings.Builder
	listen := make([]string, len(variants))
	for i, v := range variants {
		listen[i] = fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
		fmt.Fprintf(&yml, "pool%d:\n  listen: %s\n  hash: %s\n  distribution: %s\n  redis: true\n  auto_eject_hosts: false\n", i, listen[i], v.Hash, v.Distribution)
		if v.HashTag != "" {
			fmt.Fprintf(&yml, "  hash_tag: %q\n", v.HashTag)
		}
		yml.WriteString("  servers:\n")
		for _, s := range cl.lines() {
			fmt.Fprintf(&yml, "   - %s\n", s)
		}
	}
	conf := filepath.Join(dir, "nutcracker.yml")
	if err := os.WriteFile(conf, []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	nc := exec.Command(bin, "-c", conf, "-s", strconv.Itoa(relcachetest.FreePort(t)), "-a", "127.0.0.1",
		"-o", filepath.Join(dir, "nutcracker.log"))
	if err := nc.Start(); err != nil {
		t.Fatalf("start nutcracker: %v", err)
	}
	t.Cleanup(func() {
		nc.Process.Kill()
		nc.Wait()
	})

	rng := rand.New(rand.NewPCG(5, 6))
	for i, v := range variants {
		name := fmt.Sprintf("%s/%s/tag=%q", v.Hash, v.Distribution, v.HashTag)
		var n *rconn
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if n, err = dialRESP(listen[i]); err == nil {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "nutcracker.log"))
				t.Fatalf("nutcracker does not listen on %s: %v\n%s", listen[i], err, log)
			}
		}
		defer n.Close()
		v.RouteBy = "key"
		v.Pools = onePool(cl).Pools
		px, _ := startProxy(t, v)
		pc := dial(t, px.Addr)
		pl := newPlacer(t, v, cl.lines())

		keys := make([]string, 500)
		for j := range keys {
			u := rng.Uint64N(1 << 34)
			k := []string{
				fmt.Sprintf("%d.following", u),
				fmt.Sprintf("%d.follower", u),
				fmt.Sprintf("key:%x", rng.Uint64()),
				fmt.Sprintf("{user%d}.x:%d", rng.IntN(40), j),
				fmt.Sprintf("a{b%d}c:%d", rng.IntN(40), j),
				fmt.Sprintf("{}x%d", j),
				fmt.Sprintf("x{%d", j),
				fmt.Sprintf("z}{%d}", rng.IntN(40)),
			}[rng.IntN(8)]
			keys[j] = fmt.Sprintf("v%d:%s", i, k)
		}
		keys = slices.Compact(keys)
		for _, k := range keys {
			n.send("SET", k, "val:"+k)
		}
		if err := n.flush(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if raw, err := n.read(); err != nil || string(raw) != "+OK\r\n" {
				t.Fatalf("%s: SET %s through nutcracker: %s, %v", name, k, show(raw), err)
			}
		}
		for _, k := range keys {
			pc.send("GET", k)
		}
		if err := pc.flush(); err != nil {
			t.Fatal(err)
		}
		lost := 0
		for _, k := range keys {
			raw, err := pc.read()
			if err != nil {
				t.Fatalf("%s: GET %s through the proxy: %v", name, k, err)
			}
			if string(raw) != bulk("val:"+k) {
				lost++
				if lost <= 10 {
					t.Errorf("%s: key %q SET through nutcracker, GET through the proxy: %s", name, k, show(raw))
				}
			}
		}
		// Where each key is, asked of every node directly.
		for _, nd := range nodes {
			for _, k := range keys {
				nd.send("EXISTS", k)
			}
			if err := nd.flush(); err != nil {
				t.Fatal(err)
			}
		}
		misplaced := 0
		where := make([][]int, len(keys))
		for ni, nd := range nodes {
			for j := range keys {
				raw, err := nd.read()
				if err != nil {
					t.Fatal(err)
				}
				if string(raw) == ":1\r\n" {
					where[j] = append(where[j], ni)
				}
			}
		}
		for j, k := range keys {
			if want := pl.node(k); len(where[j]) != 1 || where[j][0] != want {
				misplaced++
				if misplaced <= 10 {
					t.Errorf("%s: key %q is on nodes %v; package shard predicts %s (index %d)", name, k, where[j], cl.names[want], want)
				}
			}
		}
		t.Logf("%s: %d keys; %d not found through the proxy, %d not where package shard predicts", name, len(keys), lost, misplaced)
	}
}
