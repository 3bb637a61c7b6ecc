package server

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/store"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH, with Redis's
// semantics and wording.
//
// Between MULTI and EXEC a client's commands are checked (name, arity,
// whether they may run in a transaction, memory) and queued; an error at
// queue time makes EXEC discard the whole transaction (EXECABORT). EXEC runs
// the queue as one step: it takes the write locks of every keyspace shard
// the queued commands touch (store.Exclusive: the shards of their keys, or
// all shards for a command whose keys are not in its arguments, like
// RELCHECK or FLUSHALL), in index order, runs the commands through a view of
// the store that does not lock those shards again, and releases them. No
// other client reads or writes those keys in between, so nobody observes
// half a transaction; commands on other shards run on. A command that fails
// inside EXEC fails alone, as in Redis.
//
// A relation read in a transaction may need a list the cache does not have.
// Filling it means waiting on the source, which must not happen under the
// locks, so EXEC first runs the queued relation reads against a quiet view
// (no statistics, no LRU), fills what they missed, and only then locks. A
// list that is still missing when the command runs (evicted in between, or
// the fill failed) gives that command an error, never an absence it does
// not know.
//
// WATCH registers keys with the server's watch registry, which the store
// tells of every change (writes, deletes, expiry, eviction, flushes): a
// change marks the watching clients dirty, and their EXEC answers nil
// without running anything. A watched key that existed when it was watched
// and has since expired counts as changed, as in Redis 7.

const (
	errOOM         = "OOM command not allowed when used memory > 'maxmemory'."
	errExecAbort   = "EXECABORT Transaction discarded because of previous errors."
	errNotInTx     = "ERR Command not allowed inside a transaction"
	errMultiNested = "ERR MULTI calls can not be nested"
	errWatchInTx   = "ERR WATCH inside MULTI is not allowed"
)

// txState is a client's open transaction. It is reused from one MULTI to
// the next, so a client running transactions allocates nothing per queued
// command once warm.
type txState struct {
	cmds    []queued
	arena   []byte // the queued commands' arguments, copied back to back
	lens    []int  // each argument's length, in order
	aborted bool   // an error at queue time: EXEC answers EXECABORT
}

// queued is one command waiting for EXEC: its arguments are the next
// nargs of the arena's.
type queued struct {
	cmd   *command
	nargs int
	args  [][]byte // set by EXEC, when the arena no longer moves
}

// inTx says whether the client is between MULTI and EXEC/DISCARD.
func (c *client) inTx() bool { return c.tx != nil }

// flagTx marks an open transaction as failed at queue time.
func (c *client) flagTx() {
	if c.tx != nil {
		c.tx.aborted = true
	}
}

// db is the keyspace a handler works on: inside EXEC, the view that holds
// the transaction's shards; otherwise the store itself, as a view that
// tells the store's watchers the changes are this client's (own).
func (c *client) db() *store.Store {
	if c.view != nil {
		return c.view
	}
	return c.own
}

// queue adds a command to the open transaction, or refuses it (which
// aborts the transaction), as Redis's processCommand does.
func (s *Server) queue(c *client, cmd *command, args [][]byte) {
	if cmd.flags&flagNoMulti != 0 {
		c.err(errNotInTx)
		c.flagTx()
		return
	}
	// Queuing costs memory, so past maxmemory Redis refuses every
	// command in a transaction, not only the ones that grow the keyspace.
	if s.store.MaxMemory() > 0 && s.store.EnsureMemory() != nil {
		c.err(errOOM)
		c.flagTx()
		return
	}
	tx := c.tx
	for _, a := range args {
		tx.arena = append(tx.arena, a...)
		tx.lens = append(tx.lens, len(a))
	}
	tx.cmds = append(tx.cmds, queued{cmd: cmd, nargs: len(args)})
	c.txLen.Store(int32(len(c.tx.cmds)))
	c.simple("QUEUED")
}

func cmdMulti(c *client, _ [][]byte) {
	if c.inTx() {
		c.err(errMultiNested)
		return
	}
	tx := &c.txBuf
	tx.cmds, tx.arena, tx.lens, tx.aborted = tx.cmds[:0], tx.arena[:0], tx.lens[:0], false
	c.tx = tx
	c.txLen.Store(0)
	c.ok()
}

func cmdDiscard(c *client, _ [][]byte) {
	if !c.inTx() {
		c.err("ERR DISCARD without MULTI")
		return
	}
	c.endTx()
	c.ok()
}

// endTx closes the transaction and forgets the watched keys, as EXEC and
// DISCARD do whatever their outcome.
func (c *client) endTx() {
	if tx := c.tx; tx != nil {
		clear(tx.cmds) // the argument views into the arena
		if cap(tx.arena) > 1<<20 {
			*tx = txState{} // give a huge transaction's memory back
		}
	}
	c.tx = nil
	c.txLen.Store(-1)
	c.srv.watches.unwatchAll(c)
}

