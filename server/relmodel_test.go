package server_test

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/openhash"
)

// graph is the reference model: who follows whom, with follow times, and
// which users' following sets were loaded into the server.
type graph struct {
	users     []uint64
	following map[uint64]map[uint64]uint32
	cached    map[uint64]bool
	big       []uint64 // cached users with sets the Z* view caches an order for
}

// newGraph makes n users with 10-digit uids and power-law follow counts (a
// Zipf draw: most users follow a few, some follow hundreds), following
// mostly popular users, as real graphs do.
func newGraph(rng *rand.Rand, n int) *graph {
	g := &graph{following: map[uint64]map[uint64]uint32{}, cached: map[uint64]bool{}}
	seen := map[uint64]bool{}
	for len(g.users) < n {
		u := 1_000_000_000 + rng.Uint64N(9_000_000_000)
		if !seen[u] {
			seen[u] = true
			g.users = append(g.users, u)
		}
	}
	count := rand.NewZipf(rng, 1.3, 4, uint64(n/4))
	pick := rand.NewZipf(rng, 1.1, 1, uint64(n-1))
	for _, u := range g.users {
		fs := map[uint64]uint32{}
		for want := int(count.Uint64()); len(fs) < want; {
			v := g.users[pick.Uint64()]
			if v != u {
				// Coarse times: equal times in one list are common, so
				// paging and ordering are tested at ties.
				fs[v] = 1_600_000_000 + uint32(rng.IntN(400))*250_000
			}
		}
		g.following[u] = fs
	}
	return g
}

func (g *graph) follows(a, b uint64) bool { _, ok := g.following[a][b]; return ok }

// code is RELCHECK's answer in the model.
func (g *graph) code(a, b uint64) int64 {
	if !g.cached[a] || !g.cached[b] {
		return -1
	}
	var c int64
	if g.follows(a, b) {
		c |= 1
	}
	if g.follows(b, a) {
		c |= 2
	}
	return c
}

