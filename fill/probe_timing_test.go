package fill

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
)

// BenchmarkKnown is the cost of an answer Resolve already has: the second
// HEXISTS of an old fan. It reports the side table's memory per answer.
func BenchmarkKnown(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b, newSource(b, capEdges(20)), func(c *Config) { c.ListLimit = 5 })
	if err := e.Fill(ctx, keys("7.follower")); err != nil {
		b.Fatal(err)
	}
	v, _ := e.cfg.Store.Peek([]byte("7.follower"))
	set, err := openhash.Open(v.Value)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Resolve(ctx, []byte("7.follower"), []uint64{100}); err != nil {
		b.Fatal(err)
	}
	key := []byte("7.follower")
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, member, ok := e.Known(key, &set, 100); !ok || !member {
				b.Fatal(member, ok)
			}
		}
	})
	b.Run("memory", func(b *testing.B) {
		uids := make([]uint64, probeAnswers)
		found := make([]loader.Member, probeAnswers/2)
		for i := range uids {
			uids[i] = uint64(1_000_000 + i)
		}
		for i := range found {
			found[i] = loader.Member{UID: uids[2*i], Time: 1}
		}
		// 16 lists of probeAnswers answers each, half of them members.
		const lists = 16
		var before, after runtime.MemStats
		fresh := newEngine(b, nil, nil) // its side table starts empty
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range lists {
			fresh.remember(strconv.Itoa(i)+".follower", set.Identity(), e.gen(key).Load(), uids, found)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(fresh)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(lists*probeAnswers), "B/answer")
	})
}
