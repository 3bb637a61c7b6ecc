package server_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/relcache/relcache/internal/redisdiff"
	"github.com/relcache/relcache/internal/relcachetest"
)

// TestZSetViewAgainstRedis compares the sorted-set view of relation sets
// (cmd_zset.go) with a real redis-server holding the same members and
// scores, byte for byte, in RESP2 and again in RESP3 (where scores are
// doubles and WITHSCORES pairs are arrays). Both servers get the same ZADDs:
// in relcache they make relation sets with times. The sets have ties in
// score, so the order of equal scores by the member's bytes is checked (z
// holds 9, 42 and 10000000000 at one score), and big has more members than
// zview.MinCached, so its reads go through the order cache. Cases where
// relcache differs on purpose (BYLEX, INCR, TYPE, non-uid members in
// writes) are not sent; the sets stay within what Redis keeps as a listpack
// for ZSCAN, whose order for a bigger set is Redis's hash order.
func TestZSetViewAgainstRedis(t *testing.T) {
	redisAddr := relcachetest.StartRedis(t)
	p := relcachetest.Start(t)
	failOnPanicLog(t, p)
	run := redisdiff.Runner{Redis: redisAddr, Relcache: p.Addr}
	cases := zsetTable()
	const seed = 17
	cases = append(cases, zsetRandom(rand.New(rand.NewPCG(seed, 2)), 600)...)
	for _, proto := range []string{"2", "3"} {
		for _, dc := range cases {
			steps := []redisdiff.Step{{Args: []string{"HELLO", proto}}}
			for _, args := range append(append(zsetKeys(), dc.setup...), append([][]string{dc.cmd}, dc.probes...)...) {
				steps = append(steps, redisdiff.Step{Args: args})
			}
			res, err := run.Run(steps)
			if err != nil {
				t.Fatal(err)
			}
			if d := res.Divergence; d != nil {
				t.Errorf("RESP%s vector %q (seed %d): %s", proto, dc.cmd, seed, d)
			}
		}
	}
	t.Logf("%d vectors, each in RESP2 and RESP3", len(cases))
}

// zsetKeys are the keys every vector starts from: z with ties, one with a
// single member, big with 300 members over 40 scores, and s a string.
func zsetKeys() [][]string {
	z := []string{"ZADD", "z",
		"100", "9", "100", "42", "100", "10000000000", "200", "7", "200", "100",
		"0", "0", "4294967295", "18446744073709551615", "150", "5", "150", "55",
		"300", "555", "300", "1000", "1", "1"}
	big := []string{"ZADD", "big"}
	r := rand.New(rand.NewPCG(1, 7))
	for range 300 {
		big = append(big, strconv.Itoa(1000+r.IntN(40)), strconv.FormatUint(r.Uint64()>>r.IntN(64), 10))
	}
	return [][]string{z, {"ZADD", "one", "5", "77"}, big, {"SET", "s", "abc"}}
}

var (
	zKeys    = []string{"z", "one", "big", "nokey", "s"}
	zMembers = []string{"9", "42", "10000000000", "0", "18446744073709551615", "77", "43", "042", "x", "", "-1", "1000"}
	zRanks   = []string{"0", "1", "2", "-1", "-2", "-3", "5", "11", "12", "100", "-100", "-12", "-13",
		"9223372036854775807", "-9223372036854775808", "x", "1.5"}
	zBounds = []string{"-inf", "+inf", "inf", "0", "1", "100", "(100", "150", "(150", "200", "(4294967295",
		"4294967295", "1010", "(1020", "1039", "", "(", "x", "nan", "1e2", " 100", "-1", "(-inf"}
	zLimits = []string{"0", "1", "2", "-1", "5", "100", "-5", "x"}
)

