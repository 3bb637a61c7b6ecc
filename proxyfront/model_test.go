package proxyfront_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/relcache/relcache/internal/resp"
)

// --- A random social graph ---------------------------------------------------

type edge struct {
	uid  uint64
	time uint32
}

type socialGraph struct {
	users     []uint64 // users whose lists may be cached
	others    []uint64 // followed, never cached
	following map[uint64][]edge
	fans      map[uint64][]edge
	popular   *rand.Zipf
}

// newSocialGraph makes n users with power-law follow counts (most follow a
// few, some hundreds) and a handful of heavy users following thousands,
// following mostly popular users; times come from a narrow range so that
// equal times (ties ordered by uid) occur.
func newSocialGraph(rng *rand.Rand, n int) *socialGraph {
	g := &socialGraph{following: map[uint64][]edge{}, fans: map[uint64][]edge{}}
	seen := map[uint64]bool{}
	fresh := func() uint64 {
		for {
			var u uint64
			switch rng.IntN(4) {
			case 0:
				u = rng.Uint64N(100_000) // short uids
			case 1:
				u = rng.Uint64() // up to 20 digits
			default:
				u = 1_000_000_000 + rng.Uint64N(9_000_000_000)
			}
			if !seen[u] {
				seen[u] = true
				return u
			}
		}
	}
	g.users = append(g.users, 0) // uid 0 is valid
	seen[0] = true
	for len(g.users) < n {
		g.users = append(g.users, fresh())
	}
	for range 6000 {
		g.others = append(g.others, fresh())
	}
	g.popular = rand.NewZipf(rng, 1.1, 2, uint64(n-1))
	count := rand.NewZipf(rng, 1.2, 3, 300)
	for i, u := range g.users {
		want := int(count.Uint64())
		if i%60 == 7 {
			want = 1500 + rng.IntN(3000) // heavy users
		}
		set := map[uint64]bool{u: true}
		var es []edge
		for len(es) < want {
			var v uint64
			if rng.IntN(10) < 6 {
				v = g.users[g.popular.Uint64()]
			} else {
				v = g.others[rng.IntN(len(g.others))]
			}
			if set[v] {
				if len(set) > len(g.users)/2 {
					v = g.others[rng.IntN(len(g.others))] // popular ones exhausted
				}
				if set[v] {
					continue
				}
			}
			set[v] = true
			e := edge{v, 1_600_000_000 + uint32(rng.IntN(20_000))}
			es = append(es, e)
			g.fans[v] = append(g.fans[v], edge{u, e.time})
		}
		g.following[u] = es
	}
	return g
}

// newestFirst sorts edges as RELMEMBERS orders them.
func newestFirst(es []edge) []edge {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b edge) int {
		if c := cmp.Compare(b.time, a.time); c != 0 {
			return c
		}
		return cmp.Compare(a.uid, b.uid)
	})
	return out
}

// relload builds RELLOAD args for key.
func relload(key string, es []edge, times, truncated bool) []string {
	args := []string{"RELLOAD", key}
	if times {
		args = append(args, "TIMES")
	}
	if truncated {
		args = append(args, "TRUNCATED")
	}
	for _, e := range es {
		args = append(args, u64(e.uid))
		if times {
			args = append(args, strconv.FormatUint(uint64(e.time), 10))
		}
	}
	return args
}

// queries makes random commands over a loaded graph: every relation
// command, the multi-key commands and a sample of single-key ones, with
// uids that are cached, not cached, truncated, repeated, and command names
// in any case. Each client has its own.
type queries struct {
	g       *socialGraph
	rng     *rand.Rand
	popular *rand.Zipf
	strKeys []string
	odd     []string // keys with odd bytes, empty included
	heavy   []uint64 // users following thousands
}

func newQueries(g *socialGraph, seed uint64, strKeys, odd []string) *queries {
	rng := rand.New(rand.NewPCG(seed, seed*31+7))
	q := &queries{g: g, rng: rng, popular: rand.NewZipf(rng, 1.1, 2, uint64(len(g.users)-1)), strKeys: strKeys, odd: odd}
	for _, u := range g.users {
		if len(g.following[u]) >= 1000 {
			q.heavy = append(q.heavy, u)
		}
	}
	return q
}

func (q *queries) pickUser() uint64 { return q.g.users[q.popular.Uint64()] }
func (q *queries) anyUser() uint64  { return q.g.users[q.rng.IntN(len(q.g.users))] }

func (q *queries) pickUID() uint64 {
	switch x := q.rng.IntN(100); {
	case x < 60:
		return q.anyUser()
	case x < 85:
		return q.g.others[q.rng.IntN(len(q.g.others))]
	case x < 95:
		return q.rng.Uint64N(1 << 40) // nobody
	case x < 97:
		return 0
	default:
		return ^uint64(0)
	}
}

