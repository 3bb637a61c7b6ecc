package proxyfront

import (
	"fmt"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
)

// Transactions through the proxy: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// A node runs a transaction atomically, so the proxy runs one only where a
// node can: every key it names must live on one node of the primary pool.
// Between MULTI and EXEC the proxy queues the client's commands itself,
// after the checks a node makes at queue time that the proxy can make
// (unknown command, arity, commands it refuses) and one of its own: the
// command's keys must live on the node of the transaction's earlier keys
// (or of its watched keys). A refusal aborts the transaction, as on a
// node, so EXEC answers EXECABORT and nothing is sent: never a partial
// transaction. At EXEC the proxy sends MULTI, the queued commands and
// EXEC to that node as one contiguous run on the client's shared
// connection (one call, written under the connection's lock, so no other
// client's command falls between them), drops the replies to MULTI and to
// each queued command, and gives the client EXEC's: the results, or the
// node's EXECABORT when it refused a command at queue time.
//
// WATCH is state of a node's connection, and the proxy's connections are
// shared: a WATCH sent down one would be lifted by another client's EXEC
// and would see every client's writes as the watcher's own. So a client's
// first WATCH dials a connection of its own to the watched keys' node
// (bounded by max_watch_connections); the client's commands to that node,
// its transaction included, go down it until EXEC, DISCARD or UNWATCH (or
// the client leaving) gives it back. WATCH and its giving back are
// barriers: the client's earlier commands have their replies before WATCH
// is sent, and WATCH has its +OK before any later command is sent, so a
// pipelined GET after WATCH cannot run before the WATCH registers; a
// watched EXEC is waited for before the client's next command, which may
// go down a shared connection again. A connection lost while it holds a
// WATCH is never replaced: the EXEC that relied on it fails.

const (
	errExecAbort = "EXECABORT Transaction discarded because of previous errors."
	errNotInTx   = "ERR Command not allowed inside a transaction"
	errCrossSlot = "CROSSSLOT Keys in request don't hash to the same node: "
	txOneNode    = "relcache proxy runs a transaction only when all its keys live on one node"
	watchOneNode = "relcache proxy watches the keys of one node per client"

	// maxTxCommands bounds the commands one transaction may queue, as
	// maxMultibulk bounds one command's arguments: a node answers EXEC
	// with one array element per command. (The bytes are bounded by
	// client_query_buffer_limit.)
	maxTxCommands = 1 << 20
)

var (
	reqMulti   = resp.AppendCommand(nil, []byte("MULTI"))
	reqExec    = resp.AppendCommand(nil, []byte("EXEC"))
	reqDiscard = resp.AppendCommand(nil, []byte("DISCARD"))
	okReply    = []byte("+OK\r\n")
	queued     = []byte("+QUEUED\r\n")
)

// txKeys appends to hs the ring positions of the keys a command reads or
// writes, for placing it in a transaction; or it returns the error reply
// that refuses the command inside MULTI.
type txKeys func(c *client, t *topology, args [][]byte, hs []uint32) ([]uint32, string)

// keysAt: the keys at args[first], args[first+step], ... up to args[last]
// (last < 0: to the end). With step 2 (key value pairs) a last key without
// its value is left out: the node refuses the command when it runs.
func keysAt(first, last, step int) txKeys {
	return func(c *client, t *topology, args [][]byte, hs []uint32) ([]uint32, string) {
		end := len(args) - 1
		if last >= 0 {
			end = min(last, end)
		}
		for i := first; i <= end && (step == 1 || i+1 < len(args)); i += step {
			if _, ok := t.bifollowUser(args[i]); ok && len(t.primary.backends) > 1 {
				return hs, errCrossSlot + "a bi-follow list is computed from the lists of its user's members, which may live on any node; " + txOneNode
			}
			hs = append(hs, t.hashOf(args[i], c.scratch))
		}
		return hs, ""
	}
}

// noKeys: commands a node answers without keys (PING, ECHO, SELECT).
func noKeys(_ *client, _ *topology, _ [][]byte, hs []uint32) ([]uint32, string) { return hs, "" }

// answeredHere: commands only the proxy answers (INFO, CLIENT, AUTH): a
// node would answer for itself, or for the shared connection.
func answeredHere(_ *client, _ *topology, args [][]byte, hs []uint32) ([]uint32, string) {
	return hs, "ERR '" + strings.ToLower(string(args[0])) + "' inside MULTI is not supported by the proxy: the proxy answers it, not a node"
}

