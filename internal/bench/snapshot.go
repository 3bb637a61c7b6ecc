package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/openhash"
)

// SnapshotConfig is what `relcache-bench snapshot` measures against.
type SnapshotConfig struct {
	RelcacheAddr, RedisAddr string
	Users, Mean             int
	Seed, UIDBase           uint64
	Conns                   int           // reading clients (default 8)
	Duration                time.Duration // idle measurement (default 10s)
	Out                     io.Writer
}

// Snapshot loads the same relation arrays into relcache and (as plain
// strings, the same bytes) into Redis, then measures each server's
// background save — its duration and throughput — and the read latency
// other clients see while it runs, against the same reads with no save.
func Snapshot(ctx context.Context, cfg SnapshotConfig) error {
	if cfg.Conns == 0 {
		cfg.Conns = 8
	}
	if cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	w := cfg.Out
	start := time.Now()
	g := graphgen.New(cfg.Seed, cfg.UIDBase, cfg.Users, cfg.Mean)
	fmt.Fprintf(w, "graph: %d users, %d relations, built in %v\n\n", cfg.Users, g.Relations(), time.Since(start).Round(time.Millisecond))
	type server struct {
		name string
		c    *redis.Client
	}
	servers := []server{{"relcache", redis.NewClient(&redis.Options{Addr: cfg.RelcacheAddr, PoolSize: cfg.Conns + 4, DisableIdentity: true, ReadTimeout: time.Minute})}}
	if cfg.RedisAddr != "" {
		servers = append(servers, server{"redis", redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, PoolSize: cfg.Conns + 4, DisableIdentity: true, ReadTimeout: time.Minute})})
	}
	fmt.Fprintf(w, "| server | keys | data loaded | used_memory | BGSAVE | save MB/s | save keys/s | file | read | idle reads/s | idle p50 | idle p99 | during BGSAVE reads/s | p50 | p99 | p99 ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range servers {
		defer s.c.Close()
		if err := s.c.FlushAll(ctx).Err(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		bytes, err := loadArrays(ctx, s.c, g)
		if err != nil {
			return fmt.Errorf("load %s: %w", s.name, err)
		}
		used, _, err := memory(ctx, s.c)
		if err != nil {
			return err
		}
		reads := []struct {
			name string
			op   func(*rand.Rand) error
		}{{"GETRANGE 0 31", func(rng *rand.Rand) error {
			return s.c.GetRange(ctx, key(g.UID(rng.IntN(cfg.Users))), 0, 31).Err()
		}}}
		if s.name == "relcache" {
			reads = append(reads, struct {
				name string
				op   func(*rand.Rand) error
			}{"RELCHECK a b", relCheck(ctx, &target{c: s.c, openhsh: true}, g)})
		}
		for _, rd := range reads {
			idle, err := run(ctx, cfg.Conns, cfg.Duration, nil, rd.op)
			if err != nil {
				return fmt.Errorf("%s idle %s: %w", s.name, rd.name, err)
			}
			var saveTook time.Duration
			var saveErr error
			busyCtx, stop := context.WithCancel(ctx)
			go func() {
				saveTook, saveErr = bgsave(ctx, s.c)
				stop()
			}()
			busy, err := run(busyCtx, cfg.Conns, 24*time.Hour, nil, rd.op)
			if err != nil && busyCtx.Err() == nil {
				return fmt.Errorf("%s %s during BGSAVE: %w", s.name, rd.name, err)
			}
			if saveErr != nil {
				return fmt.Errorf("%s BGSAVE: %w", s.name, saveErr)
			}
			file := "-"
			if s.name == "relcache" {
				if n, err := infoInt(ctx, s.c, "persistence", "rdb_last_save_bytes"); err == nil {
					file = mib(n)
				}
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %v | %.0f | %.0f | %s | %s | %.0f | %s | %s | %.0f | %s | %s | %.2f |\n",
				s.name, cfg.Users, mib(bytes), mib(used), saveTook.Round(time.Millisecond),
				float64(bytes)/(1<<20)/saveTook.Seconds(), float64(cfg.Users)/saveTook.Seconds(), file,
				rd.name, idle.rate, idle.p(0.5), idle.p(0.99), busy.rate, busy.p(0.5), busy.p(0.99),
				float64(busy.at(0.99))/float64(max(1, idle.at(0.99))))
		}
	}
	return nil
}

// loadArrays SETs every user's openhash array; it returns the bytes sent.
func loadArrays(ctx context.Context, c *redis.Client, g *graphgen.Graph) (int64, error) {
	const chunk = 200
	var total int64
	for lo := 0; lo < len(g.Following); lo += chunk {
		p := c.Pipeline()
		for u := lo; u < min(lo+chunk, len(g.Following)); u++ {
			buf, err := openhash.Build(nil, g.Following[u], g.Times[u], openhash.Options{Seed: uint64(u)})
			if err != nil {
				return 0, err
			}
			total += int64(len(buf))
			p.Set(ctx, key(g.UID(u)), buf, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// bgsave starts a background save and waits for it to end, polling INFO
// every 10 ms; it returns how long it ran.
func bgsave(ctx context.Context, c *redis.Client) (time.Duration, error) {
	start := time.Now()
	if err := c.BgSave(ctx).Err(); err != nil {
		return 0, err
	}
	for {
		time.Sleep(10 * time.Millisecond)
		busy, err := infoInt(ctx, c, "persistence", "rdb_bgsave_in_progress")
		if err != nil {
			return 0, err
		}
		if busy == 0 {
			break
		}
	}
	took := time.Since(start)
	info, err := c.Info(ctx, "persistence").Result()
	if err != nil {
		return 0, err
	}
	if !strings.Contains(info, "rdb_last_bgsave_status:ok") {
		return 0, fmt.Errorf("BGSAVE failed")
	}
	return took, nil
}

func infoInt(ctx context.Context, c *redis.Client, section, field string) (int64, error) {
	info, err := c.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	return infoField(info, field)
}
