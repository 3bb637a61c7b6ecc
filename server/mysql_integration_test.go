package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/loader"
)

// sampleGraph reads testdata/sample-graph.tsv into following and fan maps.
func sampleGraph(t *testing.T) (users []uint64, following, fans map[uint64]map[uint64]uint32) {
	t.Helper()
	f, err := os.Open("../testdata/sample-graph.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	following, fans = map[uint64]map[uint64]uint32{}, map[uint64]map[uint64]uint32{}
	add := func(m map[uint64]map[uint64]uint32, a, b uint64, tm uint32) {
		if m[a] == nil {
			m[a] = map[uint64]uint32{}
		}
		m[a][b] = tm
	}
	seen := map[uint64]bool{}
	rd := loader.NewEdgeReader(f, loader.EdgeReaderOptions{})
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		add(following, e.From, e.To, e.Time)
		add(fans, e.To, e.From, e.Time)
		for _, u := range []uint64{e.From, e.To} {
			if !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	slices.Sort(users)
	return users, following, fans
}

// TestLazyFillFromShardedMariaDB is the loader's end-to-end test on real
// MariaDB: the sample graph imported by `relcache import` into 4 databases ×
// 4 tables on two mariadbd servers, served by lazy fill, checked against the
// file; then a herd on one cold key, and a shard that freezes and dies.
func TestLazyFillFromShardedMariaDB(t *testing.T) {
	m1, m2 := relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t)
	source := []string{"--source", "mysql", "--source-dbs", "4", "--source-tables", "4",
		"--source-mysql", "0-1=" + m1.DSN(), "--source-mysql", "2-3=" + m2.DSN()}
	bin := relcachetest.Binary(t)
	for _, step := range [][]string{{"schema"}, {"import", "../testdata/sample-graph.tsv", "--strict"}} {
		out, err := exec.Command(bin, append(step, source...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("relcache %s: %v\n%s", step[0], err, out)
		}
	}
	users, following, fans := sampleGraph(t)
	// The driver's own I/O timeout well past the load deadline, so a
	// paused shard is always a load timeout (at 2s each, whichever fired
	// first decided, and CI once saw "invalid connection" instead).
	p := relcachetest.Start(t, append(source, "--load-timeout", "2s", "--source-query-timeout", "10s",
		"--load-breaker-failures", "2", "--load-breaker-cooldown", "300ms")...)
	ctx := context.Background()
	c := client(t, p.Addr, func(o *redis.Options) { o.PoolSize = 64; o.ReadTimeout = 30 * time.Second })
	rng := rand.New(rand.NewPCG(7, 8))
	touched := map[uint64]bool{}
	follows := func(a, b uint64) bool { _, ok := following[a][b]; return ok }
	byTime := func(a uint64) []uint64 {
		out := make([]uint64, 0, len(following[a]))
		for v := range following[a] {
			out = append(out, v)
		}
		slices.SortFunc(out, func(x, y uint64) int {
			if tx, ty := following[a][x], following[a][y]; tx != ty {
				return int(ty) - int(tx)
			}
			return int(x - y)
		})
		return out
	}

	// Correctness, by lazy fill only.
	for q := range 200 {
		a := users[rng.IntN(len(users))]
		bs := make([]uint64, 2+rng.IntN(10))
		for i := range bs {
			if i%2 == 0 && len(following[a]) > 0 {
				bs[i] = byTime(a)[rng.IntN(len(following[a]))]
			} else {
				bs[i] = users[rng.IntN(len(users))]
			}
		}
		touched[a] = true
		codes, err := c.Do(ctx, args("RELCHECK", a, "BATCH", bs)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELCHECK: %v", q, err)
		}
		for i, b := range bs {
			touched[b] = true
			want := int64(0)
			if follows(a, b) {
				want |= 1
			}
			if follows(b, a) {
				want |= 2
			}
			if codes[i] != want {
				t.Fatalf("query %d: RELCHECK %d %d = %d, want %d", q, a, b, codes[i], want)
			}
		}
		hits, err := c.Do(ctx, args("RELMULTI", key(a), bs)...).Int64Slice()
		if err != nil {
			t.Fatalf("query %d: RELMULTI: %v", q, err)
		}
		for i, b := range bs {
			if (hits[i] == 1) != follows(a, b) {
				t.Fatalf("query %d: RELMULTI %d %d = %d", q, a, b, hits[i])
			}
		}
		x := bs[1]
		who, err := c.Do(ctx, args("RELWHO", a, x)...).StringSlice()
		if err != nil {
			t.Fatalf("query %d: RELWHO: %v", q, err)
		}
		var want []string
		for _, m := range byTime(a) {
			touched[m] = true // RELWHO filled m's following list
			if follows(m, x) {
				want = append(want, strconv.FormatUint(m, 10))
			}
		}
		if len(who)+len(want) > 0 && !slices.Equal(who, want) {
			t.Fatalf("query %d: RELWHO %d %d = %v, want %v", q, a, x, who, want)
		}
		all, err := c.HGetAll(ctx, fmt.Sprint(x, ".follower")).Result()
		if err != nil || len(all) != len(fans[x]) {
			t.Fatalf("query %d: HGETALL %d.follower: %d fields (%v), want %d", q, x, len(all), err, len(fans[x]))
		}
		for fan, tm := range fans[x] {
			if all[strconv.FormatUint(fan, 10)] != strconv.FormatUint(uint64(tm), 10) {
				t.Fatalf("query %d: HGETALL %d.follower: fan %d", q, x, fan)
			}
		}
	}

	// cold picks an untouched user whose lists live on server m (m1 holds
	// databases 0-1: uid % 16 < 8).
	cold := func(onFirst bool) uint64 {
		for _, u := range users {
			if !touched[u] && (u%16 < 8) == onFirst && len(following[u]) > 0 {
				touched[u] = true
				return u
			}
		}
		t.Fatal("no cold user left")
		return 0
	}

	// A herd: 500 concurrent requests for one cold key, one SELECT.
	herd := cold(true)
	before := m1.Selects()
	var wg sync.WaitGroup
	errs := make(chan error, 500)
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := c.Do(ctx, "RELCARD", key(herd)).Int64()
			if err == nil && n != int64(len(following[herd])) {
				err = fmt.Errorf("RELCARD = %d, want %d", n, len(following[herd]))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := m1.Selects() - before; n != 1 {
		t.Fatalf("500 concurrent misses on one key made %d SELECTs, want 1", n)
	}

	// A shard that stops answering (SIGSTOP: packets unanswered, not
	// refused): its users get LOADFAIL by the deadline; the other
	// server's users keep working.
	m2.Pause()
	loadFail := func(u uint64) string {
		start := time.Now()
		err := c.Do(ctx, "RELCARD", key(u)).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "LOADFAIL relation_0") {
			t.Fatalf("RELCARD %d on a dead shard: %v", u, err)
		}
		// Bounded, not timed: a 2s deadline; 10s means it hung.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("LOADFAIL took %v", d)
		}
		return err.Error()
	}
	t.Log(loadFail(cold(false)))
	if n, err := c.Do(ctx, "RELCARD", key(cold(true))).Int64(); err != nil || n <= 0 {
		t.Fatalf("a user on the live shard: %d, %v", n, err)
	}
	m2.Resume()
	// Killed outright: refused connections, the breaker opens.
	m2.Stop()
	for range 3 {
		t.Log(loadFail(cold(false)))
	}
	m2.Restart()
	// After the cooldown a probe closes the breaker and loads succeed.
	var last error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		u := cold(false)
		var n int64
		if n, last = c.Do(ctx, "RELCARD", key(u)).Int64(); last == nil {
			if n != int64(len(following[u])) {
				t.Fatalf("after restart RELCARD %d = %d, want %d", u, n, len(following[u]))
			}
			checkLoaderMetrics(t, p.AdminAddr)
			return
		}
	}
	t.Fatalf("loads never recovered after the shard restarted: %v", last)
}

// checkLoaderMetrics scrapes /metrics after the fault drill: loads and the
// timeout counted, errors counted against the frozen and killed server's
// shards only, a breaker gauge per shard, a latency histogram.
func checkLoaderMetrics(t *testing.T, admin string) {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`relcache_load_breaker_state{shard="relation_00"} 0`,
		`relcache_load_duration_seconds_count `,
		`relcache_load_timeouts_total `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "relcache_load_errors_total{") && !strings.Contains(line, "relation_02") && !strings.Contains(line, "relation_03") {
			t.Errorf("errors counted against a live shard: %s", line)
		}
		if line == "relcache_loads_total 0" || line == "relcache_load_timeouts_total 0" {
			t.Errorf("not counted: %s", line)
		}
	}
}
