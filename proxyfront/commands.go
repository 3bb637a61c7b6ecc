package proxyfront

import (
	"bytes"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/cmdmeta"
	"github.com/relcache/relcache/internal/resp"
)

// command is one entry of the proxy's command table. Arity follows Redis
// and relcache (N exactly, -N at least), so the proxy refuses a malformed
// command with the node's own words before routing it.
type command struct {
	name  string
	arity int
	fn    func(c *client, t *topology, args [][]byte)
	// tx finds the nodes of the keys the command reads or writes, for a
	// transaction (multi.go), or says why it cannot run in one.
	tx        txKeys
	write     bool // changes keys: a transaction holding it goes to replica pools too
	txControl bool // runs at once inside MULTI instead of being queued
	noAuth    bool
	acl       *acl.Command // what users' rules say of it (acl.go); nil for names only the proxy knows
	how       string       // the route's kind (route.how), for tests and errors
	// loop: an event loop runs it (eventloop.go): it starts one call, or
	// answers at once, and never waits in its handler or its turn.
	// RELCHECK is one: its handler never waits, and across nodes its turn
	// is a joinOp, which a loop finishes once its calls are answered.
	loop     bool
	requests prometheus.Counter
}

// route is how the proxy runs a command: alone (fn) and inside MULTI (tx;
// nil for the commands that run at once there).
type route struct {
	// how names the kind: "key" and "keys" (by key positions), "split",
	// "composed", "here" (answered by the proxy), "tx", "refused".
	how string
	fn  func(c *client, t *topology, args [][]byte)
	tx  txKeys
	// keyed: inside MULTI its keys are those at its key positions.
	keyed bool
}

// The proxy's command table is derived from the node's command metadata
// (internal/cmdmeta): arity, flags (read or write, allowed before AUTH,
// refused inside MULTI) and key positions come from there, so a command
// added to the node cannot be routed wrongly here. What stays the proxy's
// own is the decision for each command that is not simply routed by its
// keys: specialRoutes and refused. Every node command must be one of the
// three, or the proxy does not start (and TestEveryNodeCommandRouted
// fails): nothing falls through by accident.

// specialRoutes are the node's commands the proxy runs its own way:
// answered here, split into one sub-request per node, composed from
// per-node primitives, or transactions (multi.go).
func specialRoutes() map[string]route {
	here := func(fn func(*client, *topology, [][]byte)) route { // answered by the proxy, and by the node inside MULTI
		return route{how: "here", fn: fn, tx: noKeys}
	}
	own := func(fn func(*client, *topology, [][]byte)) route { // answered by the proxy only
		return route{how: "here", fn: fn, tx: answeredHere}
	}
	split := func(fn func(*client, *topology, [][]byte)) route { // one sub-request per node
		return route{how: "split", fn: fn, keyed: true}
	}
	composed := func(fn func(*client, *topology, [][]byte), tx txKeys) route {
		return route{how: "composed", fn: fn, tx: tx}
	}
	tx := func(fn func(*client, *topology, [][]byte)) route { return route{how: "tx", fn: fn} }
	return map[string]route{
		// connection, answered here
		"ping": here(cmdPing), "echo": here(cmdEcho), "select": here(cmdSelect), "unwatch": here(cmdUnwatch),
		"quit": own(cmdQuit), "auth": own(cmdAuth), "info": own(cmdInfo), "client": own(cmdClient),
		"dbsize": composed(cmdDBSize, everyNode("DBSIZE counts the keys of every node")),
		// multi-key: one sub-request per node
		"mget": split(cmdMGet), "mset": split(cmdMSet),
		"del": split(sumKeys(false)), "unlink": split(sumKeys(false)),
		"exists": split(sumKeys(true)), "touch": split(sumKeys(true)),
		// relations across users: composed from per-node primitives
		"relcheck":   composed(cmdRelCheck, usersAt(1, -1)),
		"relfollows": composed(cmdRelFollows, usersAt(2, -1)),
		"relwho":     composed(cmdRelWho, relWhoKeys),
		"relcommon":  composed(cmdRelCommon, usersAt(1, 2)),
		// The node refuses them inside MULTI (no_multi): they write the
		// source of record, which a transaction cannot roll back.
		"follow": composed(cmdFollow, refusedInTx(errNotInTx)), "unfollow": composed(cmdFollow, refusedInTx(errNotInTx)),
		// transactions (multi.go)
		"multi": tx(cmdMulti), "exec": tx(cmdExec), "discard": tx(cmdDiscard), "watch": tx(cmdWatch),
	}
}

