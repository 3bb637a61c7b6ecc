package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/sourcetest"
	"github.com/relcache/relcache/loader"
)

// TestRelSetFormat runs the real binary on an SQLite source: by default
// (rel-set-format fast) a RELLOAD'd list, a lazily filled one and a key a
// write creates are format version 1; after CONFIG SET rel-set-format
// compact new ones are version 3, the version-1 ones stay as they were, and
// every read answers the same on both copies of a list. A bad word gets
// Redis's wording for a bad enum value.
func TestRelSetFormat(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(24, 3))
	// Users a and b follow the same 300 ten-digit uids at the same times
	// (where version 3 is smaller, so compact writes it); every third of
	// those follows both back, so RELCHECK has all four answers.
	const a, b = 1_000_000_007, 1_000_000_009
	var edges []loader.Edge
	var load []any // RELLOAD's uid/time pairs of the same list
	var probe []uint64
	for i := range 300 {
		m := 1_000_000_000 + rng.Uint64N(9_000_000_000)
		tm := 1_600_000_000 + rng.Uint32N(100_000_000)
		edges = append(edges, loader.Edge{From: a, To: m, Time: tm}, loader.Edge{From: b, To: m, Time: tm})
		if i%3 == 0 {
			back := 1_700_000_000 + uint32(i)
			edges = append(edges, loader.Edge{From: m, To: a, Time: back}, loader.Edge{From: m, To: b, Time: back})
		}
		load = append(load, m, tm)
		if i%2 == 0 {
			probe = append(probe, m)
		}
	}
	for range 50 {
		probe = append(probe, 1_000_000_000+rng.Uint64N(9_000_000_000))
	}
	// Not b: RELCHECK a b would fill b's list before the switch.
	probe = append(probe, a, 5)
	path := filepath.Join(t.TempDir(), "graph.db")
	sourcetest.WriteSQLite(t, path, loader.Layout{Tables: 4}, edges)
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4",
		"--source-query-timeout", "1m", "--load-timeout", "1m") // not a timeout test
	c := client(t, p.Addr)

	version := func(k string) byte {
		t.Helper()
		v, err := c.Get(ctx, k).Bytes()
		if err != nil || len(v) < 5 {
			t.Fatalf("GET %s: %d bytes, %v", k, len(v), err)
		}
		return v[4]
	}
	do := func(a ...any) string {
		t.Helper()
		v, err := c.Do(ctx, a...).Result()
		if err != nil {
			t.Fatalf("%v: %v", a[:min(len(a), 3)], err)
		}
		return fmt.Sprint(v)
	}
	// reads is every read of one list, as text.
	reads := func(k string) string {
		t.Helper()
		h, err := c.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatalf("HGETALL %s: %v", k, err)
		}
		pairs := make([]string, 0, len(h))
		for f, v := range h {
			pairs = append(pairs, f+"="+v)
		}
		slices.Sort(pairs)
		return strings.Join([]string{
			do(args("RELMULTI", k, probe)...),
			do(args("RELMULTI", k, "SINCE", 1_650_000_000, "UNTIL", 1_680_000_000, probe)...),
			do("RELMEMBERS", k, "WITHTIMES"),
			do("RELMEMBERS", k, "WITHTIMES", "SINCE", 1_650_000_000, "LIMIT", 20),
			do("ZRANGE", k, 0, -1, "WITHSCORES"),
			do("ZREVRANGE", k, 10, 40, "WITHSCORES"),
			strings.Join(pairs, " "),
		}, "\n")
	}
	relcheck := func(u uint64) string {
		return do(args("RELCHECK", u, "BATCH", probe)...) + do(args("RELCHECK", u, "SINCE", 1_650_000_000, "BATCH", probe)...)
	}
	created := func(k string) {
		t.Helper()
		do("RELADD", k, "TIMES", 9_876_543_210, 1_700_000_000, 1_234_567_890, 1_700_000_500)
	}

	if got := c.ConfigGet(ctx, "rel-set-format").Val(); got["rel-set-format"] != "fast" {
		t.Fatalf("CONFIG GET rel-set-format = %v, want fast", got)
	}
	do(append([]any{"RELLOAD", "load.fast", "TIMES"}, load...)...)
	checkA := relcheck(a) // fills a's list, and the members' it asks
	created("new.fast")
	for _, k := range []string{"load.fast", fmt.Sprint(a, ".following"), "new.fast"} {
		if v := version(k); v != 1 {
			t.Errorf("default: %s is version %d, want 1", k, v)
		}
	}

	if err := c.ConfigSet(ctx, "rel-set-format", "compact").Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConfigGet(ctx, "rel-set-format").Val(); got["rel-set-format"] != "compact" {
		t.Fatalf("CONFIG GET rel-set-format = %v, want compact", got)
	}
	do(append([]any{"RELLOAD", "load.compact", "TIMES"}, load...)...)
	checkB := relcheck(b)
	created("new.compact")
	for k, want := range map[string]byte{
		"load.compact": 3, fmt.Sprint(b, ".following"): 3, "new.compact": 3,
		"load.fast": 1, fmt.Sprint(a, ".following"): 1, "new.fast": 1, // built before: as they were
	} {
		if v := version(k); v != want {
			t.Errorf("compact: %s is version %d, want %d", k, v, want)
		}
	}

	if checkA != checkB || checkA != relcheck(a) {
		t.Errorf("RELCHECK differs between the version-1 and the version-3 list:\n%s\n%s", checkA, checkB)
	}
	if !strings.Contains(checkA, "3") || !strings.Contains(checkA, "1") || !strings.Contains(checkA, "0") {
		t.Errorf("RELCHECK answers %s: want 0, 1 and 3 among them", checkA)
	}
	for _, pair := range [][2]string{
		{"load.fast", "load.compact"},
		{fmt.Sprint(a, ".following"), fmt.Sprint(b, ".following")},
		{"load.fast", fmt.Sprint(b, ".following")},
		{"new.fast", "new.compact"},
	} {
		if r1, r3 := reads(pair[0]), reads(pair[1]); r1 != r3 {
			t.Errorf("%s (version 1) and %s (version 3) read differently:\n%s\n---\n%s", pair[0], pair[1], r1, r3)
		}
	}

	// A bad word changes nothing and is refused in Redis's words; case is
	// folded as Redis does for its enums.
	err := c.ConfigSet(ctx, "rel-set-format", "tiny").Err()
	const want = "ERR CONFIG SET failed (possibly related to argument 'rel-set-format') - argument(s) must be one of the following: fast, compact"
	if err == nil || err.Error() != want {
		t.Fatalf("CONFIG SET rel-set-format tiny: %v, want %s", err, want)
	}
	if err := c.ConfigSet(ctx, "rel-set-format", "FAST").Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.ConfigGet(ctx, "rel-set-format").Val(); got["rel-set-format"] != "fast" {
		t.Fatalf("after CONFIG SET FAST: %v", got)
	}
	do(append([]any{"RELLOAD", "load.again", "TIMES"}, load...)...)
	if v := version("load.again"); v != 1 {
		t.Errorf("back to fast: version %d, want 1", v)
	}
}

// TestRelSetFormatFromFile: rel-set-format is a TOML key as well as a flag,
// and a start with compact builds version 3 from the first RELLOAD.
func TestRelSetFormatFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relcache.toml")
	if err := os.WriteFile(path, []byte("rel-set-format = \"compact\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := relcachetest.Start(t, "--config", path)
	c := client(t, p.Addr)
	ctx := context.Background()
	if got := c.ConfigGet(ctx, "rel-set-format").Val(); got["rel-set-format"] != "compact" {
		t.Fatalf("CONFIG GET rel-set-format = %v, want compact", got)
	}
	if err := c.Do(ctx, "RELLOAD", "k", "TIMES", 9_876_543_210, 1_700_000_000, 1_234_567_890, 1_700_000_500).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Bytes(); err != nil || len(v) < 5 || v[4] != 3 {
		t.Fatalf("GET k: %x, %v; want version 3", v, err)
	}
}
