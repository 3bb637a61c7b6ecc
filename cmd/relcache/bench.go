package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/relcache/relcache/internal/bench"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generators that measure relcache beside a stock Redis",
	}
	cmd.AddCommand(benchRelationsCmd(), benchSnapshotCmd())
	return cmd
}

func benchRelationsCmd() *cobra.Command {
	var cfg bench.Config
	cmd := &cobra.Command{
		Use:   "relations",
		Short: "Load a synthetic follow graph into relcache and Redis and compare memory, batch checks and list loads",
		Long: `Builds a power-law follow graph, loads it into relcache (one SET of a
client-built openhash array per user) and into Redis (one hash per user, the
layout relcache replaces), then measures with the same client in the same run:
memory per relation, RELMULTI vs HMGET batches, RELCHECK vs two HEXISTS, and
loading a big list (alone, and its effect on other clients' latency).
Both servers are flushed first. Prints a Markdown report.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			return bench.Relations(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.RelcacheAddr, "addr", "127.0.0.1:6380", "relcache address")
	f.StringVar(&cfg.RedisAddr, "redis-addr", "", "stock Redis address to compare with (empty: relcache only)")
	f.IntVar(&cfg.Users, "users", 20000, "users in the graph")
	f.IntVar(&cfg.Mean, "mean", 300, "mean follows per user")
	f.Uint64Var(&cfg.Seed, "seed", 1, "graph seed")
	f.Uint64Var(&cfg.UIDBase, "uid-base", 1_000_000_000, "uid of user 0; 0 makes keys redis-benchmark's __rand_int__ can hit")
	f.DurationVar(&cfg.Duration, "duration", 0, "length of each throughput measurement (default 5s)")
	f.IntVar(&cfg.Batch, "batch", 500, "uids per membership batch")
	f.IntSliceVar(&cfg.Conns, "conns", []int{1, 8, 50}, "connection counts for the batch test")
	f.IntVar(&cfg.ListSize, "list-size", 3000, "members of the list-load test")
	return cmd
}

func benchSnapshotCmd() *cobra.Command {
	var cfg bench.SnapshotConfig
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Measure BGSAVE on relcache and Redis holding the same relation arrays",
		Long: `Loads one openhash array per user of a synthetic follow graph into relcache
and, as plain strings with the same bytes, into Redis, then measures each
server's BGSAVE (duration, MB/s, keys/s) and the read latency of other
clients during it against the same reads with no save. Both servers are
flushed first. Restart times need the processes: scripts/bench-snapshot.sh.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			return bench.Snapshot(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.RelcacheAddr, "addr", "127.0.0.1:6380", "relcache address")
	f.StringVar(&cfg.RedisAddr, "redis-addr", "", "stock Redis address to compare with (empty: relcache only)")
	f.IntVar(&cfg.Users, "users", 100000, "users (keys) in the graph")
	f.IntVar(&cfg.Mean, "mean", 200, "mean follows per user")
	f.Uint64Var(&cfg.Seed, "seed", 1, "graph seed")
	f.Uint64Var(&cfg.UIDBase, "uid-base", 1_000_000_000, "uid of user 0")
	f.IntVar(&cfg.Conns, "conns", 8, "reading clients")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the no-save measurement")
	return cmd
}
