package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/openhash"
)

// Bounds on a healthy relcache at TestCapacity's scale (10k users, mean 20,
// about 200k relations), measured with margin:
//   - an openhash array costs about 13 B/relation for lists this short (five-
//     byte uids, four-byte times, 15/16 load, a 32-byte header per list);
//   - used_memory adds each key and its entry, about 85 B a user, 4 B a
//     relation at mean 20: about 19 B in all;
//   - RSS adds the Go runtime and the server's fixed buffers, some 20 MB
//     that dwarf 200k relations: below 200 B/relation, or 1000 when the
//     server is built with -race, whose shadow memory multiplies it.
const (
	capArrayPerRelation = 16
	capUsedPerRelation  = 24
	capRSSPerRelation   = 200
	capRSSPerRelRace    = 1000
)

// TestCapacity runs `relcache-bench capacity` end to end against a real
// relcache (pure cache) and checks that the report agrees with itself and
// with the generator.
func TestCapacity(t *testing.T) {
	p := relcachetest.Start(t)
	cfg := CapacityConfig{Addr: p.Addr, Users: 10_000, Mean: 20, Seed: 1, UIDBase: 1_000_000_000,
		Duration: 2 * time.Second, Conns: 4}
	rep := runCapacity(t, cfg, true)

	if rep.Run.Latency != "service" {
		t.Errorf("open loop latency %q, want service", rep.Run.Latency)
	}
	bound := float64(capRSSPerRelation)
	if relcachetest.RaceEnabled {
		bound = capRSSPerRelRace
	}
	if rep.RSSPerRelation <= 0 || rep.RSSPerRelation > bound {
		t.Errorf("RSS/relation = %.1f B, want (0, %.0f]", rep.RSSPerRelation, bound)
	}
	if rep.UsedPerRelation <= 0 || rep.UsedPerRelation > capUsedPerRelation {
		t.Errorf("used_memory/relation = %.1f B, want (0, %d]", rep.UsedPerRelation, capUsedPerRelation)
	}
	if rep.ArrayPerRelation <= 0 || rep.ArrayPerRelation > capArrayPerRelation || rep.ArrayPerRelation > rep.UsedPerRelation {
		t.Errorf("array bytes/relation = %.1f, want (0, %d] and at most used_memory/relation %.1f",
			rep.ArrayPerRelation, capArrayPerRelation, rep.UsedPerRelation)
	}
	var arrays int64
	for _, b := range rep.SizeBuckets {
		arrays += b.Bytes
		if b.Sampled != b.Users || b.SampledRelations != b.Relations {
			t.Errorf("bucket %d-%d: relcache sizes every array, got %d of %d users", b.MinFollows, b.MaxFollows, b.Sampled, b.Users)
		}
	}
	if arrays != rep.ArrayBytes {
		t.Errorf("buckets hold %d array bytes, report %d", arrays, rep.ArrayBytes)
	}
	// The other half of issue 8 adds INFO's "# GC"; when the server has
	// it, the figures must be sane.
	if g := rep.GC; g.Count != nil {
		for name, v := range map[string]*float64{"gc_pause_total_ms": g.PauseTotal, "gc_pause_p50_us": g.PauseP50,
			"gc_pause_p99_us": g.PauseP99, "gc_pause_max_us": g.PauseMax, "gc_cpu_fraction": g.CPUFraction, "gc_count_run": g.CountRun} {
			if v == nil || *v < 0 {
				t.Errorf("INFO gc has gc_count but %s = %v", name, v)
			}
		}
		if g.PauseP50 != nil && g.PauseP99 != nil && g.PauseMax != nil && (*g.PauseP50 > *g.PauseP99 || *g.PauseP99 > *g.PauseMax) {
			t.Errorf("GC pauses p50 %v > p99 %v or > max %v", *g.PauseP50, *g.PauseP99, *g.PauseMax)
		}
		if g.CPUFraction != nil && *g.CPUFraction > 1 {
			t.Errorf("gc_cpu_fraction %v > 1", *g.CPUFraction)
		}
	} else {
		t.Log("the server's INFO has no # GC section")
	}
}

