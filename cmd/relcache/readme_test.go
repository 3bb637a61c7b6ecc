package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestReadmeSessions runs the README's redis-cli sessions verbatim against
// the real binary and compares every line they print: the first two on
// `make run`'s server (the sample graph imported into the embedded SQLite
// source), the third on a pure cache (`--source none`), as the README
// says. A README example that stops working fails here, not for a new
// user.
func TestReadmeSessions(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not found (Debian package redis-tools)")
	}
	text, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := consoleBlocks(string(text))
	if len(blocks) != 3 {
		t.Fatalf("README.md has %d console blocks; this test runs 3 (two on make run's server, one on --source none): update it", len(blocks))
	}
	// make run: import the sample graph, then serve from that directory
	// (the default source, sqlite, in it).
	dir := t.TempDir()
	imp := exec.Command(relcachetest.Binary(t), "import", filepath.Join("..", "..", "testdata", "sample-graph.tsv"), "--dir", dir)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("relcache import: %v\n%s", err, out)
	}
	run := relcachetest.Start(t, "--dir", dir, "--source", "sqlite")
	pure := relcachetest.Start(t)
	for i, b := range blocks {
		p := run
		if i == 2 {
			p = pure
		}
		_, port, _ := strings.Cut(p.Addr, ":")
		for _, step := range b {
			args := strings.Fields(step.command)
			if args[0] != "redis-cli" {
				continue // curl and the like: not a session line
			}
			for j, a := range args {
				switch {
				case a == "6380":
					args[j] = port
				case len(a) >= 2 && a[0] == '"' && a[len(a)-1] == '"':
					args[j] = a[1 : len(a)-1] // the shell's quotes (no spaces inside in the README)
				}
			}
			// --no-raw: the output a terminal gets, which the README shows.
			out, err := exec.Command(cli, append([]string{"--no-raw"}, args[1:]...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("block %d: %s: %v\n%s", i+1, step.command, err, out)
			}
			// INFO's lines end in CRLF; a terminal shows them as lines.
			got := strings.TrimRight(strings.ReplaceAll(string(out), "\r", ""), "\n")
			want := step.output
			if args[len(args)-2] == "ttl" && (got == "(integer) 59" || got == "(integer) 60") {
				got = want // a second may tick between SET EX 60 and TTL
			}
			if got != want {
				t.Errorf("block %d: %s\n got: %q\nwant: %q (README.md)", i+1, step.command, got, want)
			}
		}
	}
}

// readmeStep is one "$ command" line of a README console block and the
// lines it printed.
type readmeStep struct {
	command, output string
}

var consoleBlock = regexp.MustCompile("(?s)```console\n(.*?)```")

// consoleBlocks returns the README's ```console blocks as steps.
func consoleBlocks(readme string) [][]readmeStep {
	var blocks [][]readmeStep
	for _, m := range consoleBlock.FindAllStringSubmatch(readme, -1) {
		var steps []readmeStep
		for _, line := range strings.Split(strings.TrimRight(m[1], "\n"), "\n") {
			if cmd, ok := strings.CutPrefix(line, "$ "); ok {
				steps = append(steps, readmeStep{command: cmd})
				continue
			}
			if n := len(steps); n > 0 {
				if steps[n-1].output != "" {
					steps[n-1].output += "\n"
				}
				steps[n-1].output += line
			}
		}
		blocks = append(blocks, steps)
	}
	return blocks
}
