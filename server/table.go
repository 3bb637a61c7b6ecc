package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/relcache/relcache/internal/cmdmeta"
)

// commandHandlers binds every command relcache serves to its handler. A
// subcommand runs its container's handler, which reads the subcommand
// itself. Everything else about a command (arity, flags, key positions,
// its documentation) is in its file in internal/cmdmeta/commands/, which
// the proxy routes by too.
func commandHandlers() map[string]func(*client, [][]byte) {
	return map[string]func(*client, [][]byte){
		// connection
		"ping": cmdPing, "echo": cmdEcho, "quit": cmdQuit, "hello": cmdHello, "auth": cmdAuth,
		"select": cmdSelect, "client": cmdClient,
		// pub/sub
		"subscribe": subscribeCmd(false), "unsubscribe": unsubscribeCmd(false),
		"psubscribe": subscribeCmd(true), "punsubscribe": unsubscribeCmd(true),
		"publish": cmdPublish, "pubsub": cmdPubSub,
		// transactions
		"multi": cmdMulti, "exec": cmdExec, "discard": cmdDiscard, "watch": cmdWatch, "unwatch": cmdUnwatch,
		// strings
		"get": cmdGet, "set": cmdSet, "setnx": cmdSetNX,
		"setex": setWithTTL("setex", optEX), "psetex": setWithTTL("psetex", optPX),
		"getset": cmdGetSet, "getdel": cmdGetDel, "getex": cmdGetEx, "append": cmdAppend,
		"strlen": cmdStrlen, "getrange": cmdGetRange, "substr": cmdGetRange, "setrange": cmdSetRange,
		"mget": cmdMGet, "mset": cmdMSet, "msetnx": cmdMSetNX,
		"incr": incrBy(1, 1), "decr": incrBy(-1, 1), "incrby": incrBy(1, 0), "decrby": incrBy(-1, 0),
		"incrbyfloat": cmdIncrByFloat, "lcs": cmdLCS,
		// bitmaps
		"setbit": cmdSetBit, "getbit": cmdGetBit, "bitcount": cmdBitCount, "bitpos": cmdBitPos,
		"bitop": cmdBitOp, "bitfield": cmdBitField, "bitfield_ro": cmdBitFieldRO,
		// keyspace
		"del": cmdDel, "unlink": cmdDel, "exists": cmdExists, "touch": cmdExists, "type": cmdType,
		"rename": renameCmd(false), "renamenx": renameCmd(true), "copy": cmdCopy,
		"expire":   expireCmd("expire", 1000, false),
		"pexpire":  expireCmd("pexpire", 1, false),
		"expireat": expireCmd("expireat", 1000, true), "pexpireat": expireCmd("pexpireat", 1, true),
		"ttl": ttlCmd(1000, false), "pttl": ttlCmd(1, false),
		"expiretime": ttlCmd(1000, true), "pexpiretime": ttlCmd(1, true), "persist": cmdPersist,
		"keys": cmdKeys, "scan": cmdScan, "randomkey": cmdRandomKey, "dbsize": cmdDBSize,
		"flushdb": cmdFlush, "flushall": cmdFlush,
		// relations
		"relcheck": cmdRelCheck, "relmulti": cmdRelMulti, "relfollows": cmdRelFollows, "relwho": cmdRelWho,
		"relcommon": cmdRelCommon, "relmembers": cmdRelMembers, "relcard": cmdRelCard, "relinfo": cmdRelInfo,
		"relload": cmdRelLoad, "reladd": cmdRelAdd, "reldel": cmdRelDel,
		"follow": cmdFollow, "unfollow": cmdUnfollow, "reledge": cmdRelEdge,
		// hash and set compatibility on relation sets
		"hexists": cmdHExists, "hget": cmdHGet, "hmget": cmdHMGet, "hlen": cardinality,
		"hgetall": listMembers(true, true, false), "hkeys": listMembers(true, false, false),
		"hvals": listMembers(false, true, false), "hset": cmdHSet, "hmset": cmdHMSet, "hdel": removeCmd,
		"sismember": cmdSIsMember, "smismember": cmdSMIsMember, "scard": cardinality,
		"smembers": listMembers(true, false, true), "sadd": cmdSAdd, "srem": removeCmd,
		// the sorted-set view of relation sets (cmd_zset.go)
		"zscore": cmdZScore, "zmscore": cmdZMScore, "zcard": cmdZCard, "zcount": cmdZCount,
		"zrange": cmdZRange, "zrevrange": cmdZRevRange, "zrangebyscore": cmdZRangeByScore,
		"zrevrangebyscore": cmdZRevRangeByScore, "zrank": cmdZRank, "zrevrank": cmdZRevRank,
		"zrandmember": cmdZRandMember, "zscan": cmdZScan, "zadd": cmdZAdd, "zrem": cmdZRem,
		// server
		"info": cmdInfo, "config": cmdConfig, "command": cmdCommand, "memory": cmdMemory,
		"object": cmdObject, "time": cmdTime, "slowlog": cmdSlowlog, "save": cmdSave,
		"bgsave": cmdBgsave, "lastsave": cmdLastsave, "shutdown": cmdShutdown, "acl": cmdACL,
	}
}

