package server

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/relcache/relcache/openhash"
)

// BenchmarkSetRelSet is a SET of a client-built relation set with times
// (3000 members, a typical following list; 100,000, a large fan list)
// through dispatch, under each rel-verify mode: the check, the copy into
// the keyspace and the reply. Run against the commit before issue 14's fix
// it measures "header" as openhash.Validate alone.
func BenchmarkSetRelSet(b *testing.B) {
	for _, n := range []int{3000, 100_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 14))
		uids := make([]uint64, n)
		times := make([]uint32, n)
		for i := range uids {
			uids[i] = 1_000_000_000 + rng.Uint64N(9_000_000_000)
			times[i] = 1_300_000_000 + rng.Uint32N(500_000_000)
		}
		set, err := openhash.Build(nil, uids, times, openhash.Options{Seed: rng.Uint64()})
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []SetCheck{CheckHeader, CheckFull} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				s := newTestServer(b)
				s.cfg.RelVerify = mode
				c := newTestClient(s)
				defer c.conn.Close()
				args := [][]byte{[]byte("SET"), []byte("1000000001.following"), set}
				b.SetBytes(int64(len(set)))
				b.ReportAllocs()
				now := time.Now()
				for b.Loop() {
					c.out = c.out[:0]
					now = s.dispatch(c, args, now)
				}
				if string(c.out) != "+OK\r\n" {
					b.Fatalf("SET replied %q", c.out)
				}
			})
		}
	}
}
