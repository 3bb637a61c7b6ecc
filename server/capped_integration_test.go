package server_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
)

// A celebrity's capped lists (issue 17, items 1 and 2): uid 7 has fans
// fans, uids 100000 on, fan i following at 1_600_000_000+i, and follows
// each of them back at 1_700_000_000+i; the source caps lists at limit, so
// both of 7's lists are cached truncated. Uid 99 follows no one and is
// nobody's fan.
const (
	celeb    = 7
	firstFan = 100000
	stranger = 99
)

func cappedEdges(fans int) []loader.Edge {
	return sourcetest.CelebrityEdges(celeb, firstFan, fans)
}

// checkCapped asks every membership command about old fans (older than
// the newest limit), new ones and a stranger, and every count command, and
// then keeps the counts true through FOLLOW and UNFOLLOW.
func checkCapped(t *testing.T, c *redis.Client, fans, limit int) {
	t.Helper()
	ctx := context.Background()
	do := func(a ...any) *redis.Cmd { return c.Do(ctx, a...) }
	oldFan, newFan := uint64(firstFan), uint64(firstFan+fans-1)
	fanKey := strconv.Itoa(celeb) + ".follower"
	followKey := strconv.Itoa(celeb) + ".following"

	// The first symptom in the issue: an old fan answered 0.
	if got, err := do("HEXISTS", fanKey, oldFan).Int64(); err != nil || got != 1 {
		t.Fatalf("HEXISTS %s %d (an old fan) = %d, %v; want 1", fanKey, oldFan, got, err)
	}
	for _, k := range []string{fanKey, followKey} {
		do("RELCARD", k) // RELINFO does not fill
		info, err := do("RELINFO", k).Result()
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]any{}
		for f, v := range info.(map[any]any) { // RESP3, go-redis's default
			fields[f.(string)] = v
		}
		if fields["count"] != int64(limit) || fields["total"] != int64(fans) || fields["truncated"] != int64(1) && fields["truncated"] != true {
			t.Fatalf("RELINFO %s = %v; want count %d, total %d, truncated", k, fields, limit, fans)
		}
	}
	for _, q := range [][]any{{"RELCARD", fanKey}, {"HLEN", fanKey}, {"SCARD", fanKey}, {"RELCARD", followKey}, {"HLEN", followKey}} {
		if got, err := do(q...).Int64(); err != nil || got != int64(fans) {
			t.Fatalf("%v = %d, %v; want the true count %d", q, got, err, fans)
		}
	}

	// Every old fan, in batches, through every batch command.
	const batch = 1000
	for lo := 0; lo < fans-limit; lo += batch {
		var uids []any
		for i := lo; i < min(lo+batch, fans-limit); i++ {
			uids = append(uids, firstFan+i)
		}
		uids = append(uids, stranger)
		n := len(uids)
		wantBits := func(got []int64, what string) {
			t.Helper()
			for i, g := range got {
				if want := int64(1); i == n-1 && g != 0 || i < n-1 && g != want {
					t.Fatalf("%s: uid %v answered %d", what, uids[i], g)
				}
			}
		}
		got, err := do(append([]any{"SMISMEMBER", fanKey}, uids...)...).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		wantBits(got, "SMISMEMBER")
		if got, err = do(append([]any{"RELMULTI", fanKey}, uids...)...).Int64Slice(); err != nil {
			t.Fatal(err)
		}
		wantBits(got, "RELMULTI "+fanKey)
		if got, err = do(append([]any{"RELMULTI", followKey}, uids...)...).Int64Slice(); err != nil {
			t.Fatal(err)
		}
		wantBits(got, "RELMULTI "+followKey)
		// RELFOLLOWS u x: whether x follows u, from x's truncated list.
		times, err := do(append([]any{"HMGET", fanKey}, uids...)...).Slice()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range times {
			want := any(strconv.Itoa(1_600_000_000 + lo + i))
			if i == n-1 {
				want = nil
			}
			if v != want {
				t.Fatalf("HMGET %s %v = %v, want %v", fanKey, uids[i], v, want)
			}
		}
	}
	for _, q := range []struct {
		cmd  []any
		want int64
	}{
		{[]any{"HEXISTS", fanKey, stranger}, 0},
		{[]any{"SISMEMBER", fanKey, oldFan}, 1},
		{[]any{"SISMEMBER", fanKey, stranger}, 0},
		{[]any{"RELCHECK", celeb, oldFan}, 3},   // 7 follows it (truncated list) and it follows 7
		{[]any{"RELCHECK", oldFan, celeb}, 3},   // the other way round
		{[]any{"RELCHECK", celeb, stranger}, 0}, // neither, said exactly
		{[]any{"RELCHECK", celeb, newFan}, 3},
	} {
		if got, err := do(q.cmd...).Int64(); err != nil || got != q.want {
			t.Fatalf("%v = %d, %v; want %d", q.cmd, got, err, q.want)
		}
	}
	if got, err := do("RELFOLLOWS", oldFan, celeb, stranger).Int64Slice(); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("RELFOLLOWS %d %d %d = %v, %v; want [1 0]", oldFan, celeb, stranger, got, err)
	}
	checkCappedMerged(t, c, fans, limit)
	if got, err := do("HGET", fanKey, oldFan).Text(); err != nil || got != "1600000000" {
		t.Fatalf("HGET %s %d = %q, %v; want its follow time", fanKey, oldFan, got, err)
	}
	if err := do("HGET", fanKey, stranger).Err(); err != redis.Nil {
		t.Fatalf("HGET %s %d (a stranger) = %v, want nil", fanKey, stranger, err)
	}

	// FOLLOW and UNFOLLOW keep the counts true, cached member or not.
	count := func(want int, step string) {
		t.Helper()
		for _, q := range []string{"RELCARD", "HLEN", "SCARD"} {
			if got, err := do(q, fanKey).Int64(); err != nil || got != int64(want) {
				t.Fatalf("after %s: %s %s = %d, %v; want %d", step, q, fanKey, got, err, want)
			}
		}
	}
	for _, s := range []struct {
		cmd  []any
		want int
	}{
		{[]any{"FOLLOW", stranger, celeb}, fans + 1},
		{[]any{"FOLLOW", stranger, celeb}, fans + 1}, // again: not new
		{[]any{"UNFOLLOW", oldFan + 1, celeb}, fans}, // an old fan the cache does not hold
		{[]any{"UNFOLLOW", oldFan + 1, celeb}, fans}, // again: not there
		{[]any{"FOLLOW", oldFan + 2, celeb}, fans},   // an old fan following again
		{[]any{"UNFOLLOW", newFan, celeb}, fans - 1}, // a cached fan
	} {
		if err := do(s.cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", s.cmd, err)
		}
		count(s.want, s.cmd[0].(string))
	}
	// Bi-follow lists follow the writes, old fans (whose follow back is in
	// 7's truncated following list only as the source's answer) included.
	bif := func(u uint64, want ...string) {
		t.Helper()
		key := strconv.FormatUint(u, 10) + ".bifollow"
		if got, err := do("RELMEMBERS", key).StringSlice(); err != nil || !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("RELMEMBERS %s = %v, %v; want %v", key, got, err, want)
		}
		if got, err := do("RELCARD", key).Int64(); err != nil || got != int64(len(want)) {
			t.Fatalf("RELCARD %s = %d, %v; want %d", key, got, err, len(want))
		}
	}
	bif(oldFan + 1)                    // unfollowed 7
	bif(oldFan+2, strconv.Itoa(celeb)) // followed again
	bif(newFan)                        // unfollowed 7
	bif(stranger)                      // follows 7, 7 does not follow it
	// 7's own: its following list is truncated, so its length is unknown
	// and the listing holds the mutual follows it knows of, newest first
	// (7 followed fan i at 1700000000+i), newFan gone.
	bkey := strconv.Itoa(celeb) + ".bifollow"
	if err := do("RELCARD", bkey).Err(); err != redis.Nil {
		t.Fatalf("RELCARD %s = %v; want nil (unknown: 7's following list is truncated)", bkey, err)
	}
	if got, err := do("RELMEMBERS", bkey, "LIMIT", 2).StringSlice(); err != nil || !slices.Equal(got, []string{strconv.FormatUint(newFan-1, 10), strconv.FormatUint(newFan-2, 10)}) {
		t.Fatalf("RELMEMBERS %s LIMIT 2 = %v, %v; want [%d %d]", bkey, got, err, newFan-1, newFan-2)
	}
	// The answers follow the writes: the old fan that left is no fan.
	if got, err := do("HEXISTS", fanKey, oldFan+1).Int64(); err != nil || got != 0 {
		t.Fatalf("HEXISTS %s %d after UNFOLLOW = %d, %v; want 0", fanKey, oldFan+1, got, err)
	}
	if got, err := do("SISMEMBER", fanKey, stranger).Int64(); err != nil || got != 1 {
		t.Fatalf("SISMEMBER %s %d after FOLLOW = %d, %v; want 1", fanKey, stranger, got, err)
	}
}