func (q *queries) member(u uint64) uint64 {
	if es := q.g.following[u]; len(es) > 0 && q.rng.IntN(3) > 0 {
		return es[q.rng.IntN(len(es))].uid
	}
	return q.pickUID()
}

func (q *queries) fan(u uint64) uint64 {
	if es := q.g.fans[u]; len(es) > 0 && q.rng.IntN(2) == 0 {
		return es[q.rng.IntN(len(es))].uid
	}
	return q.pickUID()
}

func (q *queries) relKey() string {
	u := q.pickUID()
	if q.rng.IntN(3) > 0 {
		u = q.anyUser()
	}
	if q.rng.IntN(3) == 0 {
		return rkey(u)
	}
	return fkey(u)
}

// uids picks n uids to test against a: members, fans, others, with
// duplicates and a itself now and then.
func (q *queries) uids(n int, a uint64) []string {
	out := make([]string, n)
	for i := range out {
		switch q.rng.IntN(4) {
		case 0, 1:
			out[i] = u64(q.member(a))
		case 2:
			out[i] = u64(q.fan(a))
		default:
			out[i] = u64(q.pickUID())
		}
	}
	if n > 2 && q.rng.IntN(4) == 0 {
		out[q.rng.IntN(n)] = out[0]
	}
	if n > 1 && q.rng.IntN(10) == 0 {
		out[q.rng.IntN(n)] = u64(a)
	}
	return out
}

func (q *queries) limit(args []string) []string {
	if q.rng.IntN(3) == 0 {
		args = append(args, "LIMIT", strconv.Itoa([]int{1, 2, 3, 5, 10, 1000}[q.rng.IntN(6)]))
	}
	return args
}

// window is a random SINCE/UNTIL window (both, either, or with the ends
// crossed) over the graph's times, as option words.
func (q *queries) window() []string {
	at := func() string { return strconv.Itoa(1_600_000_000 + q.rng.IntN(21_000) - 500) }
	switch q.rng.IntN(5) {
	case 0:
		return []string{"SINCE", at()}
	case 1:
		return []string{"until", at()}
	case 2:
		return []string{"SINCE", at(), "UNTIL", at()} // crossed now and then: an empty window
	case 3:
		since := 1_600_000_000 + q.rng.IntN(20_000)
		return []string{"UNTIL", strconv.Itoa(since + q.rng.IntN(3000)), "Since", strconv.Itoa(since)}
	}
	return nil
}

// cursor is a RELMEMBERS page cursor: a member of u's list with its time
// (a tie-safe continuation point), or a place no member is at.
func (q *queries) cursor(u uint64) []string {
	if es := q.g.following[u]; len(es) > 0 && q.rng.IntN(4) > 0 {
		e := es[q.rng.IntN(len(es))]
		return []string{"BEFORE", strconv.FormatUint(uint64(e.time), 10), u64(e.uid)}
	}
	return []string{"BEFORE", strconv.Itoa(1_600_000_000 + q.rng.IntN(20_000)), u64(q.pickUID())}
}

func (q *queries) anyKey() string {
	switch q.rng.IntN(12) {
	case 0, 1, 2:
		return q.relKey()
	case 3, 4:
		return fmt.Sprintf("missing:%d", q.rng.IntN(50))
	case 5:
		return q.odd[q.rng.IntN(len(q.odd))]
	default:
		return q.strKeys[q.rng.IntN(len(q.strKeys))]
	}
}

func (q *queries) keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = q.anyKey()
	}
	if n > 1 && q.rng.IntN(3) == 0 {
		out[q.rng.IntN(n)] = out[0]
	}
	return out
}

