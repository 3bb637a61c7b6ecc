package server_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
)

// TestLazyFillMatchesTheSource writes a random graph into an embedded SQLite
// source, starts the real binary on it with an empty cache, and checks the
// relation commands and the hash reads, all served by lazy fill, against
// the model the graph was written from, the sorted-set view among them.
func TestLazyFillMatchesTheSource(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	g := newGraph(rng, 2000)
	for _, u := range g.users {
		g.cached[u] = true // every list is one fill away
	}
	edges, fans := g.edges()
	path := filepath.Join(t.TempDir(), "graph.db")
	sourcetest.WriteSQLite(t, path, loader.Layout{Tables: 4}, edges)

	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-query-timeout", "1m", "--load-timeout", "1m") // not a timeout test: a slow host must not fail it
	// Nor on the client's side: a cold RELWHO fills every member's list
	// (docs/benchmarks.md), which a -race build on a loaded CI machine took
	// longer than go-redis's default 3 s read timeout to do.
	c := client(t, p.Addr, func(o *redis.Options) { o.ReadTimeout = time.Minute })
	for q := range 300 {
		// The sorted-set view first, on a user whose list may be cold: the
		// Z* reads fill it like any relation read.
		z := g.users[rng.IntN(len(g.users))]
		g.checkZView(t, ctx, c, rng, z, []uint64{g.users[rng.IntN(len(g.users))]})
		a := g.users[rng.IntN(len(g.users))]
		bs := make([]uint64, 2+rng.IntN(20))
		for i := range bs {
			if i%2 == 0 && len(g.following[a]) > 0 {
				bs[i] = g.byTime(a)[rng.IntN(len(g.following[a]))]
			} else {
				bs[i] = g.users[rng.IntN(len(g.users))]
			}
		}
		// The windowed forms first, on lists not yet filled: the fill
		// runs under them as under any read.
		words, lo, hi := g.window(rng, a)
		in, err := c.Do(ctx, args(append(append([]any{"RELMULTI", key(a)}, words...), bs)...)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELMULTI %v: %v", q, words, err)
		}
		for i, b := range bs {
			if want := g.within(a, b, lo, hi); (in[i] == 1) != want || in[i] < 0 {
				t.Fatalf("query %d: RELMULTI %d %v %d = %d, want %v", q, a, words, b, in[i], want)
			}
		}
		codes, err := c.Do(ctx, args(append(append([]any{"RELCHECK", a}, words...), "BATCH", bs)...)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELCHECK %v BATCH: %v", q, words, err)
		}
		for i, b := range bs {
			if want := g.codeWithin(a, b, lo, hi); codes[i] != want {
				t.Fatalf("query %d: RELCHECK %d %v %d = %d, want %d", q, a, words, b, codes[i], want)
			}
		}
		pages(t, c, g, a, rng)
		codes, err = c.Do(ctx, args("RELCHECK", a, "BATCH", bs)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELCHECK: %v", q, err)
		}
		for i, b := range bs {
			if want := g.code(a, b); codes[i] != want {
				t.Fatalf("query %d: RELCHECK %d %d = %d, want %d", q, a, b, codes[i], want)
			}
		}
		rev, err := c.Do(ctx, args("RELFOLLOWS", a, bs)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELFOLLOWS: %v", q, err)
		}
		for i, b := range bs {
			if (rev[i] == 1) != g.follows(b, a) || rev[i] == -1 {
				t.Fatalf("query %d: RELFOLLOWS %d %d = %d", q, a, b, rev[i])
			}
		}
		hits, err := c.Do(ctx, args("RELMULTI", key(a), bs)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELMULTI: %v", q, err)
		}
		for i, b := range bs {
			if want := g.follows(a, b); (hits[i] == 1) != want {
				t.Fatalf("query %d: RELMULTI %d %d = %d, want %v", q, a, b, hits[i], want)
			}
		}
		x := bs[len(bs)-1]
		who, err := c.Do(ctx, args("RELWHO", a, x)...).StringSlice()
		if err != nil {
			t.Fatalf("query %d: RELWHO: %v", q, err)
		}
		var want []string
		for _, m := range g.byTime(a) {
			if g.follows(m, x) {
				want = append(want, strconv.FormatUint(m, 10))
			}
		}
		if !slices.Equal(who, want) && (len(who) != 0 || len(want) != 0) {
			t.Fatalf("query %d: RELWHO %d %d = %v, want %v", q, a, x, who, want)
		}
		// The fan list through the hash view: every fan with its time.
		all, err := c.HGetAll(ctx, strconv.FormatUint(x, 10)+".follower").Result()
		if err != nil {
			t.Fatalf("query %d: HGETALL: %v", q, err)
		}
		if len(all) != len(fans[x]) {
			t.Fatalf("query %d: HGETALL %d.follower has %d fans, want %d", q, x, len(all), len(fans[x]))
		}
		for fan, tm := range fans[x] {
			if all[strconv.FormatUint(fan, 10)] != strconv.FormatUint(uint64(tm), 10) {
				t.Fatalf("query %d: HGETALL %d.follower: fan %d = %q, want %d", q, x, fan, all[strconv.FormatUint(fan, 10)], tm)
			}
		}
	}
}