func zsetTable() []diffCase {
	var cases []diffCase
	add := func(cmd ...string) { cases = append(cases, diffCase{empty: true, cmd: cmd}) }
	for _, k := range zKeys {
		add("ZCARD", k)
		add("ZRANGE", k, "0", "-1", "WITHSCORES")
		add("ZREVRANGE", k, "0", "-1", "WITHSCORES")
		add("ZRANGEBYSCORE", k, "-inf", "+inf", "WITHSCORES")
		add("ZREVRANGEBYSCORE", k, "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "3")
		add("ZCOUNT", k, "-inf", "+inf")
		if k != "big" {
			add("ZSCAN", k, "0")
		}
		add("ZRANDMEMBER", k, "1000")
		add("ZRANDMEMBER", k, "1000", "WITHSCORES")
		add("ZRANDMEMBER", k, "0")
		for _, m := range zMembers {
			add("ZSCORE", k, m)
			add("ZRANK", k, m)
			add("ZREVRANK", k, m)
		}
		add(append([]string{"ZMSCORE", k}, zMembers...)...)
	}
	for _, a := range zRanks {
		for _, b := range zRanks {
			add("ZRANGE", "z", a, b)
			add("ZREVRANGE", "z", a, b, "WITHSCORES")
		}
	}
	for _, a := range zBounds {
		for _, b := range zBounds {
			add("ZCOUNT", "z", a, b)
			add("ZRANGEBYSCORE", "z", a, b, "WITHSCORES")
			add("ZREVRANGEBYSCORE", "z", b, a)
		}
	}
	// ZRANDMEMBER of one member is deterministic at any count.
	for _, n := range []string{"1", "-1", "-3", "3", "x", "-9223372036854775808", "4611686018427387904"} {
		add("ZRANDMEMBER", "one", n)
		add("ZRANDMEMBER", "one", n, "WITHSCORES")
		add("ZRANDMEMBER", "one", n, "withscores", "x")
		add("ZRANDMEMBER", "one", n, "BOGUS")
	}
	for _, o := range [][]string{
		{"MATCH", "*4*"}, {"MATCH", "1*", "COUNT", "2"}, {"COUNT", "0"}, {"COUNT", "x"}, {"BOGUS", "1"},
		{"MATCH"}, {"TYPE", "zset"}, {"count", "1000"},
	} {
		add(append([]string{"ZSCAN", "z", "0"}, o...)...)
		add(append([]string{"ZSCAN", "nokey", "0"}, o...)...)
	}
	for _, c := range []string{"x", "-1", "18446744073709551615", "18446744073709551616", "7"} {
		add("ZSCAN", "z", c)
	}
	// Options and their conflicts, in Redis's order of checks.
	for _, o := range [][]string{
		{"0", "-1", "LIMIT", "0", "1"}, {"0", "-1", "LIMIT", "0", "-1"}, {"0", "-1", "REV"}, {"0", "-1", "REV", "REV"},
		{"0", "-1", "BYSCORE", "BYSCORE"}, {"(100", "200", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES"},
		{"200", "(100", "BYSCORE", "REV", "LIMIT", "0", "2"}, {"-inf", "inf", "BYSCORE", "LIMIT", "x", "1"},
		{"a", "b", "BYLEX", "WITHSCORES"}, {"0", "-1", "LIMIT", "1"}, {"0", "-1", "WITHSCORES", "BOGUS"},
		{"x", "-1", "BYSCORE"}, {"0", "x", "REV"},
	} {
		add(append([]string{"ZRANGE", "z"}, o...)...)
		add(append([]string{"ZRANGE", "big"}, o...)...)
	}
	for _, c := range []string{"ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE"} {
		for _, o := range [][]string{{"REV"}, {"BYSCORE"}, {"LIMIT", "0", "1"}, {"WITHSCORES", "LIMIT", "0", "2"}, {"LIMIT", "0"}} {
			add(append([]string{c, "z", "0", "300"}, o...)...)
		}
	}
	// Writes, each followed by the whole set.
	probe := [][]string{{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"ZCARD", "z"}}
	write := func(cmd ...string) { cases = append(cases, diffCase{empty: true, cmd: cmd, probes: probe}) }
	for _, o := range [][]string{
		{"100", "9"}, {"101", "9"}, {"99", "9", "1", "12345"}, {"NX", "5", "9", "6", "12"}, {"XX", "5", "9", "6", "12"},
		{"GT", "50", "9", "500", "42", "1", "13"}, {"LT", "50", "9", "500", "42"}, {"XX", "GT", "CH", "50", "9", "500", "42", "3", "14"},
		{"CH", "100", "9", "101", "42", "7", "15"}, {"NX", "XX", "1", "9"}, {"GT", "LT", "1", "9"}, {"NX", "GT", "1", "9"},
		{"INCR", "1", "9", "2", "42"}, {"1", "9", "x", "42"}, {"1"}, {"CH"}, {"1", "9", "2"}, {"7", "16", "8", "16"},
		{"CH", "7", "16", "8", "16"}, {"1e3", "42"}, {"nan", "42"},
	} {
		write(append([]string{"ZADD", "z"}, o...)...)
	}
	// big's order is cached by the read in setup: each write must drop it.
	bigProbe := [][]string{{"ZREVRANGE", "big", "0", "4", "WITHSCORES"}, {"ZRANGE", "big", "0", "2"},
		{"ZRANK", "big", "12345"}, {"ZCOUNT", "big", "1039", "+inf"}, {"ZCARD", "big"}}
	for _, w := range [][]string{
		{"ZADD", "big", "5000", "12345"}, {"ZADD", "big", "1", "12345"}, {"ZADD", "big", "CH", "1039", "12345", "999", "7"},
	} {
		cases = append(cases, diffCase{empty: true, setup: [][]string{{"ZREVRANGE", "big", "0", "4"}, {"ZRANGE", "big", "0", "2"}},
			cmd: w, probes: bigProbe})
	}
	cases = append(cases, diffCase{empty: true, setup: [][]string{{"ZADD", "big", "5000", "12345"}, {"ZREVRANGE", "big", "0", "4"}},
		cmd: []string{"ZREM", "big", "12345"}, probes: bigProbe})
	write("ZADD", "s", "1", "9")
	write("ZADD", "fresh", "5", "9", "6", "10")
	for _, o := range [][]string{{"XX"}, {"XX", "CH"}, {"XX", "GT"}, {"NX"}, {"LT"}} {
		cases = append(cases, diffCase{empty: true, cmd: append(append([]string{"ZADD", "fresh"}, o...), "5", "9"),
			probes: [][]string{{"EXISTS", "fresh"}, {"ZCARD", "fresh"}}})
	}
	write("ZREM", "z", "9", "42", "43", "042", "x")
	write("ZREM", "nokey", "9")
	write("ZREM", "s", "9")
	return cases
}

// zsetRandom draws n range vectors over z and big from r.
func zsetRandom(r *rand.Rand, n int) []diffCase {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	var cases []diffCase
	for range n {
		k := pick([]string{"z", "big", "big"})
		var cmd []string
		switch r.IntN(5) {
		case 0:
			cmd = []string{"ZRANGE", k, pick(zRanks), pick(zRanks)}
		case 1:
			cmd = []string{"ZRANGE", k, pick(zBounds), pick(zBounds), "BYSCORE"}
		case 2:
			cmd = []string{pick([]string{"ZRANGEBYSCORE", "ZREVRANGEBYSCORE"}), k, pick(zBounds), pick(zBounds)}
		case 3:
			cmd = []string{"ZREVRANGE", k, pick(zRanks), pick(zRanks)}
		default:
			cmd = []string{"ZCOUNT", k, pick(zBounds), pick(zBounds)}
		}
		for range r.IntN(4) {
			switch r.IntN(4) {
			case 0:
				cmd = append(cmd, "WITHSCORES")
			case 1:
				cmd = append(cmd, "LIMIT", pick(zLimits), pick(zLimits))
			case 2:
				cmd = append(cmd, "REV")
			default:
				cmd = append(cmd, pick([]string{"BYSCORE", "withscores", "limit"}))
			}
		}
		cases = append(cases, diffCase{empty: true, cmd: cmd})
	}
	return cases
}