// next returns a random read-only command.
func (q *queries) next() []string {
	cat := func(head []string, rest []string) []string { return append(head, rest...) }
	var args []string
	switch q.rng.IntN(48) {
	case 0, 1, 2: // one b: an integer reply
		a := q.pickUser()
		args = []string{"RELCHECK", u64(a), u64([]uint64{q.member(a), q.fan(a), q.pickUID()}[q.rng.IntN(3)])}
	case 3, 4, 5:
		a := q.anyUser()
		args = cat([]string{"RELCHECK", u64(a), "BATCH"}, q.uids(2+q.rng.IntN(40), a))
	case 6:
		a := q.pickUser()
		args = cat([]string{"RELCHECK", u64(a), "BATCH"}, q.uids(200+q.rng.IntN(400), a))
	case 7:
		a := q.pickUID()
		// Without BATCH: one b is the single form, several are refused,
		// by the proxy as by a node.
		args = cat([]string{"RELCHECK", u64(a)}, q.uids(1+q.rng.IntN(10), a))
	case 8, 9:
		a := q.anyUser()
		args = cat([]string{"RELMULTI", fkey(a)}, q.uids(1+q.rng.IntN(30), a))
	case 10:
		a := q.anyUser()
		args = cat([]string{"RELMULTI", fkey(a), "BITS"}, q.uids(1+q.rng.IntN(30), a))
	case 11, 12, 13:
		x := q.pickUser()
		us := make([]string, 1+q.rng.IntN(50))
		for i := range us {
			us[i] = u64([]uint64{q.fan(x), q.anyUser(), q.pickUID()}[q.rng.IntN(3)])
		}
		args = cat([]string{"RELFOLLOWS", u64(x)}, us)
	case 14, 15, 16: // x is followed by some of a's members
		a := q.anyUser()
		if q.rng.IntN(2) == 0 {
			a = q.pickUser()
		}
		args = q.limit([]string{"RELWHO", u64(a), u64(q.member(q.member(a)))})
	case 17, 18:
		a := q.anyUser()
		b := []uint64{q.fan(a), q.anyUser(), q.pickUser(), q.pickUID(), a}[q.rng.IntN(5)]
		args = q.limit([]string{"RELCOMMON", u64(a), u64(b)})
	case 19: // users following thousands, over every node
		a, b := q.heavy[q.rng.IntN(len(q.heavy))], q.heavy[q.rng.IntN(len(q.heavy))]
		switch q.rng.IntN(3) {
		case 0:
			args = q.limit([]string{"RELWHO", u64(a), u64(q.member(q.member(a)))})
		case 1:
			args = q.limit([]string{"RELCOMMON", u64(a), u64(b)})
		default:
			args = cat([]string{"RELCHECK", u64(a), "BATCH"}, q.uids(500, a))
		}
	case 20, 21:
		args = []string{"RELMEMBERS", q.relKey()}
		if q.rng.IntN(2) == 0 {
			args = append(args, "WITHTIMES")
		}
		if q.rng.IntN(2) == 0 {
			args = append(args, "NEWEST", strconv.Itoa(1+q.rng.IntN(20)))
		}
	case 22:
		args = []string{[]string{"RELCARD", "RELINFO", "TYPE", "HLEN", "SCARD", "EXISTS"}[q.rng.IntN(6)], q.relKey()}
	case 23:
		a := q.anyUser()
		args = []string{[]string{"HGET", "HEXISTS", "SISMEMBER"}[q.rng.IntN(3)], fkey(a), u64(q.member(a))}
	case 24:
		a := q.anyUser()
		args = cat([]string{[]string{"HMGET", "SMISMEMBER"}[q.rng.IntN(2)], fkey(a)}, q.uids(1+q.rng.IntN(10), a))
	case 25, 26, 27:
		args = cat([]string{"MGET"}, q.keys(1+q.rng.IntN(40)))
	case 28:
		args = cat([]string{"MGET"}, q.keys(500+q.rng.IntN(500)))
	case 29, 30:
		args = cat([]string{"EXISTS"}, q.keys(1+q.rng.IntN(20)))
	case 31: // not on relation sets, whose bytes differ from build to build
		k := q.strKeys[q.rng.IntN(len(q.strKeys))]
		if q.rng.IntN(3) == 0 {
			k = q.odd[q.rng.IntN(len(q.odd))]
		}
		args = []string{[]string{"GET", "STRLEN", "TYPE", "GETRANGE"}[q.rng.IntN(4)], k}
		if args[0] == "GETRANGE" {
			args = append(args, "1", "-2")
		}
	case 32:
		args = []string{"UNLINK", fmt.Sprintf("missing:%d", q.rng.IntN(50)), fmt.Sprintf("missing:%d", q.rng.IntN(50))}
	case 33: // the batch form, one b as often as several: always an array
		a := q.anyUser()
		args = cat(cat([]string{"RELCHECK", u64(a)}, q.window()), []string{"BATCH"})
		args = cat(args, q.uids([]int{1, 1, 2, 30}[q.rng.IntN(4)], a))
	case 34: // windows on the single form and across nodes
		a := q.pickUser()
		n := []int{1, 1, 5, 40}[q.rng.IntN(4)]
		args = cat([]string{"RELCHECK", u64(a)}, q.window())
		if n > 1 {
			args = append(args, "BATCH")
		}
		args = cat(args, q.uids(n, a))
	case 35:
		a := q.anyUser()
		head := []string{"RELMULTI", fkey(a)}
		if q.rng.IntN(4) == 0 {
			head = append(head, "BITS")
		}
		args = cat(cat(head, q.window()), q.uids(1+q.rng.IntN(30), a))
	case 36:
		x := q.pickUser()
		us := make([]string, 1+q.rng.IntN(30))
		for i := range us {
			us[i] = u64([]uint64{q.fan(x), q.anyUser(), q.pickUID()}[q.rng.IntN(3)])
		}
		args = cat(cat([]string{"RELFOLLOWS", u64(x)}, q.window()), us)
	case 37: // a page after a cursor, in a window now and then
		u := q.anyUser()
		args = cat([]string{"RELMEMBERS", fkey(u), "WITHTIMES"}, q.cursor(u))
		if q.rng.IntN(3) == 0 {
			args = cat(args, q.window())
		}
		args = append(args, "LIMIT", strconv.Itoa(1+q.rng.IntN(20)))
	case 38: // a bi-follow list, assembled across nodes (issue 17)
		u := []uint64{q.anyUser(), q.pickUser(), q.pickUID()}[q.rng.IntN(3)]
		args = []string{"RELMEMBERS", u64(u) + ".bifollow"}
		switch q.rng.IntN(4) {
		case 0:
			args[0] = "RELCARD"
		case 1:
			args = append(args, "WITHTIMES", "NEWEST", strconv.Itoa(1+q.rng.IntN(5)))
		case 2:
			args = append(args, "WITHTIMES")
		case 3: // a page: window and cursor on the mutual time
			args = cat(cat(cat(args, []string{"WITHTIMES"}), q.window()), q.cursor(u))
			args = append(args, "LIMIT", strconv.Itoa(1+q.rng.IntN(5)))
		}
	case 39: // the per-shard half of a bi-follow list, in a window now and then
		x := q.pickUser()
		args = cat(cat([]string{"RELFOLLOWS", u64(x), "WITHTIMES"}, q.window()), q.uids(1+q.rng.IntN(30), x))
	case 40, 41: // the sorted-set view: pages by time
		k, n := q.relKey(), strconv.Itoa(q.rng.IntN(30))
		args = [][]string{
			{"ZREVRANGE", k, "0", n}, {"ZREVRANGE", k, n, "-1", "WITHSCORES"}, {"ZRANGE", k, "0", n, "REV", "WITHSCORES"},
			{"ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "0", n}, {"ZREVRANGEBYSCORE", k, "+inf", "(1600010000", "LIMIT", "1", n},
			{"ZRANGEBYSCORE", k, "1600005000", "+inf", "WITHSCORES"}, {"ZSCAN", k, "0"}, {"ZRANDMEMBER", k, "100000"},
		}[q.rng.IntN(8)]
	case 42:
		a := q.anyUser()
		args = []string{[]string{"ZSCORE", "ZRANK", "ZREVRANK"}[q.rng.IntN(3)], fkey(a), u64(q.member(a))}
	case 43:
		a := q.anyUser()
		args = cat([]string{"ZMSCORE", fkey(a)}, q.uids(1+q.rng.IntN(10), a))
	case 44:
		k := q.relKey()
		args = [][]string{{"ZCARD", k}, {"ZCOUNT", k, "1600005000", "+inf"}, {"ZCOUNT", k, "-inf", "+inf"}}[q.rng.IntN(3)]
	case 45, 46: // the packed form (BIN), split per node without decimal text
		a := q.anyUser()
		var head []string
		switch q.rng.IntN(3) {
		case 0:
			head = cat([]string{"RELCHECK", u64(a)}, q.window())
		case 1:
			head = []string{"RELFOLLOWS", u64(a), "WITHTIMES"}[:2+q.rng.IntN(2)]
		default:
			head = cat([]string{"RELMULTI", fkey(a)}, q.window())
		}
		var packed []byte
		for _, u := range q.uids(1+q.rng.IntN(40), a) {
			v, _ := strconv.ParseUint(u, 10, 64)
			packed = resp.AppendPacked(packed, v)
		}
		if q.rng.IntN(20) == 0 {
			packed = packed[:len(packed)-1] // not whole uids: refused alike
		}
		args = append(head, "BIN", string(packed))
	default: // answered by the proxy itself
		args = [][]string{{"PING"}, {"PING", "hello there"}, {"ECHO", q.anyKey()}}[q.rng.IntN(3)]
	}
	switch q.rng.IntN(10) {
	case 0:
		args[0] = strings.ToLower(args[0])
	case 1:
		b := []byte(strings.ToLower(args[0]))
		b[0] -= 'a' - 'A'
		args[0] = string(b)
	}
	return args
}

// run sends n queries in pipelined batches of 1 to 12 and compares.
func (q *queries) run(p *pair, n int) {
	for sent := 0; sent < n; {
		for range 1 + q.rng.IntN(12) {
			p.queue(q.next()...)
			sent++
		}
		p.sync()
	}
}