// refused are commands known to relcache or Redis but meaningless or
// unsafe through a sharding proxy: the whole keyspace, a node's
// administration and pub/sub. Those no node serves (EVAL, CLUSTER, ...)
// are refused by name too, so a client hears that the proxy refuses them.
var refused = []string{"keys", "scan", "randomkey", "flushdb", "flushall", "config", "command",
	"memory", "object", "time", "slowlog", "save", "bgsave", "lastsave", "shutdown", "reledge",
	"hello", "subscribe", "psubscribe", "ssubscribe",
	"unsubscribe", "punsubscribe", "publish", "pubsub", "monitor", "sync", "psync", "replicaof", "slaveof",
	"eval", "evalsha", "script", "function", "fcall", "wait", "move", "swapdb", "migrate", "debug",
	"cluster", "readonly", "readwrite", "bgrewriteaof", "acl", "latency", "module", "failover"}

// byKeys routes a command by its key positions: one key goes to its node;
// several go to their node when they share one and are refused otherwise
// (colocated). A read goes to the read pool and fails over, a write to
// the primary (and the replicas with replicate_writes).
func byKeys(m *cmdmeta.Command) (route, error) {
	first, last, step, movable := m.LegacyRange()
	read := m.Has("readonly")
	switch {
	case first == 0:
		return route{}, &unroutedError{m.Name, "it names no keys"}
	case movable:
		return route{}, &unroutedError{m.Name, "its keys are not at fixed positions"}
	case read == m.Has("write"):
		return route{}, &unroutedError{m.Name, "its flags make it both or neither a read and a write"}
	}
	r := route{how: "key", fn: forward(read, read && readsRelationSets(m.Group), first), tx: keysAt(first, first, 1)}
	if last != first {
		r = colocated(read, first, last, step)
	}
	if m.Has("no_multi") {
		r.tx = refusedInTx(errNotInTx)
	}
	return r, nil
}

// unroutedError is a node command the proxy has no route for: a command
// added to the node that is not routed by its keys must be placed in
// specialRoutes or refused.
type unroutedError struct{ name, why string }

func (e *unroutedError) Error() string {
	return "proxy: no route for the node's command " + e.name + ": " + e.why +
		"; give it one in proxyfront/commands.go (specialRoutes) or refuse it"
}

// commandTable is the proxy's table for the node's commands.
func commandTable(m *metrics) (map[string]*command, error) {
	metas, err := cmdmeta.Load()
	if err != nil {
		return nil, err
	}
	return buildCommandTable(metas, m)
}

// buildCommandTable routes every command of metas (subcommands travel with
// their container) and the refused names.
func buildCommandTable(metas map[string]*cmdmeta.Command, m *metrics) (map[string]*command, error) {
	special := specialRoutes()
	t := make(map[string]*command, len(metas)+len(refused))
	for name, meta := range metas {
		if strings.Contains(name, "|") || slices.Contains(refused, name) {
			continue
		}
		r, ok := special[name]
		switch {
		case ok && r.keyed:
			first, last, step, _ := meta.LegacyRange()
			r.tx = keysAt(first, last, step)
		case !ok:
			var err error
			if r, err = byKeys(meta); err != nil {
				return nil, err
			}
		}
		t[name] = &command{name: name, arity: meta.Arity, fn: r.fn, tx: r.tx, write: meta.Has("write"),
			txControl: r.tx == nil, noAuth: meta.Has("no_auth"), how: r.how, requests: m.requests.WithLabelValues(name)}
	}
	for name := range special {
		switch {
		case metas[name] == nil:
			return nil, &unroutedError{name, "the proxy routes it, but the node does not serve it"}
		case slices.Contains(refused, name):
			return nil, &unroutedError{name, "it is both routed and refused"}
		}
	}
	for _, name := range refused {
		t[name] = &command{name: name, arity: -1, fn: unsupported, tx: refusedInTx(unsupportedMsg(name)),
			how: "refused", requests: m.requests.WithLabelValues(name)}
	}
	for name, cmd := range t {
		cmd.loop = cmd.how == "key" || cmd.how == "keys" || cmd.how == "refused" ||
			name == "ping" || name == "echo" || name == "select" || name == "relcheck"
	}
	// QUIT inside MULTI closes the connection at once, as in Redis.
	t["quit"].txControl = true
	return t, nil
}

