package server

// commandTable lists every command relcache serves. Arity follows Redis: N
// means exactly N arguments counting the name, -N at least N.
func (s *Server) commandTable() map[string]*command {
	const (
		rd    = flagReadonly
		wr    = flagWrite
		wrOOM = flagWrite | flagDenyOOM
		fast  = flagFast
	)
	type k struct{ first, last, step int }
	one, all, pairs, none := k{1, 1, 1}, k{1, -1, 1}, k{1, -1, 2}, k{}
	list := []struct {
		name  string
		arity int
		flags cmdFlags
		keys  k
		group string
		sum   string
		fn    func(*client, [][]byte)
	}{
		// connection
		{"ping", -1, fast, none, "connection", "Returns the server's liveliness response.", cmdPing},
		{"echo", 2, fast, none, "connection", "Returns the given string.", cmdEcho},
		{"quit", -1, flagNoAuth | fast | flagTxControl, none, "connection", "Closes the connection.", cmdQuit},
		{"hello", -1, flagNoAuth | fast, none, "connection", "Handshakes with the server: protocol version, auth, name.", cmdHello},
		{"auth", -2, flagNoAuth | fast, none, "connection", "Authenticates the connection.", cmdAuth},
		{"select", 2, fast, none, "connection", "Changes the selected database (only 0 exists).", cmdSelect},
		{"client", -2, 0, none, "connection", "Client connection commands: ID, SETNAME, GETNAME, LIST, KILL, INFO, PROXY, TRACKING, CACHING, GETREDIR, TRACKINGINFO.", cmdClient},
		// pub/sub
		{"subscribe", -2, flagLoading | flagStale, none, "pubsub", "Listens for messages published to channels.", subscribeCmd(false)},
		{"unsubscribe", -1, flagLoading | flagStale, none, "pubsub", "Stops listening to messages posted to channels.", unsubscribeCmd(false)},
		{"psubscribe", -2, flagLoading | flagStale, none, "pubsub", "Listens for messages published to channels that match one or more patterns.", subscribeCmd(true)},
		{"punsubscribe", -1, flagLoading | flagStale, none, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", unsubscribeCmd(true)},
		{"publish", 3, fast | flagLoading | flagStale, none, "pubsub", "Posts a message to a channel.", cmdPublish},
		{"pubsub", -2, 0, none, "pubsub", "Pub/sub introspection: CHANNELS, NUMSUB, NUMPAT.", cmdPubSub},
		// transactions
		{"multi", 1, fast | flagLoading | flagStale | flagTxControl, none, "transactions", "Starts a transaction.", cmdMulti},
		{"exec", 1, flagLoading | flagStale | flagTxControl, none, "transactions", "Executes all commands in a transaction.", cmdExec},
		{"discard", 1, fast | flagLoading | flagStale | flagTxControl, none, "transactions", "Discards a transaction.", cmdDiscard},
		{"watch", -2, fast | flagLoading | flagStale | flagTxControl, all, "transactions", "Monitors changes to keys to determine the execution of a transaction.", cmdWatch},
		{"unwatch", 1, fast | flagLoading | flagStale, none, "transactions", "Forgets about watched keys of a transaction.", cmdUnwatch},
		// strings
		{"get", 2, rd | fast, one, "string", "Returns the string value of a key.", cmdGet},
		{"set", -3, wrOOM, one, "string", "Sets the string value of a key, with optional expiry and conditions.", cmdSet},
		{"setnx", 3, wrOOM | fast, one, "string", "Sets a key only when it does not exist.", cmdSetNX},
		{"setex", 4, wrOOM, one, "string", "Sets a key and its expiry in seconds.", setWithTTL("setex", optEX)},
		{"psetex", 4, wrOOM, one, "string", "Sets a key and its expiry in milliseconds.", setWithTTL("psetex", optPX)},
		{"getset", 3, wrOOM | fast, one, "string", "Sets a key and returns its old value.", cmdGetSet},
		{"getdel", 2, wr | fast, one, "string", "Returns a key's value and deletes it.", cmdGetDel},
		{"getex", -2, wr | fast, one, "string", "Returns a key's value and changes its expiry.", cmdGetEx},
		{"append", 3, wrOOM | fast, one, "string", "Appends to a key's value.", cmdAppend},
		{"strlen", 2, rd | fast, one, "string", "Returns the length of a key's value.", cmdStrlen},
		{"getrange", 4, rd, one, "string", "Returns a substring of a key's value.", cmdGetRange},
		{"setrange", 4, wrOOM, one, "string", "Overwrites part of a key's value at an offset.", cmdSetRange},
		{"mget", -2, rd | fast, all, "string", "Returns the values of several keys.", cmdMGet},
		{"mset", -3, wrOOM, pairs, "string", "Sets several keys atomically.", cmdMSet},
		{"msetnx", -3, wrOOM, pairs, "string", "Sets several keys atomically only if none exists.", cmdMSetNX},
		{"incr", 2, wrOOM | fast, one, "string", "Increments an integer value by one.", incrBy(1, 1)},
		{"decr", 2, wrOOM | fast, one, "string", "Decrements an integer value by one.", incrBy(-1, 1)},
		{"incrby", 3, wrOOM | fast, one, "string", "Increments an integer value by a number.", incrBy(1, 0)},
		{"decrby", 3, wrOOM | fast, one, "string", "Decrements an integer value by a number.", incrBy(-1, 0)},
		{"incrbyfloat", 3, wrOOM | fast, one, "string", "Increments a value by a floating point number, in Redis's long double arithmetic.", cmdIncrByFloat},
		{"substr", 4, rd, one, "string", "Returns a substring of a key's value (GETRANGE's old name).", cmdGetRange},
		{"lcs", -3, rd, k{1, 2, 1}, "string", "Finds the longest common subsequence of two strings.", cmdLCS},
		// bitmaps
		{"setbit", 4, wrOOM, one, "bitmap", "Sets or clears a bit of a string, growing it as needed.", cmdSetBit},
		{"getbit", 3, rd | fast, one, "bitmap", "Returns a bit of a string.", cmdGetBit},
		{"bitcount", -2, rd, one, "bitmap", "Counts the set bits of a string, or of a range of bytes or bits.", cmdBitCount},
		{"bitpos", -3, rd, one, "bitmap", "Finds the first set or clear bit of a string, or of a range.", cmdBitPos},
		{"bitop", -4, wrOOM, k{2, -1, 1}, "bitmap", "Stores the bitwise AND, OR, XOR or NOT of strings.", cmdBitOp},
		{"bitfield", -2, wrOOM, one, "bitmap", "Reads, writes and increments integer fields of a string.", cmdBitField},
		{"bitfield_ro", -2, rd | fast, one, "bitmap", "Reads integer fields of a string.", cmdBitFieldRO},
		// keyspace
		{"del", -2, wr, all, "generic", "Deletes keys.", cmdDel},
		{"unlink", -2, wr | fast, all, "generic", "Deletes keys (the memory is freed in the background).", cmdDel},
		{"exists", -2, rd | fast, all, "generic", "Counts how many of the keys exist.", cmdExists},
		{"touch", -2, rd | fast, all, "generic", "Counts how many of the keys exist, marking them used for eviction.", cmdExists},
		{"type", 2, rd | fast, one, "generic", "Returns the type of a key's value.", cmdType},
		{"rename", 3, wr, k{1, 2, 1}, "generic", "Renames a key, overwriting the destination.", renameCmd(false)},
		{"copy", -3, wrOOM, k{1, 2, 1}, "generic", "Copies a key's value and TTL to another key.", cmdCopy},
		{"renamenx", 3, wr | fast, k{1, 2, 1}, "generic", "Renames a key only if the destination does not exist.", renameCmd(true)},
		{"expire", -3, wr | fast, one, "generic", "Sets a key's expiry in seconds.", expireCmd("expire", 1000, false)},
		{"pexpire", -3, wr | fast, one, "generic", "Sets a key's expiry in milliseconds.", expireCmd("pexpire", 1, false)},
		{"expireat", -3, wr | fast, one, "generic", "Sets a key's expiry to a Unix time in seconds.", expireCmd("expireat", 1000, true)},
		{"pexpireat", -3, wr | fast, one, "generic", "Sets a key's expiry to a Unix time in milliseconds.", expireCmd("pexpireat", 1, true)},
		{"ttl", 2, rd | fast, one, "generic", "Returns a key's remaining time to live in seconds.", ttlCmd(1000, false)},
		{"pttl", 2, rd | fast, one, "generic", "Returns a key's remaining time to live in milliseconds.", ttlCmd(1, false)},
		{"expiretime", 2, rd | fast, one, "generic", "Returns a key's expiry as a Unix time in seconds.", ttlCmd(1000, true)},
		{"pexpiretime", 2, rd | fast, one, "generic", "Returns a key's expiry as a Unix time in milliseconds.", ttlCmd(1, true)},
		{"persist", 2, wr | fast, one, "generic", "Removes a key's expiry.", cmdPersist},
		{"keys", 2, rd, none, "generic", "Returns all keys matching a pattern.", cmdKeys},
		{"scan", -2, rd, none, "generic", "Iterates over the keyspace.", cmdScan},
		{"randomkey", 1, rd, none, "generic", "Returns a random key.", cmdRandomKey},
		{"dbsize", 1, rd | fast, none, "server", "Returns the number of keys.", cmdDBSize},
		{"flushdb", -1, wr, none, "server", "Removes all keys.", cmdFlush},
		{"flushall", -1, wr, none, "server", "Removes all keys.", cmdFlush},
		// relations
		{"relcheck", -3, rd | fast, none, "relation", "Relation codes of a to each b: 0 none, 1 a follows b, 2 b follows a, 3 both, -1 unknown.", cmdRelCheck},
		{"relmulti", -3, rd | fast, one, "relation", "Membership of many uids in one relation set (the HMGET replacement).", cmdRelMulti},
		{"relfollows", -3, rd | fast, none, "relation", "Whether each u follows x, from each u's own set (the per-shard half of RELCHECK and RELWHO for a proxy).", cmdRelFollows},
		{"relwho", -3, rd, none, "relation", "Users a follows who follow x.", cmdRelWho},
		{"relcommon", -3, rd, none, "relation", "Users both a and b follow.", cmdRelCommon},
		{"relmembers", -2, rd, one, "relation", "Members of a relation set, newest first.", cmdRelMembers},
		{"relcard", 2, rd | fast, one, "relation", "Number of members of a relation set.", cmdRelCard},
		{"relinfo", 2, rd | fast, one, "relation", "Layout of a relation set: count, capacity, slot width, load, bytes, flags.", cmdRelInfo},
		{"relload", -2, wrOOM, one, "relation", "Builds a relation set from a member list and stores it in one write.", cmdRelLoad},
		{"reladd", -3, wrOOM, one, "relation", "Adds members to a relation set.", cmdRelAdd},
		{"reldel", -3, wr, one, "relation", "Removes members from a relation set.", cmdRelDel},
		{"follow", -3, wrOOM | flagNoMulti, none, "relation", "Records that a follows b in the source of record, then patches the cached lists.", cmdFollow},
		{"reledge", -4, wr, none, "relation", "Patches this node's cached lists for an edge another node wrote (the cache half of FOLLOW, for a sharding proxy).", cmdRelEdge},
		{"unfollow", 3, wr | flagNoMulti, none, "relation", "Removes a follows b from the source of record, then patches the cached lists.", cmdUnfollow},
		// hash and set compatibility on relation sets
		{"hexists", 3, rd | fast, one, "hash", "Whether a uid is in a relation set.", cmdHExists},
		{"hget", 3, rd | fast, one, "hash", "The follow time of a member.", cmdHGet},
		{"hmget", -3, rd | fast, one, "hash", "The follow times of several members.", cmdHMGet},
		{"hlen", 2, rd | fast, one, "hash", "Number of members.", cardinality},
		{"hgetall", 2, rd, one, "hash", "Every member with its follow time.", listMembers(true, true, false)},
		{"hkeys", 2, rd, one, "hash", "Every member.", listMembers(true, false, false)},
		{"hvals", 2, rd, one, "hash", "Every follow time.", listMembers(false, true, false)},
		{"hset", -4, wrOOM | fast, one, "hash", "Adds members with follow times.", cmdHSet},
		{"hmset", -4, wrOOM | fast, one, "hash", "Adds members with follow times; replies OK.", cmdHMSet},
		{"hdel", -3, wr | fast, one, "hash", "Removes members.", removeCmd},
		{"sismember", 3, rd | fast, one, "set", "Whether a uid is in a relation set.", cmdSIsMember},
		{"smismember", -3, rd | fast, one, "set", "Whether each uid is in a relation set.", cmdSMIsMember},
		{"scard", 2, rd | fast, one, "set", "Number of members.", cardinality},
		{"smembers", 2, rd, one, "set", "Every member.", listMembers(true, false, true)},
		{"sadd", -3, wrOOM | fast, one, "set", "Adds members.", cmdSAdd},
		{"srem", -3, wr | fast, one, "set", "Removes members.", removeCmd},
		// server
		{"info", -1, flagLoading | flagStale, none, "server", "Returns information and statistics about the server.", cmdInfo},
		{"config", -2, flagAdmin | flagLoading | flagStale, none, "server", "Reads or changes settings at run time.", cmdConfig},
		{"command", -1, flagLoading | flagStale, none, "server", "Returns information about commands.", cmdCommand},
		{"memory", -2, rd, none, "server", "Memory introspection.", cmdMemory},
		{"object", -2, rd, none, "generic", "Inspects the internals of a value.", cmdObject},
		{"time", 1, fast | flagLoading | flagStale, none, "server", "Returns the server time.", cmdTime},
		{"slowlog", -2, flagAdmin | flagLoading | flagStale, none, "server", "Reads or resets the slow log.", cmdSlowlog},
		{"save", 1, flagAdmin | flagNoMulti, none, "server", "Writes a snapshot of the keyspace now, in the foreground.", cmdSave},
		{"bgsave", -1, flagAdmin, none, "server", "Writes a snapshot in the background while serving.", cmdBgsave},
		{"lastsave", 1, flagFast | flagLoading | flagStale, none, "server", "Unix time of the last successful snapshot.", cmdLastsave},
		{"shutdown", -1, flagAdmin | flagNoAuth | flagLoading | flagStale | flagNoMulti, none, "server", "Stops the server gracefully.", cmdShutdown},
	}
	// Subcommands and their arities (Redis's convention), for the commands
	// that have them.
	subs := map[string]map[string]int{
		"client": {"id": 2, "getname": 2, "setname": 3, "setinfo": 4, "proxy": 3, "info": 2, "list": -2, "kill": -3, "help": 2,
			"tracking": -3, "caching": 3, "getredir": 2, "trackinginfo": 2},
		"pubsub":  {"channels": -2, "numsub": -2, "numpat": 2, "help": 2},
		"config":  {"get": -3, "set": -4, "resetstat": 2, "help": 2},
		"object":  {"encoding": 3, "freq": 3, "idletime": 3, "refcount": 3, "help": 2},
		"memory":  {"usage": -3, "help": 2},
		"slowlog": {"get": -2, "len": 2, "reset": 2, "help": 2},
		"command": {"count": 2, "list": -2, "info": -2, "docs": -2},
	}
	t := make(map[string]*command, len(list))
	for _, e := range list {
		t[e.name] = &command{name: e.name, arity: e.arity, flags: e.flags,
			firstKey: e.keys.first, lastKey: e.keys.last, step: e.keys.step,
			group: e.group, summary: e.sum, fn: e.fn, subs: subs[e.name]}
	}
	return t
}
