package server

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
)

// BenchmarkOldFanMariaDB is HEXISTS on a fan list of 20,000 cached at the
// newest 5000, in process (no socket), on a local MariaDB: a fan the
// cached part holds; an old fan whose answer the side table kept; an old
// fan asked of the source each time (a different one per command):
//
//	go test -run '^$' -bench OldFanMariaDB -benchtime 2000x ./server/
func BenchmarkOldFanMariaDB(b *testing.B) {
	const celeb, firstFan, fans, limit = 7, 100000, 20000, 5000
	m := relcachetest.StartMariaDB(b)
	ctx := context.Background()
	layout := loader.Layout{DBs: 1, Tables: 4}
	sourcetest.WriteMySQL(b, m.DSN(), layout, sourcetest.CelebrityEdges(celeb, firstFan, fans))
	src, err := loader.Open(ctx, loader.Config{Kind: "mysql", Layout: layout,
		MySQL: []loader.MySQLServer{{DSN: m.DSN(), First: 0, Last: 0}}}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	s := fillServer(b, src, func(c *Config) { c.LoadTimeout = 10 * time.Second; c.SourceListLimit = limit })
	c := newTestClient(s)
	if got := do(s, c, "HLEN", "7.follower"); got != ":"+strconv.Itoa(fans)+"\r\n" {
		b.Fatalf("HLEN = %q", got)
	}
	for _, mode := range []string{"cached-fan", "old-fan-kept", "old-fan-asked"} {
		b.Run(mode, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := range b.N {
				fan := firstFan + fans - 1 - i%limit // the cached part
				switch mode {
				case "old-fan-kept":
					fan = firstFan
				case "old-fan-asked":
					fan = firstFan + i%(fans-limit)
				}
				start := time.Now()
				got := do(s, c, "HEXISTS", "7.follower", strconv.Itoa(fan))
				lat = append(lat, time.Since(start))
				if got != ":1\r\n" {
					b.Fatalf("HEXISTS 7.follower %d = %q", fan, got)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
