package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/relcache/relcache/internal/bench"
)

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

func benchTxCmd() *cobra.Command {
	cfg := bench.TxConfig{Conns: 50, Sets: 5, Keys: 100000, Duration: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Run transactions (MULTI, SETs, EXEC in one write) against one server and print transactions per second",
		Long: `Each connection sends MULTI, --sets SETs of 64-byte values to random keys and
EXEC in one write, waits for the replies, and starts again, for --duration.
Works against relcache and a stock Redis alike (scripts/bench-tx.sh runs
both, pinned, and reads their CPU time).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := bench.RunTx(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d transactions in %v: %.0f/s\n", n, cfg.Duration, float64(n)/cfg.Duration.Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:6380", "server address")
	f.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections")
	f.IntVar(&cfg.Sets, "sets", cfg.Sets, "SETs per transaction")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "keyspace")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long to run")
	return cmd
}

func benchPreludeCmd() *cobra.Command {
	cfg := bench.PreludeConfig{Conns: 50, Requests: 200000, Pipeline: 1, Keys: 100000}
	cmd := &cobra.Command{
		Use:   "prelude",
		Short: "GETs on connections that each first sent the --prelude commands, as a client library does at connect",
		Long: `Opens --conns connections; each sends the --prelude commands one at a time
(e.g. "CLIENT SETINFO lib-name x", "HGETALL h"), then all of them share
--requests GETs of key:<12 digits> (redis-benchmark -r's keys), --pipeline
per write. Prints GETs per second; scripts/bench-node-cost.sh (MIX=1) reads the
servers' CPU time around it. Works against relcache and a stock Redis.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, d, err := bench.RunPrelude(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d GETs in %v: %.0f/s\n", n, d, float64(n)/d.Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:6380", "server address")
	f.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections")
	f.Int64Var(&cfg.Requests, "requests", cfg.Requests, "GETs in all")
	f.IntVar(&cfg.Pipeline, "pipeline", cfg.Pipeline, "GETs per write")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "keyspace")
	f.StringArrayVar(&cfg.Prelude, "prelude", nil, "a command each connection sends first (repeat the flag for more)")
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

func benchCapacityCmd() *cobra.Command {
	var (
		cfg   bench.CapacityConfig
		mix   string
		out   string
		marks string
	)
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "Load a graph into one server, run a mixed workload, and report memory, throughput, latency and GC",
		Long: `Flushes the server, then loads a power-law follow graph (--users, --mean,
--seed, as gen-graph draws it; or --graph-file, an edge file read into memory)
into it: relcache by one SET of a client-built openhash array per user, Redis
(--target redis) by HSET of each user's follows. It reads INFO memory every 5%
of the users, counts the relations back (RELCARD / HLEN), then runs a mix of
requests for --duration on --conns connections:

  relcheck  RELCHECK a b1..b50          Redis: 100 HEXISTS in one pipeline
  relmulti  RELMULTI key 500 uids       Redis: HMGET key 500 fields
  relwho    RELWHO a x                  Redis: HKEYS, then HEXISTS per member
  hget      HGET key uid                (both: the compatibility path)
  relpair   RELCHECK a b                Redis: 2 HEXISTS in one pipeline
  reload    SET key <fresh array>       Redis: MULTI DEL, HSET ... EXEC
  follow    RELADD key XX TIMES uid t   Redis: HSET key uid t
            (--write follow: FOLLOW a b t, which needs serve --source)

With --rate 0 each connection sends as fast as answers come (peak
throughput; latency is service time). With --rate R requests are scheduled at
fixed intervals, spread over the connections; a request that falls due while
its connection still waits for an earlier answer is timed from its intended
start, so a stalled server is charged for every request it delayed
(coordinated omission, corrected as wrk2 does). The mix runs --warmup first
without recording latencies, as wrk2's calibration does. The workers speak
RESP on their own connections and allocate nothing per request, so the load
generator's garbage collector stays out of the numbers.

Prints Markdown tables: memory and bytes per relation after the load,
throughput and p50/p99/p99.9 per op, errors, and the server's INFO gc (n/a
on Redis). With --out DIR it also writes report.json and the plots
latency.png, rss.png and bytes_by_size.png.

With --proxy ADDR the load, the count and the mix go through a relcache
proxy there, as a relation service's requests would, and --addr lists the
nodes behind it (comma-separated): they are flushed, and their INFO memory
is summed (GC: counts summed, pauses the worst node's).`,
		Example: `  relcache serve --save "" --source none &
  relcache-bench capacity --users 1000000 --mean 100 --duration 60s --out capacity/relcache
  relcache-bench capacity --addr 127.0.0.1:6379 --target redis --users 100000 --out capacity/redis
  relcache-bench capacity --proxy 127.0.0.1:22121 --addr 127.0.0.1:6381,127.0.0.1:6382 --users 1000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := bench.ParseMix(mix)
			if err != nil {
				return err
			}
			cfg.Mix = m
			if cmd.Flags().Changed("graph-file") && !cmd.Flags().Changed("users") {
				cfg.Users = 0
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			bars := &benchBars{w: cmd.ErrOrStderr()}
			cfg.Progress = bars.progress
			if marks != "" {
				cfg.Progress = markRun(bars.progress, marks, int(cfg.Warmup/time.Second))
			}
			rep, err := bench.Capacity(ctx, cfg)
			bars.finish()
			if err != nil {
				return err
			}
			if err := rep.WriteMarkdown(cmd.OutOrStdout()); err != nil {
				return err
			}
			if out != "" {
				if err := rep.WriteFiles(out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\nreport.json and plots written to %s\n", out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", "127.0.0.1:6380", "address of the server under test (it is flushed); with --proxy, the nodes behind it, comma-separated")
	f.StringVar(&cfg.Proxy, "proxy", "", "a relcache proxy in front of the --addr nodes to send the load and the mix through")
	f.StringVar(&cfg.Target, "target", "relcache", "what the server is: relcache (arrays, REL*) or redis (hashes)")
	f.IntVar(&cfg.Users, "users", 100_000, "users in the generated graph")
	f.IntVar(&cfg.Mean, "mean", 100, "mean follows per user")
	f.Uint64Var(&cfg.Seed, "seed", 1, "graph and workload seed")
	f.Uint64Var(&cfg.UIDBase, "uid-base", 1_000_000_000, "uid of user 0")
	f.BoolVar(&cfg.UIDSpread, "uid-spread", false, "ten-digit uids spread over [10^9, 10^10) by an invertible map (5-byte slots) instead of uid-base+i (below 2^32 here: 4-byte slots); the same graph otherwise")
	f.BoolVar(&cfg.Fit, "fit", false, "size the arrays as the server sizes the ones it builds (RELLOAD, fills): fitted to the Go allocator's size classes, so a SET's copy costs what a server-built list does")
	f.StringVar(&cfg.SetFormat, "set-format", "fast", "format of the arrays the tool builds and SETs, as the server's rel-set-format: fast (version 1) or compact (version 3 where smaller)")
	f.StringVar(&cfg.GraphFile, "graph-file", "", "edge file (gen-graph's format) to load instead of generating; read whole into memory")
	f.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the mixed run")
	f.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "the mix runs this long first, unrecorded (errors excepted)")
	f.Float64Var(&cfg.Rate, "rate", 0, "requests per second over all connections; 0 = open loop")
	f.IntVar(&cfg.Conns, "conns", 16, "connections of the mixed run")
	f.StringVar(&mix, "mix", bench.DefaultMix, "op=weight list of the mixed run")
	f.StringVar(&cfg.Write, "write", "reladd", `what relcache gets for a "follow" op: reladd (RELADD key XX TIMES, for a pure cache) or follow (FOLLOW, needs a source)`)
	f.Float64Var(&cfg.Zipf, "zipf", 0, "draw the users the mix reads from a Zipf distribution with this exponent (> 1; user 0 hottest); 0: uniformly")
	f.BoolVar(&cfg.Reuse, "reuse", false, "do not flush or load: the server holds this graph (same --users, --mean, --seed, --uid-base) from an earlier run")
	f.StringVar(&out, "out", "", "directory for report.json and the PNG plots")
	f.StringVar(&marks, "marks", "", `append "start" to this file when the recorded run starts (after the warm-up) and "end" when it ends, for a script that reads the servers' CPU time over it (to the second)`)
	return cmd
}

// markRun wraps a progress callback to append "start" to path once the
// run's warm-up (warm seconds) is over and "end" when the run is.
func markRun(next func(string, int, int), path string, warm int) func(string, int, int) {
	started := false
	mark := func(s string) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "relcache-bench: marks:", err)
			return
		}
		fmt.Fprintln(f, s)
		f.Close()
	}
	return func(phase string, done, total int) {
		next(phase, done, total)
		if phase != "run" {
			return
		}
		if !started && done >= warm {
			started = true
			mark("start")
		}
		if done == total {
			mark("end")
		}
	}
}

// benchBars shows a progress bar per phase on w when it is a terminal.
type benchBars struct {
	w     io.Writer
	phase string
	bar   *progressbar.ProgressBar // nil off a terminal
}

func (b *benchBars) progress(phase string, done, total int) {
	if phase != b.phase {
		b.finish()
		b.phase = phase
		b.bar = newBenchBar(b.w, phase, total)
	}
	if b.bar != nil {
		b.bar.Set(done)
	}
}

func (b *benchBars) finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}

func newBenchBar(w io.Writer, phase string, total int) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	unit := "users"
	if phase == "run" {
		unit = "s"
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(phase),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish(),
	)
}
