package server

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/cmdmeta"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/store"
)

// cmdFlags are the properties dispatch acts on, from the command's flags
// in its metadata (internal/cmdmeta; COMMAND INFO reports them all).
type cmdFlags uint16

const (
	flagWrite     cmdFlags = 1 << iota // modifies the keyspace
	flagReadonly                       // reads the keyspace
	flagDenyOOM                        // may grow memory: refused (or evicts) past maxmemory
	flagNoAuth                         // allowed before AUTH
	flagNoMulti                        // refused inside MULTI (Redis's no_multi)
	flagTxControl                      // runs at once inside MULTI instead of being queued
	flagLoop                           // may run on an event loop (io-model eventloop): never waits
)

// command is one entry of the command table, or one of a container's
// subcommands.
type command struct {
	name  string // lower case, as Redis reports it: "get", "client|kill"
	arity int    // Redis's convention: N exactly N args (name included), -N at least N
	flags cmdFlags
	// Key positions, derived from the key specs as COMMAND INFO reports
	// them: first, last (-1 = last argument), step; 0 0 0 for none.
	firstKey, lastKey, step int
	group                   string
	meta                    *cmdmeta.Command // everything COMMAND reports
	acl                     *acl.Command     // what ACL rules say of it (server/acl.go)
	fn                      func(c *client, args [][]byte)
	// subs are a container's subcommands by lower-case name: dispatch
	// runs a command line as its subcommand (flags, keys, statistics,
	// CLIENT LIST's cmd=), and refuses an unknown one or a wrong count
	// before the command runs or is queued, as Redis does (inside MULTI
	// that aborts the transaction).
	subs   map[string]*command
	parent *command // a subcommand's container

	stats cmdStats // calls and latency
}

// dispatch runs one command: lookup, arity, auth, memory, then the handler,
// then accounting. Checks run in Redis's order so clients see the same
// error Redis would give them. start is when the command began (the caller
// has it without another clock read); dispatch returns when it ended, which
// the connection uses as the start of the next pipelined command.
func (s *Server) dispatch(c *client, args [][]byte, start time.Time) time.Time {
	if len(args) == 0 {
		return start
	}
	s.store.Tick(start.UnixMilli())
	cmd := s.lookup(c, args[0])
	// Inside MULTI every refusal also dooms the transaction (EXECABORT),
	// as Redis's rejectCommand does.
	if cmd == nil {
		c.err(unknownCommand(args))
		c.flagTx()
		return start
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.err("ERR wrong number of arguments for '" + cmd.name + "' command")
		c.flagTx()
		return start
	}
	if cmd.subs != nil && len(args) > 1 {
		sub, msg := cmd.subcommand(c, args)
		if msg != "" {
			c.err(msg)
			c.flagTx()
			return start
		}
		cmd = sub
	}
	if !c.authed && cmd.flags&flagNoAuth == 0 {
		c.err("NOAUTH Authentication required.")
		c.flagTx()
		return start
	}
	if !c.checkACL(cmd, args) {
		c.flagTx()
		return start
	}
	if c.ps.active && c.proto == 2 && !pubsubAllowed(cmd) {
		c.err(pubsubRefusal(cmd, args))
		c.flagTx()
		return start
	}
	if cmd.flags&flagWrite != 0 && cmd.firstKey > 0 {
		if msg := c.bifollowWrite(cmd, args); msg != "" {
			c.err(msg)
			c.flagTx()
			return start
		}
	}
	if c.tx != nil && cmd.flags&flagTxControl == 0 {
		c.lastCmd.Store(cmd)
		s.queue(c, cmd, args)
		end := time.Now()
		c.lastActive.Store(end.UnixNano())
		return end
	}
	if c.inLoop && cmd.flags&flagLoop == 0 {
		// Nothing said yet: the client's own goroutine runs it again from
		// the top (eventloop_linux.go).
		c.handOver = cmd.name
		return start
	}
	if c.handedOver {
		c.countLoopRun(cmd)
	}
	if cmd.flags&flagDenyOOM != 0 {
		if err := s.store.EnsureMemory(); err != nil {
			c.err(errOOM)
			return start
		}
	}
	c.lastCmd.Store(cmd)
	mark := len(c.out)
	if c.track.on {
		c.trackRead(cmd, args)
	}
	if cmd.lastKey != cmd.firstKey && c.view == nil && len(args) > 2 {
		s.runHolding(c, cmd, args)
	} else {
		cmd.fn(c, args)
	}
	if len(c.missed) > 0 || len(c.unsure) > 0 {
		if c.inLoop {
			// A fill waits on the source: drop this run (as refillMissed
			// would) and let the client's own goroutine run it again.
			c.out = c.out[:mark]
			c.missed, c.missBuf, c.unsure = c.missed[:0], c.missBuf[:0], c.unsure[:0]
			c.handOver = "a fill"
			return start
		}
		c.refillMissed(cmd, args, mark)
	}
	end := time.Now()
	d := end.Sub(start)
	cmd.stats.observe(c.id, d)
	c.lastActive.Store(end.UnixNano())
	s.slowlog.maybeAdd(c, args, start, d)
	return end
}

