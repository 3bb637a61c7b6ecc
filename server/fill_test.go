package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
)

// faultySource wraps a real source to count its queries and inject
// faults (sourcetest.FaultySource).
type faultySource = sourcetest.FaultySource

// sqliteSource is a real embedded source holding edges, in the file path.
func sqliteSource(t testing.TB, edges []loader.Edge) (src *loader.SQL, path string) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "source.db")
	// Generous timeouts: these tests are not about them (TestFillDeadline
	// is), and a slow CI host must not fail them.
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: path, Layout: loader.Layout{Tables: 4},
		QueryTimeout: slowHost}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
	return src, path
}

// execSQLite runs one statement on the SQLite file at path, beside the
// source's own handle.
func execSQLite(path, stmt string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}

func firstOf[A, B any](a A, _ B) A { return a }

// slowHost is the query and load timeout of tests that do not test them.
const slowHost = 30 * time.Second

func fillServer(t testing.TB, src loader.Source, tune func(*Config)) *Server {
	t.Helper()
	cfg := Defaults()
	cfg.Source = src
	cfg.LoadTTL, cfg.LoadNegativeTTL = time.Hour, time.Minute
	cfg.LoadTimeout = slowHost
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do runs one command on c and returns its raw reply.
func do(s *Server, c *client, args ...string) string {
	c.out = c.out[:0]
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	s.dispatch(c, bs, time.Now())
	return string(c.out)
}

var fillEdges = []loader.Edge{
	{From: 1001, To: 1002, Time: 100}, {From: 1002, To: 1001, Time: 101},
	{From: 1001, To: 1003, Time: 102}, {From: 1004, To: 1003, Time: 103},
	{From: 1003, To: 1004, Time: 104},
}

// TestFillAnswersFromSource: every kind of read on cold keys answers from
// the source, and the second read is a cache hit (no query).
func TestFillAnswersFromSource(t *testing.T) {
	src := &faultySource{SQL: firstOf(sqliteSource(t, fillEdges))}
	s := fillServer(t, src, nil)
	c := newTestClient(s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELCHECK", "1001", "1002"}, ":3\r\n"},
		{[]string{"RELCHECK", "1001", "BATCH", "1002", "1003", "1004", "9999"}, "*4\r\n:3\r\n:1\r\n:0\r\n:0\r\n"},
		{[]string{"RELMULTI", "1004.following", "1003", "1001"}, "*2\r\n:1\r\n:0\r\n"},
		{[]string{"HGET", "1003.follower", "1004"}, "$3\r\n103\r\n"},
		{[]string{"RELMEMBERS", "1003.follower"}, "*2\r\n$4\r\n1004\r\n$4\r\n1001\r\n"},
		{[]string{"RELWHO", "1004", "1001"}, "*0\r\n"},
		{[]string{"RELWHO", "1002", "1003"}, "*1\r\n$4\r\n1001\r\n"},
		{[]string{"RELCOMMON", "1001", "1004"}, "*1\r\n$4\r\n1003\r\n"},
		{[]string{"RELCARD", "777.follower"}, ":0\r\n"}, // unknown user: empty, cached
	} {
		before := src.Loads.Load()
		if got := do(s, c, tc.args...); got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
		mid := src.Loads.Load()
		if got := do(s, c, tc.args...); got != tc.want || src.Loads.Load() != mid {
			t.Fatalf("%v again = %q with %d more loads", tc.args, got, src.Loads.Load()-mid)
		}
		t.Logf("%v: %d loads", tc.args, mid-before)
	}
	// GET gives the filled array's bytes; the TTLs are the configured ones.
	if got := do(s, c, "GET", "1005.following"); !strings.HasPrefix(got, "$") {
		t.Fatalf("GET of a cold relation key: %q", got)
	}
	ttl := do(s, c, "TTL", "1001.following")
	neg := do(s, c, "TTL", "777.follower")
	if (ttl != ":3600\r\n" && ttl != ":3599\r\n") || (neg != ":60\r\n" && neg != ":59\r\n") {
		t.Fatalf("TTL of a filled list %q, of an empty one %q", ttl, neg)
	}
	// Keys that are not relation keys stay misses.
	if got := do(s, c, "GET", "plain"); got != "$-1\r\n" {
		t.Fatalf("GET plain = %q", got)
	}
}

// TestFillOneQueryForAHerd: 500 clients missing one key at once make one
// query.
func TestFillOneQueryForAHerd(t *testing.T) {
	src := &faultySource{SQL: firstOf(sqliteSource(t, fillEdges)), Gate: make(chan struct{})}
	s := fillServer(t, src, nil)
	const n = 500
	var wg sync.WaitGroup
	replies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = do(s, newTestClient(s), "RELMULTI", "1001.following", "1002", "1004")
		}()
	}
	// Give the clients time to pile up on the flight (not needed for
	// correctness: a late one re-checks the cache inside the flight).
	time.Sleep(100 * time.Millisecond)
	close(src.Gate)
	wg.Wait()
	for i, r := range replies {
		if r != "*2\r\n:1\r\n:0\r\n" {
			t.Fatalf("client %d: %q", i, r)
		}
	}
	if got := src.Loads.Load(); got != 1 {
		t.Fatalf("%d queries for one cold key, want 1", got)
	}
}