// TestCappedListsAnswerExactlySQLite is the first symptom on the
// default source: HEXISTS 7.follower <an old fan> answered 0, HLEN the
// capped count.
func TestCappedListsAnswerExactlySQLite(t *testing.T) {
	const fans, limit = 3000, 500
	path := filepath.Join(t.TempDir(), "graph.db")
	sourcetest.WriteSQLite(t, path, loader.Layout{Tables: 4}, cappedEdges(fans))
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-list-limit", strconv.Itoa(limit), "--source-query-timeout", "1m", "--load-timeout", "1m")
	c := client(t, p.Addr)
	// In a transaction first, on the cold list: EXEC's prefill fills it
	// and asks the source about the old fan before taking its locks.
	ctx := context.Background()
	var exists *redis.BoolCmd
	var hlen *redis.IntCmd
	if _, err := c.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		exists = tx.HExists(ctx, "7.follower", strconv.Itoa(firstFan))
		hlen = tx.HLen(ctx, "7.follower")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !exists.Val() || hlen.Val() != fans {
		t.Fatalf("MULTI HEXISTS 7.follower <an old fan>, HLEN: %v, %d; want true, %d", exists.Val(), hlen.Val(), fans)
	}
	checkCapped(t, c, fans, limit)
}

// TestCappedListsAnswerExactlyMariaDB: the user with 20,000 fans,
// capped at the newest 5000, on MariaDB.
func TestCappedListsAnswerExactlyMariaDB(t *testing.T) {
	const fans, limit = 20000, 5000
	m := relcachetest.StartMariaDB(t)
	sourcetest.WriteMySQL(t, m.DSN(), loader.Layout{DBs: 1, Tables: 4}, cappedEdges(fans))
	p := relcachetest.Start(t, "--source", "mysql", "--source-dbs", "1", "--source-tables", "4",
		"--source-mysql", "0="+m.DSN(), "--source-list-limit", strconv.Itoa(limit),
		"--source-query-timeout", "1m", "--load-timeout", "1m")
	checkCapped(t, client(t, p.Addr), fans, limit)
}

