package loader

import (
	"context"
	"errors"

	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	rng := rand.New(rand.NewPCG(1, 2))
	following := map[uint64]map[uint64]uint32{}
	followers := map[uint64]map[uint64]uint32{}
	var edges []Edge
	for range 2000 {
		e := Edge{From: 1_000_000_000 + rng.Uint64N(50), To: 1_000_000_000 + rng.Uint64N(50), Time: 1_600_000_000 + rng.Uint32N(1000)}
		edges = append(edges, e)
		if following[e.From] == nil {
			following[e.From] = map[uint64]uint32{}
		}
		if followers[e.To] == nil {
			followers[e.To] = map[uint64]uint32{}
		}
		following[e.From][e.To] = e.Time
		followers[e.To][e.From] = e.Time
	}
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
	// Idempotent: writing again changes nothing.
	if err := src.AddEdges(ctx, edges[len(edges)-100:]); err != nil {
		t.Fatal(err)
	}
	for uid := uint64(1_000_000_000); uid < 1_000_000_050; uid++ {
		for _, k := range []Kind{Following, Follower} {
			want := following[uid]
			if k == Follower {
				want = followers[uid]
			}
			l, err := src.Load(ctx, uid, k, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Members) != len(want) || l.Truncated {
				t.Fatalf("%s of %d: %d members (truncated %v), want %d", k, uid, len(l.Members), l.Truncated, len(want))
			}
			for i, m := range l.Members {
				if want[m.UID] != m.Time {
					t.Fatalf("%s of %d: member %d time %d, want %d", k, uid, m.UID, m.Time, want[m.UID])
				}
				if i > 0 && l.Members[i-1].Time < m.Time {
					t.Fatalf("%s of %d: not newest first", k, uid)
				}
			}
			capped, err := src.Load(ctx, uid, k, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) > 5 && (!capped.Truncated || len(capped.Members) != 5 || !slices.Equal(capped.Members, l.Members[:5])) {
				t.Fatalf("%s of %d capped at 5: %+v", k, uid, capped)
			}
		}
	}
	if l, err := src.Load(ctx, 42, Following, 0); err != nil || len(l.Members) != 0 {
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
		if _, err := src.Load(ctx, uid, Following, 0); !errors.Is(err, ErrBadRow) {
			t.Errorf("uid %d: err %v, want ErrBadRow", uid, err)
		}
	}

}
