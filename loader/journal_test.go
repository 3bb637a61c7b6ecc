package loader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/shard"
)

// tableRows reads every relation row of src: kind, key, other -> addtime.
func tableRows(t *testing.T, src *SQL) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	l := src.cfg.Layout
	for dbi, db := range src.dbs {
		for tb := range l.Tables {
			for _, k := range []shard.Kind{shard.Following, shard.Follower} {
				key, other := columns(k)
				rows, err := db.Query(fmt.Sprintf("SELECT %s, %s, addtime FROM %s", key, other, l.table(src.cfg.Dialect, k, dbi, tb)))
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var a, b uint64
					var tm int64
					if err := rows.Scan(&a, &b, &tm); err != nil {
						t.Fatal(err)
					}
					out[fmt.Sprintf("%s %d %d", k, a, b)] = tm
				}
				rows.Close()
			}
		}
	}
	return out
}

// plant runs a statement on the table of kind k holding key's rows: the
// damage a crash between two unjournalled writes left.
func plant(t *testing.T, src *SQL, k shard.Kind, key uint64, format string, args ...any) {
	t.Helper()
	dbi, tb := src.cfg.Layout.Route(key)
	q := fmt.Sprintf(format, src.cfg.Layout.table(src.cfg.Dialect, k, dbi, tb))
	if _, err := src.dbs[dbi].Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestRepair plants one-sided edges of every kind among consistent ones,
// checks that a dry run finds exactly them and changes nothing, that a
// repair fixes them toward the following rows, and that a second dry run
// finds none. Tiny pages and batches make every table take several of
// each, across tables and databases.
func TestRepair(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			var src *SQL
			if dialect == "mysql" {
				src = openMySQLTest(t, Layout{DBs: 2, Tables: 2}, 10*time.Second, relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t))
			} else {
				var err error
				if src, err = OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"), Layout{Tables: 3}); err != nil {
					t.Fatal(err)
				}
				defer src.Close()
			}
			g := randomGraph(rand.New(rand.NewPCG(14, 6)), 3000, 1, 120)
			// A celebrity: one list far longer than a batch.
			for u := uint64(200); u < 500; u++ {
				e := Edge{From: u, To: 7, Time: uint32(u)}
				g.edges = append(g.edges, e)
				g.add(e)
			}
			if err := src.AddEdges(ctx, g.edges); err != nil {
				t.Fatal(err)
			}
			var want []Problem
			seen := map[[2]uint64]bool{}
			pick := func(i int) Edge {
				for {
					e := g.edges[(i*7919)%len(g.edges)]
					if !seen[[2]uint64{e.From, e.To}] {
						seen[[2]uint64{e.From, e.To}] = true
						return e
					}
					i++
				}
			}
			for i := range 30 {
				e := pick(i)
				tm := int64(g.lists[shard.Following][e.From][e.To])
				switch i % 3 {
				case 0:
					plant(t, src, shard.Follower, e.To, "DELETE FROM %s WHERE touid = ? AND fromuid = ?", e.To, e.From)
					want = append(want, Problem{From: e.From, To: e.To, Kind: FollowerMissing, FollowingTime: tm})
				case 1:
					plant(t, src, shard.Following, e.From, "DELETE FROM %s WHERE fromuid = ? AND touid = ?", e.From, e.To)
					// The following row wins: the edge is gone.
					delete(g.lists[shard.Following][e.From], e.To)
					delete(g.lists[shard.Follower][e.To], e.From)
					want = append(want, Problem{From: e.From, To: e.To, Kind: FollowingMissing, FollowerTime: tm})
				case 2:
					plant(t, src, shard.Follower, e.To, "UPDATE %s SET addtime = addtime + 1 WHERE touid = ? AND fromuid = ?", e.To, e.From)
					want = append(want, Problem{From: e.From, To: e.To, Kind: TimeDiffers, FollowingTime: tm, FollowerTime: tm + 1})
				}
			}
			sortProblems := func(ps []Problem) {
				slices.SortFunc(ps, func(a, b Problem) int {
					if a.From != b.From {
						return int(a.From) - int(b.From)
					}
					return int(a.To) - int(b.To)
				})
			}
			sortProblems(want)
			before := tableRows(t, src)

			var found []Problem
			var progress int64
			opts := RepairOptions{DryRun: true, Batch: 7, Page: 50,
				Found:    func(p Problem) { found = append(found, p) },
				Progress: func(rows int64, _ string) { progress = rows }}
			st, err := src.Repair(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			sortProblems(found)
			if fmt.Sprint(found) != fmt.Sprint(want) {
				t.Fatalf("dry run found\n%v\nwant\n%v", found, want)
			}
			if st.OneSided() != 30 || st.FollowerMissing != 10 || st.FollowingMissing != 10 || st.TimeDiffers != 10 || st.Fixed != 0 {
				t.Fatalf("dry run stats %+v", st)
			}
			if rows := int64(len(before)); st.FollowingRows+st.FollowerRows != rows || progress != rows {
				t.Fatalf("read %d+%d rows, progress said %d; the tables hold %d", st.FollowingRows, st.FollowerRows, progress, rows)
			}
			if after := tableRows(t, src); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatal("a dry run changed the tables")
			}
			marks, err := src.ChangeMarks(ctx)
			if err != nil {
				t.Fatal(err)
			}

			opts.DryRun, found = false, nil
			if st, err = src.Repair(ctx, opts); err != nil {
				t.Fatal(err)
			}
			if st.OneSided() != 30 || st.Fixed != 30 {
				t.Fatalf("repair stats %+v", st)
			}
			// The following rows won, and each fix was logged.
			g.check(t, src)
			changed := map[[2]uint64]bool{}
			if err := src.ChangesSince(ctx, marks, func(from, to uint64) { changed[[2]uint64{from, to}] = true }); err != nil {
				t.Fatal(err)
			}
			for _, p := range want {
				if !changed[[2]uint64{p.From, p.To}] {
					t.Errorf("fix of %d->%d not in the change log", p.From, p.To)
				}
			}
			opts.DryRun = true
			if st, err = src.Repair(ctx, opts); err != nil || st.OneSided() != 0 {
				t.Fatalf("dry run after the repair: %+v, %v", st, err)
			}
		})
	}
}