// TestTruncatedWithoutSource: a pure cache holding a truncated list keeps
// answering -1 on the REL* commands, and the Redis-shaped ones refuse to
// claim an absence they cannot know.
func TestTruncatedWithoutSource(t *testing.T) {
	p := relcachetest.Start(t)
	c := client(t, p.Addr)
	ctx := context.Background()
	do := func(a ...any) *redis.Cmd { return c.Do(ctx, a...) }
	if err := do("RELLOAD", "7.follower", "TIMES", "TRUNCATED", 1, 100, 2, 200).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := do("HEXISTS", "7.follower", 1).Int64(); err != nil || got != 1 {
		t.Fatalf("HEXISTS of a cached member = %d, %v", got, err)
	}
	if got, err := do("RELMULTI", "7.follower", 1, 3).Int64Slice(); err != nil || len(got) != 2 || got[0] != 1 || got[1] != -1 {
		t.Fatalf("RELMULTI = %v, %v; want [1 -1]", got, err)
	}
	for _, q := range [][]any{
		{"HEXISTS", "7.follower", 3}, {"SISMEMBER", "7.follower", 3}, {"SMISMEMBER", "7.follower", 1, 3},
		{"HGET", "7.follower", 3}, {"HMGET", "7.follower", 1, 3}, {"RELMULTI", "7.follower", "BITS", 1, 3},
		{"HLEN", "7.follower"}, {"SCARD", "7.follower"},
	} {
		if err := do(q...).Err(); err == nil || err.Error()[:9] != "TRUNCATED" {
			t.Errorf("%v: %v, want a TRUNCATED error", q, err)
		}
	}
	if err := do("RELCARD", "7.follower").Err(); err != redis.Nil {
		t.Fatalf("RELCARD of a truncated list without a total = %v, want nil (unknown)", err)
	}
	if got, err := do("RELCARD", "7.follower", "CACHED").Int64(); err != nil || got != 2 {
		t.Fatalf("RELCARD CACHED = %d, %v; want the 2 members cached", got, err)
	}
}

