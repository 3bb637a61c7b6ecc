package server_test

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/redisdiff"
	"github.com/relcache/relcache/internal/relcachetest"
)

var (
	diffSeeds = flag.String("difffuzz.seeds", "", "run TestRedisDifferentialFuzz on the seeds FROM:TO (TO excluded) instead of its default range")
	diffTime  = flag.Duration("difffuzz.time", 0, "stop TestRedisDifferentialFuzz after this long, wherever it is in its seed range")
)

// defaultDiffSeeds is the range `make test` runs: about 6 s under -race on
// a 2-core machine (measured with the gated commands off).
const defaultDiffSeeds = "0:400"

// TestRedisDifferentialFuzz is the differential fuzzer: random programs
// (internal/redisdiff.Gen) of string, keyspace, expiry and, as relcache
// gains them, transaction and bit commands, pipelined across up to three
// connections, each run on a stock redis-server and on relcache and
// compared reply by reply. A divergence is shrunk to a minimal program and
// printed with its seed and a redis-cli script that replays it.
//
//	go test ./server -run TestRedisDifferentialFuzz -difffuzz.seeds=0:100000 -difffuzz.time=10m
//
// runs longer; FuzzRedisDifferential lets `make fuzz` pick the seeds.
func TestRedisDifferentialFuzz(t *testing.T) {
	spec := *diffSeeds
	if spec == "" {
		spec = defaultDiffSeeds
	}
	from, to, err := parseSeedRange(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := startDiffFuzz(t)
	var deadline time.Time
	if *diffTime > 0 {
		deadline = time.Now().Add(*diffTime)
	}
	steps, seed := 0, from
	for ; seed < to && (deadline.IsZero() || time.Now().Before(deadline)); seed++ {
		steps += d.check(t, seed)
	}
	t.Logf("seeds %d:%d (%d of them, %d steps); gated commands on: %v; excused: %v",
		from, seed, seed-from, steps, d.gen.Enabled(), d.excused)
}

// FuzzRedisDifferential is TestRedisDifferentialFuzz with the seed chosen
// by the fuzzing engine, for `make fuzz FUZZTIME=10m`.
func FuzzRedisDifferential(f *testing.F) {
	d := startDiffFuzz(f)
	f.Add(uint64(1) << 32)
	f.Fuzz(func(t *testing.T, seed uint64) { d.check(t, seed) })
}

// diffFuzz is a redis-server and a relcache, and the generator gated by
// what that relcache serves.
type diffFuzz struct {
	run     redisdiff.Runner
	gen     redisdiff.Gen
	excused map[string]int
}

func startDiffFuzz(t testing.TB) *diffFuzz {
	// The smallest bulk limit Redis accepts on both, so that an offset
	// that passes the size check allocates at most 1 MB.
	redisAddr := relcachetest.StartRedis(t, "--proto-max-bulk-len", "1mb")
	p := relcachetest.Start(t, "--proto-max-bulk-len", "1mb")
	failOnPanicLog(t, p)
	has, err := redisdiff.CommandList(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return &diffFuzz{
		run:     redisdiff.Runner{Redis: redisAddr, Relcache: p.Addr},
		gen:     redisdiff.Gen{Has: func(name string) bool { return has[name] }},
		excused: map[string]int{},
	}
}

// check runs seed's program; on a divergence it shrinks the program and
// fails t with everything needed to reproduce it. It returns the steps run.
func (d *diffFuzz) check(t *testing.T, seed uint64) int {
	t.Helper()
	prog := d.gen.Program(seed)
	res, err := d.run.Run(prog)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	for why, n := range res.Excused {
		d.excused[why] += n
	}
	if res.Divergence == nil {
		return len(prog)
	}
	first := res.Divergence
	name := first.Name()
	// Nothing after the divergent step matters.
	prog = prog[:first.Index+1]
	fails := func(steps []redisdiff.Step) bool {
		r, err := d.run.Run(steps)
		return err == nil && r.Divergence != nil && r.Divergence.Name() == name
	}
	shrunk, tries := redisdiff.Shrink(prog, fails, 2000)
	last, _ := d.run.Run(shrunk)
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: relcache diverges from redis-server at %s\n", seed, first)
	if last.Divergence == nil {
		fmt.Fprintf(&b, "(the shrunk program passed when run once more: timing? here it is anyway)\n")
	} else {
		fmt.Fprintf(&b, "shrunk to %d of %d steps in %d runs; there: %s\n", len(shrunk), len(prog), tries, last.Divergence)
	}
	for _, s := range shrunk {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "replay it with redis-cli, with PORT set to each server's port in turn:\n%s", redisdiff.Script(shrunk))
	fmt.Fprintf(&b, "rerun: go test ./server -run 'TestRedisDifferentialFuzz$' -difffuzz.seeds=%d:%d", seed, seed+1)
	t.Error(b.String())
	return first.Index + 1
}

func parseSeedRange(s string) (from, to uint64, err error) {
	a, b, ok := strings.Cut(s, ":")
	if ok {
		from, err = strconv.ParseUint(a, 10, 64)
		if err == nil {
			to, err = strconv.ParseUint(b, 10, 64)
		}
	}
	if !ok || err != nil || to <= from {
		return 0, 0, fmt.Errorf("-difffuzz.seeds=%q: want FROM:TO with FROM < TO", s)
	}
	return from, to, nil
}

// TestDifferentialGating checks the gate against a real relcache: a Gated
// command's generator is on exactly when COMMAND INFO knows the command,
// so each switches on by itself the day relcache serves it; and commands
// relcache lacks are off.
func TestDifferentialGating(t *testing.T) {
	p := relcachetest.Start(t)
	has, err := redisdiff.CommandList(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if !has["get"] || !has["expireat"] || has["nosuchcommand"] {
		t.Fatalf("COMMAND LIST read wrong: %v", slices.Sorted(maps.Keys(has)))
	}
	gen := redisdiff.Gen{Has: func(name string) bool { return has[name] }}
	enabled := gen.Enabled()
	for _, name := range redisdiff.Gated {
		info, _, err := redisdiff.Do(p.Addr, "COMMAND", "INFO", name)
		if err != nil {
			t.Fatal(err)
		}
		served := string(info) != "*1\r\n*-1\r\n"
		if on := slices.Contains(enabled, name); on != served {
			t.Errorf("%s: generator on=%v, but COMMAND INFO says served=%v (%q)", name, on, served, info)
		}
	}
	t.Logf("gated commands on: %v", enabled)
}
