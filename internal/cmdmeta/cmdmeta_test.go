package cmdmeta

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// spec is a key spec from its begin index, last key, step and flags.
func spec(index, lastKey, step int, flags ...string) KeySpec {
	var ks KeySpec
	ks.Flags = flags
	ks.BeginSearch.Type, ks.BeginSearch.Spec.Index = "index", index
	ks.FindKeys.Type, ks.FindKeys.Spec.LastKey, ks.FindKeys.Spec.KeyStep = "range", lastKey, step
	return ks
}

// TestLegacyRange derives COMMAND INFO's first, last and step from key
// specs as Redis's populateCommandLegacyRangeSpec does; the shapes are
// those of real commands.
func TestLegacyRange(t *testing.T) {
	tests := []struct {
		name  string
		specs []KeySpec
		want  string // first last step movable
	}{
		{"no keys (PING)", nil, "0 0 0 false"},
		{"one key (GET)", []KeySpec{spec(1, 0, 1, "RO")}, "1 1 1 false"},
		{"every argument (MGET)", []KeySpec{spec(1, -1, 1, "RO")}, "1 -1 1 false"},
		{"pairs (MSET)", []KeySpec{spec(1, -1, 2, "OW")}, "1 -1 2 false"},
		{"two consecutive specs (COPY, RENAME)", []KeySpec{spec(1, 0, 1, "RO"), spec(2, 0, 1, "OW")}, "1 2 1 false"},
		{"a key then the rest (BITOP)", []KeySpec{spec(2, 0, 1, "OW"), spec(3, -1, 1, "RO")}, "2 -1 1 false"},
		{"a gap between specs", []KeySpec{spec(1, 0, 1, "RO"), spec(3, 0, 1, "OW")}, "1 1 1 true"},
		{"several specs, one of step 2", []KeySpec{spec(1, 0, 1, "RO"), spec(2, -1, 2, "OW")}, "1 1 1 true"},
		{"incomplete", []KeySpec{spec(1, 0, 1, "RO", "incomplete")}, "1 1 1 true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last, step, movable := (&Command{KeySpecs: tt.specs}).LegacyRange()
			if got := fmt.Sprint(first, last, step, movable); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestForInfo: COMMAND INFO's flags (movablekeys added) and ACL
// categories (the implied ones added) in Redis's order.
func TestForInfo(t *testing.T) {
	tests := []struct {
		flags, cats     []string
		specs           []KeySpec
		wantFlags, want string
	}{
		{[]string{"fast", "readonly"}, []string{"@string"}, nil, "readonly fast", "@read @string @fast"},
		{[]string{"denyoom", "write"}, []string{"@string"}, nil, "write denyoom", "@write @string @slow"},
		{[]string{"admin", "noscript"}, nil, []KeySpec{spec(1, 0, 1, "RO", "incomplete")}, "admin noscript movablekeys", "@admin @slow @dangerous"},
		{[]string{"pubsub", "loading", "stale"}, nil, nil, "pubsub loading stale", "@pubsub @slow"},
	}
	for _, tt := range tests {
		m := &Command{Flags: tt.flags, ACLCategories: tt.cats, KeySpecs: tt.specs}
		if got := strings.Join(m.FlagsForInfo(), " "); got != tt.wantFlags {
			t.Errorf("%v: flags %q, want %q", tt.flags, got, tt.wantFlags)
		}
		if got := strings.Join(m.ACLCategoriesForInfo(), " "); got != tt.want {
			t.Errorf("%v %v: categories %q, want %q", tt.flags, tt.cats, got, tt.want)
		}
	}
	if got := OrderKeyFlags([]string{"update", "OW", "bogus"}); !slices.Equal(got, []string{"OW", "update"}) {
		t.Errorf("OrderKeyFlags: %q", got)
	}
	if got := OrderArgFlags([]string{"multiple", "optional"}); !slices.Equal(got, []string{"optional", "multiple"}) {
		t.Errorf("OrderArgFlags: %q", got)
	}
	if got := OrderDocFlags([]string{"syscmd", "deprecated"}); !slices.Equal(got, []string{"deprecated", "syscmd"}) {
		t.Errorf("OrderDocFlags: %q", got)
	}
}

// TestCheck refuses the mistakes a hand-written file can make.
func TestCheck(t *testing.T) {
	const ok = `{"name": "get", "summary": "s", "since": "1.0.0", "group": "string", "arity": 2, "flags": ["readonly"],
		"key_specs": [{"flags": ["RO"], "begin_search": {"type": "index", "spec": {"index": 1}},
			"find_keys": {"type": "range", "spec": {"lastkey": 0, "keystep": 1, "limit": 0}}}],
		"arguments": [{"name": "key", "type": "key", "key_spec_index": 0}]}`
	tests := []struct {
		name, old, new, want string
	}{
		{"a good file", "", "", ""},
		{"upper-case name", `"get"`, `"GET"`, "must be lower case"},
		{"no summary", `"summary": "s"`, `"summary": ""`, "summary and since are required"},
		{"unknown group", `"string"`, `"strings"`, `unknown group "strings"`},
		{"arity 0", `"arity": 2`, `"arity": 0`, "arity 0"},
		{"unknown flag", `["readonly"]`, `["read-only"]`, `unknown flag "read-only"`},
		{"unknown key flag", `["RO"]`, `["R"]`, `unknown key spec flag "R"`},
		{"key index 0", `"index": 1`, `"index": 0`, "index and keystep must be positive"},
		{"key spec out of range", `"key_spec_index": 0`, `"key_spec_index": 1`, "key_spec_index 1 of 1 specs"},
		{"a key without its spec", `, "key_spec_index": 0`, ``, "a key, and only a key, has a key_spec_index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Command
			if err := json.Unmarshal([]byte(strings.Replace(ok, tt.old, tt.new, 1)), &m); err != nil {
				t.Fatal(err)
			}
			err := m.check()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("check: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestLoad reads the real files: every subcommand's container is there,
// and the key positions dispatch and the proxy use come out as Redis's.
func TestLoad(t *testing.T) {
	all, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 100 {
		t.Fatalf("only %d commands", len(all))
	}
	for name, want := range map[string]string{"get": "1 1 1", "mget": "1 -1 1", "mset": "1 -1 2", "bitop": "2 -1 1",
		"copy": "1 2 1", "relcheck": "0 0 0", "ping": "0 0 0"} {
		m := all[name]
		if m == nil {
			t.Errorf("no %s", name)
			continue
		}
		first, last, step, _ := m.LegacyRange()
		if got := fmt.Sprint(first, last, step); got != want {
			t.Errorf("%s: keys %s, want %s", name, got, want)
		}
	}
	if m := all["client|kill"]; m == nil || all["client"] == nil {
		t.Error("no client|kill or client")
	}
	if !all["get"].Has("readonly") || all["get"].Has("write") {
		t.Errorf("get's flags: %v", all["get"].Flags)
	}
}
