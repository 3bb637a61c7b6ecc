package proxyfront

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/relcache/relcache/shard"
)

var updateConfigGolden = flag.Bool("update-config", false, "rewrite testdata/config/*.err and *.want from the current code")

// TestConfigFiles parses every testdata/config/*.toml. A bad_X.toml must fail
// with exactly the message in bad_X.err; a good_X.toml must parse, and
// good_X.want holds the config it yields (defaults filled in) with what
// Validate parsed. Run with -update-config after a deliberate change and
// read the diff.
func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		base := filepath.Base(file)
		stem := strings.TrimSuffix(file, ".toml")
		t.Run(strings.TrimSuffix(base, ".toml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseConfig(data, base)
			var got, golden string
			switch {
			case strings.HasPrefix(base, "bad_"):
				if err == nil {
					t.Fatalf("parsed; want an error")
				}
				got, golden = err.Error()+"\n", stem+".err"
			case strings.HasPrefix(base, "good_"):
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				got, golden = dumpConfig(t, c), stem+".want"
			default:
				t.Fatalf("fixture name must start with bad_ or good_")
			}
			if *updateConfigGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestConfigFiles -update-config)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
}

// dumpConfig shows a validated config: the TOML it would be written as, then
// what Validate parsed, which TOML does not show.
func dumpConfig(t *testing.T, c *Config) string {
	t.Helper()
	out, err := toml.Marshal(c)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var b bytes.Buffer
	b.Write(out)
	fmt.Fprintf(&b, "\n# KeyPatternParsed: %s (kinds: %t)\n", c.KeyPatternParsed, c.KeyPatternParsed.HasKind())
	for i := range c.Pools {
		p := &c.Pools[i]
		fmt.Fprintf(&b, "# pool %s Eject %t, Backends:\n", p.Name, p.Eject())
		for _, s := range p.Backends {
			fmt.Fprintf(&b, "#   addr %q name %q weight %d\n", s.Addr, s.Name, s.Weight)
		}
	}
	names := []string{}
	for _, p := range c.ReadOrder() {
		names = append(names, p.Name)
	}
	fmt.Fprintf(&b, "# Primary %s, ReadOrder %s\n", c.Primary().Name, strings.Join(names, " "))
	return b.String()
}

// The example in the repository must parse, say what the docs say it says,
// and stay valid when its commented-out replica pool is switched on.
func TestConfigExample(t *testing.T) {
	path := filepath.Join("..", "testdata", "proxy.toml")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	want := []shard.Server{
		{Addr: "127.0.0.1:6381", Name: "node1", Weight: 1},
		{Addr: "127.0.0.1:6382", Name: "node2", Weight: 1},
		{Addr: "127.0.0.1:6383", Name: "node3", Weight: 1},
	}
	if len(c.Pools) != 1 || c.Pools[0].Name != "dc1" || !reflect.DeepEqual(c.Pools[0].Backends, want) {
		t.Fatalf("pools = %+v, want dc1 with %v", c.Pools, want)
	}
	// The example sets every key to its default: it must equal a config that
	// sets none of them.
	minimal, err := ParseConfig([]byte("[[pool]]\nname = \"dc1\"\nrole = \"primary\"\nservers = [\"127.0.0.1:6381:1 node1\", \"127.0.0.1:6382:1 node2\", \"127.0.0.1:6383:1 node3\"]\n"), "minimal")
	if err != nil {
		t.Fatal(err)
	}
	minimal.Path = c.Path
	if !reflect.DeepEqual(c, minimal) {
		t.Errorf("the example differs from the defaults:\n%+v\n%+v", c, minimal)
	}

	// Uncomment the dc2 pool: every line from its "# [[pool]]" on.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, block, ok := strings.Cut(string(data), "# [[pool]]\n")
	if !ok {
		t.Fatal("no commented-out [[pool]] in the example")
	}
	var b strings.Builder
	b.WriteString(head + "[[pool]]\n")
	for _, line := range strings.Split(block, "\n") {
		b.WriteString(strings.TrimPrefix(line, "# ") + "\n")
	}
	c2, err := ParseConfig([]byte(b.String()), "proxy.toml+dc2")
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if p := c2.Pool("dc2"); p == nil || p.Role != "replica" || len(p.Backends) != 3 || p.Backends[2].Name != "node3" {
		t.Fatalf("dc2 = %+v", p)
	}
}