// TestCappedListsMatchTheModel is the reference-model test with lists
// capped at 8 members (most of the graph's users have longer ones): every
// membership and count command on following and fan lists answers exactly
// what the model says, through FOLLOWs and UNFOLLOWs that change it.
func TestCappedListsMatchTheModel(t *testing.T) {
	const limit = 8
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(17, 1))
	g := newGraph(rng, 600)
	edges, fans := g.edges()
	for _, u := range g.users {
		if fans[u] == nil {
			fans[u] = map[uint64]uint32{} // FOLLOW may add to it
		}
	}
	path := filepath.Join(t.TempDir(), "graph.db")
	sourcetest.WriteSQLite(t, path, loader.Layout{Tables: 4}, edges)
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-list-limit", strconv.Itoa(limit), "--source-query-timeout", "1m", "--load-timeout", "1m")
	c := client(t, p.Addr)
	fkey := func(u uint64) string { return strconv.FormatUint(u, 10) + ".following" }
	rkey := func(u uint64) string { return strconv.FormatUint(u, 10) + ".follower" }
	bit := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	capped := 0
	for q := range 300 {
		a := g.users[rng.IntN(len(g.users))]
		bs := make([]uint64, 2+rng.IntN(12)) // RELCHECK with one b replies an integer
		for i := range bs {
			bs[i] = g.users[rng.IntN(len(g.users))]
		}
		if len(g.following[a]) > limit || len(fans[a]) > limit {
			capped++
		}
		check := func(name string, got []int64, want func(b uint64) int64) {
			t.Helper()
			for i, b := range bs {
				if w := want(b); got[i] != w {
					t.Fatalf("query %d: %s %d: uid %d answered %d, want %d", q, name, a, b, got[i], w)
				}
			}
		}
		ints := func(parts ...any) []int64 {
			t.Helper()
			got, err := c.Do(ctx, args(parts...)...).Int64Slice()
			if err != nil {
				t.Fatalf("query %d: %v: %v", q, parts[:2], err)
			}
			return got
		}
		codes := ints(append([]any{"RELCHECK", a, "BATCH"}, any(bs))...)
		check("RELCHECK", codes, func(b uint64) int64 {
			if a == b {
				return 0
			}
			return bit(g.follows(a, b)) | bit(g.follows(b, a))<<1
		})
		check("RELFOLLOWS", ints("RELFOLLOWS", a, bs), func(b uint64) int64 { return bit(g.follows(b, a)) })
		check("RELMULTI following", ints("RELMULTI", fkey(a), bs), func(b uint64) int64 { return bit(g.follows(a, b)) })
		check("RELMULTI follower", ints("RELMULTI", rkey(a), bs), func(b uint64) int64 { return bit(g.follows(b, a)) })
		check("SMISMEMBER follower", ints("SMISMEMBER", rkey(a), bs), func(b uint64) int64 { return bit(g.follows(b, a)) })
		if got, err := c.HExists(ctx, rkey(a), strconv.FormatUint(bs[0], 10)).Result(); err != nil || got != g.follows(bs[0], a) {
			t.Fatalf("query %d: HEXISTS %s %d = %v, %v", q, rkey(a), bs[0], got, err)
		}
		times, err := c.HMGet(ctx, fkey(a), strs(bs)...).Result()
		if err != nil {
			t.Fatalf("query %d: HMGET: %v", q, err)
		}
		for i, b := range bs {
			var want any
			if tm, ok := g.following[a][b]; ok {
				want = strconv.FormatUint(uint64(tm), 10)
			}
			if times[i] != want {
				t.Fatalf("query %d: HMGET %s %d = %v, want %v", q, fkey(a), b, times[i], want)
			}
		}
		for _, k := range []struct {
			key  string
			want int
		}{{fkey(a), len(g.following[a])}, {rkey(a), len(fans[a])}} {
			for _, cmd := range []string{"RELCARD", "HLEN", "SCARD"} {
				if got, err := c.Do(ctx, cmd, k.key).Int64(); err != nil || got != int64(k.want) {
					t.Fatalf("query %d: %s %s = %d, %v; want %d", q, cmd, k.key, got, err, k.want)
				}
			}
		}
		// A write, through the model too.
		x, y := g.users[rng.IntN(len(g.users))], g.users[rng.IntN(len(g.users))]
		if x == y {
			continue
		}
		if rng.IntN(2) == 0 {
			tm := uint32(1_700_000_000 + q)
			if err := c.Do(ctx, "FOLLOW", x, y, tm).Err(); err != nil {
				t.Fatal(err)
			}
			g.following[x][y], fans[y][x] = tm, tm
		} else {
			if err := c.Do(ctx, "UNFOLLOW", x, y).Err(); err != nil {
				t.Fatal(err)
			}
			delete(g.following[x], y)
			delete(fans[y], x)
		}
	}
	if capped < 100 {
		t.Fatalf("only %d of 300 queries were about a user with a capped list", capped)
	}
}