func refusedInTx(msg string) txKeys {
	return func(_ *client, _ *topology, _ [][]byte, hs []uint32) ([]uint32, string) { return hs, msg }
}

// everyNode: a command that needs every node (DBSIZE) runs in a
// transaction only when the pool has one.
func everyNode(what string) txKeys {
	return func(_ *client, t *topology, _ [][]byte, hs []uint32) ([]uint32, string) {
		if len(t.primary.backends) > 1 {
			return hs, errCrossSlot + what + "; " + txOneNode
		}
		return append(hs, 0), ""
	}
}

// usersAt: the following lists of the uids at args[first..last] (last < 0:
// to the end), which a relation command reads (RELCHECK a b...: a's and
// each b's; RELFOLLOWS x u...: each u's; RELCOMMON a b: both). A uid that
// does not parse constrains nothing: the node refuses the command when it
// runs. The time after SINCE or UNTIL is no uid.
func usersAt(first, last int) txKeys {
	return func(c *client, t *topology, args [][]byte, hs []uint32) ([]uint32, string) {
		end := len(args) - 1
		if last >= 0 {
			end = min(last, end)
		}
		for i := first; i <= end; i++ {
			if strings.EqualFold(string(args[i]), "SINCE") || strings.EqualFold(string(args[i]), "UNTIL") {
				i++
			} else if u, ok := resp.ParseUint(args[i]); ok {
				hs = append(hs, c.userHash(t, u))
			}
		}
		return hs, ""
	}
}

// relWhoKeys: RELWHO a x reads the lists of a's members, which may live on
// any node; only a pool of one node holds them all.
func relWhoKeys(c *client, t *topology, args [][]byte, hs []uint32) ([]uint32, string) {
	if len(t.primary.backends) > 1 {
		return hs, errCrossSlot + "RELWHO reads the lists of a's members, which may live on any node; " + txOneNode
	}
	return usersAt(1, 1)(c, t, args, hs)
}

// txState is a client's open transaction.
type txState struct {
	t       *topology // the routing its commands were placed with
	be      *backend  // the node of its keys (or of the watched keys); nil: none yet
	h       uint32    // ring position of its first key: finds the node's twin in a replica pool
	keyed   bool      // h is set
	hs      []uint32  // ring positions of every key, to place them again after a reload
	buf     []byte    // the queued commands, as the node will be sent them
	n       int       // commands queued
	write   bool      // some queued command writes
	aborted bool      // refused a command: EXEC answers EXECABORT
}

// flagTx dooms the open transaction, if any; what it queued is dropped,
// since it will never be sent.
func (c *client) flagTx() {
	if tx := c.tx; tx != nil {
		tx.aborted, tx.buf, tx.hs = true, nil, nil
	}
}

// queue checks a command inside MULTI and queues it (+QUEUED), or refuses
// it, which aborts the transaction.
func (c *client) queue(cmd *command, args [][]byte) {
	tx := c.tx
	var msg string
	c.hs, msg = cmd.tx(c, tx.t, args, c.hs[:0])
	var be *backend
	for _, h := range c.hs {
		b := tx.t.primary.backendFor(h)
		if be == nil {
			be = b
		} else if b != be {
			msg = errCrossSlot + txOneNode
		}
	}
	if msg == "" && be != nil && tx.be != nil && be != tx.be {
		msg = errCrossSlot + txOneNode
	}
	if msg == "" && !tx.aborted {
		mark := len(tx.buf)
		tx.buf = resp.AppendCommand(tx.buf, args...)
		switch limit := c.p.cfgNow().ClientQueryBufferLimit; {
		case tx.n >= maxTxCommands:
			msg = fmt.Sprintf("ERR proxy: transaction discarded: more than %d queued commands", maxTxCommands)
		case int64(len(tx.buf)) > limit:
			msg = fmt.Sprintf("ERR proxy: transaction discarded: its queued commands exceed client_query_buffer_limit (%d bytes)", limit)
		}
		if msg != "" {
			tx.buf = tx.buf[:mark]
		}
	}
	if msg != "" {
		c.fail(cmd.name, msg)
		c.flagTx()
		return
	}
	if be != nil && tx.be == nil {
		tx.be = be // even once doomed: later commands are still placed against it
	}
	if !tx.aborted {
		if len(c.hs) > 0 && !tx.keyed {
			tx.h, tx.keyed = c.hs[0], true
		}
		tx.hs = append(tx.hs, c.hs...)
		tx.n++
		tx.write = tx.write || cmd.write
	}
	c.reply(queued)
}

