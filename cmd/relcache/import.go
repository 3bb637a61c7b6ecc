package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/relcache/relcache/loader"
)

// importShownBadLines is how many bad lines import names on stderr; past
// it only the summary counts them, so a file in the wrong format cannot
// bury the terminal.
const importShownBadLines = 100

func importCmd() *cobra.Command {
	s := defaultSettings()
	var (
		configPath string
		strict     bool
		batch      int
		addtime    uint32
	)
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Load follow edges from a CSV or TSV file into the source",
		Long: `Loads follow edges into the source (the tables relcache serve loads lists
from on a miss), creating its schema first if needed. FILE ("-": standard
input) has one edge a line:

  fromuid,touid[,addtime]

separated by a comma, or by tabs or spaces; addtime is Unix seconds (default
--addtime). Blank lines, lines starting with '#', and a header line
"fromuid,touid,addtime" are skipped. "relcache gen-graph" writes such files.

A bad line (not two uids and an optional time, a uid following itself, longer
than 1 KiB) is reported on stderr as "line N: reason" and skipped (the first
100 are named; the summary counts all); with --strict the import stops at the
first one, exit status 1, with every edge before it imported.

Importing is idempotent: an edge already in the source gets the file's time,
nothing else changes. Re-running an interrupted import, or importing the same
file twice, is safe (give --addtime to have lines without a time get the same
one each run).

The source is chosen by the same settings as serve's (--source, --source-path
in --dir, --source-dbs, --source-tables, ...), as flags or from --config, so
one TOML file serves all commands.

At the end it prints the edges imported, the bad lines, the seconds taken and
edges per second on stdout.`,
		Example: `  relcache import graph.tsv --dir /var/lib/relcache
  relcache gen-graph --users 100000 | relcache import - --config relcache.toml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if batch < 1 {
				return fmt.Errorf("--batch %d: want at least 1", batch)
			}
			cfg, err := resolveSource(configPath, cmd.Flags(), "import into")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			imp := importer{
				out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(),
				strict: strict, batch: batch,
				opts: loader.EdgeReaderOptions{DefaultTime: addtime, MaxUID: math.MaxInt64},
			}
			if !cmd.Flags().Changed("addtime") {
				imp.opts.DefaultTime = uint32(time.Now().Unix())
			}
			name, in, size := "standard input", cmd.InOrStdin(), int64(-1)
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				name, in = args[0], f
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					size = fi.Size()
				}
			}
			src, err := loader.Open(ctx, cfg, true)
			if err != nil {
				return fmt.Errorf("import: open the source: %w", err)
			}
			defer src.Close()
			return imp.run(ctx, src, name, in, size)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "TOML file with settings (keys are the flag names; serve's file works)")
	f.StringVar(&s.Dir, "dir", s.Dir, "directory a relative --source-path is taken in (serve's --dir)")
	f.BoolVar(&strict, "strict", false, "stop at the first bad line (exit status 1) instead of skipping it")
	f.IntVar(&batch, "batch", 10_000, "edges written to the source per batch")
	f.Uint32Var(&addtime, "addtime", 0, "follow time of lines without one, Unix seconds (default: when the import starts)")
	s.sourceSettings.bind(f)
	return cmd
}

// importer streams one edge file into a source.
type importer struct {
	out, errw io.Writer
	strict    bool
	batch     int
	opts      loader.EdgeReaderOptions

	imported, bad int
	bar           *progressbar.ProgressBar // nil off a terminal
}

func (im *importer) run(ctx context.Context, src *loader.SQL, name string, in io.Reader, size int64) (err error) {
	start := time.Now()
	byBytes := size >= 0
	if byBytes {
		im.bar = newProgressBar(im.errw, "import", "", size)
	} else {
		im.bar = newProgressBar(im.errw, "import", "edges", -1)
	}
	if im.bar != nil && byBytes {
		r := progressbar.NewReader(in, im.bar)
		in = &r
	}
	defer func() {
		if im.bar != nil {
			im.bar.Finish()
		}
		secs := time.Since(start).Seconds()
		fmt.Fprintf(im.out, "edges imported: %d\nbad lines:      %d\nseconds:        %.2f\nedges/s:        %.0f\n",
			im.imported, im.bad, secs, float64(im.imported)/max(secs, 1e-9))
		if err != nil && !im.strict && im.imported > 0 {
			err = fmt.Errorf("%w (%d edges were imported before it; re-running the import is safe)", err, im.imported)
		}
	}()

	pending := make([]loader.Edge, 0, im.batch)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := src.AddEdges(ctx, pending); err != nil {
			return fmt.Errorf("import %s: write %d edges: %w", name, len(pending), err)
		}
		im.imported += len(pending)
		if im.bar != nil && !byBytes {
			im.bar.Add(len(pending))
		}
		pending = pending[:0]
		return nil
	}
	er := loader.NewEdgeReader(in, im.opts)
	for {
		e, err := er.Next()
		var le *loader.LineError
		switch {
		case err == io.EOF:
			return flush()
		case errors.As(err, &le):
			im.bad++
			if im.strict {
				if err := flush(); err != nil {
					return err
				}
				return fmt.Errorf("import %s: %w; stopped there (--strict) with the %d edges before it imported", name, le, im.imported)
			}
			im.report(le)
			continue
		case err != nil:
			if ferr := flush(); ferr != nil {
				return errors.Join(fmt.Errorf("import %s: %w", name, err), ferr)
			}
			return fmt.Errorf("import %s: %w", name, err)
		}
		pending = append(pending, e)
		if len(pending) == im.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// report names a bad line on stderr, above the progress bar if there is one.
func (im *importer) report(le *loader.LineError) {
	printCapped(im.errw, im.bar, im.bad, importShownBadLines, le.Error,
		fmt.Sprintf("more than %d bad lines: the rest are skipped without a message; the summary counts them", importShownBadLines))
}

// printCapped prints the n-th (from 1) of a run of messages on w, above
// bar if there is one: the first limit as msg gives them, the next one
// overflow instead, then nothing, so that a flood cannot bury the
// terminal.
func printCapped(w io.Writer, bar *progressbar.ProgressBar, n, limit int, msg func() string, overflow string) {
	var line string
	switch {
	case n <= limit:
		line = msg()
	case n == limit+1:
		line = overflow
	default:
		return
	}
	if bar != nil {
		progressbar.Bprintln(bar, line)
		return
	}
	fmt.Fprintln(w, line)
}

// newProgressBar returns a bar on w if w is a terminal, else nil, named
// desc: counting units (e.g. "edges") out of total, or bytes if unit is
// "". A total < 0 is unknown: a spinner with a count.
func newProgressBar(w io.Writer, desc, unit string, total int64) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionFullWidth(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
	}
	if unit == "" {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return progressbar.NewOptions64(total, opts...)
}
