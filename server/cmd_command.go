package server

import (
	"slices"
	"strings"

	"github.com/relcache/relcache/internal/cmdmeta"
)

// COMMAND and its subcommands, written from the command metadata
// (internal/cmdmeta) in Redis 7.0's reply shapes: clients (redis-cli's hints,
// cluster clients' key extraction) read them as they read Redis's.

// COMMAND | COUNT | LIST [FILTERBY MODULE|ACLCAT|PATTERN x] | INFO [name ...]
// | DOCS [name ...] | GETKEYS cmd ... | GETKEYSANDFLAGS cmd ... | HELP
func cmdCommand(c *client, args [][]byte) {
	s := c.srv
	if len(args) == 1 {
		c.everyCommandInfo()
		return
	}
	// dispatch has checked the subcommand and its argument count.
	switch strings.ToLower(string(args[1])) {
	case "count":
		c.integer(int64(len(s.cmds)))
	case "list":
		commandList(c, args[2:])
	case "info":
		if len(args) == 2 {
			c.everyCommandInfo()
			return
		}
		c.arrayHeader(len(args) - 2)
		for _, n := range args[2:] {
			if cmd := s.commandByFullName(n); cmd != nil {
				c.commandInfo(cmd)
			} else {
				c.null() // a null bulk in RESP2, as Redis's addReplyNull
			}
		}
	case "docs":
		list := s.sortedCommands()
		if len(args) > 2 {
			list = list[:0:0]
			for _, n := range args[2:] {
				if cmd := s.commandByFullName(n); cmd != nil {
					list = append(list, cmd)
				}
			}
		}
		c.mapHeader(len(list))
		for _, cmd := range list {
			c.bulkString(cmd.name)
			c.commandDocs(cmd)
		}
	case "getkeys":
		commandGetKeys(c, args[2:], false)
	case "getkeysandflags":
		commandGetKeys(c, args[2:], true)
	case "help":
		c.help("COMMAND",
			"(no subcommand)", "    Return details about all Redis commands.",
			"COUNT", "    Return the total number of commands in this Redis server.",
			"LIST", "    Return a list of all commands in this Redis server.",
			"INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
			"    If no command names are given, documentation details for all", "    commands are returned.",
			"DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
			"    If no command names are given, documentation details for all", "    commands are returned.",
			"GETKEYS <full-command>", "    Return the keys from a full Redis command.",
			"GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.")
	}
}

// help is a HELP subcommand's reply as Redis's addReplyHelp writes it:
// simple strings, between its standard first and last lines.
func (c *client) help(cmd string, lines ...string) {
	c.arrayHeader(len(lines) + 3)
	c.simple(cmd + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.simple(l)
	}
	c.simple("HELP")
	c.simple("    Prints this help.")
}

// everyCommandInfo is COMMAND and COMMAND INFO without names: every
// command's entry (the subcommands within their containers').
func (c *client) everyCommandInfo() {
	all := c.srv.sortedCommands()
	c.arrayHeader(len(all))
	for _, cmd := range all {
		c.commandInfo(cmd)
	}
}

// commandByFullName finds "get" or "client|kill", case-insensitively, as
// Redis's lookupCommandBySds does for COMMAND INFO and DOCS.
func (s *Server) commandByFullName(name []byte) *command {
	base, sub, isSub := strings.Cut(strings.ToLower(string(name)), "|")
	cmd := s.cmds[base]
	if !isSub || cmd == nil {
		return cmd
	}
	return cmd.subs[sub]
}

// commandList is COMMAND LIST: every command and subcommand, or those one
// filter keeps. relcache has no modules, so FILTERBY MODULE keeps nothing.
func commandList(c *client, opts [][]byte) {
	keep := func(*command) bool { return true }
	if len(opts) > 0 {
		if len(opts) != 3 || !eqFold(opts[0], "FILTERBY") {
			c.err(errSyntax)
			return
		}
		arg := strings.ToLower(string(opts[2]))
		switch {
		case eqFold(opts[1], "MODULE"):
			keep = func(*command) bool { return false }
		case eqFold(opts[1], "ACLCAT"):
			keep = func(cmd *command) bool { return slices.Contains(cmd.meta.ACLCategoriesForInfo(), "@"+arg) }
		case eqFold(opts[1], "PATTERN"):
			keep = func(cmd *command) bool { return globMatch([]byte(arg), cmd.name) }
		default:
			c.err(errSyntax)
			return
		}
	}
	var names []string
	for _, cmd := range c.srv.everyCommand() {
		if keep(cmd) {
			names = append(names, cmd.name)
		}
	}
	c.arrayOfBulk(names)
}

