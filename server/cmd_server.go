package server

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/tlsconf"
	"github.com/relcache/relcache/store"
)

// Handlers for server commands: CONFIG, COMMAND, MEMORY, OBJECT, TIME,
// SLOWLOG, SHUTDOWN.

// configParam is one CONFIG GET/SET parameter. set is nil for parameters
// that can only be read.
//
// set only validates: it returns the change as a function, so that CONFIG
// SET with several parameters checks them all before it applies any, as
// Redis does. Applying cannot fail.
type configParam struct {
	name string
	get  func(s *Server) string
	set  func(s *Server, v string) (apply func(), err error)
	// tls, for the tls-* parameters instead of set, checks a value into
	// the TLS settings a CONFIG SET loads once, after all its pairs.
	tls func(st *tlsconf.Settings, v string) error
}

func (s *Server) configParams() []configParam {
	return slices.Concat(s.ownConfigParams(), s.tlsConfigParams(), s.aclConfigParams(), s.noop.params())
}

// ownConfigParams are the parameters that change what relcache does.
func (s *Server) ownConfigParams() []configParam {
	return []configParam{
		{name: "maxmemory",
			get: func(s *Server) string { return strconv.FormatInt(s.store.MaxMemory(), 10) },
			set: func(s *Server, v string) (func(), error) {
				n, err := ParseBytes(v)
				if err != nil {
					return nil, errMemoryValue
				}
				return func() { s.store.SetMaxMemory(n) }, nil
			}},
		{name: "maxmemory-policy",
			get: func(s *Server) string { return s.store.Policy().String() },
			set: func(s *Server, v string) (func(), error) {
				p, err := store.ParsePolicy(v)
				return func() { s.store.SetPolicy(p) }, err
			}},
		{name: "requirepass",
			get: func(s *Server) string { return s.password() },
			set: func(s *Server, v string) (func(), error) {
				// As Redis: the default user's password, whatever else it has.
				return func() { s.requirePass.Store(&v); s.acl.users.SetDefaultPassword(v) }, nil
			}},
		{name: "timeout",
			get: func(s *Server) string { return strconv.FormatInt(int64(s.idleTimeout()/time.Second), 10) },
			set: func(s *Server, v string) (func(), error) {
				// Existing clients are held to the new value too: the
				// housekeeping loop applies it (clientsCron).
				n, err := configInt(v, 0, math.MaxInt32)
				return func() { s.timeout.Store(n * int64(time.Second)) }, err
			}},
		{name: "client-query-buffer-limit",
			get: func(s *Server) string { return strconv.FormatInt(s.queryBufLimit.Load(), 10) },
			set: func(s *Server, v string) (func(), error) {
				n, err := ParseBytes(v)
				switch {
				case err != nil:
					return nil, errMemoryValue
				case n < minQueryBufferLimit:
					return nil, configError(fmt.Sprintf("argument must be between %d and %d inclusive", minQueryBufferLimit, int64(math.MaxInt64)))
				}
				return func() { s.queryBufLimit.Store(n) }, nil
			}},
		{name: "tracking-table-max-keys",
			get: func(s *Server) string { return strconv.FormatInt(s.track.maxKeys.Load(), 10) },
			set: func(s *Server, v string) (func(), error) {
				// Lowering it takes effect gradually, as in Redis: each
				// command and each housekeeping pass drops some entries.
				n, err := configInt(v, 0, math.MaxInt64)
				return func() { s.track.maxKeys.Store(n) }, err
			}},
		{name: "slowlog-log-slower-than",
			get: func(s *Server) string { return strconv.FormatInt(s.slowlog.threshold.Load(), 10) },
			set: func(s *Server, v string) (func(), error) {
				n, err := configInt(v, -1, math.MaxInt64)
				return func() { s.slowlog.threshold.Store(n) }, err
			}},
		{name: "slowlog-max-len",
			get: func(s *Server) string { return strconv.Itoa(s.slowlog.getMaxLen()) },
			set: func(s *Server, v string) (func(), error) {
				n, err := configInt(v, 0, math.MaxInt64)
				return func() { s.slowlog.setMaxLen(int(min(n, math.MaxInt))) }, err
			}},
		setFormatParam,
		{name: "maxclients", get: func(s *Server) string { return strconv.Itoa(s.cfg.MaxClients) }},
		{name: "proto-max-bulk-len", get: func(s *Server) string { return strconv.FormatInt(s.cfg.ProtoMaxBulkLen, 10) }},
		{name: "maxmemory-samples", get: func(s *Server) string { return strconv.Itoa(s.cfg.Store.EvictionSamples) }},
		{name: "bind", get: func(s *Server) string { h, _, _ := strings.Cut(s.cfg.Addr, ":"); return h }},
		{name: "port", get: func(s *Server) string { _, p, _ := strings.Cut(s.cfg.Addr, ":"); return p }},
		{name: "dir", get: func(s *Server) string { return s.cfg.Dir }},
		{name: "databases", get: func(*Server) string { return "1" }},
		{name: "save",
			get: func(s *Server) string { return formatSaveRules(s.persist.saveRules()) },
			set: func(s *Server, v string) (func(), error) {
				rules, err := ParseSaveRules(v)
				if err != nil {
					return nil, configError("Invalid save parameters")
				}
				return func() { s.persist.rules.Store(&rules) }, nil
			}},
		{name: "dbfilename", get: func(s *Server) string { return s.cfg.DBFilename }},
		{name: "appendonly", get: func(*Server) string { return "no" }},
		{name: "io-model", get: func(s *Server) string { return s.cfg.IOModel.String() }},
	}
}

