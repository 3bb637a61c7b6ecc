package server_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestCommandMetadataAgainstRedis holds the command metadata to Redis's:
// for every command and subcommand relcache shares with the installed
// redis-server (7.0), COMMAND INFO and COMMAND DOCS must be the same bytes in
// RESP2 and RESP3 (arity, flags, key positions and specs, ACL categories,
// tips, summary, since, group, complexity, history, the argument tree), and
// COMMAND GETKEYS and GETKEYSANDFLAGS must find the same keys with the same
// flags in a command line built from each command's own argument tree.
// Where relcache has fewer subcommands than Redis, a container is compared
// on the ones it has; the subcommands Redis 7.0 lacks (CLIENT SETINFO,
// which is Redis 7.2's, and relcache's CLIENT PROXY) are relcache's alone
// (docs/commands.md, "Introspection").
func TestCommandMetadataAgainstRedis(t *testing.T) {
	redisAddr := relcachetest.StartRedis(t)
	p := relcachetest.Start(t)
	failOnPanicLog(t, p)
	for _, proto := range []int{2, 3} {
		redis, relc := dialRESP(t, redisAddr), dialRESP(t, p.Addr)
		redis.do("HELLO", proto)
		relc.do("HELLO", proto)
		names := relc.do("COMMAND", "LIST")
		var shared, own []string
		for _, n := range names.Elems {
			name := string(n.Str)
			if v := redis.do("COMMAND", "INFO", name); v.Null || v.Elems[0].Null {
				own = append(own, name)
			} else {
				shared = append(shared, name)
			}
		}
		if len(shared) < 100 {
			t.Fatalf("only %d commands shared with redis-server: %v", len(shared), shared)
		}
		for _, name := range shared {
			want := redis.do("COMMAND", "INFO", name).Elems[0]
			got := relc.do("COMMAND", "INFO", name).Elems[0]
			keepSubs(&want, got, 9, 0)
			keepSubs(&got, want, 9, 0)
			if w, g := want.Append(nil), got.Append(nil); !bytes.Equal(w, g) {
				t.Errorf("RESP%d COMMAND INFO %s:\nredis:    %q\nrelcache: %q", proto, name, w, g)
			}
			want = redis.do("COMMAND", "DOCS", name)
			got = relc.do("COMMAND", "DOCS", name)
			keepDocSubs(&want, got)
			keepDocSubs(&got, want)
			if w, g := want.Append(nil), got.Append(nil); !bytes.Equal(w, g) {
				t.Errorf("RESP%d COMMAND DOCS %s:\nredis:    %q\nrelcache: %q", proto, name, w, g)
			}
		}
		if proto == 2 {
			t.Logf("%d commands and subcommands compared; relcache's own: %v", len(shared), own)
		}
		for _, name := range shared {
			docs := relc.do("COMMAND", "DOCS", name)
			for _, line := range sampleLines(name, field(docs.Elems[1], "arguments")) {
				for _, sub := range []string{"GETKEYS", "GETKEYSANDFLAGS"} {
					args := append([]any{"COMMAND", sub}, line...)
					w, g := redis.do(args...).Append(nil), relc.do(args...).Append(nil)
					if !bytes.Equal(w, g) {
						t.Errorf("RESP%d COMMAND %s %v:\nredis:    %q\nrelcache: %q", proto, sub, line, w, g)
					}
				}
			}
		}
	}
}

// keepSubs drops from v's subcommand list (element at of a COMMAND INFO
// entry) those other's lacks, and sorts the rest by name: Redis lists a
// container's subcommands in hash order.
func keepSubs(v *resp.Value, other resp.Value, at, nameAt int) {
	// Elements are INFO entries, whose name is their first element.
	if len(v.Elems) <= at || len(other.Elems) <= at {
		return
	}
	has := map[string]bool{}
	for _, s := range other.Elems[at].Elems {
		has[string(s.Elems[nameAt].Str)] = true
	}
	subs := &v.Elems[at]
	kept := slices.DeleteFunc(slices.Clone(subs.Elems), func(s resp.Value) bool { return !has[string(s.Elems[nameAt].Str)] })
	slices.SortFunc(kept, func(a, b resp.Value) int {
		return strings.Compare(string(a.Elems[nameAt].Str), string(b.Elems[nameAt].Str))
	})
	subs.Elems = kept
}