// TestFillFailuresAndBreaker: a failing shard answers LOADFAIL naming it;
// after the failure limit the breaker fails fast without querying; after the
// cooldown one probe goes through and, when it succeeds, loads work again.
func TestFillFailuresAndBreaker(t *testing.T) {
	src := &faultySource{SQL: firstOf(sqliteSource(t, fillEdges))}
	s := fillServer(t, src, func(c *Config) {
		c.LoadBreakerFailures, c.LoadBreakerCooldown = 3, 200*time.Millisecond
	})
	c := newTestClient(s)
	boom := errors.New("connection refused")
	src.Fail.Store(&boom)
	for i := range 3 {
		got := do(s, c, "RELCARD", fmt.Sprintf("%d.following", 2000+i))
		if !strings.HasPrefix(got, "-LOADFAIL relation_00 ") || !strings.Contains(got, "connection refused") {
			t.Fatalf("failure %d: %q", i, got)
		}
	}
	queries := src.Loads.Load()
	got := do(s, c, "RELCARD", "1001.following")
	if !strings.HasPrefix(got, "-LOADFAIL relation_00 circuit open") || src.Loads.Load() != queries {
		t.Fatalf("open breaker: %q after %d more queries", got, src.Loads.Load()-queries)
	}
	if st := s.fill.BreakerStates()["relation_00"]; st.String() != "open" {
		t.Fatalf("breaker %v", st)
	}
	// Nothing was cached by the failures.
	if _, ok := s.store.Peek([]byte("2000.following")); ok {
		t.Fatal("a failed load left a key behind")
	}
	src.Fail.Store(nil)
	time.Sleep(250 * time.Millisecond) // the cooldown (a wait, not a timing assertion)
	if got := do(s, c, "RELCARD", "1001.following"); got != ":2\r\n" {
		t.Fatalf("after the cooldown: %q", got)
	}
	if st := s.fill.BreakerStates()["relation_00"]; st.String() != "closed" {
		t.Fatalf("breaker after a good probe: %v", st)
	}
}