type configError string

func (e configError) Error() string { return string(e) }

// errMemoryValue is Redis's refusal of a size it cannot read. relcache also
// refuses sizes past 2^63-1 bytes, where Redis wraps or saturates.
const errMemoryValue = configError("argument must be a memory value")

// configInt reads a numeric parameter as Redis does: string2ll's syntax (no
// sign but '-', no spaces, no leading zeros), then the parameter's range,
// each refused in Redis's words.
func configInt(v string, lo, hi int64) (int64, error) {
	n, ok := parseInt([]byte(v))
	if !ok {
		return 0, configError("argument couldn't be parsed into an integer")
	}
	if n < lo || n > hi {
		return 0, configError(fmt.Sprintf("argument must be between %d and %d inclusive", lo, hi))
	}
	return n, nil
}

// CONFIG GET pattern [pattern ...] | SET param value [param value ...] | RESETSTAT | HELP
func cmdConfig(c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	switch sub {
	case "get":
		if len(args) < 3 {
			c.err(subArity("config", sub))
			return
		}
		var out []configParam
		for _, p := range c.srv.configParams() {
			for _, pat := range args[2:] {
				if globMatch(toLower(pat), p.name) {
					out = append(out, p)
					break
				}
			}
		}
		c.mapHeader(len(out))
		for _, p := range out {
			c.bulkString(p.name)
			c.bulkString(p.get(c.srv))
		}
	case "set":
		if len(args) < 4 || len(args)%2 != 0 {
			c.err(subArity("config", sub))
			return
		}
		if msg := c.srv.configSet(args[2:]); msg != "" {
			c.err(msg)
			return
		}
		c.ok()
	case "resetstat":
		c.srv.resetStats()
		c.ok()
	case "help":
		// Redis's text, without REWRITE: there is no config file to rewrite.
		c.help("CONFIG",
			"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
			"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
			"RESETSTAT", "    Reset statistics reported by the INFO command.")
	default:
		c.err(unknownSubcommand(args[1], "config"))
	}
}

// configSet is CONFIG SET of name/value pairs: every pair is validated
// before any is applied, so an error leaves every setting as it was. It
// returns the error reply, or "" when all were applied.
//
// As in Redis, every name is checked before any value, and the first bad
// name is quoted as the client wrote it; a bad value's error names the
// parameter.
func (s *Server) configSet(pairs [][]byte) string {
	params := s.configParams()
	idxs := make([]int, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		name := strings.ToLower(string(pairs[i]))
		idx := slices.IndexFunc(params, func(p configParam) bool { return p.name == name })
		failed := "ERR CONFIG SET failed (possibly related to argument '" + cString(pairs[i]) + "') - "
		switch {
		case idx < 0:
			return "ERR Unknown option or number of arguments for CONFIG SET - '" + cString(pairs[i]) + "'"
		case params[idx].set == nil && params[idx].tls == nil:
			return failed + "can't set immutable config"
		case slices.Contains(idxs, idx):
			return failed + "duplicate parameter"
		}
		idxs = append(idxs, idx)
	}
	applies := make([]func(), 0, len(idxs))
	var tlsSt tlsconf.Settings
	tlsParam := "" // the first tls-* parameter set, named if the load fails
	for i, idx := range idxs {
		p, v := params[idx], string(pairs[2*i+1])
		var apply func()
		var err error
		if p.tls != nil {
			if tlsParam == "" {
				tlsParam, tlsSt = p.name, s.tlsSettings()
			}
			err = p.tls(&tlsSt, v)
		} else {
			apply, err = p.set(s, v)
		}
		if err != nil {
			return "ERR CONFIG SET failed (possibly related to argument '" + p.name + "') - " + err.Error()
		}
		if apply != nil {
			applies = append(applies, apply)
		}
	}
	if tlsParam != "" {
		apply, err := s.loadStagedTLS(tlsSt)
		if err != nil {
			return "ERR CONFIG SET failed (possibly related to argument '" + tlsParam + "') - " + err.Error()
		}
		applies = append(applies, apply)
	}
	for _, apply := range applies {
		apply()
	}
	return ""
}

func toLower(b []byte) []byte { return []byte(strings.ToLower(string(b))) }

// sortedCommands are the commands (no subcommands) by name.
func (s *Server) sortedCommands() []*command { return byName(s.cmds) }

// everyCommand are the commands and their subcommands, each container
// followed by its subcommands, by name: what COMMAND LIST lists and
// statistics are kept for.
func (s *Server) everyCommand() []*command {
	var all []*command
	for _, c := range s.sortedCommands() {
		all = append(all, c)
		all = append(all, c.sortedSubs()...)
	}
	return all
}