func cmdExec(c *client, _ [][]byte) {
	if !c.inTx() {
		c.err("ERR EXEC without MULTI")
		return
	}
	tx := c.tx
	defer c.endTx()
	if tx.aborted {
		c.err(errExecAbort)
		return
	}
	s := c.srv
	// The arena is complete: point each command at its arguments.
	off, li := 0, 0
	args := c.txArgs[:0]
	for i := range tx.cmds {
		start := len(args)
		for range tx.cmds[i].nargs {
			n := tx.lens[li]
			args = append(args, tx.arena[off:off+n:off+n])
			off, li = off+n, li+1
		}
		tx.cmds[i].args = args[start:len(args):len(args)]
	}
	c.txArgs = args
	defer clear(c.txArgs)
	denyOOM, all := false, false
	keys := c.keyScratch[:0]
	for _, q := range tx.cmds {
		denyOOM = denyOOM || q.cmd.flags&flagDenyOOM != 0
		var every bool
		named := len(keys)
		keys, every = q.cmd.keysOf(keys, q.args)
		// A bi-follow key reads following lists on any shard.
		all = all || every || s.bifollowKey(keys[named:]) != nil
	}
	defer func() { clear(keys); c.keyScratch = keys[:0] }()
	if denyOOM && s.store.EnsureMemory() != nil {
		c.err(errOOM)
		return
	}
	fillErrs := c.prefill(tx)
	// The watched keys too: watchDirty looks at them under the locks, and
	// a view must never lock a shard it was not given while it holds
	// others (that would break the index order every Exclusive keeps).
	for _, w := range c.watched {
		keys = append(keys, []byte(w.key))
	}
	c.own.Hold(&c.hold, keys, all, false)
	defer c.hold.Release()
	if c.watchDirty(&c.hold) {
		c.nullArray()
		return
	}
	c.view = &c.hold
	defer func() { c.view = nil }()
	c.arrayHeader(len(tx.cmds))
	for i, q := range tx.cmds {
		var fillErr error
		if fillErrs != nil {
			fillErr = fillErrs[i]
		}
		if c.checkQueuedACL(q) {
			s.runQueued(c, q, fillErr)
		}
	}
}

// runQueued runs one command of an EXEC under the transaction's locks. It
// notes misses but never fills: a relation list still missing makes the
// command answer with an error in its place, the fill's error if it had
// one.
func (s *Server) runQueued(c *client, q queued, fillErr error) {
	mark := len(c.out)
	start := time.Now()
	c.missed, c.missBuf, c.unsure = c.missed[:0], c.missBuf[:0], c.unsure[:0]
	if c.track.on {
		c.trackRead(q.cmd, q.args)
	}
	q.cmd.fn(c, q.args)
	c.track.derived = false
	if len(c.missed) > 0 || len(c.unsure) > 0 {
		c.out = c.out[:mark]
		missed := len(c.missed) > 0
		c.missed, c.missBuf, c.unsure = c.missed[:0], c.missBuf[:0], c.unsure[:0]
		var le *fill.LoadError
		switch {
		case errors.As(fillErr, &le):
			c.err(oneLine(le.Error()))
		case missed:
			c.err("TRYAGAIN a relation list this command needs is not cached; retry the transaction")
		default:
			// A write retired the source's answer for a uid a truncated
			// list lacks after the prefill asked for it.
			c.err("TRYAGAIN a truncated relation list this command needs changed while the source was asked about it; retry the transaction")
		}
	}
	// CLIENT LIST's cmd= stays exec, as Redis's lastcmd does: the queued
	// commands count in the statistics, not as the client's last command.
	q.cmd.stats.observe(c.id, time.Since(start))
}

// prefill runs the transaction's relation reads against a quiet view and
// fills the lists they miss, before EXEC takes its locks. It returns, per
// queued command, the error of a fill it needed that failed.
func (c *client) prefill(tx *txState) []error {
	s := c.srv
	if !s.fill.HasSource() {
		return nil
	}
	errs := make([]error, len(tx.cmds))
	quiet := s.store.Quiet()
	for i, q := range tx.cmds {
		if q.cmd.flags&flagReadonly == 0 || !q.cmd.mayFill() {
			continue
		}
		// Twice: a uid a filled truncated list lacks is only noted when
		// the command runs again over the filled list.
		for range 2 {
			mark := len(c.out)
			c.view, c.discovering = quiet, true
			q.cmd.fn(c, q.args)
			c.view, c.discovering = nil, false
			c.out = c.out[:mark]
			if len(c.missed) == 0 && len(c.unsure) == 0 {
				break
			}
			if errs[i] = c.fillNoted(); errs[i] != nil {
				break
			}
		}
	}
	return errs
}

