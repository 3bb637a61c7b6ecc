package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/loader"
)

// genGraphConfig is what `relcache gen-graph` draws.
type genGraphConfig struct {
	Users int
	Mean  int
	Seed  uint64
	Base  uint64
}

func genGraphCmd() *cobra.Command {
	c := genGraphConfig{Users: 3000, Mean: 20, Seed: 1, Base: 1_000_000_000}
	var out string
	cmd := &cobra.Command{
		Use:   "gen-graph",
		Short: "Write a synthetic power-law follow graph as an edge file for import",
		Long: `Writes a synthetic follow graph as TSV lines "fromuid<TAB>touid<TAB>addtime",
the form "relcache import" reads. Follow counts follow a power law with the
given mean (most users follow a few, some follow thousands), and follows go
mostly to popular users, so fan counts are heavy-tailed too. User i has uid
--base + i. No one follows themself and no edge repeats.

The graph is the one "relcache bench relations" draws for the same --seed,
--users, --mean and --base (its --uid-base): the same seed always gives the
same file. It is written user by user, so graphs far bigger than memory are
fine (--users 515000 --mean 20 is 10M edges, 330 MB, in about 10 s).`,
		Example: `  relcache gen-graph --users 3000 --mean 20 --seed 1 --out graph.tsv
  relcache gen-graph --users 50000 | relcache import -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "-" || out == "" {
				st, err := writeGraph(cmd.OutOrStdout(), c)
				if err == nil {
					fmt.Fprintln(cmd.ErrOrStderr(), st)
				}
				return err
			}
			return writeGraphFile(out, c, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Users, "users", c.Users, "users in the graph")
	f.IntVar(&c.Mean, "mean", c.Mean, "mean follows per user")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "graph seed: the same seed gives the same graph")
	f.Uint64Var(&c.Base, "base", c.Base, "uid of user 0")
	f.StringVarP(&out, "out", "o", "-", `file to write ("-": standard output)`)
	return cmd
}

// graphStats sum up a written graph.
type graphStats struct {
	Users, Edges        int
	MaxFollows, MaxFans int
	MaxFansUID          uint64
}

func (s graphStats) String() string {
	return fmt.Sprintf("gen-graph: %d users, %d edges (mean %.1f follows), most follows %d, most fans %d (uid %d)",
		s.Users, s.Edges, float64(s.Edges)/float64(max(s.Users, 1)), s.MaxFollows, s.MaxFans, s.MaxFansUID)
}

func (c genGraphConfig) validate() error {
	switch {
	case c.Users < 2:
		return fmt.Errorf("--users %d: want at least 2", c.Users)
	case c.Mean < 1:
		return fmt.Errorf("--mean %d: want at least 1", c.Mean)
	case c.Base > math.MaxUint64-uint64(c.Users):
		return fmt.Errorf("--base %d: uids of %d users would pass 2^64", c.Base, c.Users)
	}
	return nil
}

// writeGraph writes the edge file of graph c to w.
func writeGraph(w io.Writer, c genGraphConfig) (graphStats, error) {
	st := graphStats{Users: c.Users}
	if err := c.validate(); err != nil {
		return st, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "# relcache gen-graph --users %d --mean %d --seed %d --base %d\nfromuid\ttouid\taddtime\n",
		c.Users, c.Mean, c.Seed, c.Base)
	fans := make([]uint32, c.Users)
	var line []byte
	err := graphgen.EachUser(c.Seed, c.Base, c.Users, c.Mean, func(u int, following []uint64, times []uint32) error {
		from := c.Base + uint64(u)
		for i, to := range following {
			line = loader.AppendEdge(line[:0], loader.Edge{From: from, To: to, Time: times[i]})
			if _, err := bw.Write(line); err != nil {
				return err
			}
			fans[to-c.Base]++
		}
		st.Edges += len(following)
		st.MaxFollows = max(st.MaxFollows, len(following))
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return st, fmt.Errorf("write graph: %w", err)
	}
	for i, n := range fans {
		if int(n) > st.MaxFans {
			st.MaxFans, st.MaxFansUID = int(n), c.Base+uint64(i)
		}
	}
	return st, nil
}

// writeGraphFile writes the graph to a temporary file beside path and
// renames it into place, so an interrupted run leaves no half graph.
func writeGraphFile(path string, c genGraphConfig, log io.Writer) (err error) {
	if err := c.validate(); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gen-graph: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	st, err := writeGraph(f, c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("gen-graph: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gen-graph: close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("gen-graph: %w", err)
	}
	fmt.Fprintf(log, "%s, written to %s\n", st, path)
	return nil
}
