package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/openhash"
)

// BenchmarkBifollow weighs the two ways to serve a bi-follow list (issue
// 17): computed when read (what relcache does: U's following list plus one
// probe of each member's list) against a stored copy that writers would
// maintain, read as any stored set. U follows 5000 users, each following
// 200, and half of them follow U back. bytes/user is what the stored copy
// would cost in memory; the computed list costs none between reads.
func BenchmarkBifollow(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	s.slowlog.threshold.Store(-1)
	const u, follows, theirs = 1, 5000, 200
	load := func(key string, uids []uint64, times []uint32) {
		args := []string{"RELLOAD", key, "TIMES"}
		for i, m := range uids {
			args = append(args, strconv.FormatUint(m, 10), strconv.FormatUint(uint64(times[i]), 10))
		}
		if got := do(s, c, args...); got != ":"+strconv.Itoa(len(uids))+"\r\n" {
			b.Fatalf("RELLOAD %s: %q", key, got)
		}
	}
	var uids, mutual []uint64
	var times, mutualTimes []uint32
	for i := range follows {
		m := uint64(1_000_000_000 + i*7919)
		uids, times = append(uids, m), append(times, 1_600_000_000+uint32(i))
		var theirUIDs []uint64
		var theirTimes []uint32
		for j := range theirs - 1 {
			theirUIDs = append(theirUIDs, uint64(2_000_000_000+j*104729+i))
			theirTimes = append(theirTimes, 1_600_000_000+uint32(j))
		}
		if i%2 == 0 {
			theirUIDs = append(theirUIDs, u)
			theirTimes = append(theirTimes, 1_700_000_000+uint32(i))
			mutual, mutualTimes = append(mutual, m), append(mutualTimes, 1_700_000_000+uint32(i))
		}
		load(strconv.FormatUint(m, 10)+".following", theirUIDs, theirTimes)
	}
	load("1.following", uids, times)
	load("stored", mutual, mutualTimes)
	stored, _ := s.store.Peek([]byte("stored"))
	for _, bc := range []struct{ name, key string }{{"computed", "1.bifollow"}, {"stored", "stored"}} {
		args := [][]byte{[]byte("RELMEMBERS"), []byte(bc.key)}
		b.Run(bc.name+"/RELMEMBERS-5000-follows", func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				c.out = c.out[:0]
				now = s.dispatch(c, args, now)
			}
			if string(c.out[:6]) != "*2500\r" {
				b.Fatalf("%s: %q", bc.key, c.out[:16])
			}
			bytes := 0
			if bc.name == "stored" {
				bytes = len(stored.Value)
			}
			b.ReportMetric(float64(bytes), "bytes/user")
		})
	}
	set, _ := openhash.Open(stored.Value)
	b.Logf("stored copy: %d members in %d bytes (%.1f B/member)", set.Count(), len(stored.Value), float64(len(stored.Value))/float64(set.Count()))
}