// txControl are the commands that run at once inside MULTI instead of
// being queued, as in Redis's processCommand.
var txControl = []string{"quit", "multi", "exec", "discard", "watch"}

// commandTable joins the handlers to the metadata. Every command needs
// both, and every subcommand file a container that is served: a command
// added in one place only fails every server start (and so every test).
func commandTable() (map[string]*command, error) {
	metas, err := cmdmeta.Load()
	if err != nil {
		return nil, err
	}
	t := make(map[string]*command)
	for name, fn := range commandHandlers() {
		m := metas[name]
		if m == nil {
			return nil, fmt.Errorf("command %s has no internal/cmdmeta/commands/%s.json", name, name)
		}
		t[name] = newCommand(m, fn)
		if slices.Contains(txControl, name) {
			t[name].flags |= flagTxControl
		}
	}
	for name, m := range metas {
		parent, sub, isSub := strings.Cut(name, "|")
		p := t[parent]
		switch {
		case p == nil:
			return nil, fmt.Errorf("internal/cmdmeta/commands/%s.json describes a command relcache does not serve", strings.ReplaceAll(name, "|", "-"))
		case !isSub:
			continue
		case p.subs == nil:
			p.subs = map[string]*command{}
		}
		p.subs[sub] = newCommand(m, p.fn)
		p.subs[sub].parent = p
	}
	return t, nil
}

func newCommand(m *cmdmeta.Command, fn func(*client, [][]byte)) *command {
	first, last, step, _ := m.LegacyRange()
	return &command{name: m.Name, arity: m.Arity, flags: dispatchFlags(m),
		firstKey: first, lastKey: last, step: step, group: m.Group, meta: m, fn: fn}
}

// dispatchFlags are the flags dispatch acts on, as bits.
func dispatchFlags(m *cmdmeta.Command) cmdFlags {
	var f cmdFlags
	fast := false
	for _, n := range m.Flags {
		switch n {
		case "fast":
			fast = true
		case "write":
			f |= flagWrite
		case "readonly":
			f |= flagReadonly
		case "denyoom":
			f |= flagDenyOOM
		case "no_auth":
			f |= flagNoAuth
		case "no_multi":
			f |= flagNoMulti
		}
	}
	// What an event loop may run: Redis's fast commands and the keyspace's
	// reads and writes, which work in memory (a miss that needs a fill is
	// handed over when it happens), but not the writes that go to the
	// source first. Everything else (EXEC, pub/sub, CLIENT, CONFIG, SAVE,
	// SHUTDOWN, ...) runs on the client's own goroutine.
	if fast || slices.Contains(loopAlso, m.Name) ||
		(f&(flagWrite|flagReadonly) != 0 && !slices.Contains(sourceWriters, m.Name)) {
		f |= flagLoop
	}
	return f
}

// loopAlso are commands on the client's own connection that Redis does not
// call fast but that only set or read a field: clients send them as they
// connect (go-redis: CLIENT SETINFO), which must not cost every
// connection its loop.
var loopAlso = []string{"client|setinfo", "client|setname", "client|getname", "client|id", "client|info"}

// sourceWriters write to the source of record before the cache, waiting
// on it (cmd_follow.go).
var sourceWriters = []string{"follow", "unfollow"}
