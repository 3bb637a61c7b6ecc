package server_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "graph.db")
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: path, Layout: loader.Layout{Tables: 4}, QueryTimeout: time.Minute}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AddEdges(ctx, cappedEdges(fans)); err != nil {
		t.Fatal(err)
	}
	src.Close()
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-list-limit", strconv.Itoa(limit), "--source-query-timeout", "1m", "--load-timeout", "1m")
	checkCapped(t, client(t, p.Addr), fans, limit)
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
}
