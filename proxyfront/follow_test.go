package proxyfront_test

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestProxyFollowWithMariaDB runs three nodes and a reference over one
// MariaDB, caches some users' lists through the proxy, then FOLLOWs and
// UNFOLLOWs through it. Replies must match the model; afterwards every
// list read through the proxy, and every fan list read directly on its
// node, must equal what the reference loads fresh from the database.
func TestProxyFollowWithMariaDB(t *testing.T) {
	m := relcachetest.StartMariaDB(t)
	source := []string{"--source", "mysql", "--source-dbs", "2", "--source-tables", "2",
		"--source-mysql", "0-1=" + m.DSN()}
	if out, err := exec.Command(relcachetest.Binary(t), append([]string{"schema"}, source...)...).CombinedOutput(); err != nil {
		t.Fatalf("relcache schema: %v\n%s", err, out)
	}
	nodeArgs := append(slices.Clone(source), "--load-timeout", "10s")
	cl := startCluster(t, 3, "node", nodeArgs...)
	// A replica pool over the same database, kept in step by
	// replicate_writes: FOLLOW must patch its cached lists too.
	dc2 := startCluster(t, 3, "node", nodeArgs...)
	conf := onePool(cl)
	conf.ReplicateWrites = true
	conf.Pools = append(conf.Pools, poolConfig{Name: "dc2", Role: "replica", Servers: dc2.lines()})
	px, _ := startProxy(t, conf)
	replicas := dc2.conns(t)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	rng := rand.New(rand.NewPCG(3, 4))

	var users []uint64
	for i := range 24 {
		users = append(users, uint64(1000+i*7919+rng.IntN(7)))
	}
	edges := map[[2]uint64]bool{}
	follow := func(a, b uint64, tm string) {
		t.Helper()
		args := []string{"FOLLOW", u64(a), u64(b)}
		if tm != "" {
			args = append(args, tm)
		}
		want := ":0\r\n"
		if !edges[[2]uint64{a, b}] {
			want = ":1\r\n"
		}
		if got := c.must(t, args...); string(got) != want {
			t.Fatalf("%s through the proxy: %s, want %q", showArgs(args), show(got), want)
		}
		edges[[2]uint64{a, b}] = true
	}
	unfollow := func(a, b uint64) {
		t.Helper()
		want := ":0\r\n"
		if edges[[2]uint64{a, b}] {
			want = ":1\r\n"
		}
		if got := c.must(t, "UNFOLLOW", u64(a), u64(b)); string(got) != want {
			t.Fatalf("UNFOLLOW %d %d through the proxy: %s, want %q", a, b, show(got), want)
		}
		delete(edges, [2]uint64{a, b})
	}
	pick := func() (uint64, uint64) {
		for {
			a, b := users[rng.IntN(len(users))], users[rng.IntN(len(users))]
			if a != b {
				return a, b
			}
		}
	}
	tm := func() string { return strconv.Itoa(1_650_000_000 + rng.IntN(1000)) }

	// A first graph, then half the users' lists cached on their nodes.
	for range 80 {
		a, b := pick()
		follow(a, b, tm())
	}
	cachedBefore := map[uint64]bool{}
	for _, u := range users[:len(users)/2] {
		cachedBefore[u] = true
		for _, k := range []string{fkey(u), rkey(u)} {
			if raw := c.must(t, "RELCARD", k); raw[0] != ':' {
				t.Fatalf("RELCARD %s through the proxy: %s", k, show(raw))
			}
			if raw := replicas[pl.node(k)].must(t, "RELCARD", k); raw[0] != ':' {
				t.Fatalf("RELCARD %s on dc2's %s: %s", k, dc2.names[pl.node(k)], show(raw))
			}
		}
	}
	// Writes: new edges with and without a time, repeated edges with a new
	// time, unfollows of edges that exist and that do not.
	for range 160 {
		a, b := pick()
		switch rng.IntN(5) {
		case 0, 1:
			follow(a, b, tm())
		case 2:
			follow(a, b, "")
		default:
			unfollow(a, b)
		}
	}
	if got := c.must(t, "FOLLOW", u64(users[0]), u64(users[0])); string(got) != "-ERR a user cannot follow itself\r\n" {
		t.Errorf("FOLLOW a a through the proxy: %s", show(got))
	}

	// Lists as their nodes hold them, in both pools, before anything else
	// reads them.
	nodes := cl.conns(t)
	direct := map[uint64][]byte{}
	inDC2 := map[string][]byte{}
	patched, patched2 := 0, 0
	for _, u := range users {
		n := nodes[pl.node(rkey(u))]
		if cachedBefore[u] && string(n.must(t, "EXISTS", rkey(u))) == ":1\r\n" {
			patched++
		}
		direct[u] = n.must(t, "RELMEMBERS", rkey(u), "WITHTIMES")
		for _, k := range []string{fkey(u), rkey(u)} {
			r := replicas[pl.node(k)]
			if cachedBefore[u] && string(r.must(t, "EXISTS", k)) == ":1\r\n" {
				patched2++
			}
			inDC2[k] = r.must(t, "RELMEMBERS", k, "WITHTIMES")
		}
	}
	t.Logf("%d of %d fan lists cached before the writes are still cached on their dc1 nodes (patched, not dropped); in dc2 %d of %d lists",
		patched, len(cachedBefore), patched2, 2*len(cachedBefore))

	// The reference starts only now: it loads everything fresh from MariaDB.
	ref := startNode(t, nodeArgs...)
	p := newPair(t, px.Addr, ref.Addr)
	r := p.ref
	for _, u := range users {
		p.check("RELMEMBERS", fkey(u), "WITHTIMES")
		p.check("RELMEMBERS", rkey(u), "WITHTIMES")
		want := r.must(t, "RELMEMBERS", rkey(u), "WITHTIMES")
		if !bytes.Equal(direct[u], want) {
			t.Errorf("%s directly on its node %s (cached before the writes: %v):\n  node:     %s\n  database: %s",
				rkey(u), cl.names[pl.node(rkey(u))], cachedBefore[u], show(direct[u]), show(want))
		}
		for _, k := range []string{fkey(u), rkey(u)} {
			want := r.must(t, "RELMEMBERS", k, "WITHTIMES")
			if !bytes.Equal(inDC2[k], want) {
				t.Errorf("%s directly on dc2's %s (cached before the writes: %v):\n  dc2 node: %s\n  database: %s",
					k, dc2.names[pl.node(k)], cachedBefore[u], show(inDC2[k]), show(want))
			}
		}
		// And against the model: the members, whatever the times.
		var wantF, wantR []uint64
		for e := range edges {
			if e[0] == u {
				wantF = append(wantF, e[1])
			}
			if e[1] == u {
				wantR = append(wantR, e[0])
			}
		}
		for _, tc := range []struct {
			key  string
			want []uint64
		}{{fkey(u), wantF}, {rkey(u), wantR}} {
			v, _ := value(t, c.must(t, "RELMEMBERS", tc.key)).([]any)
			var got []uint64
			for _, x := range v {
				n, _ := strconv.ParseUint(string(x.([]byte)), 10, 64)
				got = append(got, n)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("RELMEMBERS %s through the proxy = %v, the writes made %v", tc.key, got, tc.want)
			}
		}
	}
	for _, u := range users {
		p.check(append([]string{"RELCHECK", u64(u), "BATCH"}, strsOf(users)...)...)
		x := users[rng.IntN(len(users))]
		p.check("RELWHO", u64(u), u64(x))
		p.check("RELCOMMON", u64(u), u64(x))
		// The bi-follow list, assembled across nodes, after the writes:
		// as the reference computes it, and as the writes made it.
		p.check("RELMEMBERS", u64(u)+".bifollow", "WITHTIMES")
		p.check("RELCARD", u64(u)+".bifollow")
		var wantB []uint64
		for e := range edges {
			if e[0] == u && edges[[2]uint64{e[1], u}] {
				wantB = append(wantB, e[1])
			}
		}
		v, _ := value(t, c.must(t, "RELMEMBERS", u64(u)+".bifollow")).([]any)
		var got []uint64
		for _, x := range v {
			n, _ := strconv.ParseUint(string(x.([]byte)), 10, 64)
			got = append(got, n)
		}
		slices.Sort(got)
		slices.Sort(wantB)
		if !slices.Equal(got, wantB) {
			t.Errorf("RELMEMBERS %d.bifollow through the proxy = %v, the writes made %v", u, got, wantB)
		}
	}
}

func strsOf(us []uint64) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u64(u)
	}
	return out
}
