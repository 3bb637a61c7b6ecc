package redisdiff

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

func all(string) bool { return true }

func TestProgramIsASeedsFunction(t *testing.T) {
	g := Gen{Has: all}
	for seed := range uint64(50) {
		a, b := g.Program(seed), g.Program(seed)
		if !slices.EqualFunc(a, b, func(x, y Step) bool { return x.String() == y.String() }) {
			t.Fatalf("seed %d: two programs", seed)
		}
	}
	if g.Program(1)[0].String() == g.Program(2)[0].String() && len(g.Program(1)) == len(g.Program(2)) {
		t.Errorf("seeds 1 and 2 look alike")
	}
}

// names counts the commands a generator writes over seeds, inside EXEC or
// not, by lower-case name.
func names(g Gen, seeds uint64) map[string]int {
	n := map[string]int{}
	for seed := range seeds {
		for _, s := range g.Program(seed) {
			n[strings.ToLower(s.Args[0])]++
		}
	}
	return n
}

// TestGating: a Gated command is written only when Has reports it, and
// then it is written; the others are written regardless.
func TestGating(t *testing.T) {
	none := names(Gen{}, 300)
	for _, c := range Gated {
		if none[c] > 0 {
			t.Errorf("%s written %d times with nothing enabled", c, none[c])
		}
	}
	if none["get"] == 0 || none["expireat"] == 0 || none["object"] > 0 {
		t.Errorf("with nothing enabled: get %d, expireat %d, object %d", none["get"], none["expireat"], none["object"])
	}
	every := names(Gen{Has: all}, 300)
	for _, c := range Gated {
		if every[c] == 0 {
			t.Errorf("%s never written with everything enabled", c)
		}
	}
	if every["object"] == 0 {
		t.Errorf("OBJECT ENCODING never written with SUBSTR enabled")
	}
	one := names(Gen{Has: func(c string) bool { return c == "incrbyfloat" }}, 300)
	for _, c := range Gated {
		if (one[c] > 0) != (c == "incrbyfloat") {
			t.Errorf("only INCRBYFLOAT enabled: %s written %d times", c, one[c])
		}
	}
	// MULTI alone is not a transaction: EXEC must be there too; the other
	// transaction commands each wait for their own name.
	if multi := names(Gen{Has: func(c string) bool { return c == "multi" }}, 300); multi["multi"] > 0 {
		t.Errorf("MULTI written %d times without EXEC", multi["multi"])
	}
	tx := names(Gen{Has: func(c string) bool { return c == "multi" || c == "exec" }}, 300)
	if tx["multi"] == 0 || tx["exec"] == 0 || tx["discard"]+tx["watch"]+tx["unwatch"] > 0 {
		t.Errorf("MULTI and EXEC enabled: %v", tx)
	}
	if got := (Gen{Has: func(c string) bool { return c == "lcs" || c == "get" }}).Enabled(); !slices.Equal(got, []string{"lcs"}) {
		t.Errorf("Enabled = %v", got)
	}
}

func step(conn int, args ...string) Step { return Step{Conn: conn, Args: args} }

func TestShrinkFindsTheMinimalProgram(t *testing.T) {
	var prog []Step
	for i := range 40 {
		prog = append(prog, step(i%3, "SET", "k", strings.Repeat("x", i)))
	}
	prog[7] = step(1, "WATCH", "k")
	prog[23] = step(0, "SET", "k", "changed")
	prog[31] = step(1, "EXEC")
	// Fails when WATCH, the SET and EXEC are there in that order.
	fails := func(s []Step) bool {
		i := slices.IndexFunc(s, func(x Step) bool { return x.Args[0] == "WATCH" })
		j := slices.IndexFunc(s, func(x Step) bool { return len(x.Args) == 3 && x.Args[2] == "changed" })
		k := slices.IndexFunc(s, func(x Step) bool { return x.Args[0] == "EXEC" })
		return i >= 0 && i < j && j < k
	}
	got, tries := Shrink(prog, fails, 1000)
	if want := []Step{prog[7], prog[23], prog[31]}; !slices.EqualFunc(got, want, func(a, b Step) bool { return a.String() == b.String() }) {
		t.Fatalf("shrunk to %v, want %v", got, want)
	}
	t.Logf("%d tries", tries)
	if got, tries := Shrink(prog, fails, 3); tries != 3 || len(got) == 3 {
		t.Errorf("a budget of 3 tries: %d tries, %d steps", tries, len(got))
	}
}

func TestCliLine(t *testing.T) {
	for args, want := range map[string]string{
		"SET\x00k\x00v":              `SET k v`,
		"SET\x00k\x00hello world":    `SET k "hello world"`,
		"SET\x00k\x00":               `SET k ""`,
		"SET\x00k\x00a\"b\\c'd":      `SET k "a\"b\\c'd"`,
		"SET\x00k\x00\xff\r\n\t\x01": `SET k "\xff\r\n\t\x01"`,
	} {
		if got := cliLine(strings.Split(args, "\x00")); got != want {
			t.Errorf("%q: %s, want %s", args, got, want)
		}
	}
}

