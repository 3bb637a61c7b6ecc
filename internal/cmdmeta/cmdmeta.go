// Package cmdmeta is what relcache says about each of its commands: one
// file per command and subcommand in commands/, in the shape of Redis's
// own COMMAND DOCS and COMMAND INFO replies (summary, arity, flags, key
// specs, the argument tree), so that an entry can be held against what
// redis-server says and nothing about a command is written twice.
//
// The server answers COMMAND from it and dispatches by its arity, flags
// and key positions (server/table.go binds the names to handlers); the
// proxy derives its routing from the same arity, flags and key positions
// (proxyfront/commands.go). A command added to the node is described here
// once, for both, and the proxy refuses to start with a command it has not
// placed.
package cmdmeta

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed commands/*.json
var commandFiles embed.FS

// Command is one file of commands/: what COMMAND, COMMAND INFO, COMMAND
// DOCS, COMMAND LIST, COMMAND GETKEYS and docs/commands.md's reference say
// about a command.
type Command struct {
	// Name is lower case; a subcommand's is "container|sub", as Redis
	// names it in COMMAND INFO and error messages.
	Name            string      `json:"name"`
	Summary         string      `json:"summary"`
	Since           string      `json:"since"`
	Group           string      `json:"group"`
	Complexity      string      `json:"complexity,omitempty"`
	DocFlags        []string    `json:"doc_flags,omitempty"`
	DeprecatedSince string      `json:"deprecated_since,omitempty"`
	ReplacedBy      string      `json:"replaced_by,omitempty"`
	History         [][2]string `json:"history,omitempty"`
	// Arity is Redis's: N exactly N arguments counting the name (and the
	// subcommand's), -N at least N.
	Arity int      `json:"arity"`
	Flags []string `json:"flags"`
	// ACLCategories are the categories the flags do not imply; COMMAND INFO
	// adds the implied ones (@write for write, @fast or @slow, ...) as
	// Redis's setImplicitACLCategories does.
	ACLCategories []string  `json:"acl_categories,omitempty"`
	Tips          []string  `json:"tips,omitempty"`
	KeySpecs      []KeySpec `json:"key_specs,omitempty"`
	Arguments     []Arg     `json:"arguments,omitempty"`
}

// KeySpec is one of COMMAND INFO's key specifications. relcache's commands
// need only Redis's simplest kind: the keys start at a fixed index and run
// for a range.
type KeySpec struct {
	Notes       string   `json:"notes,omitempty"`
	Flags       []string `json:"flags"`
	BeginSearch struct {
		Type string `json:"type"`
		Spec struct {
			Index int `json:"index"`
		} `json:"spec"`
	} `json:"begin_search"`
	FindKeys struct {
		Type string `json:"type"`
		Spec struct {
			LastKey int `json:"lastkey"`
			KeyStep int `json:"keystep"`
			Limit   int `json:"limit"`
		} `json:"spec"`
	} `json:"find_keys"`
}

// Arg is one node of COMMAND DOCS's argument tree. KeySpecIndex is a
// pointer because 0 is an index; absent means the argument is no key.
type Arg struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	DisplayText     string   `json:"display_text,omitempty"`
	KeySpecIndex    *int     `json:"key_spec_index,omitempty"`
	Token           string   `json:"token,omitempty"`
	Summary         string   `json:"summary,omitempty"`
	Since           string   `json:"since,omitempty"`
	DeprecatedSince string   `json:"deprecated_since,omitempty"`
	Flags           []string `json:"flags,omitempty"`
	Arguments       []Arg    `json:"arguments,omitempty"`
}

// The names Redis 7 uses, in the order it lists them.
var (
	// commandFlagOrder is addReplyCommandFlags' order (the flags Redis
	// hides, such as may_replicate, are not allowed here).
	commandFlagOrder = []string{"write", "readonly", "denyoom", "module", "admin", "pubsub",
		"noscript", "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
		"fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
		"allow_busy"}
	// aclCategoryOrder is ACLCommandCategories' order.
	aclCategoryOrder = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash",
		"string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
		"blocking", "dangerous", "connection", "transaction", "scripting",
		// relcache's own: the REL* commands and FOLLOW/UNFOLLOW.
		"relation"}
	keyFlagOrder = []string{"RO", "RW", "OW", "RM", "access", "update", "insert", "delete",
		"not_key", "incomplete", "variable_flags"}
	argTypes   = []string{"string", "integer", "double", "key", "pattern", "unix-time", "pure-token", "oneof", "block"}
	argFlags   = []string{"optional", "multiple", "multiple_token"}
	docFlags   = []string{"deprecated", "syscmd"}
	groupNames = []string{"generic", "string", "list", "set", "sorted-set", "hash", "pubsub", "transactions", "connection", "server", "scripting", "hyperloglog", "cluster", "sentinel", "geo", "stream", "bitmap", "relation"}
)

// OrderKeyFlags, OrderArgFlags and OrderDocFlags return the flags of a key
// (spec), an argument or a command's documentation that appear in Redis's
// order, in that order: how COMMAND lists them whatever order a file gives
// them in.
func OrderKeyFlags(flags []string) []string { return inOrder(flags, keyFlagOrder) }

// OrderArgFlags: see OrderKeyFlags.
func OrderArgFlags(flags []string) []string { return inOrder(flags, argFlags) }

// OrderDocFlags: see OrderKeyFlags.
func OrderDocFlags(flags []string) []string { return inOrder(flags, docFlags) }

// Load reads every file of commands/ and checks it: names known to Redis's
// vocabulary, a subcommand's container present, key spec indexes in range.
// The map is the caller's, by name ("get", "client|kill"). An error here is
// a bug in a file, caught by every test that starts a server or a proxy.
func Load() (map[string]*Command, error) {
	files, err := fs.Glob(commandFiles, "commands/*.json")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Command, len(files))
	for _, f := range files {
		b, err := commandFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m := new(Command)
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if want := "commands/" + strings.ReplaceAll(m.Name, "|", "-") + ".json"; f != want {
			return nil, fmt.Errorf("%s: holds %q, which belongs in %s", f, m.Name, want)
		}
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[m.Name] = m
	}
	for name := range out {
		if parent, _, ok := strings.Cut(name, "|"); ok && out[parent] == nil {
			return nil, fmt.Errorf("commands/%s.json: no container %q", strings.ReplaceAll(name, "|", "-"), parent)
		}
	}
	return out, nil
}

func (m *Command) check() error {
	switch {
	case m.Name == "" || m.Name != strings.ToLower(m.Name):
		return fmt.Errorf("name %q must be lower case", m.Name)
	case m.Summary == "" || m.Since == "":
		return fmt.Errorf("summary and since are required")
	case !slices.Contains(groupNames, m.Group):
		return fmt.Errorf("unknown group %q", m.Group)
	case m.Arity == 0:
		return fmt.Errorf("arity 0")
	}
	if err := known("flag", m.Flags, commandFlagOrder); err != nil {
		return err
	}
	if err := known("doc flag", m.DocFlags, docFlags); err != nil {
		return err
	}
	for _, c := range m.ACLCategories {
		if !strings.HasPrefix(c, "@") || !slices.Contains(aclCategoryOrder, c[1:]) {
			return fmt.Errorf("unknown ACL category %q", c)
		}
	}
	for i, ks := range m.KeySpecs {
		if err := known("key spec flag", ks.Flags, keyFlagOrder); err != nil {
			return err
		}
		if ks.BeginSearch.Type != "index" || ks.FindKeys.Type != "range" {
			return fmt.Errorf("key spec %d: only index and range key specs are supported", i)
		}
		if ks.BeginSearch.Spec.Index < 1 || ks.FindKeys.Spec.KeyStep < 1 {
			return fmt.Errorf("key spec %d: index and keystep must be positive", i)
		}
	}
	return checkArgs(m.Arguments, len(m.KeySpecs))
}

func checkArgs(args []Arg, specs int) error {
	for _, a := range args {
		if a.Name == "" || !slices.Contains(argTypes, a.Type) {
			return fmt.Errorf("argument %q: bad name or type %q", a.Name, a.Type)
		}
		if err := known("argument flag", a.Flags, argFlags); err != nil {
			return err
		}
		container := a.Type == "oneof" || a.Type == "block"
		switch {
		case container != (len(a.Arguments) > 0):
			return fmt.Errorf("argument %q: only oneof and block have arguments, and they must", a.Name)
		case a.Type == "pure-token" && a.Token == "":
			return fmt.Errorf("argument %q: a pure-token needs its token", a.Name)
		case (a.Type == "key") != (a.KeySpecIndex != nil):
			return fmt.Errorf("argument %q: a key, and only a key, has a key_spec_index", a.Name)
		case a.KeySpecIndex != nil && (*a.KeySpecIndex < 0 || *a.KeySpecIndex >= specs):
			return fmt.Errorf("argument %q: key_spec_index %d of %d specs", a.Name, *a.KeySpecIndex, specs)
		}
		if err := checkArgs(a.Arguments, specs); err != nil {
			return err
		}
	}
	return nil
}

func known(what string, names, vocabulary []string) error {
	for _, n := range names {
		if !slices.Contains(vocabulary, n) {
			return fmt.Errorf("unknown %s %q", what, n)
		}
	}
	return nil
}

// inOrder returns the names of set that appear in order, in that order: how
// Redis lists flags whatever order a file gives them in.
func inOrder(set []string, order []string) []string {
	out := make([]string, 0, len(set))
	for _, n := range order {
		if slices.Contains(set, n) {
			out = append(out, n)
		}
	}
	return out
}

// Has reports whether the command has flag (one of COMMAND INFO's, as the
// file writes them: "write", "readonly", "no_multi", ...).
func (m *Command) Has(flag string) bool { return slices.Contains(m.Flags, flag) }

// ACLCategoriesForInfo is COMMAND INFO's category list: the file's, plus those
// the flags imply (Redis's setImplicitACLCategories), in Redis's order.
func (m *Command) ACLCategoriesForInfo() []string {
	set := make([]string, 0, len(m.ACLCategories)+3)
	for _, c := range m.ACLCategories {
		set = append(set, c[1:])
	}
	has := m.Has
	if has("write") {
		set = append(set, "write")
	}
	if has("readonly") && !slices.Contains(set, "scripting") {
		set = append(set, "read")
	}
	if has("admin") {
		set = append(set, "admin", "dangerous")
	}
	if has("pubsub") {
		set = append(set, "pubsub")
	}
	if has("fast") {
		set = append(set, "fast")
	}
	if has("blocking") {
		set = append(set, "blocking")
	}
	if !slices.Contains(set, "fast") {
		set = append(set, "slow")
	}
	out := inOrder(set, aclCategoryOrder)
	for i, c := range out {
		out[i] = "@" + c
	}
	return out
}

// LegacyRange is COMMAND INFO's first key, last key and step, derived
// from the key specs as Redis's populateCommandLegacyRangeSpec does: one
// spec is taken as it is; several are merged while they are consecutive
// runs of step 1. movable reports specs that could not be merged (a
// client must ask COMMAND GETKEYS).
func (m *Command) LegacyRange() (first, last, step int, movable bool) {
	specs := m.KeySpecs
	if len(specs) == 0 {
		return 0, 0, 0, false
	}
	rel := func(ks KeySpec) int { // the spec's last key, absolute unless negative
		l := ks.FindKeys.Spec.LastKey
		if l < 0 {
			return l
		}
		return ks.BeginSearch.Spec.Index + l
	}
	if len(specs) == 1 {
		ks := specs[0]
		return ks.BeginSearch.Spec.Index, rel(ks), ks.FindKeys.Spec.KeyStep, slices.Contains(ks.Flags, "incomplete")
	}
	first = -1
	prevLast := 0
	for _, ks := range specs {
		pos := ks.BeginSearch.Spec.Index
		if ks.FindKeys.Spec.KeyStep != 1 || (prevLast != 0 && prevLast != pos-1) {
			movable = true
			continue
		}
		movable = movable || slices.Contains(ks.Flags, "incomplete")
		if first < 0 || pos < first {
			first = pos
		}
		// Redis compares as unsigned, so a negative (count from the end)
		// last key wins over any index.
		if l := rel(ks); uint(l) > uint(last) {
			last = l
		}
		prevLast = last
	}
	if first < 0 {
		return 0, 0, 0, true
	}
	return first, last, 1, movable
}

// FlagsForInfo is COMMAND INFO's flag list, movablekeys included.
func (m *Command) FlagsForInfo() []string {
	flags := slices.Clone(m.Flags)
	if _, _, _, movable := m.LegacyRange(); movable {
		flags = append(flags, "movablekeys")
	}
	return inOrder(flags, commandFlagOrder)
}

// ACLCategories are the names of the ACL categories, without '@', in the
// order ACL CAT lists them (Redis's, then relcache's own).
func ACLCategories() []string { return slices.Clone(aclCategoryOrder) }