// byTime is a's following list newest first, ties by uid: RELMEMBERS order.
func (g *graph) byTime(a uint64) []uint64 {
	var out []uint64
	for v := range g.following[a] {
		out = append(out, v)
	}
	slices.SortFunc(out, func(x, y uint64) int {
		if c := cmp.Compare(g.following[a][y], g.following[a][x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return out
}

// within is whether a follows b with a follow time in [lo, hi].
func (g *graph) within(a, b uint64, lo, hi uint32) bool {
	t, ok := g.following[a][b]
	return ok && t >= lo && t <= hi
}

// codeWithin is RELCHECK's answer with the window SINCE lo UNTIL hi.
func (g *graph) codeWithin(a, b uint64, lo, hi uint32) int64 {
	if !g.cached[a] || !g.cached[b] {
		return -1
	}
	var c int64
	if g.within(a, b, lo, hi) {
		c |= 1
	}
	if g.within(b, a, lo, hi) {
		c |= 2
	}
	return c
}

// window draws a window over the graph's times as option words: SINCE,
// UNTIL or both (crossed now and then), and its bounds. Half the bounds
// are a follow time of a's list, so that inclusive ends are tested.
func (g *graph) window(rng *rand.Rand, a uint64) (words []any, lo, hi uint32) {
	lo, hi = 0, math.MaxUint32
	var times []uint32
	for _, tm := range g.following[a] {
		times = append(times, tm)
	}
	at := func() uint32 {
		if len(times) > 0 && rng.IntN(2) == 0 {
			return times[rng.IntN(len(times))]
		}
		return 1_600_000_000 + uint32(rng.IntN(110_000_000)) - 5_000_000
	}
	switch rng.IntN(3) {
	case 0:
		lo = at()
		return []any{"SINCE", lo}, lo, hi
	case 1:
		hi = at()
		return []any{"UNTIL", hi}, lo, hi
	}
	lo, hi = at(), at()
	return []any{"SINCE", lo, "UNTIL", hi}, lo, hi
}

func key(u uint64) string { return strconv.FormatUint(u, 10) + ".following" }

func strs(us []uint64) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = strconv.FormatUint(u, 10)
	}
	return out
}

func args(parts ...any) []any {
	var out []any
	for _, p := range parts {
		switch v := p.(type) {
		case []uint64:
			for _, u := range v {
				out = append(out, strconv.FormatUint(u, 10))
			}
		default:
			out = append(out, v)
		}
	}
	return out
}

// TestRelationModel loads a random graph three ways (client-built arrays by
// SET, RELLOAD, HSET) and checks every relation command against the model,
// then edits with RELADD/RELDEL and checks again.
func TestRelationModel(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	rng := rand.New(rand.NewPCG(1, 2))
	g := newGraph(rng, 2000)

	// Load 90% of the users; the rest stay uncached so "unknown" is tested.
	pipe := c.Pipeline()
	for i, u := range g.users {
		if i%10 == 9 {
			continue
		}
		g.cached[u] = true
		fs := g.following[u]
		uids := make([]uint64, 0, len(fs))
		times := make([]uint32, 0, len(fs))
		for v, tm := range fs {
			uids = append(uids, v)
			times = append(times, tm)
		}
		switch i % 3 {
		case 0: // the client builds the array and SETs it
			// Every other one in version 3 (rel-set-format compact).
			version := []int{0, openhash.VersionSmallest}[i/3%2]
			buf, err := openhash.Build(nil, uids, times, openhash.Options{Seed: uint64(i), Version: version})
			if err != nil {
				t.Fatal(err)
			}
			pipe.Set(ctx, key(u), buf, 0)
		case 1:
			a := []any{"RELLOAD", key(u), "TIMES"}
			for j := range uids {
				a = append(a, uids[j], times[j])
			}
			pipe.Do(ctx, a...)
		case 2: // an old client loading a hash field by field
			pipe.Del(ctx, key(u))
			if len(uids) == 0 {
				pipe.Do(ctx, "RELLOAD", key(u), "TIMES")
			}
			for j := range uids {
				pipe.HSet(ctx, key(u), strconv.FormatUint(uids[j], 10), times[j])
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("load: %v", err)
	}
	check := func(t *testing.T) {
		for q := range 300 {
			a := g.users[rng.IntN(len(g.users))]
			if len(g.big) > 0 && rng.IntN(3) == 0 {
				a = g.big[rng.IntN(len(g.big))]
			}
			bs := make([]uint64, 1+rng.IntN(20))
			for i := range bs {
				if i%2 == 0 && len(g.following[a]) > 0 {
					bs[i] = g.byTime(a)[rng.IntN(len(g.following[a]))]
				} else {
					bs[i] = g.users[rng.IntN(len(g.users))]
				}
			}
			// RELCHECK (the BATCH form: an array, one b included; the
			// single form is checked below).
			got, err := c.Do(ctx, args("RELCHECK", a, "BATCH", bs)...).Result()
			if err != nil {
				t.Fatalf("RELCHECK: %v", err)
			}
			for i, b := range bs {
				if want := g.code(a, b); got.([]any)[i].(int64) != want {
					t.Fatalf("query %d: RELCHECK %d %d = %v, want %d", q, a, b, got.([]any)[i], want)
				}
			}
			// RELFOLLOWS a bs: does each b follow a, from b's own set.
			rev, err := c.Do(ctx, args("RELFOLLOWS", a, bs)...).Int64Slice()
			if err != nil {
				t.Fatalf("RELFOLLOWS: %v", err)
			}
			for i, b := range bs {
				want := int64(-1)
				if g.cached[b] {
					want = 0
					if g.follows(b, a) {
						want = 1
					}
				}
				if rev[i] != want {
					t.Fatalf("query %d: RELFOLLOWS %d %d = %d, want %d", q, a, b, rev[i], want)
				}
			}
			// RELMULTI and the compatibility reads on the same set.
			hits, err := c.Do(ctx, args("RELMULTI", key(a), bs)...).Result()
			if !g.cached[a] {
				if err != redis.Nil {
					t.Fatalf("RELMULTI of uncached %d: %v, %v", a, hits, err)
				}
			} else {
				for i, b := range bs {
					if want := g.follows(a, b); (hits.([]any)[i].(int64) == 1) != want {
						t.Fatalf("RELMULTI %d %d = %v, want %v", a, b, hits.([]any)[i], want)
					}
				}
				times, err := c.HMGet(ctx, key(a), strs(bs)...).Result()
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range bs {
					tm, ok := g.following[a][b]
					if (times[i] != nil) != ok || (ok && times[i] != strconv.FormatUint(uint64(tm), 10)) {
						t.Fatalf("HMGET %d %d = %v, want %d,%v", a, b, times[i], tm, ok)
					}
				}
				if n, _ := c.HLen(ctx, key(a)).Result(); n != int64(len(g.following[a])) {
					t.Fatalf("HLEN %d = %d, want %d", a, n, len(g.following[a]))
				}
				if ok, _ := c.SIsMember(ctx, key(a), strconv.FormatUint(bs[0], 10)).Result(); ok != g.follows(a, bs[0]) {
					t.Fatalf("SISMEMBER %d %d = %v", a, bs[0], ok)
				}
				ms, err := c.Do(ctx, "RELMEMBERS", key(a)).StringSlice()
				if err != nil || !slices.Equal(ms, strs(g.byTime(a))) {
					t.Fatalf("RELMEMBERS %d = %v, %v; want %v", a, ms, err, strs(g.byTime(a)))
				}
			}
			// The windowed forms: RELCHECK BATCH, RELFOLLOWS and RELMULTI.
			words, lo, hi := g.window(rng, a)
			codes, err := c.Do(ctx, args(append(append([]any{"RELCHECK", a}, words...), "BATCH", bs)...)...).Int64Slice()
			if err != nil {
				t.Fatalf("RELCHECK %v BATCH: %v", words, err)
			}
			for i, b := range bs {
				if want := g.codeWithin(a, b, lo, hi); codes[i] != want {
					t.Fatalf("query %d: RELCHECK %d %v %d = %d, want %d", q, a, words, b, codes[i], want)
				}
			}
			rev, err = c.Do(ctx, args(append(append([]any{"RELFOLLOWS", a}, words...), bs)...)...).Int64Slice()
			if err != nil {
				t.Fatalf("RELFOLLOWS %v: %v", words, err)
			}
			for i, b := range bs {
				want := int64(-1)
				if g.cached[b] {
					want = 0
					if g.within(b, a, lo, hi) {
						want = 1
					}
				}
				if rev[i] != want {
					t.Fatalf("query %d: RELFOLLOWS %d %v %d = %d, want %d", q, a, words, b, rev[i], want)
				}
			}
			if g.cached[a] {
				in, err := c.Do(ctx, args(append(append([]any{"RELMULTI", key(a)}, words...), bs)...)...).Int64Slice()
				if err != nil {
					t.Fatalf("RELMULTI %v: %v", words, err)
				}
				for i, b := range bs {
					if want := g.within(a, b, lo, hi); (in[i] == 1) != want || in[i] < 0 {
						t.Fatalf("query %d: RELMULTI %d %v %d = %d, want %v", q, a, words, b, in[i], want)
					}
				}
				pages(t, c, g, a, rng)
			}
			g.checkZView(t, ctx, c, rng, a, bs)
			// RELWHO a x: cached members of a who follow x, newest first.
			x := bs[0]
			var who []uint64
			for _, m := range g.byTime(a) {
				if g.cached[m] && g.follows(m, x) {
					who = append(who, m)
				}
			}
			res, err := c.Do(ctx, args("RELWHO", a, x)...).StringSlice()
			switch {
			case !g.cached[a]:
				if err != redis.Nil {
					t.Fatalf("RELWHO of uncached: %v %v", res, err)
				}
			case err != nil || !slices.Equal(res, strs(who)):
				t.Fatalf("RELWHO %d %d = %v, %v; want %v", a, x, res, err, strs(who))
			}
			// RELCOMMON a b: probes the larger set with the smaller's members.
			b := bs[len(bs)-1]
			res, err = c.Do(ctx, args("RELCOMMON", a, b)...).StringSlice()
			if !g.cached[a] || !g.cached[b] {
				if err != redis.Nil {
					t.Fatalf("RELCOMMON with uncached: %v %v", res, err)
				}
				continue
			}
			small, large := a, b
			if len(g.following[a]) > len(g.following[b]) {
				small, large = b, a
			}
			var common []uint64
			for _, m := range g.byTime(small) {
				if g.follows(large, m) {
					common = append(common, m)
				}
			}
			if err != nil || !slices.Equal(res, strs(common)) {
				t.Fatalf("RELCOMMON %d %d = %v, %v; want %v", a, b, res, err, strs(common))
			}
		}
	}
	t.Run("after load", check)

	// Sets big enough for the Z* view to cache their order: each is ranged
	// now, so that the edits below must drop those orders, and half the
	// edits and the checks after them go to these sets.
	var big []uint64
	for _, u := range g.users {
		if g.cached[u] && len(g.following[u]) >= 128 {
			big = append(big, u)
			c.ZRevRange(ctx, key(u), 0, 9)
		}
	}
	if len(big) == 0 {
		t.Fatal("no set is big enough to have its order cached")
	}
	g.big = big

	// Edits: follow and unfollow at random, on server and model alike.
	for range 1000 {
		a := g.users[rng.IntN(len(g.users))]
		if rng.IntN(2) == 0 {
			a = big[rng.IntN(len(big))]
		}
		if !g.cached[a] {
			continue
		}
		b := g.users[rng.IntN(len(g.users))]
		op := rng.IntN(4)
		switch op {
		case 2: // the sorted-set view's writes, on the same sets
			tm := uint32(1_700_000_000 + rng.IntN(1000))
			n, err := c.Do(ctx, args("ZADD", key(a), tm, b)...).Int()
			if err != nil || (n == 1) == g.follows(a, b) {
				t.Fatalf("ZADD %d %d = %d, %v (following before: %v)", a, b, n, err, g.follows(a, b))
			}
			g.following[a][b] = tm
			continue
		case 3:
			n, err := c.Do(ctx, args("ZREM", key(a), b)...).Int()
			if err != nil || (n == 1) != g.follows(a, b) {
				t.Fatalf("ZREM %d %d = %d, %v", a, b, n, err)
			}
			delete(g.following[a], b)
			continue
		}
		if op == 0 {
			tm := uint32(1_700_000_000 + rng.IntN(1000))
			n, err := c.Do(ctx, args("RELADD", key(a), "XX", "TIMES", b, tm)...).Int()
			if err != nil || (n == 1) == g.follows(a, b) {
				t.Fatalf("RELADD %d %d = %d, %v (following before: %v)", a, b, n, err, g.follows(a, b))
			}
			g.following[a][b] = tm
		} else {
			n, err := c.Do(ctx, args("RELDEL", key(a), b)...).Int()
			if err != nil || (n == 1) != g.follows(a, b) {
				t.Fatalf("RELDEL %d %d = %d, %v", a, b, n, err)
			}
			delete(g.following[a], b)
		}
	}
	t.Run("after edits", check)
}

// pages lists a's following list a page at a time by the (time, uid)
// cursor, now and then in a window, and compares the pages joined with
// the model's listing.
func pages(t *testing.T, c *redis.Client, g *graph, a uint64, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	words, lo, hi := g.window(rng, a)
	if rng.IntN(2) == 0 {
		words, lo, hi = nil, 0, math.MaxUint32
	}
	var want []string
	for _, m := range g.byTime(a) {
		if tm := g.following[a][m]; tm >= lo && tm <= hi {
			want = append(want, strconv.FormatUint(m, 10), strconv.FormatUint(uint64(tm), 10))
		}
	}
	limit := 1 + rng.IntN(40)
	var got []string
	cursor := []any{}
	for range len(want)/2 + 2 {
		page, err := c.Do(ctx, append(append(append([]any{"RELMEMBERS", key(a), "WITHTIMES"}, words...), cursor...), "LIMIT", limit)...).StringSlice()
		if err != nil {
			t.Fatalf("RELMEMBERS %d %v %v: %v", a, words, cursor, err)
		}
		got = append(got, page...)
		if len(page) < 2*limit {
			break
		}
		cursor = []any{"BEFORE", page[len(page)-1], page[len(page)-2]}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("RELMEMBERS %d %v by pages of %d = %v, want %v", a, words, limit, got, want)
	}
}

// zorder is a's following list in Redis's sorted-set order: ascending
// follow time, ties by the member's decimal bytes.
func (g *graph) zorder(a uint64) []string {
	ms := strs(g.byTime(a))
	slices.SortFunc(ms, func(x, y string) int {
		tx, _ := strconv.ParseUint(x, 10, 64)
		ty, _ := strconv.ParseUint(y, 10, 64)
		if c := cmp.Compare(g.following[a][tx], g.following[a][ty]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return ms
}

// checkZView checks the sorted-set view of a's following set against the
// model: a page newest first, a score range with LIMIT, ranks, scores and
// counts. An uncached set reads as an empty sorted set.
func (g *graph) checkZView(t *testing.T, ctx context.Context, c *redis.Client, rng *rand.Rand, a uint64, bs []uint64) {
	t.Helper()
	order := g.zorder(a)
	if !g.cached[a] {
		order = nil
	}
	start := rng.IntN(len(order) + 2)
	stop := start + rng.IntN(60)
	var want []string
	for r := start; r <= stop && r < len(order); r++ {
		want = append(want, order[len(order)-1-r])
	}
	got, err := c.ZRevRange(ctx, key(a), int64(start), int64(stop)).Result()
	if err != nil || !slices.Equal(got, want) && len(got)+len(want) > 0 {
		t.Fatalf("ZREVRANGE %d %d %d = %v, %v; want %v", a, start, stop, got, err, want)
	}
	lo := uint32(1_600_000_000 + rng.IntN(110_000_000))
	hi := lo + uint32(rng.IntN(30_000_000))
	off, cnt := rng.IntN(5), 1+rng.IntN(20)
	var in []string
	for _, m := range order {
		u, _ := strconv.ParseUint(m, 10, 64)
		if tm := g.following[a][u]; tm >= lo && tm <= hi {
			in = append(in, m)
		}
	}
	want = nil
	if off < len(in) {
		want = in[off:min(len(in), off+cnt)]
	}
	got, err = c.Do(ctx, "ZRANGE", key(a), lo, hi, "BYSCORE", "LIMIT", off, cnt).StringSlice()
	if err != nil || !slices.Equal(got, want) && len(got)+len(want) > 0 {
		t.Fatalf("ZRANGE %d %d %d BYSCORE LIMIT %d %d = %v, %v; want %v", a, lo, hi, off, cnt, got, err, want)
	}
	if n, err := c.ZCount(ctx, key(a), strconv.Itoa(int(lo)), strconv.Itoa(int(hi))).Result(); err != nil || n != int64(len(in)) {
		t.Fatalf("ZCOUNT %d %d %d = %d, %v; want %d", a, lo, hi, n, err, len(in))
	}
	if n, err := c.ZCard(ctx, key(a)).Result(); err != nil || n != int64(len(order)) {
		t.Fatalf("ZCARD %d = %d, %v; want %d", a, n, err, len(order))
	}
	for _, b := range bs {
		tm, member := g.following[a][b]
		member = member && g.cached[a]
		sc, err := c.ZScore(ctx, key(a), strconv.FormatUint(b, 10)).Result()
		if member != (err == nil) || member && sc != float64(tm) {
			t.Fatalf("ZSCORE %d %d = %v, %v; want %d (member %v)", a, b, sc, err, tm, member)
		}
		r, err := c.ZRevRank(ctx, key(a), strconv.FormatUint(b, 10)).Result()
		if member != (err == nil) || member && order[len(order)-1-int(r)] != strconv.FormatUint(b, 10) {
			t.Fatalf("ZREVRANK %d %d = %d, %v (member %v)", a, b, r, err, member)
		}
	}
}

// TestRelationErrors drives each error case of the relation commands with
// go-redis, checking the exact message.
func TestRelationErrors(t *testing.T) {
	p := relcachetest.Start(t, "--rel-max-batch", "10")
	ctx := context.Background()
	c := client(t, p.Addr)
	c.Set(ctx, "str", "v", 0)
	c.Do(ctx, "RELLOAD", "1.following", "2")
	many := []any{"RELMULTI", "1.following"}
	for i := range 11 {
		many = append(many, i+1)
	}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"RELCHECK", "x", "1"}, "ERR relation members must be unsigned 64-bit integers"},
		{[]any{"RELCHECK", "1", "2", "-3"}, "ERR relation members must be unsigned 64-bit integers"},
		{[]any{"RELMULTI", "1.following", "1.5"}, "ERR relation members must be unsigned 64-bit integers"},
		{many, "ERR too many uids in one command (11, the limit is rel-max-batch 10)"},
		{[]any{"RELWHO", "1", "2", "LIMIT", "-1"}, "ERR LIMIT must be a positive integer"},
		{[]any{"RELWHO", "1", "2", "LIMIT", "x"}, "ERR LIMIT must be a positive integer"},
		{[]any{"RELCOMMON", "1", "2", "LIMIT"}, "ERR syntax error"},
		{[]any{"RELMEMBERS", "1.following", "NEWEST", "0"}, "ERR NEWEST must be a positive integer"},
		{[]any{"RELMULTI", "str", "1"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]any{"RELLOAD", "k", "TIMES", "1", "x"}, "ERR relation times must be unsigned 32-bit integers"},
		{[]any{"HSET", "1.following", "2"}, "ERR wrong number of arguments for 'hset' command"},
		{[]any{"HSET", "1.following", "2", "-1"}, "ERR relation times must be unsigned 32-bit integers"},
		{[]any{"SADD", "str", "1"}, "WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]any{"SET", "k", "\x8fRHS" + string(make([]byte, 28))}, "ERR invalid relation set: unsupported version 0"},
	} {
		err := c.Do(ctx, tc.args...).Err()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: got %v, want %q", tc.args[:min(len(tc.args), 4)], err, tc.want)
		}
	}
	// A set copied with GET and SET between keys stays a set.
	buf, err := c.Get(ctx, "1.following").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "copy", buf, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if typ, _ := c.Type(ctx, "copy").Result(); typ != "hash" {
		t.Fatalf("TYPE of a copied set = %q", typ)
	}
}
