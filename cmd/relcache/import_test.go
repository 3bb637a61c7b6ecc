package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/loader"
)

// run runs the relcache command line in-process, stdin reading in.
func run(t *testing.T, in io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := rootCmd()
	var out, errw bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errw)
	if in != nil {
		root.SetIn(in)
	}
	err = root.ExecuteContext(context.Background())
	return out.String(), errw.String(), err
}

// summary reads the counter named key from import's summary.
func summary(t *testing.T, out, key string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `:\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q in summary:\n%s", key, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

type row struct {
	from, to uint64
	time     uint32
}

// sourceRows reads the edges of the SQLite source at path, edge to addtime,
// failing the test unless the follower rows mirror the following rows.
func sourceRows(t *testing.T, path string) map[[2]uint64]uint32 {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := sqliteTables(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	following := map[[2]uint64]uint32{}
	follower := map[[2]uint64]uint32{}
	for _, table := range tables {
		if !strings.HasPrefix(table, "follow") {
			continue // the journal's
		}
		rows, err := db.Query("SELECT fromuid, touid, addtime FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.from, &r.to, &r.time); err != nil {
				t.Fatal(err)
			}
			m := following
			if strings.HasPrefix(table, "follower") {
				m = follower
			}
			if _, dup := m[[2]uint64{r.from, r.to}]; dup {
				t.Fatalf("%s: edge %d->%d twice", table, r.from, r.to)
			}
			m[[2]uint64{r.from, r.to}] = r.time
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	if len(following) != len(follower) {
		t.Fatalf("%d following rows, %d follower rows", len(following), len(follower))
	}
	for k, v := range following {
		if follower[k] != v {
			t.Fatalf("edge %v: following time %d, follower time %d", k, v, follower[k])
		}
	}
	return following
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportSkipsBadLines(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, "edges.csv", `# a test graph
fromuid,touid,addtime
1000000001,1000000002,1600000000
1000000001,abc,1600000000
1000000003,1000000003
1000000002 1000000001
1000000004,1000000001,99999999999
1000000005,1000000001,1600000005
9223372036854775808,1
`)
	out, errOut, err := run(t, nil, "import", file, "--dir", dir, "--addtime", "1700000000")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		`line 4: touid "abc" is not a uid`,
		`line 5: uid 1000000003 follows itself`,
		`line 7: addtime "99999999999" is not Unix seconds in 32 bits`,
		`line 9: fromuid 9223372036854775808 is above 9223372036854775807`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := summary(t, out, "edges imported"); n != 3 {
		t.Errorf("imported %d edges, want 3\n%s", n, out)
	}
	if n := summary(t, out, "bad lines"); n != 4 {
		t.Errorf("%d bad lines, want 4\n%s", n, out)
	}
	got := sourceRows(t, filepath.Join(dir, "relcache-source.db"))
	want := map[[2]uint64]uint32{
		{1000000001, 1000000002}: 1600000000,
		{1000000002, 1000000001}: 1700000000, // no addtime: --addtime
		{1000000005, 1000000001}: 1600000005,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("source holds %v, want %v", got, want)
	}
}

func TestImportStrictStopsAtFirstBadLine(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, "edges.tsv", "1\t2\n3\t4\n5\n6\t7\n")
	out, _, err := run(t, nil, "import", file, "--dir", dir, "--strict")
	if err == nil || !strings.Contains(err.Error(), "line 3: want fromuid,touid[,addtime], got 1 fields") {
		t.Fatalf("got error %v, want one naming line 3", err)
	}
	if n := summary(t, out, "edges imported"); n != 2 {
		t.Errorf("imported %d edges, want the 2 before the bad line", n)
	}
	if got := sourceRows(t, filepath.Join(dir, "relcache-source.db")); len(got) != 2 {
		t.Errorf("source holds %v, want the 2 edges before the bad line", got)
	}
}

func TestImportIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	graph := filepath.Join(t.TempDir(), "graph.tsv")
	if _, errOut, err := run(t, nil, "gen-graph", "--users", "300", "--mean", "8", "--out", graph); err != nil {
		t.Fatalf("gen-graph: %v\n%s", err, errOut)
	}
	var first map[[2]uint64]uint32
	for i := range 2 {
		// Small batches, so several of them, and the second run by stdin.
		args := []string{"import", graph, "--dir", dir, "--batch", "500"}
		var in io.Reader
		if i == 1 {
			f, err := os.Open(graph)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			args[1], in = "-", f
		}
		out, errOut, err := run(t, in, args...)
		if err != nil {
			t.Fatalf("import %d: %v\n%s", i, err, errOut)
		}
		got := sourceRows(t, filepath.Join(dir, "relcache-source.db"))
		if n := summary(t, out, "edges imported"); n != len(got) || summary(t, out, "bad lines") != 0 {
			t.Fatalf("import %d: summary\n%s\nbut the source holds %d edges", i, out, len(got))
		}
		if i == 0 {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatal("re-import changed the source")
		}
	}
}

func TestImportAndSchemaTakeTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	config := writeFile(t, "relcache.toml", fmt.Sprintf(`
dir = %q
source-path = "graph.db"
source-tables = 2
maxmemory = "1gb"
`, dir))
	out, errOut, err := run(t, nil, "schema", "--config", config)
	if err != nil {
		t.Fatalf("schema: %v\n%s", err, errOut)
	}
	path := filepath.Join(dir, "graph.db")
	if want := "created:       6 tables (edge_changes follower_00 follower_01 following_00 following_01 relcache_meta)\nalready there: none\n"; !strings.Contains(out, path) || !strings.HasSuffix(out, want) {
		t.Errorf("schema said\n%s\nwant it to name %s and end\n%s", out, path, want)
	}
	out, _, err = run(t, nil, "schema", "--config", config)
	if want := "created:       none\nalready there: 6 tables (edge_changes follower_00 follower_01 following_00 following_01 relcache_meta)\n"; err != nil || !strings.HasSuffix(out, want) {
		t.Errorf("second schema: %v, said\n%s\nwant it to end\n%s", err, out, want)
	}
	file := writeFile(t, "e.csv", "1,2,3\n")
	if _, errOut, err := run(t, nil, "import", file, "--config", config); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if got := sourceRows(t, path); len(got) != 1 {
		t.Errorf("source holds %v", got)
	}
	// A flag beats the file.
	if _, errOut, err := run(t, nil, "import", file, "--config", config, "--source-path", "other.db"); err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if got := sourceRows(t, filepath.Join(dir, "other.db")); len(got) != 1 {
		t.Errorf("--source-path other.db holds %v", got)
	}
	if _, _, err := run(t, nil, "import", file, "--config", config, "--source", "none"); err == nil {
		t.Error("import into --source none succeeded")
	}
}

func TestGenGraph(t *testing.T) {
	gen := func(args ...string) string {
		out, errOut, err := run(t, nil, append([]string{"gen-graph"}, args...)...)
		if err != nil {
			t.Fatalf("gen-graph %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	const users = 2000
	a := gen("--users", fmt.Sprint(users), "--mean", "15", "--seed", "7", "--base", "5000")
	if b := gen("--users", fmt.Sprint(users), "--mean", "15", "--seed", "7", "--base", "5000"); a != b {
		t.Fatal("same seed, different graphs")
	}
	if c := gen("--users", fmt.Sprint(users), "--mean", "15", "--seed", "8", "--base", "5000"); a == c {
		t.Fatal("different seeds, same graph")
	}
	er := loader.NewEdgeReader(strings.NewReader(a), loader.EdgeReaderOptions{})
	seen := map[[2]uint64]bool{}
	fans := map[uint64]int{}
	for {
		e, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.From < 5000 || e.From >= 5000+users || e.To < 5000 || e.To >= 5000+users || e.From == e.To {
			t.Fatalf("line %d: bad edge %v", er.Line(), e)
		}
		if seen[[2]uint64{e.From, e.To}] {
			t.Fatalf("line %d: edge %v repeats", er.Line(), e)
		}
		seen[[2]uint64{e.From, e.To}] = true
		fans[e.To]++
	}
	mean := float64(len(seen)) / users
	if mean < 10 || mean > 20 {
		t.Errorf("mean follows %.1f, want about 15", mean)
	}
	most := 0
	for _, n := range fans {
		most = max(most, n)
	}
	if float64(most) < 10*mean {
		t.Errorf("most fans %d, mean %.1f: want a heavy tail", most, mean)
	}
	for _, bad := range [][]string{{"--users", "1"}, {"--mean", "0"}, {"--base", "18446744073709551000"}} {
		if _, _, err := run(t, nil, append([]string{"gen-graph"}, bad...)...); err == nil {
			t.Errorf("gen-graph %v succeeded", bad)
		}
	}
}

// TestSampleGraphUpToDate keeps testdata/sample-graph.tsv what its README
// says produced it.
func TestSampleGraphUpToDate(t *testing.T) {
	want, err := os.ReadFile("../../testdata/sample-graph.tsv")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "sample.tsv")
	if _, errOut, err := run(t, nil, "gen-graph", "--users", "3000", "--mean", "20", "--seed", "1", "--out", out); err != nil {
		t.Fatalf("gen-graph: %v\n%s", err, errOut)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("testdata/sample-graph.tsv differs from `relcache gen-graph --users 3000 --mean 20 --seed 1`: regenerate it (testdata/README.md)")
	}
}

func TestImportNamesTheFirstBadLinesOnly(t *testing.T) {
	file := writeFile(t, "bad.csv", strings.Repeat("1,x\n", importShownBadLines+5)+"1,2\n")
	out, errOut, err := run(t, nil, "import", file, "--dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(errOut, `touid "x" is not a uid`); n != importShownBadLines {
		t.Errorf("%d bad lines named, want %d", n, importShownBadLines)
	}
	if !strings.Contains(errOut, "the rest are skipped without a message") {
		t.Errorf("stderr does not say bad lines went unnamed:\n%s", errOut)
	}
	if summary(t, out, "bad lines") != importShownBadLines+5 || summary(t, out, "edges imported") != 1 {
		t.Errorf("summary\n%s", out)
	}
}
