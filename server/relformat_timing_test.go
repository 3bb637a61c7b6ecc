package server

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/threadcpu"
	"github.com/relcache/relcache/openhash"
)

// BenchmarkRelFormat is issue 20's speed bound for the array format:
// RELMULTI of 500 uids (half members) and RELCHECK of 50 pairs, in the
// server without the network, on 2000 cached lists of 300 ten-digit uids
// with follow times spread over 100M seconds, each loaded by SET of an
// array openhash.Build made in the format of each rel-set-format value
// (fast: version 1, Build's default; compact: version 3 where smaller), so
// one run measures what the setting trades. The file is self-contained
// so that the same benchmark runs on the commit before a format change.
func BenchmarkRelFormat(b *testing.B) {
	for _, f := range []SetFormat{FormatFast, FormatCompact} {
		b.Run("format="+f.String(), func(b *testing.B) { benchRelFormat(b, f.Version()) })
	}
}

func benchRelFormat(b *testing.B, version int) {
	const users, follows = 2000, 300
	s := newTestServer(b)
	c := newTestClient(s)
	rng := rand.New(rand.NewPCG(20, 2))
	uid := func(i int) uint64 { return 1_000_000_000 + uint64(i)*5_562_305_899%9_000_000_000 }
	lists := make([][]uint64, users)
	for u := range users {
		seen := map[int]bool{u: true}
		var times []uint32
		for len(lists[u]) < follows {
			v := rng.IntN(users)
			if seen[v] {
				continue
			}
			seen[v] = true
			lists[u] = append(lists[u], uid(v))
			times = append(times, 1_600_000_000+rng.Uint32N(100_000_000))
		}
		buf, err := openhash.Build(nil, lists[u], times, openhash.Options{Seed: rng.Uint64(), Version: version})
		if err != nil {
			b.Fatal(err)
		}
		if want := map[int]byte{0: 1, openhash.VersionSmallest: 3}[version]; buf[4] != want {
			b.Fatalf("Options.Version %d wrote format version %d, want %d", version, buf[4], want)
		}
		c.out = c.out[:0]
		s.dispatch(c, [][]byte{[]byte("SET"), fmt.Appendf(nil, "%d.following", uid(u)), buf}, time.Now())
		if len(c.out) == 0 || c.out[0] != '+' {
			b.Fatalf("SET: %q", c.out)
		}
	}
	check := [][]byte{[]byte("RELCHECK"), strconv.AppendUint(nil, uid(0), 10), []byte("BATCH")}
	for range 50 {
		check = append(check, strconv.AppendUint(nil, uid(rng.IntN(users)), 10))
	}
	multi := [][]byte{[]byte("RELMULTI"), fmt.Appendf(nil, "%d.following", uid(1))}
	for i := range 500 {
		v := uid(rng.IntN(users))
		if i%2 == 0 {
			v = lists[1][rng.IntN(follows)]
		}
		multi = append(multi, strconv.AppendUint(nil, v, 10))
	}
	for _, bc := range []struct {
		name string
		args [][]byte
	}{{"RELCHECK/50", check}, {"RELMULTI/500", multi}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, ok0 := threadcpu.Now()
			now := time.Now()
			for b.Loop() {
				c.out = c.out[:0]
				now = s.dispatch(c, bc.args, now)
			}
			// CPU time per op beside ns/op: on this shared machine wall
			// time also counts the time the thread waited for a core.
			if cpu1, ok1 := threadcpu.Now(); ok0 && ok1 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
