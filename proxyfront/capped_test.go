package proxyfront_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
)

// TestProxyCappedLists (issue 17, items 1, 2 and 8): a celebrity whose fan
// and follow lists are capped, served by two nodes behind the proxy and by
// one reference node, all over one MariaDB. Every membership and count
// command through the proxy answers as the reference does, and exactly
// (old fans included); FOLLOW and UNFOLLOW of users on another node than
// the celebrity's fan list keep its true count through RELEDGE CHANGED,
// without dropping the list. With the L1 on (issue 19 item 4) the same
// reads, repeated so that the L1 holds what it may, answer the same: a
// capped list is never answered from it.
func TestProxyCappedLists(t *testing.T) {
	for _, l1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("l1=%v", l1), func(t *testing.T) { testProxyCappedLists(t, l1) })
	}
}

func testProxyCappedLists(t *testing.T, l1 bool) {
	const celeb, firstFan, fans, limit = 7, 100000, 600, 100
	m := relcachetest.StartMariaDB(t)
	sourcetest.WriteMySQL(t, m.DSN(), loader.Layout{DBs: 2, Tables: 2}, sourcetest.CelebrityEdges(celeb, firstFan, fans))
	nodeArgs := []string{"--source", "mysql", "--source-dbs", "2", "--source-tables", "2",
		"--source-mysql", "0-1=" + m.DSN(), "--source-list-limit", strconv.Itoa(limit), "--load-timeout", "30s"}
	cl := startCluster(t, 2, "node", nodeArgs...)
	ref := startNode(t, nodeArgs...)
	conf := onePool(cl)
	if l1 {
		conf.Extra = l1On
	}
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	p := newPair(t, px.Addr, ref.Addr)

	oldFan := uint64(firstFan)
	stranger := uint64(99)
	reads := [][]string{
		{"HEXISTS", rkey(celeb), u64(oldFan)}, {"HEXISTS", rkey(celeb), u64(stranger)},
		{"SISMEMBER", rkey(celeb), u64(oldFan)}, {"HGET", rkey(celeb), u64(oldFan)},
		{"HLEN", rkey(celeb)}, {"SCARD", rkey(celeb)}, {"RELCARD", rkey(celeb)}, {"RELCARD", fkey(celeb)},
		{"RELCHECK", u64(celeb), u64(oldFan)}, {"RELCHECK", u64(oldFan), u64(celeb)},
		{"RELCHECK", u64(celeb), u64(stranger)},
	}
	batch := []string{u64(stranger)}
	for i := range fans {
		batch = append(batch, u64(uint64(firstFan+i)))
	}
	for _, cmd := range []string{"SMISMEMBER", "HMGET", "RELMULTI"} {
		reads = append(reads, append([]string{cmd, rkey(celeb)}, batch...))
	}
	reads = append(reads, append([]string{"RELCHECK", u64(celeb), "BATCH"}, batch...),
		append([]string{"RELFOLLOWS", u64(oldFan), u64(celeb)}, batch...))
	rounds := 1
	if l1 {
		rounds = 4
	}
	for range rounds {
		for _, r := range reads {
			p.queue(r...)
		}
		p.sync()
	}
	// And exactly: the reference could be wrong the same way.
	c := dial(t, px.Addr)
	want := func(args []string, reply string) {
		t.Helper()
		if got := c.must(t, args...); string(got) != reply {
			t.Fatalf("%s through the proxy: %s, want %q", showArgs(args), show(got), reply)
		}
	}
	want(reads[0], ":1\r\n")
	want(reads[1], ":0\r\n")
	want(reads[3], "$10\r\n1600000000\r\n")
	want(reads[4], ":"+strconv.Itoa(fans)+"\r\n")
	want(reads[8], ":3\r\n")
	want(reads[10], ":0\r\n")

	// Users whose following list lives on the other node than 7.follower,
	// so the proxy's RELEDGE carries the fan list's patch.
	other := func(from uint64, n int) []uint64 {
		var out []uint64
		for u := from; len(out) < n; u++ {
			if pl.node(fkey(u)) != pl.node(rkey(celeb)) {
				out = append(out, u)
			}
		}
		return out
	}
	newcomer, leaver := other(50, 1)[0], other(firstFan+1, 1)[0]
	if leaver >= firstFan+fans-limit {
		t.Skip("no old fan on the other node") // never with 600 fans on 2 nodes
	}
	node := dial(t, cl.procs[pl.node(rkey(celeb))].Addr)
	total := func(step string, n int) {
		t.Helper()
		// RELINFO does not fill: the list must have been patched, not
		// dropped and filled again.
		info := string(node.must(t, "RELINFO", rkey(celeb)))
		if !slices.Contains([]string{"*16\r\n", "%8\r\n"}, info[:min(len(info), 5)]) {
			t.Fatalf("after %s: RELINFO %s on its node = %s; want the cached list", step, rkey(celeb), show([]byte(info)))
		}
		want([]string{"HLEN", rkey(celeb)}, ":"+strconv.Itoa(n)+"\r\n")
		want([]string{"RELCARD", rkey(celeb)}, ":"+strconv.Itoa(n)+"\r\n")
	}
	want([]string{"FOLLOW", u64(newcomer), u64(celeb), "1800000000"}, ":1\r\n")
	total("FOLLOW of a new fan", fans+1)
	want([]string{"FOLLOW", u64(newcomer), u64(celeb), "1800000001"}, ":0\r\n")
	total("FOLLOW again", fans+1)
	want([]string{"UNFOLLOW", u64(leaver), u64(celeb)}, ":1\r\n")
	total("UNFOLLOW of an old fan the list does not hold", fans)
	want([]string{"HEXISTS", rkey(celeb), u64(leaver)}, ":0\r\n")
	want([]string{"HEXISTS", rkey(celeb), u64(newcomer)}, ":1\r\n")
}
