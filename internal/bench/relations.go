package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/openhash"
)

// Config is what `relcache-bench relations` measures against.
type Config struct {
	RelcacheAddr string        // relcache under test
	RedisAddr    string        // the stock Redis to compare with; "" skips it
	Users        int           // users in the graph (default 20,000)
	Mean         int           // mean follows per user (default 300)
	Seed         uint64        // graph seed
	UIDBase      uint64        // uid of user 0 (the CLI default, 1,000,000,000, gives ten-digit uids)
	Duration     time.Duration // length of each throughput measurement (default 5s)
	Batch        int           // uids per membership batch (default 500)
	Conns        []int         // connection counts for the batch test (default 1, 8, 50)
	ListSize     int           // members of the list-load test (default 3000)
	Out          io.Writer     // where the report goes
}

func (c *Config) fill() {
	if c.Users == 0 {
		c.Users = 20000
	}
	if c.Mean == 0 {
		c.Mean = 300
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Batch == 0 {
		c.Batch = 500
	}
	if len(c.Conns) == 0 {
		c.Conns = []int{1, 8, 50}
	}
	if c.ListSize == 0 {
		c.ListSize = 3000
	}
}

// target is one server and how to speak the relation layout to it.
type target struct {
	name    string
	c       *redis.Client
	openhsh bool // relcache: arrays and REL*; Redis: hashes
}

func key(u uint64) string { return strconv.FormatUint(u, 10) + ".following" }

// Relations runs the four comparisons of the relation-commands issue and
// writes a Markdown report.
func Relations(ctx context.Context, cfg Config) error {
	cfg.fill()
	maxConns := 0
	for _, n := range cfg.Conns {
		maxConns = max(maxConns, n)
	}
	targets := []*target{{name: "relcache", openhsh: true,
		c: redis.NewClient(&redis.Options{Addr: cfg.RelcacheAddr, PoolSize: maxConns + 2, Protocol: 2, DisableIdentity: true})}}
	if cfg.RedisAddr != "" {
		targets = append(targets, &target{name: "redis",
			c: redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, PoolSize: maxConns + 2, Protocol: 2, DisableIdentity: true})})
	}
	for _, t := range targets {
		defer t.c.Close()
		if err := t.c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("ping %s: %w", t.name, err)
		}
	}
	w := cfg.Out
	start := time.Now()
	g := graphgen.New(cfg.Seed, cfg.UIDBase, cfg.Users, cfg.Mean)
	rels := g.Relations()
	fmt.Fprintf(w, "graph: %d users, %d relations (mean %.1f follows), built in %v\n\n",
		cfg.Users, rels, float64(rels)/float64(cfg.Users), time.Since(start).Round(time.Millisecond))

	// 1. Memory per relation.
	fmt.Fprintf(w, "### 1. Memory per relation\n\n| server | load time | used_memory growth | RSS growth | used_memory / relation | RSS / relation |\n|---|---|---|---|---|---|\n")
	for _, t := range targets {
		if err := t.c.FlushAll(ctx).Err(); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		used0, rss0, err := memory(ctx, t.c)
		if err != nil {
			return err
		}
		lt := time.Now()
		if err := load(ctx, t, g); err != nil {
			return fmt.Errorf("load %s: %w", t.name, err)
		}
		loadTime := time.Since(lt)
		time.Sleep(500 * time.Millisecond)
		used1, rss1, err := memory(ctx, t.c)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %v | %s | %s | %.1f B | %.1f B |\n", t.name, loadTime.Round(time.Millisecond),
			mib(used1-used0), mib(rss1-rss0), float64(used1-used0)/float64(rels), float64(rss1-rss0)/float64(rels))
	}

	// 2. Batch membership.
	fmt.Fprintf(w, "\n### 2. Batch membership: %d uids per request (RELMULTI vs HMGET)\n\n| server | connections | requests/s | checks/s | p50 | p99 |\n|---|---|---|---|---|---|\n", cfg.Batch)
	for _, n := range cfg.Conns {
		for _, t := range targets {
			r, err := run(ctx, n, cfg.Duration, nil, func(rng *rand.Rand) error {
				u := rng.IntN(cfg.Users)
				probe := g.Probe(rng, u, cfg.Batch)
				if t.openhsh {
					a := make([]any, 0, 2+len(probe))
					a = append(a, "RELMULTI", key(g.UID(u)))
					for _, p := range probe {
						a = append(a, p)
					}
					return t.c.Do(ctx, a...).Err()
				}
				fields := make([]string, len(probe))
				for i, p := range probe {
					fields[i] = strconv.FormatUint(p, 10)
				}
				return t.c.HMGet(ctx, key(g.UID(u)), fields...).Err()
			})
			if err != nil {
				return fmt.Errorf("batch on %s: %w", t.name, err)
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %s | %s |\n", t.name, n, r.rate, r.rate*float64(cfg.Batch), r.p(0.5), r.p(0.99))
		}
	}

	// 3. One relation: RELCHECK vs the two-HEXISTS pipeline.
	fmt.Fprintf(w, "\n### 3. Relation of a pair: RELCHECK a b vs a pipeline of HEXISTS a.following b, HEXISTS b.following a\n\n| server | connections | pairs/s | p50 | p99 |\n|---|---|---|---|---|\n")
	for _, t := range targets {
		r, err := run(ctx, 8, cfg.Duration, nil, relCheck(ctx, t, g))
		if err != nil {
			return fmt.Errorf("relcheck on %s: %w", t.name, err)
		}
		fmt.Fprintf(w, "| %s | 8 | %.0f | %s | %s |\n", t.name, r.rate, r.p(0.5), r.p(0.99))
	}

	// 4. Loading one big list, alone and under read load.
	fmt.Fprintf(w, "\n### 4. Loading one %d-member list: one SET of the array vs HSET of %d fields\n\n| server | command | server time per load | client time per load (p50) | p99 |\n|---|---|---|---|---|\n", cfg.ListSize, cfg.ListSize)
	list := RandomList(cfg.Seed, cfg.UIDBase, cfg.ListSize)
	times := make([]uint32, len(list))
	for i := range times {
		times[i] = 1_700_000_000 + uint32(i)
	}
	// The array is built once: a relation service builds it as it reads
	// the list from MySQL, and this benchmark measures the server.
	array, err := openhash.Build(nil, list, times, openhash.Options{Seed: 1})
	if err != nil {
		return err
	}
	for _, t := range targets {
		cmd := "hset"
		if t.openhsh {
			cmd = "set"
		}
		before, err := commandUsec(ctx, t.c, cmd)
		if err != nil {
			return err
		}
		const loads = 200
		r, err := runN(ctx, loads, func(rng *rand.Rand, i int) error {
			return loadList(ctx, t, fmt.Sprintf("biglist:%d", i), array, list, times)
		})
		if err != nil {
			return fmt.Errorf("list load on %s: %w", t.name, err)
		}
		after, err := commandUsec(ctx, t.c, cmd)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("HSET (%d fields)", len(list))
		if t.openhsh {
			name = "SET (client-built array)"
		}
		fmt.Fprintf(w, "| %s | %s | %.1f µs | %s | %s |\n", t.name, name, float64(after-before)/loads, r.p(0.5), r.p(0.99))
	}
	fmt.Fprintf(w, "\nRELCHECK latency of other clients (8 connections) while one client loads %d-member lists back to back:\n\n| server | loads running | pairs/s | p50 | p99 | p99.9 |\n|---|---|---|---|---|---|\n", cfg.ListSize)
	for _, t := range targets {
		for _, withLoads := range []bool{false, true} {
			var bg func(context.Context)
			if withLoads {
				bg = func(ctx context.Context) {
					for i := 0; ctx.Err() == nil; i++ {
						loadList(ctx, t, fmt.Sprintf("bglist:%d", i%50), array, list, times)
					}
				}
			}
			r, err := run(ctx, 8, cfg.Duration, bg, relCheck(ctx, t, g))
			if err != nil {
				return fmt.Errorf("relcheck under load on %s: %w", t.name, err)
			}
			fmt.Fprintf(w, "| %s | %v | %.0f | %s | %s | %s |\n", t.name, withLoads, r.rate, r.p(0.5), r.p(0.99), r.p(0.999))
		}
	}
	return nil
}