// handle runs one client command: lookup, arity, AUTH, then its handler;
// inside MULTI, after the same checks, the command is queued instead
// (multi.go). A refusal inside MULTI dooms the transaction, as Redis's
// rejectCommand does.
func (c *client) handle(args [][]byte) {
	cmd := c.p.lookup(args[0], c.scratch[:0])
	if cmd == nil {
		c.p.metrics.errors.WithLabelValues("unknown").Inc()
		c.errReply(resp.UnknownCommand(args))
		c.flagTx()
		return
	}
	cmd.requests.Inc()
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.fail(cmd.name, "ERR wrong number of arguments for '"+cmd.name+"' command")
		c.flagTx()
		return
	}
	if !c.authed && !cmd.noAuth {
		c.fail(cmd.name, "NOAUTH Authentication required.")
		c.flagTx()
		return
	}
	if !c.permitted(cmd, args) {
		return
	}
	if cmd.write && c.p.l1 != nil {
		c.l1.writing = true
	}
	if c.tx != nil && !cmd.txControl {
		c.queue(cmd, args)
		return
	}
	cmd.fn(c, c.p.topo.Load(), args)
}

// fail answers an error the proxy made, counting it.
func (c *client) fail(name, msg string) {
	c.p.metrics.errors.WithLabelValues(name).Inc()
	c.errReply(msg)
}

// lookup finds a command by name, case-insensitively, without allocating.
func (p *Proxy) lookup(name, buf []byte) *command {
	if len(name) > 32 {
		return nil
	}
	buf = append(buf, name...)
	for i, b := range buf {
		if 'A' <= b && b <= 'Z' {
			buf[i] = b + 'a' - 'A'
		}
	}
	return p.cmds[string(buf)]
}

func unsupported(c *client, _ *topology, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	c.fail(name, unsupportedMsg(name))
}

func unsupportedMsg(name string) string {
	return "ERR '" + name + "' command is not supported by the proxy"
}

// forward routes a command by its one key, args[pos].
//
// A command that reads relation sets (setReader) is not forwarded on a
// bi-follow key in a pool of several nodes: a node computes that list from
// lists all over the pool, so the proxy assembles it (bifollow.go).
func forward(read, setReader bool, pos int) func(c *client, t *topology, args [][]byte) {
	return func(c *client, t *topology, args [][]byte) {
		if setReader && len(t.reads[0].backends) > 1 {
			if u, ok := t.bifollowUser(args[pos]); ok {
				cmdBifollowRead(c, t, args, u)
				return
			}
		}
		if read && c.p.l1 != nil && c.l1Read(t, args, pos) {
			return
		}
		k := c.start(t, t.hashOf(args[pos], c.scratch), read, args...)
		c.pending = append(c.pending, k)
	}
}

// colocated forwards a command over several keys when they all live on
// one node, and refuses it otherwise: RENAME, MSETNX, COPY or BITOP across
// nodes cannot keep their atomicity, and LCS needs both values in one
// place. The keys are args[first], args[first+step], ... up to args[last]
// (last < 0: to the end); what follows them (COPY's options) is not a key.
func colocated(read bool, first, last, step int) route {
	return route{how: "keys", tx: keysAt(first, last, step), fn: func(c *client, t *topology, args [][]byte) {
		name := strings.ToLower(string(args[0]))
		if step == 2 && len(args)%2 != 1 {
			c.fail(name, "ERR wrong number of arguments for '"+name+"' command")
			return
		}
		end := len(args) - 1
		if last >= 0 {
			end = last
		}
		h := t.hashOf(args[first], c.scratch)
		for i := first + step; i <= end; i += step {
			if t.primary.backendFor(t.hashOf(args[i], c.scratch)) != t.primary.backendFor(h) {
				c.fail(name, "ERR '"+name+"' of keys on different nodes is not supported by the proxy")
				return
			}
		}
		c.pending = append(c.pending, c.start(t, h, read, args...))
	}}
}

func cmdPing(c *client, _ *topology, args [][]byte) {
	switch len(args) {
	case 1:
		c.reply([]byte("+PONG\r\n"))
	case 2:
		c.reply(redcon.AppendBulk(c.scratch[:0], args[1]))
	default:
		c.fail("ping", "ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *client, _ *topology, args [][]byte) { c.reply(redcon.AppendBulk(nil, args[1])) }

func cmdQuit(c *client, _ *topology, _ [][]byte) {
	c.reply([]byte("+OK\r\n"))
	c.quit = true
}

func cmdSelect(c *client, _ *topology, args [][]byte) {
	if msg := resp.SelectError(args[1]); msg != "" {
		c.fail("select", msg)
		return
	}
	c.reply([]byte("+OK\r\n"))
}

// CLIENT SETNAME and SETINFO are accepted (client libraries send them on
// connect) and not kept; the rest of CLIENT is about one node's clients.
func cmdClient(c *client, _ *topology, args [][]byte) {
	switch {
	case bytes.EqualFold(args[1], []byte("setname")) || bytes.EqualFold(args[1], []byte("setinfo")):
		c.reply([]byte("+OK\r\n"))
	default:
		c.fail("client", "ERR 'client "+strings.ToLower(string(args[1]))+"' command is not supported by the proxy")
	}
}