func cmdMulti(c *client, t *topology, _ [][]byte) {
	if c.tx != nil {
		c.fail("multi", "ERR MULTI calls can not be nested")
		return
	}
	c.tx = &txState{t: t}
	if w := c.watch; w != nil {
		c.tx.be, c.tx.h, c.tx.keyed = w.be, w.h, true
	}
	c.reply(okReply)
}

func cmdDiscard(c *client, _ *topology, _ [][]byte) {
	if c.tx == nil {
		c.fail("discard", "ERR DISCARD without MULTI")
		return
	}
	c.tx = nil
	c.unwatch()
	c.reply(okReply)
}

func cmdExec(c *client, t *topology, _ [][]byte) {
	tx := c.tx
	if tx == nil {
		c.fail("exec", "ERR EXEC without MULTI")
		return
	}
	c.tx = nil
	if tx.aborted {
		c.unwatch() // EXEC forgets the watched keys whatever it answers
		c.errReply(errExecAbort)
		return
	}
	w := c.watch
	be, msg := tx.node(t, w)
	if msg == "" {
		msg = c.txReady(be)
	}
	if msg != "" {
		c.unwatch()
		c.fail("exec", msg)
		return
	}
	k := newCall()
	k.req = append(append(append(k.req[:0], reqMulti...), tx.buf...), reqExec...)
	k.skip = tx.n + 1 // MULTI's +OK and each command's +QUEUED
	if w == nil {
		c.send(be, k)
		c.pending = append(c.pending, opFunc(func(c *client) {
			c.wait(k)
			c.out = append(c.out, c.execDone(k, t, tx)...)
		}))
		return
	}
	// Only down the connection that holds the WATCH: anywhere else the
	// transaction would run unwatched. Waited for here, so that nothing
	// the client sends next, down a shared connection, runs before it.
	c.sendOn(w.bc, k)
	c.wait(k)
	c.dropWatch() // nothing was sent on it after EXEC
	c.reply(c.execDone(k, t, tx))
}

// execDone returns the reply to a transaction's EXEC and releases its
// call; a transaction that ran and wrote goes to the replica pools.
func (c *client) execDone(k *call, t *topology, tx *txState) []byte {
	defer k.release()
	if k.err != nil {
		c.p.metrics.errors.WithLabelValues("exec").Inc()
		return redcon.AppendError(nil, k.err.Error())
	}
	if t.cfg.ReplicateWrites && tx.write && tx.keyed && len(k.reply) > 1 && k.reply[0] == '*' && k.reply[1] != '-' {
		// After the primary ran it, not beside it: a transaction the
		// primary did not run (a watched key changed, a command refused)
		// must not run on a replica. Fire and forget, as single writes.
		for _, p := range t.replicas {
			// skip is the transaction's own count, not k.skip: the reader
			// counted k.skip down to 0 as the primary's +OK and +QUEUED
			// replies came, and a copy expecting one reply for n+2 would
			// leave the replica's connection n+1 replies out of step (its
			// next calls matched to other replies, then a reply nobody
			// asked for: the connection reset, the copies queued behind
			// lost with it).
			c.replicate(p.backendFor(tx.h), &call{req: k.req, skip: tx.n + 1, done: make(chan struct{}, 1), noReply: true})
		}
		c.flushBackends()
	}
	return append([]byte(nil), k.reply...)
}

// node is where a transaction runs at EXEC: the node of its keys in the
// current routing (a reload since MULTI may have moved them), the watched
// keys' node, or for a transaction without keys the pool's first node.
func (tx *txState) node(t *topology, w *watchConn) (*backend, string) {
	if t != tx.t && !sameRouting(t.cfg, tx.t.cfg) {
		return nil, "EXECABORT Transaction discarded: the proxy's routing was reloaded while it was queued"
	}
	var be *backend
	for _, h := range tx.hs {
		b := t.primary.backendFor(h)
		if be == nil {
			be = b
		} else if b != be {
			return nil, "EXECABORT Transaction discarded: the proxy's pools were reloaded while it was queued, and its keys no longer live on one node"
		}
	}
	switch {
	case w == nil && be == nil:
		be = t.primary.backends[0]
	case w == nil:
	case be != nil && be != w.be:
		return nil, "EXECABORT Transaction discarded: the proxy's pools were reloaded while it was queued, and its keys no longer live on the watched keys' node"
	default:
		be = w.be
	}
	return be, ""
}