// runHolding runs a command that names several keys (MGET, DEL, EXISTS,
// MSET, RENAME, ...) with every one of their shards held, read locks for
// a read, so that it is one step for everyone else: no MGET sees half an
// MSET or half a transaction. (A one-key command is one step already: the
// store locks its shard for each call.)
func (s *Server) runHolding(c *client, cmd *command, args [][]byte) {
	keys, all := cmd.keysOf(c.keyScratch[:0], args)
	if len(keys) < 2 && !all {
		cmd.fn(c, args)
		return
	}
	c.own.Hold(&c.hold, keys, all, cmd.flags&flagWrite == 0)
	c.view = &c.hold
	cmd.fn(c, args)
	c.view = nil
	c.hold.Release()
	clear(keys)
	c.keyScratch = keys[:0]
}

// subcommand finds the subcommand a command line runs and checks its
// argument count, without allocating; the message is the error to answer
// when either is wrong.
func (cmd *command) subcommand(c *client, args [][]byte) (*command, string) {
	name := args[1]
	if len(name) > len(c.lowerBuf) {
		return nil, unknownSubcommand(name, cmd.name)
	}
	b := c.lowerBuf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b[i] = ch
	}
	sub := cmd.subs[string(b)]
	switch {
	case sub == nil:
		return nil, unknownSubcommand(name, cmd.name)
	case (sub.arity > 0 && len(args) != sub.arity) || len(args) < -sub.arity:
		return nil, "ERR wrong number of arguments for '" + sub.name + "' command"
	}
	return sub, ""
}

// sortedSubs are a container's subcommands by name.
func (cmd *command) sortedSubs() []*command { return byName(cmd.subs) }

// byName lists a table's commands sorted by name.
func byName(t map[string]*command) []*command {
	all := make([]*command, 0, len(t))
	for _, c := range t {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b *command) int { return strings.Compare(a.name, b.name) })
	return all
}

// lookup finds a command by name, case-insensitively, without allocating.
func (s *Server) lookup(c *client, name []byte) *command {
	if len(name) > len(c.lowerBuf) {
		return nil
	}
	b := c.lowerBuf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b[i] = ch
	}
	return s.cmds[string(b)]
}

// unknownCommand is Redis's message, args quoted and cut near 128 bytes.
func unknownCommand(args [][]byte) string { return resp.UnknownCommand(args) }

func unknownSubcommand(sub []byte, cmd string) string {
	sub = resp.CString(sub)
	return "ERR unknown subcommand '" + string(sub[:min(len(sub), 128)]) + "'. Try " + strings.ToUpper(cmd) + " HELP."
}

// cString is an argument as Redis's errors quote it, up to its first NUL.
func cString(b []byte) string { return string(resp.CString(b)) }

func subArity(cmd, sub string) string {
	return "ERR wrong number of arguments for '" + cmd + "|" + sub + "' command"
}

// Errors with Redis's exact wording.
const (
	errSyntax     = "ERR syntax error"
	errNotInt     = "ERR value is not an integer or out of range"
	errWrongType  = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errOverflow   = "ERR increment or decrement would overflow"
	errNoSuchKey  = "ERR no such key"
	errOffset     = "ERR offset is out of range"
	errStringSize = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
)

func errInvalidExpire(cmd string) string {
	return "ERR invalid expire time in '" + cmd + "' command"
}

// parseInt reads a decimal int64 the way Redis's string2ll does.
func parseInt(b []byte) (int64, bool) { return resp.ParseInt(b) }

func eqFold(b []byte, s string) bool { return strings.EqualFold(string(b), s) }

// cEqFold is eqFold as Redis's strcasecmp sees an argument: a C string,
// ending at its first NUL byte, so "BIT\x00x" is BIT. The commands added
// for issue 15 read their option words with it.
func cEqFold(b []byte, s string) bool {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return eqFold(b, s)
}

// typeName is the word TYPE replies and SCAN TYPE matches for a store kind:
// Redis's name for the type whose commands the kind answers. A relation set
// answers the hash commands (HGET, HEXISTS, HLEN, ...), so it is a hash.
func typeName(k store.Kind) string {
	switch k {
	case store.KindString:
		return "string"
	case store.KindRelSet:
		return "hash"
	}
	return "none"
}