// TestCapacityFixedRate checks the scheduled mode: the requests recorded
// are the rate times the duration, timed from their intended start, and
// none of the warm-up's.
func TestCapacityFixedRate(t *testing.T) {
	p := relcachetest.Start(t)
	cfg := CapacityConfig{Addr: p.Addr, Users: 2000, Mean: 20, Seed: 2, UIDBase: 1_000_000_000,
		Duration: time.Second, Warmup: 500 * time.Millisecond, Conns: 4, Rate: 400}
	rep := runCapacity(t, cfg, false)
	if rep.Run.Latency != "intended start" {
		t.Errorf("fixed-rate latency %q, want intended start", rep.Run.Latency)
	}
	if rep.Run.Requests != 400 || rep.Run.Unsent != 0 {
		t.Errorf("%d requests recorded, %d unsent; want 400 (400/s for 1s after the warm-up), none unsent", rep.Run.Requests, rep.Run.Unsent)
	}
}

// TestCapacitySpreadUIDs loads the graph under spread ten-digit uids: the
// same relations as under UIDBase+i, every list stored under its spread
// key, and members of more than 32 bits (5-byte slots in format version 1).
func TestCapacitySpreadUIDs(t *testing.T) {
	p := relcachetest.Start(t)
	cfg := CapacityConfig{Addr: p.Addr, Users: 2000, Mean: 20, Seed: 2, UIDBase: 1_000_000_000, UIDSpread: true,
		Duration: 200 * time.Millisecond, Conns: 2}
	runCapacity(t, cfg, false)
	c := redis.NewClient(&redis.Options{Addr: p.Addr})
	defer c.Close()
	ids := graphgen.IDs{Spread: true}
	ctx := context.Background()
	wide := 0
	for u := range uint64(50) {
		buf, err := c.Get(ctx, key(ids.UID(u))).Bytes()
		if err != nil {
			t.Fatalf("user %d: %v", u, err)
		}
		s, err := openhash.Open(buf)
		if err != nil {
			t.Fatalf("user %d: %v", u, err)
		}
		s.Range(func(uid uint64, _ uint32) bool {
			if uid >= 1<<32 {
				wide++
				return false
			}
			return true
		})
	}
	if wide == 0 {
		t.Error("no list of spread uids holds a uid of more than 32 bits")
	}
}

// TestCapacitySetFormat loads the same graph of ten-digit uids with each
// --set-format: fast SETs format version 1 arrays, compact version 3 ones,
// in fewer bytes, and the report says which.
func TestCapacitySetFormat(t *testing.T) {
	ctx := context.Background()
	sizes := map[string]int64{}
	for _, format := range []string{"fast", "compact"} {
		p := relcachetest.Start(t)
		cfg := CapacityConfig{Addr: p.Addr, Users: 2000, Mean: 20, Seed: 2, UIDSpread: true,
			Duration: 200 * time.Millisecond, Conns: 2, SetFormat: format}
		rep := runCapacity(t, cfg, false)
		sizes[format] = rep.ArrayBytes
		var md strings.Builder
		if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "set format "+format) {
			t.Errorf("%s: the report does not name the set format (%v):\n%s", format, err, md.String())
		}
		c := redis.NewClient(&redis.Options{Addr: p.Addr})
		want := byte(1)
		if format == "compact" {
			want = 3
		}
		for u := range uint64(20) {
			buf, err := c.Get(ctx, key(graphgen.IDs{Spread: true}.UID(u))).Bytes()
			if err != nil || len(buf) < 5 || buf[4] != want {
				t.Fatalf("%s: user %d: %d bytes, %v; want format version %d", format, u, len(buf), err, want)
			}
		}
		c.Close()
	}
	if sizes["compact"] >= sizes["fast"] {
		t.Errorf("arrays: compact %d bytes, fast %d; want compact smaller", sizes["compact"], sizes["fast"])
	}
}