// MEMORY USAGE key [SAMPLES n] | MEMORY HELP
func cmdMemory(c *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); sub {
	case "usage":
		if len(args) < 3 {
			c.err(subArity("memory", sub))
			return
		}
		// SAMPLES is checked as Redis does, though relcache's accounting
		// is exact and needs no sample.
		for j := 3; j < len(args); j += 2 {
			if !eqFold(args[j], "SAMPLES") || j+1 == len(args) {
				c.err(errSyntax)
				return
			}
			n, ok := parseInt(args[j+1])
			if !ok {
				c.err(errNotInt)
				return
			}
			if n < 0 {
				c.err(errSyntax)
				return
			}
		}
		e, ok := c.db().Peek(args[2])
		if !ok {
			c.null()
			return
		}
		c.integer(store.MemoryUsage(args[2], e))
	case "help":
		c.arrayOfBulk([]string{"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "USAGE <key> [SAMPLES <count>]"})
	default:
		c.err(unknownSubcommand(args[1], "memory"))
	}
}

// OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key | OBJECT HELP
func cmdObject(c *client, args [][]byte) {
	sub := strings.ToLower(string(args[1]))
	if sub == "help" {
		c.arrayOfBulk([]string{"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>", "FREQ <key>", "IDLETIME <key>", "REFCOUNT <key>"})
		return
	}
	if !slices.Contains([]string{"encoding", "freq", "idletime", "refcount"}, sub) {
		c.err(unknownSubcommand(args[1], "object"))
		return
	}
	if len(args) != 3 {
		c.err(subArity("object", sub))
		return
	}
	e, ok := c.db().Peek(args[2])
	if !ok {
		c.null()
		return
	}
	switch sub {
	case "encoding":
		c.bulkString(encodingOf(e))
	case "freq":
		c.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	case "idletime":
		idle, _ := c.db().IdleSeconds(args[2])
		c.integer(idle)
	case "refcount":
		c.integer(1)
	}
}

// encodingOf names a value's representation the way Redis would for the
// same string written by the same commands (store.Enc), so tools that
// inspect encodings keep working.
func encodingOf(e store.Entry) string {
	switch {
	case e.Kind == store.KindRelSet:
		return "openhash"
	case e.Enc == store.EncRaw:
		return "raw"
	}
	if e.Enc == store.EncAuto && len(e.Value) <= 20 {
		if _, ok := parseInt(e.Value); ok {
			return "int"
		}
	}
	if len(e.Value) <= 44 {
		return "embstr"
	}
	return "raw"
}

func cmdTime(c *client, _ [][]byte) {
	now := time.Now()
	c.arrayHeader(2)
	c.bulkString(strconv.FormatInt(now.Unix(), 10))
	c.bulkString(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

// SLOWLOG GET [count] | LEN | RESET | HELP
func cmdSlowlog(c *client, args [][]byte) {
	switch sub := strings.ToLower(string(args[1])); sub {
	case "get":
		n := int64(10)
		if len(args) > 3 {
			c.err(subArity("slowlog", sub))
			return
		}
		if len(args) == 3 {
			v, ok := parseInt(args[2])
			if !ok || v < -1 {
				c.err("ERR count should be greater than or equal to -1")
				return
			}
			n = v
		}
		entries := c.srv.slowlog.newest(int(n))
		c.arrayHeader(len(entries))
		for _, e := range entries {
			c.arrayHeader(6)
			c.integer(e.id)
			c.integer(e.at.Unix())
			c.integer(e.duration.Microseconds())
			c.arrayOfBulk(e.args)
			c.bulkString(e.addr)
			c.bulkString(e.name)
		}
	case "len":
		c.integer(int64(c.srv.slowlog.len()))
	case "reset":
		c.srv.slowlog.reset()
		c.ok()
	case "help":
		c.arrayOfBulk([]string{"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET [<count>]", "LEN", "RESET"})
	default:
		c.err(unknownSubcommand(args[1], "slowlog"))
	}
}

// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE]: stops the server gracefully. The
// final snapshot (when save rules are set, or SAVE asks) is taken after the
// last client has finished, so no write slips in after it; NOSAVE skips
// it. NOW and FORCE are accepted for compatibility. Like Redis, a
// successful SHUTDOWN sends no reply: the connection closes.
func cmdShutdown(c *client, args [][]byte) {
	var save, nosave bool
	for _, a := range args[1:] {
		switch {
		case eqFold(a, "NOSAVE"):
			nosave = true
		case eqFold(a, "SAVE"):
			save = true
		case eqFold(a, "NOW"), eqFold(a, "FORCE"):
		default:
			c.err(errSyntax)
			return
		}
	}
	if save && nosave {
		c.err(errSyntax)
		return
	}
	switch {
	case save:
		c.srv.shutdownSave.Store(1)
	case nosave:
		c.srv.shutdownSave.Store(2)
	}
	c.srv.log.Info("SHUTDOWN requested by client")
	c.srv.requestShutdown()
	c.closeAfterReply = true
}
