package server_test

import "github.com/relcache/relcache/server"

// configWords are the values every no-op parameter is set to (the numeric
// ones to extremeInts too): what each of Redis's parsers (yes/no,
// integers, sizes with units, enumerations) takes or refuses, at their
// edges.
var configWords = []string{
	"yes", "no", "YES", "No", "yes\x00x", "y", "everysec", "always", "ALWAYS", "nosuch",
	"1kb", "1KB", "1k", "2mb", "1m", "1g", "3gb", "1b", "1tb", "kb", "b", "-1kb", "1 kb", "1kb ", "1\x00kb",
	"17179869184gb", "17179869183gb", "18446744073709551615b", "18446744073709551616k",
	"0000000000000000000000000000001", "10%", "500", "501", "99", "100", "1000", "1001", "10", "11",
	"0", "1", "-1", "",
}

// noopConfigTable sets each Redis parameter that means nothing to relcache
// to each value and reads it back: the checks, the errors and what CONFIG
// GET prints must be Redis's. Each vector restores the default.
func noopConfigTable() []diffCase {
	var cases []diffCase
	for _, p := range server.NoopConfig() {
		if p.Redis72 {
			continue
		}
		values := configWords
		if p.Numeric {
			values = append(append([]string{}, extremeInts...), configWords...)
		}
		for _, v := range values {
			cases = append(cases, diffCase{empty: true, cmd: []string{"CONFIG", "SET", p.Name, v},
				probes: [][]string{{"CONFIG", "GET", p.Name}},
				reset:  [][]string{{"CONFIG", "SET", p.Name, p.Default}}})
		}
	}
	// Aliases share a value; several at once apply in order; CONFIG GET
	// with patterns lists each name.
	cases = append(cases,
		diffCase{empty: true, cmd: []string{"CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"},
			probes: [][]string{{"CONFIG", "GET", "hash-max-*"}}, reset: [][]string{{"CONFIG", "SET", "hash-max-listpack-entries", "512"}}},
		diffCase{empty: true, cmd: []string{"CONFIG", "SET", "hz", "100", "lfu-log-factor", "x"},
			probes: [][]string{{"CONFIG", "GET", "hz"}}},
		diffCase{empty: true, cmd: []string{"CONFIG", "GET", "lazyfree-*", "*-lazy-flush", "aof-*"}},
		diffCase{empty: true, cmd: []string{"CONFIG", "GET", "hash-max-*-entries", "zset-*", "hash-max-*-value"}},
		diffCase{empty: true, cmd: []string{"CONFIG", "SET", "lua-time-limit", "7"},
			probes: [][]string{{"CONFIG", "GET", "busy-reply-threshold"}}, reset: [][]string{{"CONFIG", "SET", "busy-reply-threshold", "5000"}}},
	)
	return cases
}
