package server

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/shard"
)

// restartFrom is a start of a new server on dir and src: the snapshot is
// loaded and the source's journal consulted, as ListenAndServe does before
// it listens.
func restartFrom(t *testing.T, dir string, src loader.Source) *Server {
	t.Helper()
	s := fillServer(t, src, func(c *Config) { c.Dir = dir })
	if err := s.loadSnapshot(); err != nil {
		t.Fatal(err)
	}
	s.recoverSource()
	return s
}

// cachedKeys lists which of keys s holds.
func cachedKeys(s *Server, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := s.store.Peek([]byte(k)); ok {
			out = append(out, k)
		}
	}
	return out
}

// TestSnapshotDropsListsChangedAfterIt: a start from a snapshot drops
// exactly the lists of edges written after the snapshot (the crash lost
// their patches), and every relation list when the snapshot's marks are
// missing or belong to another snapshot; other keys stay.
func TestSnapshotDropsListsChangedAfterIt(t *testing.T) {
	src, _ := sqliteSource(t, fillEdges)
	dir := t.TempDir()
	s := fillServer(t, src, func(c *Config) { c.Dir = dir })
	c := newTestClient(s)
	all := []string{"plain", "1001.following", "1001.follower", "1002.following", "1002.follower",
		"1003.following", "1003.follower", "1004.following", "1004.follower"}
	for _, k := range all[1:] {
		if got := do(s, c, "HGETALL", k); !strings.HasPrefix(got, "*") {
			t.Fatalf("HGETALL %s = %q", k, got)
		}
	}
	do(s, c, "SET", "plain", "x")
	if err := s.save(true); err != nil {
		t.Fatal(err)
	}
	marks, err := os.ReadFile(marksPath(s.persist.path))
	if err != nil || !strings.HasPrefix(string(marks), marksHeader+"\n") {
		t.Fatalf("marks file: %q, %v", marks, err)
	}
	// After the snapshot, and no snapshot after: the crash case.
	if got := do(s, c, "FOLLOW", "1002", "1004", "500"); got != ":1\r\n" {
		t.Fatalf("FOLLOW = %q", got)
	}

	s2 := restartFrom(t, dir, src)
	want := []string{"plain", "1001.following", "1001.follower", "1002.follower",
		"1003.following", "1003.follower", "1004.following"}
	if got := cachedKeys(s2, all...); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after a restart from the snapshot: cached %v, want %v (1002.following and 1004.follower changed)", got, want)
	}
	if got := do(s2, newTestClient(s2), "HGET", "1004.follower", "1002"); got != "$3\r\n500\r\n" {
		t.Fatalf("HGET 1004.follower 1002 after the restart = %q", got)
	}
	var st fill.Stats
	if s2.fill.ReadStats(&st); st.ListsDropped != 2 {
		t.Fatalf("snapshot_lists_dropped = %d, want 2", st.ListsDropped)
	}

	// Marks of another snapshot, or none: nothing can be told.
	if err := os.WriteFile(marksPath(s.persist.path), []byte(marksHeader+"\ncreated-ms 1\nmarks 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cachedKeys(restartFrom(t, dir, src), all...); strings.Join(got, " ") != "plain" {
		t.Fatalf("with another snapshot's marks: cached %v, want plain only", got)
	}
	if err := os.Remove(marksPath(s.persist.path)); err != nil {
		t.Fatal(err)
	}
	if got := cachedKeys(restartFrom(t, dir, src), all...); strings.Join(got, " ") != "plain" {
		t.Fatalf("without marks: cached %v, want plain only", got)
	}
}

// TestSweepCompletesHalfWrittenFollow: a FOLLOW whose second server is down
// fails half written, leaving its intent; once the server is back, the
// periodic sweep completes the follower row and drops the cached lists.
func TestSweepCompletesHalfWrittenFollow(t *testing.T) {
	m1, m2 := relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t)
	for _, m := range []*relcachetest.MariaDB{m1, m2} {
		db, err := sql.Open("mysql", m.DSN())
		if err != nil {
			t.Fatal(err)
		}
		// A shared RELCACHE_TEST_MYSQL_DSN server keeps databases between runs.
		for _, name := range []string{"relation_00", "relation_01"} {
			if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
	}
	ctx := context.Background()
	// Even uids on m1, odd ones on m2.
	// Timeouts a loaded host meets; the sweep leaves intents younger than
	// load-timeout + 1s alone, so the test waits that long.
	src, err := loader.Open(ctx, loader.Config{Kind: "mysql", Layout: loader.Layout{DBs: 2, Tables: 1}, QueryTimeout: 5 * time.Second,
		MySQL: []loader.MySQLServer{{DSN: m1.DSN(), First: 0, Last: 0}, {DSN: m2.DSN(), First: 1, Last: 1}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := fillServer(t, src, func(c *Config) {
		c.LoadTimeout = 5 * time.Second
		c.SourceSweepInterval = 100 * time.Millisecond
	})
	sweepCtx, stop := context.WithCancel(ctx)
	defer stop()
	go s.runSweeper(sweepCtx)
	c := newTestClient(s)
	if got := do(s, c, "HGETALL", "2.following"); got != "*0\r\n" {
		t.Fatalf("HGETALL 2.following = %q", got)
	}

	m2.Stop()
	if got := do(s, c, "FOLLOW", "2", "3", "700"); !strings.Contains(got, "relation half written") {
		t.Fatalf("FOLLOW with the follower's server down = %q", got)
	}
	if _, ok := s.store.Peek([]byte("2.following")); ok {
		t.Fatal("a half-written FOLLOW left 2.following cached")
	}
	m2.Restart()
	deadline := time.Now().Add(30 * time.Second)
	var st fill.Stats
	for s.fill.ReadStats(&st); st.IntentsCompleted == 0; s.fill.ReadStats(&st) {
		if time.Now().After(deadline) {
			t.Fatalf("the sweep completed no intent in 30s (failed: %d)", st.IntentsFailed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l, err := src.Load(ctx, 3, shard.Follower, 0); err != nil || len(l.Members) != 1 || l.Members[0] != (loader.Member{UID: 2, Time: 700}) {
		t.Fatalf("follower row after the sweep: %+v, %v", l, err)
	}
	if got := do(s, c, "HGET", "3.follower", "2"); got != "$3\r\n700\r\n" {
		t.Fatalf("HGET 3.follower 2 = %q", got)
	}
	if got := do(s, c, "INFO", "loader"); !strings.Contains(got, "intents_completed:1\r\n") {
		t.Fatalf("INFO loader:\n%s", got)
	}
}
