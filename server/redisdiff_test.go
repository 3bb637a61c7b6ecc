package server_test

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/redisdiff"
	"github.com/relcache/relcache/internal/relcachetest"
)

// TestRedisDifferential sends the same argument vectors to relcache and to a
// stock redis-server and compares the reply bytes: every integer argument of
// the string, keyspace, expiry and server commands, with integers from
// extremeInts, first as a fixed table, then as a seeded random mix of
// options, each vector a program for the differential engine
// (internal/redisdiff). A difference fails the test unless the engine's
// allow-list (redisdiff.Allowed) excuses it; those are relcache's
// intentional differences (docs/commands.md, "Differences from Redis"). The
// TestCommandScripts scripts check hand-picked cases against expected text;
// this checks the cross product against Redis itself, and
// TestRedisDifferentialFuzz random sequences of them.
func TestRedisDifferential(t *testing.T) {
	// Both with the smallest bulk limit Redis accepts, so that an offset
	// that passes the size check allocates at most 1 MB.
	redisAddr := relcachetest.StartRedis(t, "--proto-max-bulk-len", "1mb")
	p := relcachetest.Start(t, "--proto-max-bulk-len", "1mb")
	failOnPanicLog(t, p)
	run := redisdiff.Runner{Redis: redisAddr, Relcache: p.Addr}
	cases := differentialTable()
	const seed = 14
	cases = append(cases, differentialRandom(rand.New(rand.NewPCG(seed, 0)), 400)...)
	cases = append(cases, stringFamilyTable()...)
	cases = append(cases, stringFamilyRandom(rand.New(rand.NewPCG(seed, 1)), 1500)...)
	cases = append(cases, noopConfigTable()...)
	excused := map[string]int{}
	for _, dc := range cases {
		res, err := run.Run(dc.program())
		if err != nil {
			t.Fatal(err)
		}
		for why, n := range res.Excused {
			excused[why] += n
		}
		if d := res.Divergence; d != nil {
			t.Errorf("vector %q (seed %d): %s", dc.cmd, seed, d)
		}
	}
	t.Logf("%d vectors; differences excused: %v", len(cases), excused)
}

// extremeInts are the integers (and near-integers) every numeric argument is
// tried with: the edges of int32, uint32, float64's exact integers, int64 and
// uint64, the edges of the seconds-to-ms product, and what Redis's string2ll
// refuses.
var extremeInts = []string{
	"0", "1", "-1", "2147483647", "2147483648", "-2147483648", "-2147483649",
	"4294967295", "4294967296", "9007199254740992", "9007199254740993",
	"9223372036854775", "9223372036854776", "-9223372036854775", "-9223372036854776",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616", "-18446744073709551616",
	"99999999999999999999999", "1048575", "1048576", "100000",
	"+1", "01", "-0", " 1", "1 ", "1e3", "0x10", "", "x", "1.5",
}

// diffCase is one vector: a fresh keyspace (or an empty one), the command,
// reads that show what it did, and commands that undo settings it changed.
type diffCase struct {
	empty  bool
	setup  [][]string
	cmd    []string
	probes [][]string
	reset  [][]string
}

// standardKeys is the keyspace most vectors start from. h is a hash in
// Redis and a relation set in relcache.
var standardKeys = [][]string{
	{"SET", "s", "abc"}, {"SET", "n", "10"}, {"SET", "t", "abc", "EX", "5000"},
	{"SET", "big", "9223372036854775807"}, {"SET", "neg", "-9223372036854775808"},
	{"HSET", "h", "1", "2"},
}

// program is the vector as steps on one connection, run from an empty
// keyspace (the runner's FLUSHALL).
func (dc diffCase) program() []redisdiff.Step {
	var seq [][]string
	if !dc.empty {
		seq = append(seq, standardKeys...)
	}
	seq = append(seq, dc.setup...)
	seq = append(seq, dc.cmd)
	seq = append(seq, dc.probes...)
	seq = append(seq, dc.reset...)
	steps := make([]redisdiff.Step, len(seq))
	for i, args := range seq {
		steps[i] = redisdiff.Step{Args: args}
	}
	return steps
}

// expiryProbes reads key's expiry after cmd, leaving out what depends on
// timing: a TTL of less than a second could be read before or after it
// passes, on either server.
func expiryProbes(key string, cmd []string) [][]string {
	for _, a := range cmd {
		if n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64); err == nil && n > 0 && n < 1000 {
			return nil
		}
	}
	return [][]string{{"EXISTS", key}, {"TTL", key}}
}