// TestScriptReplays runs Script's output with bash and redis-cli against
// a redis-server: the bytes arrive as the program has them, and several
// connections take turns in the program's order.
func TestScriptReplays(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not installed (Debian package redis-tools)")
	}
	addr := relcachetest.StartRedis(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	replay := func(prog []Step) string {
		cmd := exec.Command("bash", "-c", Script(prog))
		cmd.Env = append(cmd.Environ(), "PORT="+port)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, Script(prog), out)
		}
		return string(out)
	}
	odd := "a \"q\" \\ 'x'\r\n\x00\xff"
	got := replay([]Step{step(0, "SET", "k", odd), step(0, "STRLEN", "k"), step(0, "GET", "k")})
	if want := "OK\nOK\n(integer) 15\n\"a \\\"q\\\" \\\\ 'x'\\r\\n\\x00\\xff\"\n"; got != want {
		t.Errorf("one connection: %q, want %q", got, want)
	}
	got = replay([]Step{step(1, "WATCH", "k"), step(0, "SET", "k", "1"), step(1, "MULTI"), step(1, "SET", "k", "2"),
		step(1, "EXEC"), step(0, "GET", "k")})
	if want := "[2] OK\n[2] OK\n[1] OK\n[2] OK\n[2] QUEUED\n[2] (nil)\n[1] \"1\"\n"; got != want {
		t.Errorf("two connections: %q, want %q", got, want)
	}
}

// TestRedisAgainstItself runs programs with every generator on against two
// redis-servers: they must agree, which shows the programs' replies depend
// on nothing but the program (no timing, no server identity) before any
// comparison with relcache relies on it.
func TestRedisAgainstItself(t *testing.T) {
	a, b := relcachetest.StartRedis(t, "--proto-max-bulk-len", "1mb"), relcachetest.StartRedis(t, "--proto-max-bulk-len", "1mb")
	r := Runner{Redis: a, Relcache: b}
	g := Gen{Has: all}
	excused := map[string]int{}
	for seed := range uint64(1000) {
		res, err := r.Run(g.Program(seed))
		if err != nil {
			t.Fatal(err)
		}
		if res.Divergence != nil {
			t.Fatalf("seed %d: redis disagrees with redis at %s", seed, res.Divergence)
		}
		for why, n := range res.Excused {
			excused[why] += n
		}
	}
	t.Logf("excused: %v", excused)
}

// TestRunnerReportsDivergences: two redis-servers that differ in one
// setting; the runner names the step, and inside EXEC the queued command.
func TestRunnerReportsDivergences(t *testing.T) {
	a, b := relcachetest.StartRedis(t, "--proto-max-bulk-len", "1mb"), relcachetest.StartRedis(t, "--proto-max-bulk-len", "2mb")
	r := Runner{Redis: a, Relcache: b}
	get := []string{"CONFIG", "GET", "proto-max-bulk-len"}
	res, err := r.Run([]Step{step(0, "SET", "k", "v"), step(1, "GET", "k"), step(1, get...), step(0, "PING")})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Divergence
	if d == nil || d.Index != 2 || d.Sub != -1 || d.Name() != "config" || !strings.Contains(string(d.Relcache), "2097152") {
		t.Fatalf("divergence %v", d)
	}
	res, err = r.Run([]Step{step(0, "MULTI"), step(0, "SET", "k", "v"), step(0, get...), step(0, "EXEC")})
	if err != nil {
		t.Fatal(err)
	}
	if d = res.Divergence; d == nil || d.Index != 3 || d.Sub != 1 || d.Name() != "config" {
		t.Fatalf("divergence in EXEC %v", d)
	}
	t.Logf("%s", d)
	// An excused difference is counted, not reported.
	r.Allow = []Difference{{"proto-max-bulk-len differs", func(cmd []string, _, _ string) bool { return isCmd(cmd, get...) }, false}}
	res, err = r.Run([]Step{step(0, "MULTI"), step(0, get...), step(0, "EXEC"), step(0, get...)})
	if err != nil || res.Divergence != nil || res.Excused["proto-max-bulk-len differs"] != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	// After a lasting one nothing is compared, but everything runs.
	r.Allow[0].Lasting = true
	res, err = r.Run([]Step{step(0, get...), step(1, "SET", "k", "v"), step(0, get...), step(1, "CONFIG", "SET", "proto-max-bulk-len", "3mb")})
	if err != nil || res.Divergence != nil || res.Excused["proto-max-bulk-len differs"] != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	r.Allow = []Difference{}
	res, err = r.Run([]Step{step(0, get...)})
	if err != nil || res.Divergence != nil {
		t.Fatalf("the CONFIG SET after the lasting difference did not run on both: %v %v", err, res.Divergence)
	}
}

// Unordered replies are compared sorted: SCAN's keys, HGETALL's pairs.
func TestNormalizedSortsUnorderedReplies(t *testing.T) {
	for _, c := range []struct {
		cmd      []string
		raw, out string
	}{
		{[]string{"KEYS", "*"}, "*2\r\n$1\r\nb\r\n$1\r\na\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{[]string{"SCAN", "0"}, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{[]string{"HGETALL", "h"}, "%2\r\n$1\r\n2\r\n$1\r\n9\r\n$1\r\n1\r\n$1\r\n8\r\n", "%2\r\n$1\r\n1\r\n$1\r\n8\r\n$1\r\n2\r\n$1\r\n9\r\n"},
		{[]string{"GET", "k"}, "$1\r\nb\r\n", "$1\r\nb\r\n"},
	} {
		v, _, err := resp.Decode([]byte(c.raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(normalized(c.cmd, v)); got != c.out {
			t.Errorf("%v: %q, want %q", c.cmd, got, c.out)
		}
	}
}