// Every key is documented in docs/proxy.md and shown in the example.
func TestConfigKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "proxy.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "testdata", "proxy.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(append(append(append([]string{}, configKeys...), poolKeys...), httpKeys...), l1Keys...) {
		if !bytes.Contains(doc, []byte("`"+k+"`")) {
			t.Errorf("docs/proxy.md does not document `%s`", k)
		}
		show := `(?m)^` + k + ` = `
		if k == "pool" || k == "http" || k == "l1" { // tables
			show = `(?m)^\[+` + k + `\]+$`
		}
		if !regexp.MustCompile(show).Match(example) {
			t.Errorf("testdata/proxy.toml does not show %s", k)
		}
	}
}

func TestConfigDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: `"400ms"`, want: 400 * time.Millisecond},
		{in: `"2s"`, want: 2 * time.Second},
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: `"1.5h"`, want: 90 * time.Minute},
		{in: `"0s"`, want: 0},
		{in: `0`, want: 0},
		{in: `"0"`, want: 0},
		{in: `"-1s"`, want: -time.Second},
		{in: `1000`, err: `duration 1000 has no unit: write it as a quoted Go duration such as "400ms" or "2s"`},
		{in: `"1000"`, err: `duration 1000 has no unit`},
		{in: `1.5`, err: `duration 1.5 has no unit`},
		{in: `"3x"`, err: `invalid duration "3x"`},
		{in: `""`, err: `invalid duration ""`},
		{in: `"1 s"`, err: `invalid duration "1 s"`},
		{in: `true`, err: `t:1:1: invalid duration "true"`},
	} {
		var v struct {
			D Duration `toml:"d"`
		}
		err := toml.Unmarshal([]byte("d = "+tc.in), &v)
		if tc.err != "" {
			if err == nil {
				t.Errorf("%s: got %v, want error %q", tc.in, v.D, tc.err)
				continue
			}
			msg := err.Error()
			if strings.HasPrefix(tc.err, "t:") {
				msg = configDecodeError("t", err).Error()
			}
			if !strings.Contains(msg, tc.err) {
				t.Errorf("%s: error %q, want it to contain %q", tc.in, msg, tc.err)
			}
			continue
		}
		if err != nil || v.D.Duration != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.in, v.D.Duration, err, tc.want)
			continue
		}
		// MarshalText writes what UnmarshalText reads.
		text, _ := v.D.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != v.D {
			t.Errorf("%s: round trip through %q gave %v, %v", tc.in, text, back, err)
		}
	}
}