// edges lists the model's edges for a source, and the fan lists they make.
func (g *graph) edges() ([]loader.Edge, map[uint64]map[uint64]uint32) {
	fans := map[uint64]map[uint64]uint32{}
	var edges []loader.Edge
	for _, u := range g.users {
		for v, tm := range g.following[u] {
			edges = append(edges, loader.Edge{From: u, To: v, Time: tm})
			if fans[v] == nil {
				fans[v] = map[uint64]uint32{}
			}
			fans[v][u] = tm
		}
	}
	return edges, fans
}

// TestUntotalledSnapshotListsRefill: a capped list saved before it could
// record its total (a version-1 truncated set) is left out of the
// snapshot's load on a node with a source, which fills it again with its
// true count; without a source it loads as saved.
func TestUntotalledSnapshotListsRefill(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := relcachetest.Start(t, "--dir", dir)
	c := client(t, p.Addr)
	if err := c.Do(ctx, "RELLOAD", "7.follower", "TIMES", "TRUNCATED", firstFan+299, 1_600_000_299, firstFan+298, 1_600_000_298).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "SAVE").Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	// Without a source it stays: nothing could fill it again.
	p = relcachetest.Start(t, "--dir", dir)
	c = client(t, p.Addr)
	if got, err := c.Do(ctx, "RELCARD", "7.follower", "CACHED").Int64(); err != nil || got != 2 {
		t.Fatalf("pure cache: RELCARD CACHED after the restart = %d, %v; want the 2 saved", got, err)
	}
	c.Close()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "graph.db")
	sourcetest.WriteSQLite(t, path, loader.Layout{Tables: 4}, cappedEdges(300))
	p = relcachetest.Start(t, "--dir", dir, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-list-limit", "100", "--source-query-timeout", "1m", "--load-timeout", "1m")
	c = client(t, p.Addr)
	if err := c.Do(ctx, "RELINFO", "7.follower").Err(); err != redis.Nil {
		t.Fatalf("RELINFO of the untotalled list after a restart with a source = %v, want nil (left out)", err)
	}
	if got, err := c.Do(ctx, "HLEN", "7.follower").Int64(); err != nil || got != 300 {
		t.Fatalf("HLEN after the refill = %d, %v; want 300", got, err)
	}
}