// relCheck is one pair lookup in each layout.
func relCheck(ctx context.Context, t *target, g *graphgen.Graph) func(*rand.Rand) error {
	n := len(g.Following)
	return func(rng *rand.Rand) error {
		a, b := g.UID(rng.IntN(n)), g.UID(rng.IntN(n))
		if t.openhsh {
			return t.c.Do(ctx, "RELCHECK", a, b).Err()
		}
		p := t.c.Pipeline()
		p.HExists(ctx, key(a), strconv.FormatUint(b, 10))
		p.HExists(ctx, key(b), strconv.FormatUint(a, 10))
		_, err := p.Exec(ctx)
		return err
	}
}

// load writes the whole graph: relcache gets one SET of a client-built array
// per user, Redis one HSET with all of the user's fields.
func load(ctx context.Context, t *target, g *graphgen.Graph) error {
	const chunk = 200
	for lo := 0; lo < len(g.Following); lo += chunk {
		p := t.c.Pipeline()
		for u := lo; u < min(lo+chunk, len(g.Following)); u++ {
			if t.openhsh {
				buf, err := openhash.Build(nil, g.Following[u], g.Times[u], openhash.Options{Seed: uint64(u)})
				if err != nil {
					return err
				}
				p.Set(ctx, key(g.UID(u)), buf, 0)
				continue
			}
			a := make([]any, 0, 2*len(g.Following[u]))
			for i, v := range g.Following[u] {
				a = append(a, v, g.Times[u][i])
			}
			p.HSet(ctx, key(g.UID(u)), a...)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func loadList(ctx context.Context, t *target, k string, array []byte, list []uint64, times []uint32) error {
	if t.openhsh {
		return t.c.Set(ctx, k, array, 0).Err()
	}
	a := make([]any, 0, 2*len(list))
	for i, v := range list {
		a = append(a, v, times[i])
	}
	p := t.c.Pipeline()
	p.Del(ctx, k)
	p.HSet(ctx, k, a...)
	_, err := p.Exec(ctx)
	return err
}

// result is a throughput run's outcome.
type result struct {
	rate float64 // operations per second
	h    *hdrhistogram.Histogram
}

// p renders quantile q (0..1) of the latencies. hdrhistogram-go's
// ValueAtQuantile takes a percentile (0..100); every caller here speaks in
// fractions, through p and at, so the two scales never meet.
func (r result) p(q float64) string {
	return time.Duration(r.at(q) * int64(time.Microsecond)).String()
}

// at is quantile q (0..1) in µs.
func (r result) at(q float64) int64 { return r.h.ValueAtQuantile(q * 100) }

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) } // 1µs..60s

// run drives op from n goroutines for d, with bg running alongside when not
// nil, and returns the rate and the latency histogram (µs).
func run(ctx context.Context, n int, d time.Duration, bg func(context.Context), op func(*rand.Rand) error) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var bgDone sync.WaitGroup
	if bg != nil {
		bgDone.Add(1)
		go func() { defer bgDone.Done(); bg(ctx) }()
	}
	var mu sync.Mutex // guards total, ops, firstErr
	total := newHist()
	var ops int64
	var firstErr error
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			h := newHist()
			var count int64
			var err error
			for ctx.Err() == nil {
				t0 := time.Now()
				if err = op(rng); err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
					break
				}
				err = nil
				h.RecordValue(time.Since(t0).Microseconds())
				count++
			}
			mu.Lock()
			defer mu.Unlock()
			total.Merge(h)
			ops += count
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	cancel()
	bgDone.Wait()
	return result{rate: float64(ops) / elapsed.Seconds(), h: total}, firstErr
}

