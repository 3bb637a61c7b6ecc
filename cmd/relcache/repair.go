package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/relcache/relcache/loader"
)

const (
	// repairShownProblems is how many one-sided edges repair names on
	// stderr; the summary counts all.
	repairShownProblems = 100
	// repairReportEvery is how often repair prints a progress line when
	// stderr is not a terminal.
	repairReportEvery = 5 * time.Second
)

func repairCmd() *cobra.Command {
	s := defaultSettings()
	var (
		configPath string
		dryRun     bool
		batch      int
	)
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Find and fix edges whose two rows in the source disagree",
		Long: `Every follow edge is stored twice: a following row in the follower's shard
and a follower row in the followee's. repair reads every row of both kinds,
across all shards, and finds the edges whose rows disagree: a following row
without its follower row, a follower row without its following row, or two
rows with different times. It fixes each toward the following row, which is
written first and is what FOLLOW/UNFOLLOW answered: the follower row is
written, given the following row's time, or deleted. A fix re-reads both rows
under the edge's lock (the one FOLLOW takes in the database), so running it
beside live servers never undoes a write, and it is logged in the journal so
that a server restarting from a snapshot drops the lists it touched.

With --dry-run it only reports. The first 100 one-sided edges are named on
stderr; the summary on stdout counts all. A progress bar shows on a
terminal; otherwise a progress line goes to stderr every 5 seconds.

Tables are read in primary-key order a page at a time, and each row's other
half is looked up with the others of its page in one query per --batch rows,
so the cost is about two reads of every row.

The source is chosen by the same settings as serve's (--source, --source-path
in --dir, --source-dbs, --source-tables, --source-mysql ...), as flags or
from --config.`,
		Example: `  relcache repair --dry-run --config relcache.toml
  relcache repair --dir /var/lib/relcache`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || batch > 10_000 {
				return fmt.Errorf("--batch %d: want 1 to 10000", batch)
			}
			cfg, err := resolveSource(configPath, cmd.Flags(), "repair")
			if err != nil {
				return err
			}
			// Opening an SQLite source creates the file: a mistyped --dir
			// would report a clean, empty source.
			if cfg.Kind == loader.SourceSQLite || cfg.Kind == "" {
				if _, err := os.Stat(cfg.Path); err != nil {
					return fmt.Errorf("repair: the SQLite source: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			src, err := loader.Open(ctx, cfg, false)
			if err != nil {
				return fmt.Errorf("repair: open the source: %w", err)
			}
			defer src.Close()
			r := repairRun{out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr()}
			return r.run(ctx, src, loader.RepairOptions{DryRun: dryRun, Batch: batch})
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "TOML file with settings (keys are the flag names; serve's file works)")
	f.StringVar(&s.Dir, "dir", s.Dir, "directory a relative --source-path is taken in (serve's --dir)")
	f.BoolVar(&dryRun, "dry-run", false, "report one-sided edges, change nothing")
	f.IntVar(&batch, "batch", 500, "rows looked up per query")
	s.sourceSettings.bind(f)
	return cmd
}

// repairRun is one `relcache repair`: progress on stderr, summary on
// stdout.
type repairRun struct {
	out, errw io.Writer
	bar       *progressbar.ProgressBar // nil off a terminal
	shown     int
}

func (r *repairRun) run(ctx context.Context, src *loader.SQL, opts loader.RepairOptions) error {
	start := time.Now()
	total, err := src.RowEstimate(ctx)
	if err != nil {
		total = -1 // a bar without a total; the repair itself may still work
	}
	r.bar = newProgressBar(r.errw, "repair", "rows", total)
	var lastLine time.Time
	var seen int64
	opts.Progress = func(rows int64, table string) {
		if r.bar != nil {
			r.bar.Describe("repair " + table)
			r.bar.Add64(rows - seen)
			seen = rows
			return
		}
		if now := time.Now(); now.Sub(lastLine) >= repairReportEvery {
			lastLine = now
			of := ""
			if total >= 0 {
				of = fmt.Sprintf(" of about %d", total)
			}
			fmt.Fprintf(r.errw, "repair: %d rows%s checked, reading %s\n", rows, of, table)
		}
	}
	opts.Found = r.report
	stats, err := src.Repair(ctx, opts)
	if r.bar != nil {
		r.bar.Finish()
	}
	fmt.Fprintf(r.out, "following rows:    %d\nfollower rows:     %d\nfollower missing:  %d\nfollowing missing: %d\ntime differs:      %d\none-sided edges:   %d\n",
		stats.FollowingRows, stats.FollowerRows, stats.FollowerMissing, stats.FollowingMissing, stats.TimeDiffers, stats.OneSided())
	if opts.DryRun {
		fmt.Fprintf(r.out, "fixed:             0 (dry run: nothing changed)\n")
	} else {
		fmt.Fprintf(r.out, "fixed:             %d\n", stats.Fixed)
	}
	fmt.Fprintf(r.out, "seconds:           %.2f\n", time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("repair: %w (the edges fixed before it stay fixed; running it again is safe)", err)
	}
	return nil
}

// report names a one-sided edge on stderr, above the bar if there is one.
func (r *repairRun) report(p loader.Problem) {
	r.shown++
	printCapped(r.errw, r.bar, r.shown, repairShownProblems, p.String,
		fmt.Sprintf("more than %d one-sided edges: the rest are not named; the summary counts them", repairShownProblems))
}
