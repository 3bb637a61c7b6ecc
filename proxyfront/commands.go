package proxyfront

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"

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
	requests  prometheus.Counter
}

// route is how the proxy runs a command: alone (fn) and inside MULTI (tx).
type route struct {
	fn    func(c *client, t *topology, args [][]byte)
	tx    txKeys
	write bool
}

// How commands are routed. Everything relcache serves is here: forwarded,
// split, composed, answered by the proxy, or refused as unroutable.
func commandTable(m *metrics) map[string]*command {
	rd := route{forward(true), keysAt(1, 1, 1), false}
	wr := route{forward(false), keysAt(1, 1, 1), true}
	here := route{tx: noKeys}                                  // answered by the proxy, and by the node inside MULTI
	own := func(fn func(*client, *topology, [][]byte)) route { // answered by the proxy only
		return route{fn: fn, tx: answeredHere}
	}
	type e struct {
		name  string
		arity int
		route
	}
	with := func(r route, fn func(*client, *topology, [][]byte)) route { r.fn = fn; return r }
	list := []e{
		// connection, answered here
		{"ping", -1, with(here, cmdPing)}, {"echo", 2, with(here, cmdEcho)}, {"quit", -1, own(cmdQuit)},
		{"auth", -2, own(cmdAuth)}, {"select", 2, with(here, cmdSelect)}, {"info", -1, own(cmdInfo)},
		{"client", -2, own(cmdClient)}, {"dbsize", 1, route{cmdDBSize, everyNode("DBSIZE counts the keys of every node"), false}},
		// strings and keys: the key is the first argument
		{"get", 2, rd}, {"set", -3, wr}, {"setnx", 3, wr}, {"setex", 4, wr}, {"psetex", 4, wr},
		{"getset", 3, wr}, {"getdel", 2, wr}, {"getex", -2, wr}, {"append", 3, wr},
		{"strlen", 2, rd}, {"getrange", 4, rd}, {"setrange", 4, wr},
		{"incr", 2, wr}, {"decr", 2, wr}, {"incrby", 3, wr}, {"decrby", 3, wr},
		{"incrbyfloat", 3, wr}, {"substr", 4, rd}, {"setbit", 4, wr}, {"getbit", 3, rd},
		{"bitcount", -2, rd}, {"bitpos", -3, rd}, {"bitfield", -2, wr}, {"bitfield_ro", -2, rd},
		{"type", 2, rd}, {"expire", -3, wr}, {"pexpire", -3, wr}, {"expireat", -3, wr},
		{"pexpireat", -3, wr}, {"ttl", 2, rd}, {"pttl", 2, rd}, {"expiretime", 2, rd},
		{"pexpiretime", 2, rd}, {"persist", 2, wr},
		// multi-key: one sub-request per node
		{"mget", -2, route{cmdMGet, keysAt(1, -1, 1), false}}, {"mset", -3, route{cmdMSet, keysAt(1, -1, 2), true}},
		{"del", -2, route{sumKeys(false), keysAt(1, -1, 1), true}}, {"unlink", -2, route{sumKeys(false), keysAt(1, -1, 1), true}},
		{"exists", -2, route{sumKeys(true), keysAt(1, -1, 1), false}}, {"touch", -2, route{sumKeys(true), keysAt(1, -1, 1), false}},
		// multi-key that must stay on one node
		{"rename", 3, colocated(false, 1, -1, 1)}, {"renamenx", 3, colocated(false, 1, -1, 1)},
		{"msetnx", -3, colocated(false, 1, -1, 2)}, {"copy", -3, colocated(false, 1, 2, 1)},
		{"bitop", -4, colocated(false, 2, -1, 1)}, {"lcs", -3, colocated(true, 1, 2, 1)},
		// relations on one key
		{"relmulti", -3, rd}, {"relmembers", -2, rd}, {"relcard", 2, rd}, {"relinfo", 2, rd},
		{"relload", -2, wr}, {"reladd", -3, wr}, {"reldel", -3, wr},
		{"hexists", 3, rd}, {"hget", 3, rd}, {"hmget", -3, rd}, {"hlen", 2, rd}, {"hgetall", 2, rd},
		{"hkeys", 2, rd}, {"hvals", 2, rd}, {"hset", -4, wr}, {"hmset", -4, wr}, {"hdel", -3, wr},
		{"sismember", 3, rd}, {"smismember", -3, rd}, {"scard", 2, rd}, {"smembers", 2, rd},
		{"sadd", -3, wr}, {"srem", -3, wr},
		// relations across users: composed from per-node primitives
		{"relcheck", -3, route{cmdRelCheck, usersAt(1, -1), false}},
		{"relfollows", -3, route{cmdRelFollows, usersAt(2, -1), false}},
		{"relwho", -3, route{cmdRelWho, relWhoKeys, false}},
		{"relcommon", -3, route{cmdRelCommon, usersAt(1, 2), false}},
		// The node refuses them inside MULTI (no_multi): they write the
		// source of record, which a transaction cannot roll back.
		{"follow", -3, route{cmdFollow, refusedInTx(errNotInTx), true}},
		{"unfollow", 3, route{cmdFollow, refusedInTx(errNotInTx), true}},
		// transactions (multi.go)
		{"multi", 1, route{fn: cmdMulti}}, {"exec", 1, route{fn: cmdExec}}, {"discard", 1, route{fn: cmdDiscard}},
		{"watch", -2, route{fn: cmdWatch}}, {"unwatch", 1, with(here, cmdUnwatch)},
	}
	// Known to relcache or Redis, but meaningless or unsafe through a
	// sharding proxy: the whole keyspace, a node's administration and
	// pub/sub.
	for _, name := range []string{"keys", "scan", "randomkey", "flushdb", "flushall", "config", "command",
		"memory", "object", "time", "slowlog", "save", "bgsave", "lastsave", "shutdown", "reledge",
		"hello", "subscribe", "psubscribe", "ssubscribe",
		"unsubscribe", "punsubscribe", "publish", "pubsub", "monitor", "sync", "psync", "replicaof", "slaveof",
		"eval", "evalsha", "script", "function", "fcall", "wait", "move", "swapdb", "migrate", "debug",
		"cluster", "readonly", "readwrite", "bgrewriteaof", "acl", "latency", "module", "failover"} {
		list = append(list, e{name, -1, route{fn: unsupported, tx: refusedInTx(unsupportedMsg(name))}})
	}
	t := make(map[string]*command, len(list))
	for _, x := range list {
		t[x.name] = &command{name: x.name, arity: x.arity, fn: x.fn, tx: x.tx, write: x.write,
			txControl: x.tx == nil,
			noAuth:    x.name == "auth" || x.name == "quit",
			requests:  m.requests.WithLabelValues(x.name)}
	}
	// QUIT inside MULTI closes the connection at once, as in Redis.
	t["quit"].txControl = true
	return t
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

// forward routes a command by its first argument, the key.
func forward(read bool) func(c *client, t *topology, args [][]byte) {
	return func(c *client, t *topology, args [][]byte) {
		k := c.start(t, t.hashOf(args[1], c.scratch), read, args...)
		c.pending = append(c.pending, k)
	}
}

// colocated forwards a command over several keys when they all live on
// one node, and refuses it otherwise: RENAME, MSETNX, COPY or BITOP across
// nodes cannot keep their atomicity, and LCS needs both values in one
// place. The keys are args[first], args[first+step], ... up to args[last]
// (last < 0: to the end); what follows them (COPY's options) is not a key.
func colocated(read bool, first, last, step int) route {
	return route{tx: keysAt(first, last, step), write: !read, fn: func(c *client, t *topology, args [][]byte) {
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

// AUTH password, or AUTH default password (Redis 6's form).
func cmdAuth(c *client, _ *topology, args [][]byte) {
	pw := c.p.cfgNow().Password
	if len(args) > 3 {
		c.fail("auth", "ERR syntax error")
		return
	}
	if pw == "" {
		c.fail("auth", "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	given := args[len(args)-1]
	if (len(args) == 3 && string(args[1]) != "default") || !samePassword(given, pw) {
		c.fail("auth", "WRONGPASS invalid username-password pair or user is disabled.")
		return
	}
	c.authed = true
	c.reply([]byte("+OK\r\n"))
}

// samePassword compares in constant time, as the nodes' AUTH does; hashing
// first keeps the password's length from leaking through timing too.
func samePassword(given []byte, want string) bool {
	a, b := sha256.Sum256(given), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
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
