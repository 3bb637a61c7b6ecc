package proxyfront_test

// Integration tests of `relcache proxy` against the real binary: real
// relcache nodes behind it, a single relcache node holding everything as the
// reference, a real MariaDB for FOLLOW, a real nutcracker for placement.
// Replies are compared as raw RESP bytes, so an integer where a bulk string
// belongs, or a nil array where an empty one belongs, is caught.
//
// This file holds what the tests share: the processes, the proxy's config,
// placement, and the pair that compares the proxy with the reference;
// client_test.go is the raw RESP client, model_test.go the random graph and
// the queries over it.

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/shard"
)

// stopGroups holds, per test, the processes stopAtEnd was given.
var stopGroups sync.Map // testing.TB → *stopGroup

type stopGroup struct {
	mu    sync.Mutex // guards procs
	procs []*relcachetest.Proc
}

// stopAtEnd stops p, with every other process given for the test, all at
// once when the test ends. A relcache process takes about a second to shut
// down, and the cleanups of Start stop them one after another; they still
// run afterwards and check each exit status.
func stopAtEnd(t testing.TB, ps ...*relcachetest.Proc) {
	v, _ := stopGroups.LoadOrStore(t, &stopGroup{})
	g := v.(*stopGroup)
	g.mu.Lock()
	g.procs = append(g.procs, ps...)
	g.mu.Unlock()
	// Cleanups run last-registered first: this one runs before those of
	// every process started so far.
	t.Cleanup(func() {
		stopGroups.Delete(t)
		g.mu.Lock()
		procs := slices.Clone(g.procs)
		g.mu.Unlock()
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Stop()
			}()
		}
		wg.Wait()
	})
}

// startNode is relcachetest.Start, stopped with the test's other processes.
func startNode(t testing.TB, args ...string) *relcachetest.Proc {
	t.Helper()
	p := relcachetest.Start(t, args...)
	stopAtEnd(t, p)
	return p
}

// cluster is a pool's worth of relcache nodes, named prefix1, prefix2, ...
type cluster struct {
	procs []*relcachetest.Proc
	names []string
	ports []int
}

// startCluster starts n pure-cache nodes on fixed ports (so a test can
// restart one where it was) with args appended.
func startCluster(t testing.TB, n int, prefix string, args ...string) *cluster {
	t.Helper()
	c := &cluster{}
	for i := range n {
		port := relcachetest.FreePort(t)
		p := startNode(t, append([]string{"--addr", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...)
		c.procs = append(c.procs, p)
		c.names = append(c.names, fmt.Sprintf("%s%d", prefix, i+1))
		c.ports = append(c.ports, port)
	}
	return c
}

// lines are the pool's twemproxy server lines, "127.0.0.1:port:1 name".
func (c *cluster) lines() []string {
	out := make([]string, len(c.procs))
	for i := range c.procs {
		out[i] = fmt.Sprintf("127.0.0.1:%d:1 %s", c.ports[i], c.names[i])
	}
	return out
}

// conns dials every node directly.
func (c *cluster) conns(t testing.TB) []*rconn {
	t.Helper()
	out := make([]*rconn, len(c.procs))
	for i, p := range c.procs {
		out[i] = dial(t, p.Addr)
	}
	return out
}

type proxyConfig struct {
	Listen, Admin   string // default "127.0.0.1:0"
	Password        string
	Hash            string
	Distribution    string
	HashTag         string
	RouteBy         string
	ReadPool        string
	ReplicateWrites bool
	Extra           string // raw TOML lines for the top level
	Pools           []poolConfig
}

type poolConfig struct {
	Name, Role         string
	Servers            []string
	ServerConnections  int
	Timeout            string
	DialTimeout        string
	ServerRetryTimeout string
	ServerFailureLimit int
	NoAutoEject        bool
	User, Password     string
}

func (c proxyConfig) toml() string {
	var b strings.Builder
	q := strconv.Quote
	str := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s = %s\n", k, q(v))
		}
	}
	str("listen", cmp.Or(c.Listen, "127.0.0.1:0"))
	str("admin", cmp.Or(c.Admin, "127.0.0.1:0"))
	str("password", c.Password)
	str("hash", c.Hash)
	str("distribution", c.Distribution)
	str("hash_tag", c.HashTag)
	str("route_by", c.RouteBy)
	str("read_pool", c.ReadPool)
	if c.ReplicateWrites {
		b.WriteString("replicate_writes = true\n")
	}
	b.WriteString(c.Extra)
	for _, p := range c.Pools {
		b.WriteString("\n[[pool]]\n")
		str("name", p.Name)
		str("role", p.Role)
		b.WriteString("servers = [\n")
		for _, s := range p.Servers {
			fmt.Fprintf(&b, "  %s,\n", q(s))
		}
		b.WriteString("]\n")
		if p.ServerConnections > 0 {
			fmt.Fprintf(&b, "server_connections = %d\n", p.ServerConnections)
		}
		// Generous where timeouts are not under test: the nodes run with
		// -race on a busy CI machine.
		str("timeout", cmp.Or(p.Timeout, "10s"))
		str("dial_timeout", cmp.Or(p.DialTimeout, "2s"))
		str("server_retry_timeout", p.ServerRetryTimeout)
		if p.ServerFailureLimit > 0 {
			fmt.Fprintf(&b, "server_failure_limit = %d\n", p.ServerFailureLimit)
		}
		if p.NoAutoEject {
			b.WriteString("auto_eject = false\n")
		}
		str("user", p.User)
		str("password", p.Password)
	}
	return b.String()
}