// checkCappedMerged asks what the other parts of issue 17 added about a
// capped list, where they meet it: the sorted-set view (ZCARD the true
// count, ZSCORE and ZMSCORE of an old fan from the source), time windows
// on an old fan's follow, RELFOLLOWS WITHTIMES, and the bi-follow list of
// an old fan, whose one mutual follow is in the celebrity's truncated
// following list only as the source's answer.
func checkCappedMerged(t *testing.T, c *redis.Client, fans, limit int) {
	t.Helper()
	ctx := context.Background()
	do := func(a ...any) *redis.Cmd { return c.Do(ctx, a...) }
	oldFan := uint64(firstFan)
	fanKey := strconv.Itoa(celeb) + ".follower"
	if got, err := do("ZCARD", fanKey).Int64(); err != nil || got != int64(fans) {
		t.Fatalf("ZCARD %s = %d, %v; want the true count %d (%d cached)", fanKey, got, err, fans, limit)
	}
	if got, err := c.ZScore(ctx, fanKey, strconv.FormatUint(oldFan, 10)).Result(); err != nil || got != 1_600_000_000 {
		t.Fatalf("ZSCORE %s %d (an old fan) = %v, %v; want its follow time", fanKey, oldFan, got, err)
	}
	if err := do("ZSCORE", fanKey, stranger).Err(); err != redis.Nil {
		t.Fatalf("ZSCORE %s %d (a stranger) = %v; want nil", fanKey, stranger, err)
	}
	if got, err := do("ZMSCORE", fanKey, oldFan, stranger).Slice(); err != nil || len(got) != 2 || got[0] != float64(1_600_000_000) || got[1] != nil {
		t.Fatalf("ZMSCORE %s %d %d = %v, %v; want [1600000000 nil]", fanKey, oldFan, stranger, got, err)
	}
	// The old fan's follow is at 1600000000, the next one's a second later.
	if got, err := do("RELMULTI", fanKey, "SINCE", 1_600_000_000, "UNTIL", 1_600_000_000, oldFan, oldFan+1, stranger).Int64Slice(); err != nil || !slices.Equal(got, []int64{1, 0, 0}) {
		t.Fatalf("RELMULTI %s in the old fan's second = %v, %v; want [1 0 0]", fanKey, got, err)
	}
	if got, err := do("RELCHECK", celeb, "UNTIL", 1_599_999_999, "BATCH", oldFan).Int64Slice(); err != nil || !slices.Equal(got, []int64{0}) {
		t.Fatalf("RELCHECK %d UNTIL before every follow BATCH %d = %v, %v; want [0]", celeb, oldFan, got, err)
	}
	if got, err := do("RELFOLLOWS", celeb, "WITHTIMES", oldFan, stranger).Int64Slice(); err != nil || !slices.Equal(got, []int64{1, 1_600_000_000, 0, 0}) {
		t.Fatalf("RELFOLLOWS %d WITHTIMES %d %d = %v, %v; want [1 1600000000 0 0]", celeb, oldFan, stranger, got, err)
	}
	bkey := strconv.FormatUint(oldFan, 10) + ".bifollow"
	if got, err := do("RELMEMBERS", bkey).StringSlice(); err != nil || !slices.Equal(got, []string{strconv.Itoa(celeb)}) {
		t.Fatalf("RELMEMBERS %s = %v, %v; want [%d] (%d follows it back, from the source)", bkey, got, err, celeb, celeb)
	}
	if got, err := do("ZCARD", bkey).Int64(); err != nil || got != 1 {
		t.Fatalf("ZCARD %s = %d, %v; want 1", bkey, got, err)
	}
}
