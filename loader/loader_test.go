package loader

import (
	"context"
	"errors"

	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/shard"
)

func TestLayoutRoute(t *testing.T) {
	l := Layout{DBs: 4, Tables: 16}
	if err := l.fill(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uid       uint64
		db, table int
	}{{0, 0, 0}, {15, 0, 15}, {16, 1, 0}, {63, 3, 15}, {64, 0, 0}, {1_000_000_042, 2, 10}} {
		db, table := l.Route(tc.uid)
		if db != tc.db || table != tc.table {
			t.Errorf("Route(%d) = %d,%d want %d,%d", tc.uid, db, table, tc.db, tc.table)
		}
	}
	if got := l.tableName("following", 3); got != "following_03" {
		t.Errorf("table name %q", got)
	}
	if got := (Layout{DBs: 1, Tables: 128}).tableName("follower", 7); got != "follower_007" {
		t.Errorf("table name %q", got)
	}
	for _, bad := range []Layout{{DBs: -1}, {Tables: -2}, {DBs: 1000, Tables: 1000}} {
		if err := bad.fill(); err == nil {
			t.Errorf("layout %+v accepted", bad)
		}
	}
}

func TestDDLDialects(t *testing.T) {
	l := Layout{DBs: 1, Tables: 2}
	my := strings.Join(l.DDL(MySQL), ";\n")
	lite := strings.Join(l.DDL(SQLite), ";\n")
	for _, want := range []string{"following_00", "follower_01", "PRIMARY KEY (fromuid, touid)", "PRIMARY KEY (touid, fromuid)", "KEY following_01_time (fromuid, addtime)"} {
		if !strings.Contains(my, want) {
			t.Errorf("MySQL DDL lacks %q:\n%s", want, my)
		}
	}
	if strings.Contains(lite, "  KEY ") || !strings.Contains(lite, "CREATE INDEX IF NOT EXISTS follower_00_time ON follower_00 (touid, addtime)") {
		t.Errorf("SQLite DDL:\n%s", lite)
	}
}