func (c proxyConfig) write(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(c.toml()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// onePool is a config with a primary pool "dc1" over cl.
func onePool(cl *cluster) proxyConfig {
	return proxyConfig{Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: cl.lines()}}}
}

// startProxy writes c to a fresh file and starts a proxy on it.
func startProxy(t testing.TB, c proxyConfig) (*relcachetest.Proc, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.toml")
	c.write(t, path)
	p := relcachetest.StartProxy(t, path)
	stopAtEnd(t, p)
	return p, path
}

// placer predicts the node of a key with package shard's functions, as the
// spec defines routing.
type placer struct {
	hash shard.HashFunc
	dist shard.Distribution
	tag  string
	kp   *shard.KeyPattern // nil when route_by is "key"
}

func newPlacer(t testing.TB, c proxyConfig, servers []string) *placer {
	t.Helper()
	h, err := shard.HashByName(cmp.Or(c.Hash, "fnv1a_64"))
	if err != nil {
		t.Fatal(err)
	}
	var ss []shard.Server
	for _, line := range servers {
		s, err := shard.ParseServer(line)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	d, err := shard.NewDistribution(cmp.Or(c.Distribution, "ketama"), ss)
	if err != nil {
		t.Fatal(err)
	}
	p := &placer{hash: h, dist: d, tag: c.HashTag}
	if cmp.Or(c.RouteBy, "uid") == "uid" {
		if p.kp, err = shard.ParseKeyPattern(shard.DefaultKeyPattern, shard.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// node returns the index in the pool's server list of key's node.
func (p *placer) node(key string) int {
	k := []byte(key)
	if p.kp != nil {
		if uid, _, ok := p.kp.Parse(k); ok {
			return p.dist.Index(p.hash(strconv.AppendUint(nil, uid, 10)))
		}
	}
	return p.dist.Index(p.hash(shard.HashTag(k, p.tag)))
}

// keysOn returns n keys "prefix<i>" that p places on node i.
func (p *placer) keysOn(i, n int, prefix string) []string {
	var out []string
	for j := 0; len(out) < n; j++ {
		if k := fmt.Sprintf("%s%d", prefix, j); p.node(k) == i {
			out = append(out, k)
		}
	}
	return out
}

// --- Comparing the proxy with a reference node ------------------------------

// pair sends the same commands to the proxy and to a reference node holding
// everything, and compares the raw replies.
type pair struct {
	t          testing.TB
	proxy, ref *rconn
	queued     [][]string
	mismatches int
	compared   map[string]int // command name → replies compared
	nonEmpty   map[string]int // command name → replies with content: a non-empty array, or a bulk
}

func newPair(t testing.TB, proxyAddr, refAddr string) *pair {
	return &pair{t: t, proxy: dial(t, proxyAddr), ref: dial(t, refAddr), compared: map[string]int{}, nonEmpty: map[string]int{}}
}

// queue sends a command to both sides (buffered) for the next sync.
func (p *pair) queue(args ...string) {
	p.proxy.send(args...)
	p.ref.send(args...)
	p.queued = append(p.queued, args)
}

// sync flushes both sides, reads every queued reply, and fails the test on
// a difference (stopping after a few).
func (p *pair) sync() {
	p.t.Helper()
	if err := p.proxy.flush(); err != nil {
		p.t.Fatalf("write to proxy: %v", err)
	}
	if err := p.ref.flush(); err != nil {
		p.t.Fatalf("write to reference: %v", err)
	}
	for _, args := range p.queued {
		got, err := p.proxy.read()
		if err != nil {
			p.t.Fatalf("proxy: %s: reading the reply: %v (got %s)", showArgs(args), err, show(got))
		}
		want, err := p.ref.read()
		if err != nil {
			p.t.Fatalf("reference: %s: %v", showArgs(args), err)
		}
		p.compared[strings.ToUpper(args[0])]++
		if (want[0] == '*' || want[0] == '$') && want[1] != '0' && want[1] != '-' {
			p.nonEmpty[strings.ToUpper(args[0])]++
		}
		if !bytes.Equal(canon(got), canon(want)) {
			p.mismatches++
			p.t.Errorf("%s\n  proxy:     %s\n  one node:  %s", showArgs(args), show(got), show(want))
			if p.mismatches >= 25 {
				p.t.Fatalf("stopping after %d differences", p.mismatches)
			}
		}
	}
	p.queued = p.queued[:0]
}

// check sends one command to both and compares.
func (p *pair) check(args ...string) {
	p.t.Helper()
	p.queue(args...)
	p.sync()
}

func u64(u uint64) string { return strconv.FormatUint(u, 10) }

func fkey(u uint64) string { return u64(u) + ".following" }
func rkey(u uint64) string { return u64(u) + ".follower" }