// sameRouting reports whether two configs place every key alike on pools
// with the same server lines.
func sameRouting(a, b *Config) bool {
	return a.Hash == b.Hash && a.HashTag == b.HashTag && a.RouteBy == b.RouteBy &&
		a.Distribution == b.Distribution && a.KeyPattern == b.KeyPattern &&
		a.FollowingName == b.FollowingName && a.FollowerName == b.FollowerName && a.DBs == b.DBs &&
		a.BifollowName == b.BifollowName
}

// txReady makes sure be's node runs transactions before the first one is
// sent to it (once per connection to it): a node that did not know MULTI
// would refuse it and run the queued commands one by one, then refuse
// EXEC, half applying the transaction. DISCARD without MULTI is harmless
// to both kinds of node and tells them apart.
func (c *client) txReady(be *backend) string {
	if be.txChecked.Load() {
		return ""
	}
	k := newCall()
	k.req = append(k.req[:0], reqDiscard...)
	c.send(be, k)
	c.wait(k)
	defer k.release()
	switch {
	case k.err != nil:
		return k.err.Error()
	case string(k.reply) == "-ERR DISCARD without MULTI\r\n":
		be.txChecked.Store(true)
		return ""
	}
	return be.errorf("answered DISCARD with %q, not as a node that runs transactions (relcache before issue 15?); transaction not run", k.reply).msg
}

// watchConn is a client's own connection to one node, holding its WATCH.
type watchConn struct {
	be *backend
	h  uint32 // ring position of the first watched key
	bc *bconn
}

// WATCH key [key ...]
func cmdWatch(c *client, t *topology, args [][]byte) {
	if c.tx != nil {
		// As on a node: an error, and the transaction goes on.
		c.fail("watch", "ERR WATCH inside MULTI is not allowed")
		return
	}
	var be *backend
	var h0 uint32
	for i, k := range args[1:] {
		h := t.hashOf(k, c.scratch)
		b := t.primary.backendFor(h)
		if i == 0 {
			be, h0 = b, h
		} else if b != be {
			be = nil
			break
		}
	}
	if be == nil || (c.watch != nil && c.watch.be != be) {
		c.fail("watch", errCrossSlot+watchOneNode)
		return
	}
	// Barrier: the client's earlier commands run before the WATCH, as
	// they would on one connection.
	if c.collect() != nil {
		return
	}
	fresh := c.watch == nil
	if fresh {
		most := c.p.cfgNow().MaxWatchConnections
		if c.p.watchConns.Add(1) > int64(most) {
			c.p.watchConns.Add(-1)
			c.fail("watch", fmt.Sprintf("ERR proxy: max_watch_connections (%d) reached: too many clients are watching keys", most))
			return
		}
		c.p.metrics.watchConns.Inc()
		c.watch = &watchConn{be: be, h: h0, bc: be.dedicated()}
	}
	k := newCall()
	k.req = resp.AppendCommand(k.req[:0], args...)
	c.sendOn(c.watch.bc, k)
	// Barrier: nothing the client sends next goes out before the node
	// has registered the WATCH.
	c.wait(k)
	k.emit(c, "watch")
	if k.err != nil || (fresh && string(k.reply) != string(okReply)) {
		c.dropWatch()
	}
	k.release()
}

func cmdUnwatch(c *client, _ *topology, _ [][]byte) {
	c.unwatch()
	c.reply(okReply)
}

// unwatch gives back the client's watch connection once the commands sent
// down it have their replies (closing it would fail them).
func (c *client) unwatch() {
	if c.watch == nil {
		return
	}
	c.collect()
	c.dropWatch()
}

// dropWatch closes the client's watch connection now.
func (c *client) dropWatch() {
	w := c.watch
	if w == nil {
		return
	}
	c.watch = nil
	w.be.release(w.bc)
	c.p.watchConns.Add(-1)
	c.p.metrics.watchConns.Dec()
}