func TestConfigAccessors(t *testing.T) {
	c, err := ParseConfig([]byte(`
read_pool = "c"
[[pool]]
name = "a"
role = "replica"
servers = ["h:1:1"]
[[pool]]
name = "b"
role = "primary"
servers = ["h:2:1"]
auto_eject = false
[[pool]]
name = "c"
role = "replica"
servers = ["h:3:1"]
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Primary(); p != &c.Pools[1] {
		t.Errorf("Primary = %p, want &Pools[1]", p)
	}
	if p := c.Pool("c"); p != &c.Pools[2] {
		t.Errorf(`Pool("c") = %p, want &Pools[2]`, p)
	}
	if p := c.Pool("d"); p != nil {
		t.Errorf(`Pool("d") = %+v, want nil`, p)
	}
	order := c.ReadOrder()
	if len(order) != 3 || order[0] != &c.Pools[2] || order[1] != &c.Pools[0] || order[2] != &c.Pools[1] {
		t.Errorf("ReadOrder = %v, want c a b", order)
	}
	if c.Pools[0].Eject() != true || c.Pools[1].Eject() != false {
		t.Errorf("Eject = %t %t, want true false", c.Pools[0].Eject(), c.Pools[1].Eject())
	}
	if (&Pool{}).Eject() != true {
		t.Error("Eject of an unvalidated pool is false, want the default true")
	}

	// Without read_pool, reads start at the primary, also on a Config that
	// was never validated.
	raw := &Config{Pools: []Pool{{Name: "a", Role: "replica"}, {Name: "b", Role: "primary"}}}
	if order := raw.ReadOrder(); len(order) != 2 || order[0].Name != "b" || order[1].Name != "a" {
		t.Errorf("ReadOrder without read_pool = %v, want b a", order)
	}
	if (&Config{}).Primary() != nil || len((&Config{}).ReadOrder()) != 0 {
		t.Error("an empty Config has a primary or pools to read")
	}
}

// Validate may run again on its own output (a reload compares configs), and
// a validated config written back as TOML parses to the same config.
func TestConfigRevalidateAndRoundTrip(t *testing.T) {
	for _, file := range []string{"good_minimal.toml", "good_two_pools.toml", "good_bare_zero.toml"} {
		c, err := LoadConfig(filepath.Join("testdata", "config", file))
		if err != nil {
			t.Fatal(err)
		}
		again := *c
		again.Pools = append([]Pool(nil), c.Pools...)
		if err := again.Validate(); err != nil {
			t.Fatalf("%s: Validate again: %v", file, err)
		}
		if !reflect.DeepEqual(&again, c) {
			t.Errorf("%s: Validate changed a validated config:\n%+v\n%+v", file, &again, c)
		}
		out, err := toml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(out, file+" marshalled")
		if err != nil {
			t.Fatalf("%s: %v\n%s", file, err, out)
		}
		back.Path = c.Path
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip changed the config:\n%+v\n%+v", file, back, c)
		}
	}
}

// Errors from a file name it, with the position when go-toml knows one.
func TestConfigErrorNamesFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join("testdata", "config", "missing.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadConfig(missing) = %v, want a not-exist error", err)
	}
	path := filepath.Join("testdata", "config", "bad_unknown_key.toml")
	_, err = LoadConfig(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:1: ") {
		t.Errorf("LoadConfig(%s) = %v, want it to start with %q", path, err, path+":2:1: ")
	}
	// A key-pattern error wraps shard's.
	_, err = ParseConfig([]byte("key_pattern = \"x\"\n[[pool]]\nname = \"a\"\nrole = \"primary\"\nservers = [\"h:1:1\"]\n"), "k.toml")
	if err == nil || !strings.HasPrefix(err.Error(), "k.toml: key_pattern: ") {
		t.Errorf("got %v", err)
	}
}

// The config file is outside bytes: no input may panic, and what parses
// must hold what Validate promises.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "config", "*.toml"))
	seeds = append(seeds, filepath.Join("..", "testdata", "proxy.toml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.toml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.KeyPatternParsed == nil || c.Primary() == nil || len(c.ReadOrder()) != len(c.Pools) {
			t.Fatalf("parsed config breaks Validate's promises: %+v", c)
		}
		if c.ReadOrder()[0].Name != c.ReadPool {
			t.Fatalf("ReadOrder starts at %q, read_pool is %q", c.ReadOrder()[0].Name, c.ReadPool)
		}
		for i := range c.Pools {
			p := &c.Pools[i]
			if len(p.Backends) != len(p.Servers) || len(p.Backends) == 0 || p.ServerConnections < 1 || p.Timeout.Duration <= 0 || p.DialTimeout.Duration <= 0 || p.ServerRetryTimeout.Duration <= 0 || p.ServerFailureLimit < 1 {
				t.Fatalf("pool %d breaks Validate's promises: %+v", i, p)
			}
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate of a validated config: %v", err)
		}
	})
}