// commandInfo writes Redis 7's ten-field COMMAND INFO entry.
func (c *client) commandInfo(cmd *command) {
	m := cmd.meta
	c.arrayHeader(10)
	c.bulkString(cmd.name)
	c.integer(int64(m.Arity))
	c.statusSet(m.FlagsForInfo())
	first, last, step, _ := m.LegacyRange()
	c.integer(int64(first))
	c.integer(int64(last))
	c.integer(int64(step))
	c.statusSet(m.ACLCategoriesForInfo())
	c.setHeader(len(m.Tips))
	for _, t := range m.Tips {
		c.bulkString(t)
	}
	c.setHeader(len(m.KeySpecs))
	for _, ks := range m.KeySpecs {
		c.keySpec(ks)
	}
	if len(cmd.subs) == 0 {
		c.setHeader(0)
		return
	}
	subs := cmd.sortedSubs()
	c.arrayHeader(len(subs))
	for _, sub := range subs {
		c.commandInfo(sub)
	}
}

func (c *client) keySpec(ks cmdmeta.KeySpec) {
	n := 3
	if ks.Notes != "" {
		n++
		c.mapHeader(n)
		c.bulkString("notes")
		c.bulkString(ks.Notes)
	} else {
		c.mapHeader(n)
	}
	c.bulkString("flags")
	c.statusSet(cmdmeta.OrderKeyFlags(ks.Flags))
	c.bulkString("begin_search")
	c.mapHeader(2)
	c.bulkString("type")
	c.bulkString("index")
	c.bulkString("spec")
	c.mapHeader(1)
	c.bulkString("index")
	c.integer(int64(ks.BeginSearch.Spec.Index))
	c.bulkString("find_keys")
	c.mapHeader(2)
	c.bulkString("type")
	c.bulkString("range")
	c.bulkString("spec")
	c.mapHeader(3)
	c.bulkString("lastkey")
	c.integer(int64(ks.FindKeys.Spec.LastKey))
	c.bulkString("keystep")
	c.integer(int64(ks.FindKeys.Spec.KeyStep))
	c.bulkString("limit")
	c.integer(int64(ks.FindKeys.Spec.Limit))
}

// commandDocs writes one command's COMMAND DOCS map, fields in Redis's
// order, absent ones left out.
func (c *client) commandDocs(cmd *command) {
	m := cmd.meta
	c.mapHeader(3 + countTrue(m.Complexity != "", len(m.DocFlags) > 0, m.DeprecatedSince != "",
		m.ReplacedBy != "", len(m.History) > 0, len(m.Arguments) > 0, len(cmd.subs) > 0))
	c.stringField("summary", m.Summary)
	c.stringField("since", m.Since)
	c.stringField("group", m.Group)
	c.stringField("complexity", m.Complexity)
	if len(m.DocFlags) > 0 {
		c.bulkString("doc_flags")
		c.statusSet(cmdmeta.OrderDocFlags(m.DocFlags))
	}
	c.stringField("deprecated_since", m.DeprecatedSince)
	c.stringField("replaced_by", m.ReplacedBy)
	if len(m.History) > 0 {
		c.bulkString("history")
		c.setHeader(len(m.History))
		for _, h := range m.History {
			c.arrayOfBulk(h[:])
		}
	}
	if len(m.Arguments) > 0 {
		c.bulkString("arguments")
		c.docArgs(m.Arguments)
	}
	if len(cmd.subs) > 0 {
		c.bulkString("subcommands")
		subs := cmd.sortedSubs()
		c.mapHeader(len(subs))
		for _, sub := range subs {
			c.bulkString(sub.name)
			c.commandDocs(sub)
		}
	}
}

func (c *client) docArgs(args []cmdmeta.Arg) {
	c.arrayHeader(len(args))
	for _, a := range args {
		c.mapHeader(2 + countTrue(a.DisplayText != "", a.KeySpecIndex != nil, a.Token != "", a.Summary != "",
			a.Since != "", a.DeprecatedSince != "", len(a.Flags) > 0, len(a.Arguments) > 0))
		c.stringField("name", a.Name)
		c.stringField("type", a.Type)
		c.stringField("display_text", a.DisplayText)
		if a.KeySpecIndex != nil {
			c.bulkString("key_spec_index")
			c.integer(int64(*a.KeySpecIndex))
		}
		c.stringField("token", a.Token)
		c.stringField("summary", a.Summary)
		c.stringField("since", a.Since)
		c.stringField("deprecated_since", a.DeprecatedSince)
		if len(a.Flags) > 0 {
			c.bulkString("flags")
			c.statusSet(cmdmeta.OrderArgFlags(a.Flags))
		}
		if len(a.Arguments) > 0 {
			c.bulkString("arguments")
			c.docArgs(a.Arguments)
		}
	}
}