// runN runs op count times on one connection and returns the latencies.
func runN(ctx context.Context, count int, op func(*rand.Rand, int) error) (result, error) {
	h := newHist()
	rng := rand.New(rand.NewPCG(1, 1))
	begin := time.Now()
	for i := range count {
		t0 := time.Now()
		if err := op(rng, i); err != nil {
			return result{}, err
		}
		h.RecordValue(time.Since(t0).Microseconds())
	}
	return result{rate: float64(count) / time.Since(begin).Seconds(), h: h}, nil
}

// memory reads used_memory and used_memory_rss from INFO memory.
func memory(ctx context.Context, c *redis.Client) (used, rss int64, err error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, 0, err
	}
	used, err = infoField(info, "used_memory")
	if err != nil {
		return 0, 0, err
	}
	rss, err = infoField(info, "used_memory_rss")
	return used, rss, err
}

// commandUsec reads the total server time spent in cmd from INFO
// commandstats.
func commandUsec(ctx context.Context, c *redis.Client, cmd string) (int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				return strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return 0, nil // never called yet
}

func infoField(info, name string) (int64, error) {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO has no %s", name)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// RandomList returns n distinct uids drawn from [base, base+9·10^9), a big
// user's list for the load tests.
func RandomList(seed, base uint64, n int) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	seen := make(map[uint64]bool, n)
	out := make([]uint64, 0, n)
	for len(out) < n {
		v := base + rng.Uint64N(9_000_000_000)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
