package loader

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/shard"
)

// The costs issue 17 adds to a capped list (20,000 fans, cached at 5000):
// the COUNT(*) read with the capped load, against the same load without
// it, and Lookup of old fans, the query behind an exact answer for a uid
// the cached part lacks.
func benchmarkCapped(b *testing.B, src *SQL) {
	const celeb, fans, limit = 42, 20000, 5000
	ctx := context.Background()
	edges := make([]Edge, fans)
	for i := range edges {
		edges[i] = Edge{From: uint64(100000 + i), To: celeb, Time: uint32(1_600_000_000 + i)}
	}
	if err := src.AddEdges(ctx, edges); err != nil {
		b.Fatal(err)
	}
	b.Run("load-capped-with-count", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			l, err := src.Load(ctx, celeb, shard.Follower, limit)
			if err != nil || l.Total != fans {
				b.Fatal(l.Total, err)
			}
		}
	})
	b.Run("load-capped-without-count", func(b *testing.B) {
		st, err := src.stmt(ctx, opList, shard.Follower, celeb)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for range b.N {
			rows, err := st.QueryContext(ctx, celeb, limit+1)
			if err != nil {
				b.Fatal(err)
			}
			var other, t intCol
			n := 0
			for rows.Next() {
				if err := rows.Scan(&other, &t); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != limit+1 {
				b.Fatal(n)
			}
		}
	})
	for _, n := range []int{1, 100, 1000} {
		old := make([]uint64, n)
		for i := range old {
			old[i] = uint64(100000 + i*((fans-limit)/n))
		}
		b.Run("lookup-"+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				found, err := src.Lookup(ctx, celeb, shard.Follower, old)
				if err != nil || len(found) != n {
					b.Fatal(len(found), err)
				}
			}
		})
	}
}

func BenchmarkCappedSQLite(b *testing.B) {
	src, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "r.db"), Layout{Tables: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	benchmarkCapped(b, src)
}

func BenchmarkCappedMySQL(b *testing.B) {
	benchmarkCapped(b, openMySQLTest(b, Layout{DBs: 1, Tables: 4}, 10*time.Second, relcachetest.StartMariaDB(b)))
}
