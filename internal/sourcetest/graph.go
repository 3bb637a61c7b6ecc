package sourcetest

import (
	"context"
	"testing"
	"time"

	"github.com/relcache/relcache/loader"
)

// CelebrityEdges gives celeb fans fans, uids firstFan on: fan i follows
// celeb at 1_600_000_000+i, and celeb follows it back at 1_700_000_000+i,
// so with a list limit below fans both of celeb's lists are truncated and
// the oldest fans are the ones they lack (issue 17's capped lists).
func CelebrityEdges(celeb, firstFan uint64, fans int) []loader.Edge {
	edges := make([]loader.Edge, 0, 2*fans)
	for i := range fans {
		f := firstFan + uint64(i)
		edges = append(edges,
			loader.Edge{From: f, To: celeb, Time: uint32(1_600_000_000 + i)},
			loader.Edge{From: celeb, To: f, Time: uint32(1_700_000_000 + i)})
	}
	return edges
}

// WriteMySQL creates layout's schema on the MySQL server at dsn (all its
// databases there) and writes edges into it.
func WriteMySQL(t testing.TB, dsn string, layout loader.Layout, edges []loader.Edge) {
	t.Helper()
	ctx := context.Background()
	src, err := loader.Open(ctx, loader.Config{Kind: "mysql", Layout: layout, QueryTimeout: time.Minute,
		MySQL: []loader.MySQLServer{{DSN: dsn, First: 0, Last: max(layout.DBs, 1) - 1}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
}

// WriteSQLite creates the SQLite source at path with layout's tables and
// writes edges into it.
func WriteSQLite(t testing.TB, path string, layout loader.Layout, edges []loader.Edge) {
	t.Helper()
	ctx := context.Background()
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: path, Layout: layout, QueryTimeout: time.Minute}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
}
