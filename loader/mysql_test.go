package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/shard"
)

// openMySQLTest opens a MySQL source over servers, each holding an equal
// run of the layout's databases, after dropping those databases (a shared
// RELCACHE_TEST_MYSQL_DSN server keeps them between runs).
func openMySQLTest(t testing.TB, layout Layout, timeout time.Duration, servers ...*relcachetest.MariaDB) *SQL {
	t.Helper()
	ctx := context.Background()
	per := layout.DBs / len(servers)
	cfg := Config{Kind: "mysql", Layout: layout, QueryTimeout: timeout}
	for i, m := range servers {
		cfg.MySQL = append(cfg.MySQL, MySQLServer{DSN: m.DSN(), First: i * per, Last: i*per + per - 1})
		db, err := sql.Open("mysql", m.DSN())
		if err != nil {
			t.Fatal(err)
		}
		for d := i * per; d < i*per+per; d++ {
			if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+layout.DatabaseName(d)); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	src, err := Open(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestMySQLSource writes a random graph into 4 databases × 4 tables on two
// servers and reads every list back, both kinds, with and without a cap.
func TestMySQLSource(t *testing.T) {
	a, b := relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t)
	src := openMySQLTest(t, Layout{DBs: 4, Tables: 4}, 2*time.Second, a, b)
	ctx := context.Background()
	// About 1250 rows a table and kind: several statements each, and
	// repeated edges within the batch.
	g := randomGraph(rand.New(rand.NewPCG(3, 4)), 20_000, 1_000_000_000, 200)
	if err := src.AddEdges(ctx, g.edges); err != nil {
		t.Fatal(err)
	}
	if err := src.AddEdges(ctx, g.edges[len(g.edges)-700:]); err != nil {
		t.Fatal(err)
	}
	// Concurrent loads prepare each statement once between them.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range uint64(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for uid := g.first + w; uid < g.first+g.n; uid += 4 {
				for _, k := range []shard.Kind{shard.Following, shard.Follower} {
					if err := g.checkList(ctx, src, uid, k); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	prepared := 0
	src.stmts.Range(func(_, _ any) bool { prepared++; return true })
	if prepared != 4*4*2*2 {
		t.Errorf("%d list statements prepared, want two per table and kind (64: whole, and capped with its count)", prepared)
	}

	// Concurrent batches over the same users (an import with several
	// writers) may deadlock in InnoDB; AddEdges runs the victim again.
	// Each edge's time depends on the edge only, so the outcome does not
	// depend on which batch wins.
	cg := newGraph(2_000_000_000, 100)
	batches := make([][]Edge, 4)
	for w := range batches {
		rng := rand.New(rand.NewPCG(7, uint64(w)))
		for range 5000 {
			e := Edge{From: cg.first + rng.Uint64N(cg.n), To: cg.first + rng.Uint64N(cg.n)}
			e.Time = uint32(e.From*31+e.To) % 100_000
			batches[w] = append(batches[w], e)
			cg.add(e)
		}
	}
	for _, batch := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := src.AddEdges(ctx, batch); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cg.check(t, src)

	// The rows are where the layout says: database 2 on the second server.
	db, err := sql.Open("mysql", b.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	uid := uint64(1_000_000_000 + 8) // shard 8 of 16: relation_02.following_00
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM relation_02.following_00 WHERE fromuid = ?", uid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n != len(g.lists[shard.Following][uid]) {
		t.Errorf("relation_02.following_00 has %d rows of uid %d, want %d", n, uid, len(g.lists[shard.Following][uid]))
	}
	if got := src.Shard(uid); got != "relation_02" {
		t.Errorf("Shard(%d) = %s", uid, got)
	}

	// Loads run one prepared SELECT each.
	before := b.Selects()
	for range 10 {
		if _, err := src.Load(ctx, uid, shard.Follower, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Selects() - before; got != 10 {
		t.Errorf("10 loads ran %d SELECTs", got)
	}
}

// TestFollowUnfollow checks Writer's return values and idempotence in both
// dialects.
func TestFollowUnfollow(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			var src *SQL
			if dialect == "mysql" {
				src = openMySQLTest(t, Layout{DBs: 2, Tables: 2}, 2*time.Second, relcachetest.StartMariaDB(t))
			} else {
				var err error
				if src, err = OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"), Layout{Tables: 2}); err != nil {
					t.Fatal(err)
				}
				defer src.Close()
			}
			var w Writer = src
			const from, to = 1001, 2002 // different shards
			want := func(k shard.Kind, owner uint64, members ...Member) {
				t.Helper()
				l, err := w.Load(ctx, owner, k, 0)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(l.Members) != fmt.Sprint(members) {
					t.Fatalf("%s of %d: %v, want %v", k, owner, l.Members, members)
				}
			}
			for i, step := range []struct {
				follow bool
				t      uint32
				want   bool
			}{
				{true, 100, true},
				{true, 200, false}, // there: the time moves
				{false, 0, true},
				{false, 0, false},
				{true, 300, true},
			} {
				var got bool
				var err error
				if step.follow {
					got, err = w.Follow(ctx, from, to, step.t)
				} else {
					got, err = w.Unfollow(ctx, from, to)
				}
				if err != nil || got != step.want {
					t.Fatalf("step %d: %v, %v; want %v", i, got, err, step.want)
				}
				if step.follow {
					want(shard.Following, from, Member{to, step.t})
					want(shard.Follower, to, Member{from, step.t})
				} else {
					want(shard.Following, from)
					want(shard.Follower, to)
				}
			}
		})
	}
}

// TestMySQLHalfWritten stops the server holding the followee's shard: the
// following row is written, the follower row fails after retries, and the
// error says so; repeating the call after a restart repairs it.
func TestMySQLHalfWritten(t *testing.T) {
	a, b := relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t)
	src := openMySQLTest(t, Layout{DBs: 4, Tables: 4}, time.Second, a, b)
	ctx := context.Background()
	const from, to = 1, 9 // relation_00 on a, relation_02 on b
	b.Stop()
	start := time.Now()
	added, err := src.Follow(ctx, from, to, 100)
	if !errors.Is(err, ErrHalfWritten) || !added {
		t.Fatalf("Follow with the follower shard down: %v, %v", added, err)
	}
	for _, want := range []string{"follow 1->9", "following row written in relation_00", "follower row in relation_02 failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Logf("half-written after %v: %v", time.Since(start), err)
	if l, err := src.Load(ctx, from, shard.Following, 0); err != nil || len(l.Members) != 1 {
		t.Fatalf("following of %d: %+v, %v", from, l, err)
	}
	if _, err := src.Load(ctx, to, shard.Follower, 0); err == nil {
		t.Fatal("load from a stopped server succeeded")
	}

	b.Restart()
	if added, err := src.Follow(ctx, from, to, 100); err != nil || added {
		t.Fatalf("Follow again: %v, %v", added, err)
	}
	if l, err := src.Load(ctx, to, shard.Follower, 0); err != nil || len(l.Members) != 1 || l.Members[0] != (Member{from, 100}) {
		t.Fatalf("follower of %d after repair: %+v, %v", to, l, err)
	}

	b.Stop()
	removed, err := src.Unfollow(ctx, from, to)
	if !errors.Is(err, ErrHalfWritten) || !removed || !strings.Contains(err.Error(), "following row deleted in relation_00, follower row in relation_02 failed") {
		t.Fatalf("Unfollow with the follower shard down: %v, %v", removed, err)
	}
	b.Restart()
	if removed, err := src.Unfollow(ctx, from, to); err != nil || removed {
		t.Fatalf("Unfollow again: %v, %v", removed, err)
	}
	if l, err := src.Load(ctx, to, shard.Follower, 0); err != nil || len(l.Members) != 0 {
		t.Fatalf("follower of %d after repair: %+v, %v", to, l, err)
	}

	// The first half failing writes nothing and is not half-written.
	a.Stop()
	if _, err := src.Follow(ctx, from, to, 100); err == nil || errors.Is(err, ErrHalfWritten) || !strings.Contains(err.Error(), "following row in relation_00") {
		t.Fatalf("Follow with the following shard down: %v", err)
	}
}

// TestMySQLOpenErrors checks the server ranges are refused unless they
// cover the layout's databases exactly once. No server is dialled.
func TestMySQLOpenErrors(t *testing.T) {
	const dsn = "root@tcp(127.0.0.1:1)/"
	srv := func(first, last int) MySQLServer { return MySQLServer{DSN: dsn, First: first, Last: last} }
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"overlap", Config{Kind: "mysql", Layout: Layout{DBs: 4}, MySQL: []MySQLServer{srv(0, 2), srv(2, 3)}}, "database 2 is on two servers"},
		{"gap", Config{Kind: "mysql", Layout: Layout{DBs: 4}, MySQL: []MySQLServer{srv(0, 0), srv(3, 3)}}, "databases 1-2 of 0-3 are on no server"},
		{"gap at end", Config{Kind: "mysql", Layout: Layout{DBs: 4}, MySQL: []MySQLServer{srv(0, 1)}}, "databases 2-3 of 0-3 are on no server"},
		{"past layout", Config{Kind: "mysql", Layout: Layout{DBs: 2}, MySQL: []MySQLServer{srv(0, 2)}}, "holds databases 0-2, but the layout has databases 0-1"},
		{"no servers", Config{Kind: "mysql", Layout: Layout{DBs: 2}}, "no servers"},
		{"bad dsn", Config{Kind: "mysql", MySQL: []MySQLServer{{DSN: "nonsense", First: 0, Last: 0}}}, "server 0 (databases 0-0)"},
		{"unknown kind", Config{Kind: "postgres"}, `source "postgres": want sqlite, mysql or none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(context.Background(), tc.cfg, false)
			if err == nil {
				src.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q, want %q", err, tc.wantErr)
			}
		})
	}
	// Covered exactly once, without create, it opens without dialling.
	src, err := Open(context.Background(), Config{Kind: "mysql", Layout: Layout{DBs: 4}, MySQL: []MySQLServer{srv(2, 3), srv(0, 1)}}, false)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
}

// TestMySQLBadRows loosens a table so it takes rows the schema forbids and
// checks Load refuses the list.
func TestMySQLBadRows(t *testing.T) {
	m := relcachetest.StartMariaDB(t)
	src := openMySQLTest(t, Layout{DBs: 1}, 2*time.Second, m)
	ctx := context.Background()
	for _, q := range []string{
		"ALTER TABLE relation_00.following_00 DROP PRIMARY KEY, MODIFY touid BIGINT NULL, MODIFY addtime BIGINT NULL",
		"INSERT INTO relation_00.following_00 (fromuid, touid, addtime) VALUES (7, NULL, 5), (8, -1, 5), (9, 3, -5), (10, 3, 4294967296), (11, 3, NULL), (12, 3, 4294967295)",
	} {
		if _, err := src.dbs[0].ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, uid := range []uint64{7, 8, 9, 10, 11} {
		if _, err := src.Load(ctx, uid, shard.Following, 0); !errors.Is(err, ErrBadRow) {
			t.Errorf("uid %d: err %v, want ErrBadRow", uid, err)
		}
	}
	if l, err := src.Load(ctx, 12, shard.Following, 0); err != nil || len(l.Members) != 1 || l.Members[0] != (Member{3, 4294967295}) {
		t.Errorf("uid 12: %+v, %v", l, err)
	}
}

// TestMySQLQueryTimeout checks a load from a dead server, and from one that
// stops answering, returns an error about QueryTimeout later, not a hang.
func TestMySQLQueryTimeout(t *testing.T) {
	m := relcachetest.StartMariaDB(t)
	const timeout = 300 * time.Millisecond
	src := openMySQLTest(t, Layout{DBs: 1}, timeout, m)
	ctx := context.Background()
	if err := src.AddEdges(ctx, []Edge{{From: 1, To: 2, Time: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Load(ctx, 1, shard.Following, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		down, undown func()
	}{
		{"paused", m.Pause, m.Resume},
		{"killed", m.Stop, m.Restart},
	} {
		// Not subtests: Pause and Stop skip the test that started m when
		// it is an outside server.
		tc.down()
		start := time.Now()
		_, err := src.Load(ctx, 1, shard.Following, 0)
		took := time.Since(start)
		tc.undown()
		if err == nil {
			t.Fatalf("%s: load succeeded", tc.name)
		}
		if took > 5*timeout {
			t.Errorf("%s: load failed after %v, QueryTimeout %v: %v", tc.name, took, timeout, err)
		}
		t.Logf("%s: failed after %v: %v", tc.name, took, err)
	}
	// The pool recovers once the server is back.
	if l, err := src.Load(ctx, 1, shard.Following, 0); err != nil || len(l.Members) != 1 {
		t.Fatalf("after restart: %+v, %v", l, err)
	}
}

// benchmarkAddEdges writes b.N batches of 10k random edges among 10M uids,
// as `relcache import` does, and reports edges per second.
func benchmarkAddEdges(b *testing.B, src *SQL, server *relcachetest.MariaDB) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	const batch = 10_000
	batches := make([][]Edge, b.N)
	for i := range batches {
		batches[i] = make([]Edge, batch)
		for j := range batches[i] {
			batches[i][j] = Edge{From: 1 + rng.Uint64N(10_000_000), To: 1 + rng.Uint64N(10_000_000), Time: 1_600_000_000 + rng.Uint32N(1<<20)}
		}
	}
	var cpu time.Duration
	if server != nil {
		cpu = server.CPU()
	}
	b.ResetTimer()
	for i := range b.N {
		if err := src.AddEdges(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "edges/s")
	if server != nil && server.CPU() > 0 {
		b.ReportMetric(float64((server.CPU()-cpu).Nanoseconds())/float64(b.N*batch), "server-ns/edge")
	}
}

func BenchmarkAddEdgesMySQL(b *testing.B) {
	m := relcachetest.StartMariaDB(b)
	src := openMySQLTest(b, Layout{DBs: 4, Tables: 16}, 10*time.Second, m)
	benchmarkAddEdges(b, src, m)
}

func BenchmarkAddEdgesSQLite(b *testing.B) {
	src, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "r.db"), Layout{Tables: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	benchmarkAddEdges(b, src, nil)
}

// BenchmarkLoadMySQL3000 loads one 3000-member follower list, whole.
func BenchmarkLoadMySQL3000(b *testing.B) {
	src := openMySQLTest(b, Layout{DBs: 1, Tables: 4}, 10*time.Second, relcachetest.StartMariaDB(b))
	ctx := context.Background()
	edges := make([]Edge, 3000)
	for i := range edges {
		edges[i] = Edge{From: uint64(1000 + i), To: 42, Time: uint32(1_600_000_000 + i)}
	}
	if err := src.AddEdges(ctx, edges); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l, err := src.Load(ctx, 42, shard.Follower, 0)
		if err != nil || len(l.Members) != 3000 {
			b.Fatal(len(l.Members), err)
		}
	}
}
