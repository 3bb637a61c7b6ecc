package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// benchBinary is the benchmark tools' own binary. They link plotting, font
// and PDF packages a server has no use for, so `relcache serve` ships
// without them and `relcache bench` runs them from there.
const benchBinary = "relcache-bench"

func benchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench [relations|snapshot|capacity|tx] [flags]",
		Short: "Load generators that measure relcache beside a stock Redis (runs relcache-bench)",
		Long: `Runs relcache-bench, the load generators, with the same arguments: it must
be installed next to this binary (make build builds both into bin/).
"relcache bench capacity --help" is "relcache-bench capacity --help".`,
		// Every argument, flags and --help included, is relcache-bench's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find this binary: %w", err)
			}
			path, err := benchPath(exe)
			if err != nil {
				return err
			}
			// Exec, not a child: relcache-bench gets the signals,
			// the terminal and the exit status as if run itself.
			if err := syscall.Exec(path, append([]string{path}, args...), os.Environ()); err != nil {
				return fmt.Errorf("bench: run %s: %w", path, err)
			}
			return nil
		},
	}
}

// benchPath is relcache-bench next to exe, the running relcache. Only there:
// one found on PATH could be another version.
func benchPath(exe string) (string, error) {
	path := filepath.Join(filepath.Dir(exe), benchBinary)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("bench: the benchmark tools are a separate binary, %s, and there is none next to %s: "+
				"build both with make build, or go build -o %s ./cmd/relcache-bench", benchBinary, exe, path)
		}
		return "", fmt.Errorf("bench: %w", err)
	}
	return path, nil
}