// TestIntentCompletion plants what a crash between the two halves of a
// write across servers leaves, and checks that completing each intent
// makes the follower row agree with the following row as it is now: it
// writes a missing follower row, and deletes one whose following row a
// later UNFOLLOW removed (never resurrecting the edge).
func TestIntentCompletion(t *testing.T) {
	ctx := context.Background()
	src := openMySQLTest(t, Layout{DBs: 2, Tables: 1}, 10*time.Second, relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t))
	// Even uids on the first server, odd ones on the second.
	const a, b, c = 2, 3, 5
	if src.sameServer(a, b) || src.sameServer(a, c) {
		t.Fatal("the edges should cross servers")
	}
	intent := func(from, to uint64) {
		t.Helper()
		dbi, _ := src.cfg.Layout.Route(from)
		if _, err := src.dbs[dbi].Exec("INSERT INTO "+src.journalTable(dbi, intentsTable)+" VALUES (?, ?, ?)", from, to, time.Now().Unix()-60); err != nil {
			t.Fatal(err)
		}
	}
	// a->b: the first half of a FOLLOW committed, then the crash.
	plant(t, src, shard.Following, a, "INSERT INTO %s VALUES (?, ?, 100)", a, b)
	intent(a, b)
	// a->c: FOLLOWed (both rows), then an UNFOLLOW's first half.
	plant(t, src, shard.Follower, c, "INSERT INTO %s VALUES (?, ?, 200)", c, a)
	intent(a, c)

	pending, err := src.PendingIntents(ctx, time.Now(), 100)
	if err != nil || fmt.Sprint(pending) != fmt.Sprint([]Edge{{From: a, To: b}, {From: a, To: c}}) {
		t.Fatalf("pending intents: %v, %v", pending, err)
	}
	if young, err := src.PendingIntents(ctx, time.Now().Add(-time.Hour), 100); err != nil || len(young) != 0 {
		t.Fatalf("intents older than an hour: %v, %v", young, err)
	}
	marks, err := src.ChangeMarks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pending {
		if changed, err := src.CompleteIntent(ctx, e.From, e.To); err != nil || !changed {
			t.Fatalf("complete %d->%d: %v, %v", e.From, e.To, changed, err)
		}
	}
	if l, err := src.Load(ctx, b, shard.Follower, 0); err != nil || fmt.Sprint(l.Members) != fmt.Sprint([]Member{{a, 100}}) {
		t.Fatalf("follower of %d: %v, %v", b, l.Members, err)
	}
	if l, err := src.Load(ctx, c, shard.Follower, 0); err != nil || len(l.Members) != 0 {
		t.Fatalf("follower of %d resurrected: %v, %v", c, l.Members, err)
	}
	var changes [][2]uint64
	if err := src.ChangesSince(ctx, marks, func(from, to uint64) { changes = append(changes, [2]uint64{from, to}) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(changes) != fmt.Sprint([][2]uint64{{a, b}, {a, c}}) {
		t.Fatalf("changes logged by the completions: %v", changes)
	}
	if pending, err := src.PendingIntents(ctx, time.Now(), 100); err != nil || len(pending) != 0 {
		t.Fatalf("intents after completion: %v, %v", pending, err)
	}
	// Idempotent: no intent, nothing to do.
	if changed, err := src.CompleteIntent(ctx, a, b); err != nil || changed {
		t.Fatalf("complete again: %v, %v", changed, err)
	}

	// A FOLLOW across servers leaves no intent behind.
	if _, err := src.Follow(ctx, b, a, 300); err != nil {
		t.Fatal(err)
	}
	if pending, err := src.PendingIntents(ctx, time.Now().Add(time.Hour), 100); err != nil || len(pending) != 0 {
		t.Fatalf("intents after a FOLLOW: %v, %v", pending, err)
	}
}

// TestChangeLog: writes log their edges, marks move, and pruning keeps
// the newest change and makes an older mark an error rather than a lie.
func TestChangeLog(t *testing.T) {
	ctx := context.Background()
	src, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"), Layout{Tables: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m0, err := src.ChangeMarks(ctx)
	if err != nil || fmt.Sprint(m0) != "[0]" {
		t.Fatalf("marks of an empty log: %v, %v", m0, err)
	}
	for _, e := range []Edge{{1, 2, 10}, {2, 3, 10}, {1, 2, 20}} {
		if _, err := src.Follow(ctx, e.From, e.To, e.Time); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.Unfollow(ctx, 2, 3); err != nil {
		t.Fatal(err)
	}
	m1, err := src.ChangeMarks(ctx)
	if err != nil || fmt.Sprint(m1) != "[4]" {
		t.Fatalf("marks after 4 writes: %v, %v", m1, err)
	}
	var got [][2]uint64
	if err := src.ChangesSince(ctx, []int64{2}, func(from, to uint64) { got = append(got, [2]uint64{from, to}) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[[1 2] [2 3]]" {
		t.Fatalf("changes after 2: %v", got)
	}
	if n, err := src.PruneChanges(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned %d young changes: %v", n, err)
	}
	if n, err := src.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("pruned %d of 4 old changes (the newest stays): %v", n, err)
	}
	if err := src.ChangesSince(ctx, m0, func(uint64, uint64) {}); !errors.Is(err, ErrChangesPruned) {
		t.Fatalf("changes since a pruned mark: %v", err)
	}
	if err := src.ChangesSince(ctx, []int64{3}, func(uint64, uint64) {}); err != nil {
		t.Fatalf("changes since the last pruned id: %v", err)
	}
	// Ids go on from the newest, which pruning kept.
	if _, err := src.Follow(ctx, 5, 6, 1); err != nil {
		t.Fatal(err)
	}
	if m, err := src.ChangeMarks(ctx); err != nil || fmt.Sprint(m) != "[5]" {
		t.Fatalf("marks after pruning and a write: %v, %v", m, err)
	}
}