// keepDocSubs does keepSubs' work on a COMMAND DOCS reply: a map of one
// command whose "subcommands" field is a map of name to docs.
func keepDocSubs(v *resp.Value, other resp.Value) {
	if len(v.Elems) != 2 || len(other.Elems) != 2 {
		return
	}
	doc, odoc := &v.Elems[1], other.Elems[1]
	subs, osubs := fieldRef(doc, "subcommands"), field(odoc, "subcommands")
	if subs == nil || osubs.Type == 0 {
		return
	}
	has := map[string]bool{}
	for i := 0; i < len(osubs.Elems); i += 2 {
		has[string(osubs.Elems[i].Str)] = true
	}
	type pair struct{ k, v resp.Value }
	var kept []pair
	for i := 0; i < len(subs.Elems); i += 2 {
		if has[string(subs.Elems[i].Str)] {
			kept = append(kept, pair{subs.Elems[i], subs.Elems[i+1]})
		}
	}
	slices.SortFunc(kept, func(a, b pair) int { return strings.Compare(string(a.k.Str), string(b.k.Str)) })
	subs.Elems = subs.Elems[:0:0]
	for _, p := range kept {
		subs.Elems = append(subs.Elems, p.k, p.v)
	}
}

// field is a map reply's (RESP3 map or RESP2 flat array) value for key.
func field(m resp.Value, key string) resp.Value {
	if f := fieldRef(&m, key); f != nil {
		return *f
	}
	return resp.Value{}
}

func fieldRef(m *resp.Value, key string) *resp.Value {
	for i := 0; i+1 < len(m.Elems); i += 2 {
		if string(m.Elems[i].Str) == key {
			return &m.Elems[i+1]
		}
	}
	return nil
}

// sampleLines builds command lines for name from its COMMAND DOCS argument
// tree: the required arguments only, then every optional one once, then
// each argument that may repeat twice, and for each oneof every choice.
// Keys are named k1, k2, ...; they only need to be found, not to exist.
func sampleLines(name string, args resp.Value) [][]any {
	head := strings.Split(name, "|")
	var lines [][]any
	for _, mode := range []struct{ optional, twice bool }{{false, false}, {true, false}, {true, true}} {
		for choice := range 4 {
			g := lineGen{optional: mode.optional, twice: mode.twice, choice: choice}
			line := []any{}
			for _, h := range head {
				line = append(line, h)
			}
			line = append(line, g.args(args.Elems)...)
			if !slices.ContainsFunc(lines, func(l []any) bool { return slices.Equal(l, line) }) {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

type lineGen struct {
	optional, twice bool
	choice, keys    int
}

func (g *lineGen) args(args []resp.Value) []any {
	var out []any
	for _, a := range args {
		flags := field(a, "flags")
		has := func(f string) bool {
			return slices.ContainsFunc(flags.Elems, func(v resp.Value) bool { return string(v.Str) == f })
		}
		if has("optional") && !g.optional {
			continue
		}
		n := 1
		if has("multiple") && g.twice {
			n = 2
		}
		// A token starts the argument, and every repeat of it only
		// with multiple_token.
		for i := range n {
			if tok := field(a, "token"); tok.Type != 0 && (i == 0 || has("multiple_token")) {
				out = append(out, string(tok.Str))
			}
			out = append(out, g.value(a)...)
		}
	}
	return out
}

func (g *lineGen) value(a resp.Value) []any {
	switch string(field(a, "type").Str) {
	case "key":
		g.keys++
		return []any{"k" + string(rune('0'+g.keys))}
	case "integer", "unix-time":
		return []any{"1"}
	case "double":
		return []any{"1.5"}
	case "pure-token":
		return nil
	case "oneof":
		subs := field(a, "arguments").Elems
		return g.args(subs[g.choice%len(subs) : g.choice%len(subs)+1])
	case "block":
		return g.args(field(a, "arguments").Elems)
	}
	return []any{"v"}
}