// keysOf lists the keys a command's arguments name, by the table's key
// positions; every reports a command that touches the keyspace beyond them
// (relation commands that build keys from uids, KEYS, FLUSHALL, ...), for
// which a transaction must hold every shard.
func (cmd *command) keysOf(dst, args [][]byte) (keys [][]byte, every bool) {
	if cmd.flags&(flagWrite|flagReadonly) == 0 {
		return dst, false
	}
	if cmd.firstKey <= 0 {
		return dst, true
	}
	last := cmd.lastKey
	if last < 0 {
		last = len(args) + last
	}
	for i := cmd.firstKey; i <= last && i < len(args); i += max(cmd.step, 1) {
		dst = append(dst, args[i])
	}
	return dst, false
}

// mayFill reports whether a command may read relation lists the source
// fills: those that name relation keys, or build them.
func (cmd *command) mayFill() bool {
	switch cmd.group {
	case "relation", "hash", "set":
		return true
	}
	return false
}

// watchRegistry maps watched keys to the clients watching them. The store
// tells it of every change (through keyHooks): a change to a watched key
// marks its watchers dirty.
type watchRegistry struct {
	n     atomic.Int64  // watched (key, client) pairs
	users *atomic.Int64 // keyHooks' gate, which counts the pairs too
	mu    sync.Mutex    // guards keys and their watchers' stale marks
	keys  map[string][]*watcher
}

// watcher is one client watching one key. stale is Redis's "expired" mark:
// the key was in the keyspace but past its TTL when it was watched, so its
// removal (the expiry catching up) changes nothing the client saw.
type watcher struct {
	c     *client
	stale bool
}

func newWatchRegistry(users *atomic.Int64) *watchRegistry {
	return &watchRegistry{users: users, keys: map[string][]*watcher{}}
}

// Active reports whether any key is watched.
func (r *watchRegistry) Active() bool { return r.n.Load() > 0 }

// Touched is the store's report of a change; it runs under the key's shard
// lock.
// As in Redis, the removal of a key that was already expired when watched
// is no change: it only clears the mark, and a later write does count.
func (r *watchRegistry) Touched(key string, removed bool) {
	r.mu.Lock()
	for _, w := range r.keys[key] {
		if w.stale {
			w.stale = false
			if removed {
				continue
			}
		}
		w.c.watchTouched.Store(true)
	}
	r.mu.Unlock()
}

// watch adds key to c's watched keys; false if c already watches it.
func (r *watchRegistry) watch(c *client, key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := r.keys[key]
	for _, w := range ws {
		if w.c == c {
			return false
		}
	}
	r.keys[key] = append(ws, &watcher{c: c})
	r.n.Add(1)
	r.users.Add(1)
	return true
}

// markStale records that c found key expired but not yet removed when it
// watched it.
func (r *watchRegistry) markStale(c *client, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.keys[key] {
		if w.c == c {
			w.stale = true
		}
	}
}

// unwatchAll forgets every key c watches and clears its dirty mark.
func (r *watchRegistry) unwatchAll(c *client) {
	if len(c.watched) == 0 {
		c.watchTouched.Store(false)
		return
	}
	r.mu.Lock()
	for _, w := range c.watched {
		ws := r.keys[w.key]
		for i, x := range ws {
			if x.c == c {
				ws[i] = ws[len(ws)-1]
				ws = ws[:len(ws)-1]
				r.n.Add(-1)
				r.users.Add(-1)
				break
			}
		}
		if len(ws) == 0 {
			delete(r.keys, w.key)
		} else {
			r.keys[w.key] = ws
		}
	}
	r.mu.Unlock()
	c.watched = c.watched[:0]
	c.watchTouched.Store(false)
}

// watchedKey is a key a client watches, and whether it was live then.
type watchedKey struct {
	key     string
	existed bool
}

// WATCH key [key ...]
func cmdWatch(c *client, args [][]byte) {
	if c.inTx() {
		c.err(errWatchInTx)
		return
	}
	for _, k := range args[1:] {
		key := string(k)
		// Registered before it is looked at: a change in between marks
		// the client dirty rather than slipping past both.
		if !c.srv.watches.watch(c, key) {
			continue
		}
		live, stale := c.srv.store.State(k)
		if stale {
			c.srv.watches.markStale(c, key)
		}
		c.watched = append(c.watched, watchedKey{key, live})
	}
	c.ok()
}

func cmdUnwatch(c *client, _ [][]byte) {
	c.srv.watches.unwatchAll(c)
	c.ok()
}

// watchDirty reports, under EXEC's locks, whether a watched key changed
// since WATCH: the registry marked it, or a key live then has expired
// (lazily: still in the map, past its TTL).
func (c *client) watchDirty(view *store.Store) bool {
	if c.watchTouched.Load() {
		return true
	}
	for _, w := range c.watched {
		if w.existed {
			if _, live := view.Peek([]byte(w.key)); !live {
				return true
			}
		}
	}
	return false
}