// TestFillDeadline: a source that never answers costs the client the load
// deadline, then LOADFAIL — never a hang.
func TestFillDeadline(t *testing.T) {
	src := &faultySource{SQL: firstOf(sqliteSource(t, fillEdges))}
	src.Hang.Store(true)
	s := fillServer(t, src, func(c *Config) { c.LoadTimeout = 100 * time.Millisecond })
	c := newTestClient(s)
	done := make(chan string, 1)
	go func() { done <- do(s, c, "RELCHECK", "1001", "BATCH", "1002", "1003") }()
	select {
	case got := <-done:
		if !strings.HasPrefix(got, "-LOADFAIL relation_00 ") {
			t.Fatalf("hung source: %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a command on a hung source did not return")
	}
}

// TestFillBadRowIsNotCached: a malformed row fails the load and leaves
// nothing cached; it does not count against the shard's breaker.
func TestFillBadRowIsNotCached(t *testing.T) {
	ctx := context.Background()
	src, path := sqliteSource(t, fillEdges)
	if err := src.AddEdges(ctx, []loader.Edge{{From: 5000, To: 5001, Time: 7}}); err != nil {
		t.Fatal(err)
	}
	s := fillServer(t, src, func(c *Config) { c.LoadBreakerFailures = 1 })
	c := newTestClient(s)
	// SQLite's column types are advisory: a negative time gets in.
	if err := execSQLite(path, "UPDATE following_00 SET addtime = -5 WHERE fromuid = 5000"); err != nil {
		t.Fatal(err)
	}
	got := do(s, c, "RELCARD", "5000.following")
	if !strings.HasPrefix(got, "-LOADFAIL relation_00 ") || !strings.Contains(got, "malformed") {
		t.Fatalf("bad row: %q", got)
	}
	if _, ok := s.store.Peek([]byte("5000.following")); ok {
		t.Fatal("a list with a bad row was cached")
	}
	if got := do(s, c, "RELCARD", "1001.following"); got != ":2\r\n" {
		t.Fatalf("the breaker counted a bad row: %q", got)
	}
}

// TestFollowWritesThroughAndPatches: FOLLOW/UNFOLLOW write the source and
// patch cached lists in place, and never create an uncached one.
func TestFollowWritesThroughAndPatches(t *testing.T) {
	ctx := context.Background()
	src, _ := sqliteSource(t, fillEdges)
	fs := &faultySource{SQL: src}
	s := fillServer(t, fs, nil)
	c := newTestClient(s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELCARD", "1005.follower"}, ":0\r\n"}, // cached (empty)
		{[]string{"FOLLOW", "1002", "1005", "500"}, ":1\r\n"},
		{[]string{"FOLLOW", "1002", "1005", "600"}, ":0\r\n"}, // there: time moves
		{[]string{"HGET", "1005.follower", "1002"}, "$3\r\n600\r\n"},
		{[]string{"FOLLOW", "1003", "1005"}, ":1\r\n"},
		{[]string{"RELCARD", "1005.follower"}, ":2\r\n"},
		{[]string{"UNFOLLOW", "1003", "1005"}, ":1\r\n"},
		{[]string{"UNFOLLOW", "1003", "1005"}, ":0\r\n"},
		{[]string{"RELCARD", "1005.follower"}, ":1\r\n"},
		{[]string{"FOLLOW", "1002", "1002"}, "-ERR a user cannot follow itself\r\n"},
		{[]string{"FOLLOW", "x", "1002"}, "-ERR relation members must be unsigned 64-bit integers\r\n"},
		{[]string{"FOLLOW", "1", "2", "-3"}, "-ERR relation times must be unsigned 32-bit integers\r\n"},
		{[]string{"FOLLOW", "1", "2", "3", "4"}, "-ERR wrong number of arguments for 'follow' command\r\n"},
		{[]string{"UNFOLLOW", "1", "2", "3"}, "-ERR wrong number of arguments for 'unfollow' command\r\n"},
	} {
		if got := do(s, c, tc.args...); got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
	// 1002.following was never read, so it is still not cached (XX), and
	// the source holds the edge.
	if _, ok := s.store.Peek([]byte("1002.following")); ok {
		t.Fatal("FOLLOW created an uncached list")
	}
	l, err := src.Load(ctx, 1002, shard.Following, 0)
	if err != nil || !slices.Contains(l.Members, loader.Member{UID: 1005, Time: 600}) {
		t.Fatalf("source after FOLLOW: %+v %v", l, err)
	}
	// A pure cache refuses writes it cannot make durable.
	plain := newTestServer(t)
	if got := do(plain, newTestClient(plain), "FOLLOW", "1", "2"); !strings.HasPrefix(got, "-ERR follow needs a source of record") {
		t.Fatalf("FOLLOW without a source: %q", got)
	}
	// RELEDGE, the cache half for a node that does not own the write: it
	// patches only what is cached, with or without a source.
	pc := newTestClient(plain)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELLOAD", "7.follower", "TIMES", "1", "10"}, ":1\r\n"},
		{[]string{"RELEDGE", "ADD", "3", "7", "50"}, ":1\r\n"}, // 3.following not cached
		{[]string{"HGET", "7.follower", "3"}, "$2\r\n50\r\n"},
		{[]string{"EXISTS", "3.following"}, ":0\r\n"},
		{[]string{"RELEDGE", "DEL", "3", "7"}, ":1\r\n"},
		{[]string{"HEXISTS", "7.follower", "3"}, ":0\r\n"},
		{[]string{"RELEDGE", "ADD", "3", "7"}, "-ERR wrong number of arguments for 'reledge' command\r\n"},
		{[]string{"RELEDGE", "DEL", "3", "7", "1"}, "-ERR wrong number of arguments for 'reledge' command\r\n"},
		{[]string{"RELEDGE", "PUT", "3", "7"}, "-ERR syntax error\r\n"},
		{[]string{"RELEDGE", "ADD", "3", "7", "-1"}, "-ERR relation times must be unsigned 32-bit integers\r\n"},
	} {
		if got := do(plain, pc, tc.args...); got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestFillDiscardsAListOlderThanAWrite: a FOLLOW that lands between a
// fill's query and its store makes the fill query again, so the cache gets
// the edge.
func TestFillDiscardsAListOlderThanAWrite(t *testing.T) {
	src, _ := sqliteSource(t, fillEdges)
	fs := &faultySource{SQL: src}
	s := fillServer(t, fs, nil)
	c := newTestClient(s)
	hook := func() {
		if _, err := s.fill.ApplyEdge(context.Background(), 1001, 1004, 900, true); err != nil {
			t.Error(err)
		}
	}
	fs.AfterLoad.Store(&hook)
	if got := do(s, c, "HGET", "1001.following", "1004"); got != "$3\r\n900\r\n" {
		t.Fatalf("HGET after a racing FOLLOW = %q", got)
	}
	var st fill.Stats
	s.fill.ReadStats(&st)
	if fs.Loads.Load() != 2 || st.Discarded != 1 {
		t.Fatalf("%d loads, %d discarded; want 2 and 1", fs.Loads.Load(), st.Discarded)
	}
}

// TestFollowConsistencyUnderConcurrency runs writers (FOLLOW/UNFOLLOW),
// readers (which fill) and evictions (DEL) at once on a few users, then
// checks every cached list equals what the source holds.
func TestFollowConsistencyUnderConcurrency(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		src, _ := sqliteSource(t, nil)
		followConsistency(t, src)
	})
	t.Run("mariadb", func(t *testing.T) {
		m := relcachetest.StartMariaDB(t)
		src, err := loader.Open(context.Background(), loader.Config{Kind: "mysql", Layout: loader.Layout{DBs: 2, Tables: 2}, QueryTimeout: slowHost,
			MySQL: []loader.MySQLServer{{DSN: m.DSN(), First: 0, Last: 1}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		followConsistency(t, src)
	})
}

func followConsistency(t *testing.T, src *loader.SQL) {
	ctx := context.Background()
	s := fillServer(t, src, nil)
	const users, workers, ops = 12, 6, 150
	uid := func(r *rand.Rand) string { return strconv.Itoa(100 + r.IntN(users)) }
	// The readers' last rounds wait for the evictions: when the evictors
	// happened to finish last (a loaded machine), nothing was cached at
	// the end and the test checked nothing. The writers still run beside
	// those reads, so the fills they make still race with FOLLOW.
	var wg, evictions sync.WaitGroup
	evictions.Add(workers)
	for w := range workers {
		wg.Add(3)
		go func() { // writer
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			c := newTestClient(s)
			for range ops {
				a, b := uid(r), uid(r)
				cmd := "FOLLOW"
				if r.IntN(3) == 0 {
					cmd = "UNFOLLOW"
				}
				if got := do(s, c, cmd, a, b); a != b && got != ":1\r\n" && got != ":0\r\n" {
					t.Errorf("%s %s %s = %q", cmd, a, b, got)
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			c := newTestClient(s)
			for i := range ops + 20 {
				if i == ops {
					evictions.Wait()
				}
				do(s, c, "RELCHECK", uid(r), "BATCH", uid(r), uid(r))
				do(s, c, "RELCARD", uid(r)+".follower")
			}
		}()
		go func() { // evictions
			defer wg.Done()
			defer evictions.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			c := newTestClient(s)
			for range ops / 5 {
				do(s, c, "DEL", uid(r)+".following", uid(r)+".follower")
			}
		}()
	}
	wg.Wait()
	checked := 0
	for u := uint64(100); u < 100+users; u++ {
		for _, k := range []shard.Kind{shard.Following, shard.Follower} {
			key := fmt.Sprintf("%d.%s", u, k)
			e, ok := s.store.Peek([]byte(key))
			if !ok {
				continue
			}
			set, err := openhash.Open(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			l, err := src.Load(ctx, u, k, 0)
			if err != nil {
				t.Fatal(err)
			}
			if set.Count() != len(l.Members) {
				t.Fatalf("%s: cached %d members, source %d", key, set.Count(), len(l.Members))
			}
			for _, m := range l.Members {
				if tm, ok := set.Time(m.UID); !ok || tm != m.Time {
					t.Fatalf("%s: member %d cached %v/%d, source time %d", key, m.UID, ok, tm, m.Time)
				}
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("nothing cached at the end: the test checked nothing")
	}
	t.Logf("%d cached lists equal the source", checked)
}

// TestFillCopyAndSubstr: COPY and SUBSTR of a cold relation key fill it
// first, as GET and GETRANGE do: a list that is not cached is unknown, not
// missing, so COPY must not answer 0 for it.
func TestFillCopyAndSubstr(t *testing.T) {
	src := &faultySource{SQL: firstOf(sqliteSource(t, fillEdges))}
	s := fillServer(t, src, nil)
	c := newTestClient(s)
	if got := do(s, c, "COPY", "1001.following", "9.following"); got != ":1\r\n" {
		t.Fatalf("COPY of a cold list = %q, want :1", got)
	}
	if got := do(s, c, "RELMEMBERS", "9.following"); got != "*2\r\n$4\r\n1003\r\n$4\r\n1002\r\n" {
		t.Fatalf("the copy holds %q", got)
	}
	if got := do(s, c, "SUBSTR", "1003.follower", "0", "3"); got != "$4\r\n\x8fRHS\r\n" {
		t.Fatalf("SUBSTR of a cold list = %q", got)
	}
	// Not a relation key: a miss stays a miss.
	if got := do(s, c, "COPY", "plain", "other"); got != ":0\r\n" {
		t.Fatalf("COPY plain = %q", got)
	}
}
