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
	name     string
	arity    int
	fn       func(c *client, t *topology, args [][]byte)
	noAuth   bool
	requests prometheus.Counter
}

// How commands are routed. Everything relcache serves is here: forwarded,
// split, composed, answered by the proxy, or refused as unroutable.
func commandTable(m *metrics) map[string]*command {
	read, write := forward(true), forward(false)
	type e struct {
		name  string
		arity int
		fn    func(c *client, t *topology, args [][]byte)
	}
	list := []e{
		// connection, answered here
		{"ping", -1, cmdPing}, {"echo", 2, cmdEcho}, {"quit", -1, cmdQuit}, {"auth", -2, cmdAuth},
		{"select", 2, cmdSelect}, {"info", -1, cmdInfo}, {"client", -2, cmdClient}, {"dbsize", 1, cmdDBSize},
		// strings and keys: the key is the first argument
		{"get", 2, read}, {"set", -3, write}, {"setnx", 3, write}, {"setex", 4, write}, {"psetex", 4, write},
		{"getset", 3, write}, {"getdel", 2, write}, {"getex", -2, write}, {"append", 3, write},
		{"strlen", 2, read}, {"getrange", 4, read}, {"setrange", 4, write},
		{"incr", 2, write}, {"decr", 2, write}, {"incrby", 3, write}, {"decrby", 3, write},
		{"incrbyfloat", 3, write}, {"substr", 4, read}, {"setbit", 4, write}, {"getbit", 3, read},
		{"bitcount", -2, read}, {"bitpos", -3, read}, {"bitfield", -2, write}, {"bitfield_ro", -2, read},
		{"type", 2, read}, {"expire", -3, write}, {"pexpire", -3, write}, {"expireat", -3, write},
		{"pexpireat", -3, write}, {"ttl", 2, read}, {"pttl", 2, read}, {"expiretime", 2, read},
		{"pexpiretime", 2, read}, {"persist", 2, write},
		// multi-key: one sub-request per node
		{"mget", -2, cmdMGet}, {"mset", -3, cmdMSet}, {"del", -2, sumKeys(false)}, {"unlink", -2, sumKeys(false)},
		{"exists", -2, sumKeys(true)}, {"touch", -2, sumKeys(true)},
		// multi-key that must stay on one node
		{"rename", 3, colocated(false, 1, -1, 1)}, {"renamenx", 3, colocated(false, 1, -1, 1)},
		{"msetnx", -3, colocated(false, 1, -1, 2)}, {"copy", -3, colocated(false, 1, 2, 1)},
		{"bitop", -4, colocated(false, 2, -1, 1)}, {"lcs", -3, colocated(true, 1, 2, 1)},
		// relations on one key
		{"relmulti", -3, read}, {"relmembers", -2, read}, {"relcard", 2, read}, {"relinfo", 2, read},
		{"relload", -2, write}, {"reladd", -3, write}, {"reldel", -3, write},
		{"hexists", 3, read}, {"hget", 3, read}, {"hmget", -3, read}, {"hlen", 2, read}, {"hgetall", 2, read},
		{"hkeys", 2, read}, {"hvals", 2, read}, {"hset", -4, write}, {"hmset", -4, write}, {"hdel", -3, write},
		{"sismember", 3, read}, {"smismember", -3, read}, {"scard", 2, read}, {"smembers", 2, read},
		{"sadd", -3, write}, {"srem", -3, write},
		// relations across users: composed from per-node primitives
		{"relcheck", -3, cmdRelCheck}, {"relfollows", -3, cmdRelFollows}, {"relwho", -3, cmdRelWho},
		{"relcommon", -3, cmdRelCommon}, {"follow", -3, cmdFollow}, {"unfollow", 3, cmdFollow},
	}
	// Known to relcache or Redis, but meaningless or unsafe through a
	// sharding proxy: the whole keyspace, a node's administration,
	// transactions and pub/sub.
	for _, name := range []string{"keys", "scan", "randomkey", "flushdb", "flushall", "config", "command",
		"memory", "object", "time", "slowlog", "save", "bgsave", "lastsave", "shutdown", "reledge",
		"hello", "multi", "exec", "discard", "watch", "unwatch", "subscribe", "psubscribe", "ssubscribe",
		"unsubscribe", "punsubscribe", "publish", "pubsub", "monitor", "sync", "psync", "replicaof", "slaveof",
		"eval", "evalsha", "script", "function", "fcall", "wait", "move", "swapdb", "migrate", "debug",
		"cluster", "readonly", "readwrite", "bgrewriteaof", "acl", "latency", "module", "failover"} {
		list = append(list, e{name, -1, unsupported})
	}
	t := make(map[string]*command, len(list))
	for _, x := range list {
		t[x.name] = &command{name: x.name, arity: x.arity, fn: x.fn,
			noAuth:   x.name == "auth" || x.name == "quit",
			requests: m.requests.WithLabelValues(x.name)}
	}
	return t
}

// handle runs one client command: lookup, arity, AUTH, then its handler.
func (c *client) handle(args [][]byte) {
	cmd := c.p.lookup(args[0], c.scratch[:0])
	if cmd == nil {
		c.p.metrics.errors.WithLabelValues("unknown").Inc()
		c.errReply(resp.UnknownCommand(args))
		return
	}
	cmd.requests.Inc()
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.fail(cmd.name, "ERR wrong number of arguments for '"+cmd.name+"' command")
		return
	}
	if !c.authed && !cmd.noAuth {
		c.fail(cmd.name, "NOAUTH Authentication required.")
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
	c.fail(name, "ERR '"+name+"' command is not supported by the proxy")
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
func colocated(read bool, first, last, step int) func(c *client, t *topology, args [][]byte) {
	return func(c *client, t *topology, args [][]byte) {
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
	}
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
