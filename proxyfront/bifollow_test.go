package proxyfront_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestProxyBifollowMatchesOneNode: bi-follow lists assembled by the proxy
// over three nodes answer byte for byte what one node holding every list
// computes, for lists with and without times, truncated, and not cached;
// RELFOLLOWS WITHTIMES split over nodes too. The readers the proxy does not
// assemble are refused, never answered from U's node alone.
func TestProxyBifollowMatchesOneNode(t *testing.T) {
	cl := startCluster(t, 3, "node")
	ref := startNode(t)
	px, _ := startProxy(t, onePool(cl))
	p := newPair(t, px.Addr, ref.Addr)
	rng := rand.New(rand.NewPCG(17, 3))
	var users []uint64
	for i := range 150 {
		users = append(users, uint64(1000+i*7919+rng.IntN(7)))
	}
	// Dense enough that most users have mutual follows; narrow times so
	// ties occur.
	following := map[uint64][]edge{}
	for _, u := range users {
		seen := map[uint64]bool{u: true}
		for range rng.IntN(40) {
			v := users[rng.IntN(len(users))]
			if !seen[v] {
				seen[v] = true
				following[u] = append(following[u], edge{v, 1_600_000_000 + uint32(rng.IntN(30))})
			}
		}
	}
	for i, u := range users {
		switch x := rng.IntN(10); {
		case x == 0: // not cached
		case x == 1:
			es := newestFirst(following[u])
			p.queue(relload(fkey(u), es[:len(es)/2], true, true)...)
		case x == 2:
			p.queue(relload(fkey(u), following[u], false, false)...)
		default:
			p.queue(relload(fkey(u), following[u], true, false)...)
		}
		if i%16 == 15 {
			p.sync()
		}
	}
	p.sync()
	bkey := func(u uint64) string { return u64(u) + ".bifollow" }
	for _, u := range users {
		p.queue("RELMEMBERS", bkey(u))
		p.queue("relmembers", bkey(u), "WITHTIMES")
		p.queue("RELMEMBERS", bkey(u), "NEWEST", strconv.Itoa(1+rng.IntN(5)), "withtimes")
		p.queue("RELCARD", bkey(u))
		p.queue("RELMEMBERS", bkey(u), "NEWEST", "0")
		p.queue("RELMEMBERS", bkey(u), "BOGUS")
		p.queue("TYPE", bkey(u)) // not a reader of relation sets: forwarded
		p.queue("GET", bkey(u))
		us := []string{"RELFOLLOWS", u64(u), "WITHTIMES"}
		for range 1 + rng.IntN(30) {
			us = append(us, u64(users[rng.IntN(len(users))]))
		}
		p.queue(us...)
		p.sync()
	}
	if p.nonEmpty["RELMEMBERS"] < len(users) {
		t.Fatalf("only %d non-empty RELMEMBERS replies of bi-follow lists: the graph tests little", p.nonEmpty["RELMEMBERS"])
	}
	t.Logf("compared %v, non-empty %v", p.compared, p.nonEmpty)

	c := dial(t, px.Addr)
	u := u64(users[3])
	if got := string(c.must(t, "HGETALL", u+".bifollow")); !strings.HasPrefix(got, "-ERR relcache proxy assembles bi-follow lists across nodes for RELMEMBERS and RELCARD only") {
		t.Errorf("HGETALL of a bi-follow key through the proxy: %q", got)
	}
	if got := string(c.must(t, "HSET", u+".bifollow", "1", "2")); !strings.HasPrefix(got, "-ERR "+u+".bifollow is a bi-follow list") {
		t.Errorf("HSET of a bi-follow key through the proxy: %q", got)
	}
	c.must(t, "MULTI")
	if got := string(c.must(t, "RELMEMBERS", u+".bifollow")); !strings.HasPrefix(got, "-CROSSSLOT") {
		t.Errorf("RELMEMBERS of a bi-follow key inside MULTI through the proxy: %q", got)
	}
	c.must(t, "DISCARD")
}
