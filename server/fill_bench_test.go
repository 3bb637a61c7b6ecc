package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/loader"
)

// BenchmarkColdMissMariaDB measures what a cache miss costs a client when
// the list comes from a local MariaDB (one query, building the array,
// storing it), by list size, against a hit on the same keys. Each miss is
// made cold by deleting the key first; MariaDB's own buffer pool is warm,
// as it is in production. It runs the command in process (no client
// socket), so the numbers are the fill's cost alone. p50/p99 are reported
// as metrics:
//
//	go test -run '^$' -bench ColdMissMariaDB -benchtime 2000x ./server/
func BenchmarkColdMissMariaDB(b *testing.B) {
	m := relcachetest.StartMariaDB(b)
	ctx := context.Background()
	src, err := loader.Open(ctx, loader.Config{Kind: "mysql", Layout: loader.Layout{DBs: 2, Tables: 4},
		MySQL: []loader.MySQLServer{{DSN: m.DSN(), First: 0, Last: 1}}}, true)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	// users[size]: users that follow exactly size others.
	sizes := []int{10, 300, 3000}
	users := map[int][]uint64{}
	next := uint64(1_000_000_000)
	for _, size := range sizes {
		n := min(200, 300_000/size)
		var edges []loader.Edge
		for range n {
			u := next
			next++
			users[size] = append(users[size], u)
			for j := range size {
				edges = append(edges, loader.Edge{From: u, To: 2_000_000_000 + uint64(j*7919)%1_000_000, Time: uint32(1_600_000_000 + j)})
			}
		}
		if err := src.AddEdges(ctx, edges); err != nil {
			b.Fatal(err)
		}
	}
	s := fillServer(b, src, func(c *Config) { c.LoadTimeout = 10 * time.Second })
	c := newTestClient(s)
	for _, size := range sizes {
		for _, mode := range []string{"miss", "hit"} {
			b.Run(fmt.Sprintf("%s/members=%d", mode, size), func(b *testing.B) {
				us := users[size]
				want := ":" + strconv.Itoa(size) + "\r\n"
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := range b.N {
					key := []byte(strconv.FormatUint(us[i%len(us)], 10) + ".following")
					if mode == "miss" {
						s.store.Delete(key)
					}
					start := time.Now()
					got := do(s, c, "RELCARD", string(key))
					lat = append(lat, time.Since(start))
					if got != want {
						b.Fatalf("RELCARD %s = %q, want %q", key, got, want)
					}
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			})
		}
	}
}