// TestCapacityRedis runs the same against a stock Redis: hashes, the
// equivalent commands, MEMORY USAGE per size bucket, no GC figures.
func TestCapacityRedis(t *testing.T) {
	addr := relcachetest.StartRedis(t)
	cfg := CapacityConfig{Addr: addr, Target: "redis", Users: 2000, Mean: 20, Seed: 1, UIDBase: 1_000_000_000,
		Duration: time.Second, Conns: 4}
	rep := runCapacity(t, cfg, true)
	if rep.GC != (GCReport{}) {
		t.Errorf("Redis has no INFO gc, report has %+v", rep.GC)
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| n/a | n/a |") {
		t.Errorf("GC figures not n/a on Redis:\n%s", md.String())
	}
	for _, b := range rep.SizeBuckets {
		if b.Sampled == 0 || b.Bytes <= 0 || b.BytesPerRelation <= 0 {
			t.Errorf("bucket %d-%d: %d keys measured, %d bytes", b.MinFollows, b.MaxFollows, b.Sampled, b.Bytes)
		}
	}
}

// TestCapacityProxy runs the load and the mix through a relcache proxy in
// front of two nodes: every relation arrives, each node holds a share, and
// memory is the nodes' sum.
func TestCapacityProxy(t *testing.T) {
	a, b := relcachetest.Start(t), relcachetest.Start(t)
	conf := filepath.Join(t.TempDir(), "proxy.toml")
	toml := fmt.Sprintf("listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n[[pool]]\nname = \"dc1\"\nrole = \"primary\"\n"+
		"servers = [\"%s:1 n1\", \"%s:1 n2\"]\ntimeout = \"10s\"\n", a.Addr, b.Addr)
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	px := relcachetest.StartProxy(t, conf)
	cfg := CapacityConfig{Proxy: px.Addr, Addr: a.Addr + "," + b.Addr, Users: 2000, Mean: 20, Seed: 3, Zipf: 1.1,
		UIDBase: 1_000_000_000, Duration: time.Second, Conns: 4}
	rep := runCapacity(t, cfg, false)

	var used int64
	for _, n := range []*relcachetest.Proc{a, b} {
		c := redis.NewClient(&redis.Options{Addr: n.Addr, Protocol: 2})
		keys, err := c.DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := memory(context.Background(), c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		used += u
		// 2000 users over two nodes by uid: each gets about half.
		if keys < 500 || keys > 1500 {
			t.Errorf("node %s holds %d lists of 2000", n.Addr, keys)
		}
	}
	// The mix's reloads and writes change used_memory a little after the
	// report's reading; not by a tenth.
	if d := float64(used-rep.UsedMemory) / float64(rep.UsedMemory); d < -0.1 || d > 0.1 {
		t.Errorf("nodes' used_memory %d, report %d: not their sum", used, rep.UsedMemory)
	}
	if rep.GC.Count == nil || rep.GC.CountRun == nil || rep.GC.PauseMax == nil {
		t.Errorf("GC figures %+v: want the nodes' INFO gc", rep.GC)
	}
	var md bytes.Buffer
	rep.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "through the proxy at "+px.Addr+" to 2 nodes") {
		t.Errorf("Markdown does not say the run went through the proxy:\n%s", md.String())
	}
}

func TestCapacityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  CapacityConfig
		want string
	}{
		{CapacityConfig{Addr: "a:1,b:2"}, "goes through --proxy"},
		{CapacityConfig{Addr: "a:1", Proxy: "p:3", Target: "redis"}, "needs target relcache"},
		{CapacityConfig{Addr: "a:1", Target: "memcached"}, "want relcache or redis"},
		{CapacityConfig{Addr: "a:1", SetFormat: "small"}, `set format "small": want fast or compact`},
	} {
		err := tc.cfg.fill()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fill(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
}

// runCapacity runs cfg, checks what holds for every healthy run and returns
// the report. With files it also checks what --out writes (plotting takes
// seconds under -race).
func runCapacity(t *testing.T, cfg CapacityConfig, files bool) *CapacityReport {
	t.Helper()
	if cfg.Mix == nil { // every op, so the report checks below see each
		cfg.Mix, _ = ParseMix(DefaultMix + ",relpair=5")
	}
	var want int64
	graphgen.EachUser(cfg.Seed, cfg.UIDBase, cfg.Users, cfg.Mean, func(_ int, fs []uint64, _ []uint32) error {
		want += int64(len(fs))
		return nil
	})
	var phases []string
	cfg.Progress = func(phase string, done, total int) {
		if len(phases) == 0 || phases[len(phases)-1] != phase {
			phases = append(phases, phase)
		}
		if done > total {
			t.Errorf("progress %s: %d of %d", phase, done, total)
		}
	}
	rep, err := Capacity(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", md.String())

	if rep.Users != cfg.Users || rep.RelationsGenerated != want || rep.Relations != want || rep.MissingLists != 0 {
		t.Errorf("%d users, %d relations sent, %d counted back, %d lists missing; want %d, %d, %d, 0",
			rep.Users, rep.RelationsGenerated, rep.Relations, rep.MissingLists, cfg.Users, want, want)
	}
	if !slices.Equal(phases, []string{"load", "run"}) {
		t.Errorf("progress phases %q, want load then run", phases)
	}
	if rep.RSS <= 0 || rep.UsedMemory <= 0 || rep.RSS < rep.RSSBefore {
		t.Errorf("RSS %d (before %d), used_memory %d", rep.RSS, rep.RSSBefore, rep.UsedMemory)
	}

	// Memory over the load: from nothing to every relation, in order.
	ls := rep.LoadSamples
	if len(ls) < 21 || ls[0].Relations != 0 || ls[len(ls)-1].Relations != want || ls[len(ls)-1].Users != cfg.Users {
		t.Errorf("load samples %+v: want 0 to %d relations in at least 21 steps", ls, want)
	}
	for i := 1; i < len(ls); i++ {
		if ls[i].Relations < ls[i-1].Relations || ls[i].Users <= ls[i-1].Users {
			t.Errorf("load sample %d goes back: %+v after %+v", i, ls[i], ls[i-1])
		}
	}
	var users int
	var rels int64
	for _, b := range rep.SizeBuckets {
		users += b.Users
		rels += b.Relations
		if b.Users == 0 || (b.Relations < int64(b.Users*b.MinFollows) || b.Relations > int64(b.Users*b.MaxFollows)) {
			t.Errorf("bucket %+v: relations outside its users × follows", b)
		}
	}
	if users != cfg.Users || rels != want {
		t.Errorf("size buckets hold %d users, %d relations; want %d, %d", users, rels, cfg.Users, want)
	}

	// The run: every op ran, without errors, and the quantiles are ordered.
	run := rep.Run
	if run.Throughput <= 0 || run.Errors != 0 || len(rep.Errors) != 0 {
		t.Errorf("throughput %.0f/s, %d errors %q", run.Throughput, run.Errors, rep.Errors)
	}
	var sum int64
	for _, o := range append(slices.Clone(run.Ops), run.All) {
		if o.Requests == 0 || o.Throughput <= 0 || o.Errors != 0 || o.Misses != 0 {
			t.Errorf("op %s: %d requests (%.0f/s), %d errors, %d misses", o.Op, o.Requests, o.Throughput, o.Errors, o.Misses)
		}
		if !(0 < o.P50 && o.P50 <= o.P99 && o.P99 <= o.P999 && o.P999 <= o.Max) {
			t.Errorf("op %s: p50 %d, p99 %d, p99.9 %d, max %d µs not ordered", o.Op, o.P50, o.P99, o.P999, o.Max)
		}
		if o.Op != "all" {
			sum += o.Requests
		}
	}
	if len(run.Ops) != len(capacityOps) || sum != run.Requests || run.All.Requests != run.Requests {
		t.Errorf("%d ops with %d requests, all %d, run %d; want %d ops summing to the run", len(run.Ops), sum, run.All.Requests, run.Requests, len(capacityOps))
	}
	var perSecond int64
	for _, s := range run.Timeline {
		perSecond += s.Requests
		if s.P50 > s.P99 {
			t.Errorf("second %d: p50 %d > p99 %d", s.Second, s.P50, s.P99)
		}
	}
	if secs := int(cfg.Duration / time.Second); len(run.Timeline) < secs || len(run.Timeline) > secs+1 || perSecond != run.Requests {
		t.Errorf("timeline of %d seconds holds %d requests; want %v of them, %d", len(run.Timeline), perSecond, cfg.Duration, run.Requests)
	}
	// The host's CPU while recording: on Linux it is read, and it can
	// neither exceed the host's cores nor be negative.
	if h := run.Host; h == nil {
		if runtime.GOOS == "linux" {
			t.Error("no host CPU figures on Linux")
		}
	} else if h.Cores < 1 || h.Busy < 0 || h.Steal < 0 || h.Busy+h.Steal > float64(h.Cores)+1e-9 ||
		h.StealMaxSecond < 0 || h.StealMaxSecond > float64(h.Cores)+1e-9 {
		t.Errorf("host CPU %+v out of bounds", *h)
	} else if !strings.Contains(md.String(), "client host CPU while recording") {
		t.Error("Markdown lacks the host CPU line")
	}
	for _, want := range []string{"### Memory after the load", "| relcheck |", "| follow |", "| all |", "### Server GC"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}

	if !files {
		return rep
	}
	// --out: the JSON holds the same numbers; the plots are PNGs.
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back CapacityReport
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("report.json reads back different:\n%+v\nwant\n%+v", back, *rep)
	}
	for _, name := range []string{LatencyPlot, RSSPlot, BytesBySizePlot} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
			t.Errorf("%s: %d bytes, not a PNG", name, len(b))
		}
	}
	return rep
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []MixEntry
		err  string
	}{
		{DefaultMix, []MixEntry{{"relcheck", 40}, {"relmulti", 30}, {"relwho", 5}, {"hget", 15}, {"reload", 5}, {"follow", 5}}, ""},
		{" follow = 1 , RELCHECK=2,hget=0", []MixEntry{{"relcheck", 2}, {"follow", 1}}, ""},
		{"relcheck=1,relcheck=2", nil, "given twice"},
		{"relcheck", nil, "not op=weight"},
		{"get=1", nil, "unknown op"},
		{"hget=-1", nil, "not a non-negative integer"},
		{"hget=0", nil, "no op has a positive weight"},
		{"", nil, "no op has a positive weight"},
	} {
		got, err := ParseMix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMix(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMix(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestCapacityGraphFile reads testdata/sample-graph.tsv, which gen-graph
// wrote from the generator: it must be the generator's graph.
func TestCapacityGraphFile(t *testing.T) {
	g, err := readGraphFile(filepath.Join("..", "..", "testdata", "sample-graph.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	// The file's header: --users 3000 --mean 20 --seed 1 --base 1000000000.
	var users int
	gen := map[uint64][]uint64{}
	graphgen.EachUser(1, 1_000_000_000, 3000, 20, func(u int, fs []uint64, _ []uint32) error {
		users++
		gen[1_000_000_000+uint64(u)] = slices.Sorted(slices.Values(fs))
		return nil
	})
	if g.users != users {
		t.Fatalf("%d users read, generator has %d", g.users, users)
	}
	g.each(func(u int, fs []uint64, ts []uint32) error {
		if !slices.Equal(fs, gen[g.uid(u)]) || len(ts) != len(fs) {
			t.Fatalf("uid %d: read %v, generated %v", g.uid(u), fs, gen[g.uid(u)])
		}
		return nil
	})
}

// TestClusterGC checks how nodes' GC figures fold: counts and pause time
// add up, quantiles and GC CPU are the worst node's, a missing figure
// stays missing.
func TestClusterGC(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	a := GCReport{Count: f(3), CountRun: f(1), PauseTotal: f(2), PauseP50: f(10), PauseP99: f(90), PauseMax: f(95), CPUFraction: f(0.01)}
	b := GCReport{Count: f(5), CountRun: f(0), PauseTotal: f(1), PauseP50: f(20), PauseP99: f(40), PauseMax: f(300), CPUFraction: f(0.002)}
	got := clusterGC([]GCReport{a, b})
	want := GCReport{Count: f(8), CountRun: f(1), PauseTotal: f(3), PauseP50: f(20), PauseP99: f(90), PauseMax: f(300), CPUFraction: f(0.01)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clusterGC = %s, want %s", gcString(got), gcString(want))
	}
	if r := clusterGC([]GCReport{a, {}}); r.Count != nil || r.PauseMax != nil {
		t.Errorf("a node without INFO gc must leave the figures missing, got %s", gcString(r))
	}
}

func gcString(g GCReport) string {
	var b strings.Builder
	for _, v := range []*float64{g.Count, g.CountRun, g.PauseTotal, g.PauseP50, g.PauseP99, g.PauseMax, g.CPUFraction} {
		if v == nil {
			b.WriteString("nil ")
		} else {
			fmt.Fprintf(&b, "%g ", *v)
		}
	}
	return b.String()
}