// stringField writes one field of a map whose value is a string, when
// there is one: Redis leaves absent fields out.
func (c *client) stringField(k, v string) {
	if v != "" {
		c.bulkString(k)
		c.bulkString(v)
	}
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// statusSet writes names as Redis writes flags: a set of simple strings.
func (c *client) statusSet(names []string) {
	c.setHeader(len(names))
	for _, n := range names {
		c.simple(n)
	}
}

// commandGetKeys is COMMAND GETKEYS and GETKEYSANDFLAGS: the keys a full
// command line names, found as Redis finds them, with Redis's refusals in
// its order.
func commandGetKeys(c *client, line [][]byte, withFlags bool) {
	cmd := c.srv.lookupLine(line)
	switch {
	case cmd == nil:
		c.err("ERR Invalid command specified")
		return
	case len(cmd.meta.KeySpecs) == 0:
		c.err("ERR The command has no key arguments")
		return
	case (cmd.arity > 0 && len(line) != cmd.arity) || len(line) < -cmd.arity:
		c.err("ERR Invalid number of arguments specified for command")
		return
	}
	keys, ok := cmd.keyRefs(line)
	if !ok {
		c.err("ERR Invalid arguments specified for command")
		return
	}
	c.arrayHeader(len(keys))
	for _, k := range keys {
		if !withFlags {
			c.bulk(line[k.pos])
			continue
		}
		c.arrayHeader(2)
		c.bulk(line[k.pos])
		c.statusSet(cmdmeta.OrderKeyFlags(k.flags))
	}
}

// lookupLine finds the command a full command line runs, its subcommand
// for a container (Redis's lookupCommand).
func (s *Server) lookupLine(line [][]byte) *command {
	cmd := s.cmds[strings.ToLower(string(line[0]))]
	if cmd == nil || len(line) == 1 || cmd.subs == nil {
		return cmd
	}
	return cmd.subs[strings.ToLower(string(line[1]))]
}

// keyRef is a key's position in a command line and what the command does
// with it.
type keyRef struct {
	pos   int
	flags []string
}

// keyRefs finds the keys of a command line from the key specs, as Redis's
// getKeysUsingKeySpecs does; ok is false when the line is too short for a
// spec. A spec marked variable_flags defers to the command's own reading of
// its options (SET with or without GET, BITFIELD with or without a write),
// as Redis's getkeys procedures do.
func (cmd *command) keyRefs(line [][]byte) (keys []keyRef, ok bool) {
	m := cmd.meta
	for _, ks := range m.KeySpecs {
		if slices.Contains(ks.Flags, "variable_flags") {
			if f := variableKeyFlags[cmd.name]; f != nil {
				return []keyRef{{1, f(line)}}, true
			}
		}
	}
	for _, ks := range m.KeySpecs {
		first := ks.BeginSearch.Spec.Index
		last := first + ks.FindKeys.Spec.LastKey
		if l := ks.FindKeys.Spec.LastKey; l < 0 {
			if ks.FindKeys.Spec.Limit == 0 {
				last = len(line) + l
			} else {
				last = first + (len(line)-first)/ks.FindKeys.Spec.Limit + l
			}
		}
		if last >= len(line) || last < first || first >= len(line) {
			return nil, false
		}
		for i := first; i <= last; i += ks.FindKeys.Spec.KeyStep {
			keys = append(keys, keyRef{i, ks.Flags})
		}
	}
	return keys, true
}

// variableKeyFlags are the commands whose key flags depend on their
// options (Redis's setGetKeys and bitfieldGetKeys); each has its key at
// position 1.
var variableKeyFlags = map[string]func(line [][]byte) []string{
	"set": func(line [][]byte) []string {
		for _, a := range line[min(3, len(line)):] {
			if cEqFold(a, "GET") {
				return []string{"RW", "access", "update"}
			}
		}
		return []string{"OW", "update"}
	},
	"bitfield": func(line [][]byte) []string {
		for i := 2; i < len(line); i++ {
			more := len(line) - i - 1
			switch a := line[i]; {
			case cEqFold(a, "GET") && more >= 2:
				i += 2
			case cEqFold(a, "OVERFLOW") && more >= 1:
				i++
			default: // a write, or a syntax error Redis also counts as one
				return []string{"RW", "access", "update"}
			}
		}
		return []string{"RO", "access"}
	},
}