func differentialTable() []diffCase {
	var cases []diffCase
	add := func(dc diffCase) { cases = append(cases, dc) }
	for _, i := range extremeInts {
		for _, key := range []string{"s", "m", "h"} {
			add(diffCase{cmd: []string{"SETRANGE", key, i, "x"}, probes: [][]string{{"STRLEN", key}}})
			add(diffCase{cmd: []string{"SETRANGE", key, i, ""}, probes: [][]string{{"EXISTS", key}}})
		}
		for _, j := range extremeInts {
			add(diffCase{cmd: []string{"GETRANGE", "s", i, j}})
		}
		add(diffCase{cmd: []string{"GETRANGE", "m", i, "-1"}})
		for _, key := range []string{"n", "big", "neg", "s", "m", "h"} {
			for _, c := range []string{"INCRBY", "DECRBY"} {
				add(diffCase{cmd: []string{c, key, i}, probes: [][]string{{"GET", "n"}}})
			}
		}
		for _, c := range []string{"INCR", "DECR"} {
			add(diffCase{setup: [][]string{{"SET", "x", i}}, cmd: []string{c, "x"}, probes: [][]string{{"GET", "x"}}})
		}
		for _, o := range []string{"EX", "PX", "EXAT", "PXAT"} {
			cmd := []string{"SET", "k", "v", o, i}
			add(diffCase{cmd: cmd, probes: expiryProbes("k", cmd)})
			cmd = []string{"GETEX", "s", o, i}
			add(diffCase{cmd: cmd, probes: expiryProbes("s", cmd)})
			add(diffCase{cmd: []string{"GETEX", "m", o, i}})
			add(diffCase{cmd: []string{"GETEX", "h", o, i}})
		}
		for _, c := range []string{"SETEX", "PSETEX"} {
			cmd := []string{c, "k", i, "v"}
			add(diffCase{cmd: cmd, probes: expiryProbes("k", cmd)})
		}
		for _, c := range []string{"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"} {
			cmd := []string{c, "s", i}
			add(diffCase{cmd: cmd, probes: expiryProbes("s", cmd)})
			add(diffCase{cmd: []string{c, "t", i, "GT"}, probes: expiryProbes("t", []string{i})})
			add(diffCase{cmd: []string{c, "m", i}})
		}
		add(diffCase{empty: true, cmd: []string{"SCAN", i}})
		add(diffCase{empty: true, cmd: []string{"SCAN", "0", "COUNT", i}})
		add(diffCase{cmd: []string{"SELECT", i}, reset: [][]string{{"SELECT", "0"}}})
		add(diffCase{cmd: []string{"CLIENT", "KILL", "ID", i}})
		add(diffCase{cmd: []string{"CLIENT", "LIST", "ID", i}})
		add(diffCase{cmd: []string{"MEMORY", "USAGE", "m", "SAMPLES", i}})
		add(diffCase{cmd: []string{"SLOWLOG", "GET", i}})
		if i != "2" && i != "3" { // a good version would switch the protocol
			add(diffCase{cmd: []string{"HELLO", i}})
		}
		for _, c := range []struct{ name, reset string }{
			{"timeout", "0"}, {"slowlog-log-slower-than", "10000"}, {"slowlog-max-len", "128"}, {"maxmemory", "0"},
		} {
			add(diffCase{cmd: []string{"CONFIG", "SET", c.name, i},
				probes: [][]string{{"CONFIG", "GET", c.name}}, reset: [][]string{{"CONFIG", "SET", c.name, c.reset}}})
		}
		for _, unit := range []string{"b", "kb", "k", "MB", "g", "gb"} {
			add(diffCase{cmd: []string{"CONFIG", "SET", "maxmemory", i + unit},
				probes: [][]string{{"CONFIG", "GET", "maxmemory"}}, reset: [][]string{{"CONFIG", "SET", "maxmemory", "0"}}})
		}
	}
	return cases
}

// differentialRandom mixes the options of SET, GETEX, EXPIRE, SCAN and
// MEMORY USAGE with integers from extremeInts, n vectors from r.
func differentialRandom(r *rand.Rand, n int) []diffCase {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	tokens := func(words []string) []string {
		var out []string
		for range 1 + r.IntN(4) {
			if r.IntN(3) == 0 {
				out = append(out, pick(extremeInts))
			} else {
				out = append(out, pick(words))
			}
		}
		return out
	}
	setWords := []string{"NX", "XX", "GET", "KEEPTTL", "PERSIST", "EX", "PX", "EXAT", "PXAT", "ex", "1000"}
	var cases []diffCase
	for range n {
		var cmd []string
		key, empty := "s", false
		switch r.IntN(5) {
		case 0:
			key = pick([]string{"k", "s"})
			cmd = append([]string{"SET", key, "v"}, tokens(setWords)...)
		case 1:
			key = pick([]string{"s", "t", "m"})
			cmd = append([]string{"GETEX", key}, tokens(setWords)...)
		case 2:
			key = pick([]string{"s", "t", "m"})
			c := pick([]string{"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"})
			cmd = append([]string{c, key, pick(extremeInts)}, tokens([]string{"NX", "XX", "GT", "LT", "gt", "BOGUS"})...)
		case 3:
			empty = true
			cmd = append([]string{"SCAN", pick(extremeInts)}, tokens([]string{"COUNT", "MATCH", "*", "TYPE", "string", "BOGUS"})...)
		default:
			cmd = append([]string{"MEMORY", "USAGE", "m"}, tokens([]string{"SAMPLES", "samples", "BOGUS"})...)
		}
		dc := diffCase{empty: empty, cmd: cmd}
		if !empty {
			dc.probes = expiryProbes(key, cmd)
		}
		cases = append(cases, dc)
	}
	return cases
}
