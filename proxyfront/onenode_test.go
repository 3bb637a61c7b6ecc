package proxyfront_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestProxyMatchesOneNode loads a random graph and string keys through a
// proxy over three nodes and identically into one reference node, then
// sends both the same random relation, multi-key and single-key commands,
// from four clients at once, and compares the raw replies byte for byte.
// Afterwards each node must hold a fair share of the keys, and together
// exactly the reference's.
func TestProxyMatchesOneNode(t *testing.T) {
	cl := startCluster(t, 3, "node")
	ref := startNode(t)
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	p := newPair(t, px.Addr, ref.Addr)
	rng := rand.New(rand.NewPCG(20240601, 7))
	g := newSocialGraph(rng, 360)

	// Load through the proxy and into the reference: pipelined RELLOADs,
	// some lists not cached, some empty, some truncated, some without times.
	for i, u := range g.users {
		switch x := rng.IntN(100); {
		case x < 8: // not cached
		case x < 12:
			p.queue("RELLOAD", fkey(u))
		case x < 17:
			es := newestFirst(g.following[u])
			p.queue(relload(fkey(u), es[:len(es)/2], true, true)...)
		case x < 27:
			p.queue(relload(fkey(u), g.following[u], false, false)...)
		default:
			p.queue(relload(fkey(u), g.following[u], true, false)...)
		}
		fans := g.fans[u]
		switch x := rng.IntN(100); {
		case x < 10:
		case len(fans) > 100 && x < 60:
			p.queue(relload(rkey(u), newestFirst(fans)[:100], true, true)...)
		default:
			p.queue(relload(rkey(u), fans, true, false)...)
		}
		if i%16 == 15 {
			p.sync()
		}
	}
	p.sync()

	// String keys: SETs, then MSETs that overwrite some of them; keys with
	// odd bytes, the empty key among them.
	val := func() string {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	var strKeys []string
	for i := range 200 {
		k := fmt.Sprintf("str:%d", i)
		strKeys = append(strKeys, k)
		p.queue("SET", k, val())
	}
	odd := []string{"", " ", "key with spaces", "crlf\r\nin key", "\xff\xfe\x00", "{tag}x", "42", "42.followers", "042.following", ".following", "18446744073709551616.following"}
	for _, k := range odd {
		p.queue("SET", k, val())
	}
	// A string where a user's following list belongs.
	const strUser = "999999999999"
	p.queue("SET", strUser+".following", "not a relation set")
	p.sync()
	for range 12 {
		args := []string{"MSET"}
		for range 1 + rng.IntN(25) {
			args = append(args, strKeys[rng.IntN(len(strKeys))], val())
		}
		p.queue(args...)
	}
	p.sync()

	// Queries from four clients at once, then from one.
	t.Run("parallel", func(t *testing.T) {
		for w := range 4 {
			t.Run(fmt.Sprint("client", w), func(t *testing.T) {
				t.Parallel()
				wp := newPair(t, px.Addr, ref.Addr)
				newQueries(g, uint64(100+w), strKeys, odd).run(wp, 300)
				t.Logf("compared %v", wp.compared)
			})
		}
	})
	q := newQueries(g, 1, strKeys, odd)
	q.run(p, 600)

	// Single-key edits, then the same queries on the edited lists.
	for range 150 {
		a := q.anyUser()
		switch rng.IntN(12) {
		case 10:
			p.queue("ZADD", fkey(a), strconv.Itoa(1_600_000_000+rng.IntN(20_000)), u64(q.pickUID()))
		case 11:
			p.queue("ZREM", rkey(a), u64(q.fan(a)), u64(q.pickUID()))
		case 0:
			p.queue("RELADD", fkey(a), "XX", "TIMES", u64(q.pickUID()), strconv.Itoa(1_600_000_000+rng.IntN(20_000)))
		case 1:
			p.queue("RELADD", fkey(a), u64(q.pickUID()), u64(q.pickUID()))
		case 2:
			p.queue("RELDEL", fkey(a), u64(q.member(a)), u64(q.pickUID()))
		case 3:
			p.queue("HSET", rkey(a), u64(q.pickUID()), "1600000001")
		case 4:
			p.queue("SADD", fkey(q.pickUID()), u64(q.pickUID()))
		case 5:
			p.queue("HDEL", fkey(a), u64(q.member(a)))
		case 6:
			k := strKeys[rng.IntN(len(strKeys))]
			p.queue([][]string{{"APPEND", k, "x"}, {"SETNX", k, "y"}, {"GETSET", k, "z"}, {"SET", k, "w", "XX", "GET"}, {"GETDEL", k}}[rng.IntN(5)]...)
		case 7:
			k := fmt.Sprintf("n:%d", rng.IntN(10))
			p.queue([][]string{{"INCR", k}, {"INCRBY", k, "7"}, {"DECR", k}}[rng.IntN(3)]...)
		default:
			// A composed read ends its pipeline: between its rounds it sees
			// the lists as they are then (docs/proxy.md), so an edit
			// pipelined after it could land before its last round.
			p.queue(q.next()...)
			p.sync()
		}
	}
	p.sync()
	q.run(p, 400)

	// Arguments one node refuses must be refused the same way.
	a := u64(q.anyUser())
	for _, args := range [][]string{
		{"RELCHECK", a, "x"},
		{"RELCHECK", "x", a},
		{"RELCHECK", a, "1", "-3"},
		{"RELCHECK", a, "18446744073709551616"},
		{"RELFOLLOWS", a, "1", "abc"},
		{"RELWHO", a, "2", "LIMIT", "-1"},
		{"RELWHO", a, "2", "LIMIT", "0"},
		{"RELWHO", a, "2", "LIMIT", "x"},
		{"RELWHO", a, "2", "LIMIT"},
		{"RELWHO", "x", "2"},
		{"RELCOMMON", a, "2", "LIMIT"},
		{"RELCOMMON", a, "y"},
		{"RELCOMMON", a, "2", "FOO", "3"},
		{"RELMEMBERS", fkey(q.anyUser()), "NEWEST", "0"},
		{"RELMULTI", fkey(q.anyUser()), "1.5"},
		{"RELMULTI", "str:1", "1"},
		{"RELCHECK", a, "1", "str"},
		{"INCR", "str:1"},
		// A user whose key holds a string: an error in its position, the
		// rest of the array intact, on one node and through the proxy.
		{"RELCHECK", a, strUser},
		{"RELCHECK", a, "1", strUser},
		{"RELCHECK", a, strUser, "1", "2", "3", "4", "5"},
		{"RELFOLLOWS", a, strUser, "1", "2", "3", "4", "5"},
		{"RELCHECK", strUser, a},
		{"RELCHECK", strUser, a, "1"},
		{"RELFOLLOWS", a, "1", strUser},
		{"RELWHO", strUser, a},
		{"RELCOMMON", a, strUser},
		{"RELCOMMON", strUser, a},
		{"RELMULTI", strUser + ".following", "1"},
		// Windows and the batch form, refused as one node refuses them.
		{"RELCHECK", a, "BATCH"},
		{"RELCHECK", a, "SINCE", "1"},
		{"RELCHECK", a, "SINCE"},
		{"RELCHECK", a, "SINCE", "-1", "2"},
		{"RELCHECK", a, "UNTIL", "4294967296", "2"},
		{"RELCHECK", a, "BITS", "2"},
		{"RELFOLLOWS", a, "BATCH", "2"},
		{"RELFOLLOWS", a, "UNTIL", "x", "2"},
		{"RELMULTI", fkey(q.anyUser()), "SINCE", "1"},
		{"RELMULTI", fkey(q.anyUser()), "SINCE", "1", "BATCH", "2"},
		{"RELMEMBERS", fkey(q.anyUser()), "BEFORE", "1"},
		{"RELMEMBERS", fkey(q.anyUser()), "BEFORE", "1", "x"},
		{"RELMEMBERS", fkey(q.anyUser()), "LIMIT", "0"},
		{"RELCHECK", a, "SINCE", "1", strUser},
		{"RELCHECK", a, "SINCE", "1", "BATCH", strUser, "1", "2", "3", "4", "5"},
		{"RELCHECK", strUser, "SINCE", "1", a},
		// The same window twice, the last word winning.
		{"RELCHECK", a, "since", "1", "SINCE", "1600010000", "batch", "BATCH", a, "1", "2", "3", "4", "5", "6", "7", "8"},
		// Odd but valid spellings.
		{"RELCHECK", "0" + a, a},
		{"RELCHECK", a, "007", "+5"},
		{"RELFOLLOWS", "0" + a, a},
		{"RELWHO", a, "2", "limit", "3"},
		{"RELCOMMON", a, a, "Limit", "2"},
		// The sorted-set view's refusals, one key each.
		{"ZRANGE", fkey(q.anyUser()), "0", "1", "LIMIT", "0", "1"},
		{"ZRANGE", fkey(q.anyUser()), "a", "b", "BYLEX"},
		{"ZCOUNT", rkey(q.anyUser()), "x", "1"},
		{"ZADD", fkey(q.anyUser()), "1.5", "1"},
		{"ZSCORE", strUser + ".following", "1"},
	} {
		p.check(args...)
	}
	// TOUCH, split per node like EXISTS.
	p.check("TOUCH", "str:1", "str:2", "str:3", "str:4", "str:5", "missing:1", "str:1")

	// MSET and DEL mixes leave both sides equal.
	var mix []string
	for i := range 60 {
		mix = append(mix, fmt.Sprintf("mix:%d", i))
	}
	for range 40 {
		args := []string{"MSET"}
		for range 1 + rng.IntN(12) {
			args = append(args, mix[rng.IntN(len(mix))], val())
		}
		p.queue(args...)
		del := []string{[]string{"DEL", "UNLINK", "del"}[rng.IntN(3)]}
		for range 1 + rng.IntN(10) {
			if rng.IntN(5) == 0 {
				del = append(del, strKeys[rng.IntN(len(strKeys))])
			} else {
				del = append(del, mix[rng.IntN(len(mix))])
			}
		}
		if len(del) > 2 {
			del = append(del, del[1]) // deleted twice: counted once
		}
		p.queue(del...)
		p.queue(append(append([]string{"EXISTS"}, mix[:20]...), mix[:5]...)...)
		p.sync()
	}
	p.check(append([]string{"MGET"}, mix...)...)
	p.check(append([]string{"MGET"}, strKeys...)...)
	p.check(append([]string{"MGET"}, odd...)...)
	p.check("DEL", fkey(g.users[1]), rkey(g.users[1]), "str:0", "mix:0", "missing:1", "")

	// Every node got a share of the keys, and together exactly the
	// reference's keys.
	refSize := value(t, p.ref.must(t, "DBSIZE")).(int64)
	var sum int64
	for i, c := range cl.conns(t) {
		n := value(t, c.must(t, "DBSIZE")).(int64)
		t.Logf("%s holds %d of %d keys", cl.names[i], n, refSize)
		if n < refSize/8 {
			t.Errorf("%s holds %d of %d keys: not spread over the nodes", cl.names[i], n, refSize)
		}
		sum += n
	}
	if sum != refSize {
		t.Errorf("the nodes hold %d keys in all, the reference %d", sum, refSize)
	}
	t.Logf("compared %v", p.compared)
	t.Logf("of which with content (a non-empty array or a bulk): %v", p.nonEmpty)
}