// TestSQLiteSource writes a random graph through AddEdges into a real SQLite
// file and reads every list back, both kinds, with and without a cap.
func TestSQLiteSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relations.db")
	src, err := OpenSQLite(ctx, path, Layout{Tables: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	g := randomGraph(rand.New(rand.NewPCG(1, 2)), 2000, 1_000_000_000, 50)
	if err := src.AddEdges(ctx, g.edges); err != nil {
		t.Fatal(err)
	}
	// Idempotent: writing again changes nothing.
	if err := src.AddEdges(ctx, g.edges[len(g.edges)-100:]); err != nil {
		t.Fatal(err)
	}
	g.check(t, src)
	for _, e := range []Edge{{From: 1 << 63, To: 1}, {From: 1, To: 1<<64 - 1}} {
		if err := src.AddEdges(ctx, []Edge{{From: 1, To: 2}, e}); !errors.Is(err, ErrUIDRange) {
			t.Errorf("AddEdges of %d->%d: %v, want ErrUIDRange", e.From, e.To, err)
		}
	}
	if l, err := src.Load(ctx, 42, shard.Following, 0); err != nil || len(l.Members) != 0 {
		t.Fatalf("unknown user: %+v, %v", l, err)
	}
}

// TestBadRowsAreReported puts rows the schema would forbid into a table
// (a foreign database need not enforce it) and checks Load refuses the list.
func TestBadRowsAreReported(t *testing.T) {
	ctx := context.Background()
	src, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"), Layout{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i, row := range []string{"(7, -1, 5)", "(8, 3, -5)", "(9, 3, 4294967296)"} {
		// SQLite's NOT NULL holds, but its types are advisory: negative and
		// out-of-range numbers get in.
		if _, err := src.dbs[0].ExecContext(ctx, "INSERT INTO following_00 (fromuid, touid, addtime) VALUES "+row); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	for _, uid := range []uint64{7, 8, 9} {
		if _, err := src.Load(ctx, uid, shard.Following, 0); !errors.Is(err, ErrBadRow) {
			t.Errorf("uid %d: err %v, want ErrBadRow", uid, err)
		}
	}

}

// graph is a random follow graph and the lists it should give.
type graph struct {
	edges    []Edge
	first, n uint64                          // uids first .. first+n-1
	lists    [2]map[uint64]map[uint64]uint32 // by Kind: owner -> member -> time
}

// randomGraph draws edges among n uids from first on, repeats included
// (the last time of a repeated edge is the one kept).
func randomGraph(rng *rand.Rand, edges int, first, n uint64) *graph {
	g := newGraph(first, n)
	for range edges {
		e := Edge{From: first + rng.Uint64N(n), To: first + rng.Uint64N(n), Time: 1_600_000_000 + rng.Uint32N(1000)}
		g.edges = append(g.edges, e)
		g.add(e)
	}
	return g
}

func newGraph(first, n uint64) *graph {
	g := &graph{first: first, n: n}
	for k := range g.lists {
		g.lists[k] = map[uint64]map[uint64]uint32{}
	}
	return g
}

// add records e in the model, replacing the time of an edge there.
func (g *graph) add(e Edge) {
	put := func(k shard.Kind, owner, member uint64) {
		m := g.lists[k][owner]
		if m == nil {
			m = map[uint64]uint32{}
			g.lists[k][owner] = m
		}
		m[member] = e.Time
	}
	put(shard.Following, e.From, e.To)
	put(shard.Follower, e.To, e.From)
}

// check loads every list of both kinds, whole and capped at 5, and
// compares it with the model.
func (g *graph) check(t *testing.T, src Source) {
	t.Helper()
	ctx := context.Background()
	for uid := g.first; uid < g.first+g.n; uid++ {
		for _, k := range []shard.Kind{shard.Following, shard.Follower} {
			if err := g.checkList(ctx, src, uid, k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (g *graph) checkList(ctx context.Context, src Source, uid uint64, k shard.Kind) error {
	want := g.lists[k][uid]
	l, err := src.Load(ctx, uid, k, 0)
	if err != nil {
		return err
	}
	if len(l.Members) != len(want) || l.Truncated {
		return fmt.Errorf("%s of %d: %d members (truncated %v), want %d", k, uid, len(l.Members), l.Truncated, len(want))
	}
	for i, m := range l.Members {
		if got, ok := want[m.UID]; !ok || got != m.Time {
			return fmt.Errorf("%s of %d: member %d time %d, want %d (listed %v)", k, uid, m.UID, m.Time, got, ok)
		}
		if i > 0 && l.Members[i-1].Time < m.Time {
			return fmt.Errorf("%s of %d: not newest first", k, uid)
		}
	}
	capped, err := src.Load(ctx, uid, k, 5)
	if err != nil {
		return err
	}
	if len(want) > 5 && (!capped.Truncated || len(capped.Members) != 5 || !slices.Equal(capped.Members, l.Members[:5]) || capped.Total != len(want)) {
		return fmt.Errorf("%s of %d capped at 5: %+v, want total %d", k, uid, capped, len(want))
	}
	if len(want) <= 5 && (capped.Truncated || !slices.Equal(capped.Members, l.Members) || capped.Total != 0) {
		return fmt.Errorf("%s of %d capped at 5: %+v, want all %d", k, uid, capped, len(want))
	}
	return g.checkLookup(ctx, src, uid, k)
}

// checkLookup asks for every member of the list and as many uids that are
// not, and compares what Lookup finds with the model.
func (g *graph) checkLookup(ctx context.Context, src Source, uid uint64, k shard.Kind) error {
	want := g.lists[k][uid]
	var ask []uint64
	for m := range want {
		ask = append(ask, m)
	}
	for i := range uint64(len(want) + 1) {
		if _, ok := want[g.first+g.n+i]; !ok {
			ask = append(ask, g.first+g.n+i) // outside the graph: never a member
		}
	}
	found, err := src.Lookup(ctx, uid, k, ask)
	if err != nil {
		return err
	}
	if len(found) != len(want) {
		return fmt.Errorf("Lookup in %s of %d: %d found, want %d", k, uid, len(found), len(want))
	}
	for _, m := range found {
		if tm, ok := want[m.UID]; !ok || tm != m.Time {
			return fmt.Errorf("Lookup in %s of %d: found %d at %d, model has %v at %d", k, uid, m.UID, m.Time, ok, tm)
		}
	}
	return nil
}

// TestOpenPassesQueryTimeout: source-query-timeout reaches the SQLite
// source as it does MySQL's.
func TestOpenPassesQueryTimeout(t *testing.T) {
	src, err := Open(context.Background(), Config{Kind: "sqlite", Path: filepath.Join(t.TempDir(), "t.db"), QueryTimeout: 42 * time.Second}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.cfg.QueryTimeout != 42*time.Second {
		t.Fatalf("query timeout %v, want 42s", src.cfg.QueryTimeout)
	}
}
