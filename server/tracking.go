package server

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Client-side caching, as Redis 7 does it (CLIENT TRACKING): the server
// remembers which clients may hold which keys and tells them, with a push
// message, when one changes.
//
// Default mode. A tracking client's reads register the keys they read in
// the tracking table (key → ids of clients) before reading them, so a
// change that lands between the registration and the read still reaches
// the client, and the read shows the change. The keys are the table's key
// positions; relation commands whose keys are built from uids (RELCHECK,
// RELFOLLOWS, RELWHO, RELCOMMON) register each relation list they actually
// look up. The store tells the tracker of every change (store.Watcher,
// through keyHooks): the key leaves the table and each client it named is
// sent "invalidate [key]" (one shot, as in Redis: reading it again
// registers it again). The table is bounded by tracking-table-max-keys;
// past it random entries are dropped, and their clients told, as if the
// keys had changed.
//
// BCAST mode. The client names key prefixes instead; every change to a key
// under one is collected per prefix and sent as one "invalidate [keys...]"
// when the next client flushes its replies (or, at the latest, by the
// housekeeping loop within 100ms), so that a pipeline or a multi-key write
// reaches a broadcast client as one message, much as Redis sends what one
// event-loop pass changed.
//
// FLUSHALL sends every tracking client one null invalidation ("all keys"),
// after the keyspace is empty, and empties the table.
//
// The table is split into trackShards maps, each under its own mutex, so
// the reads of many clients on many cores do not meet on one lock. Locks
// are always taken in the order: store shard, tracking shard, tracker.ids,
// a client's push queue; BCAST's prefix table (bcastMu) only ever comes
// after a store shard and before push queues.

const (
	trackShards       = 64
	invalidateChannel = "__redis__:invalidate"
)

// trackConfig is a client's CLIENT TRACKING settings. It is replaced, never
// changed, so other goroutines read it without locks.
type trackConfig struct {
	bcast, optin, optout, noloop bool
	// redirect is the id invalidations go to (0: this connection);
	// redirectTo is that client, looked up when tracking was enabled.
	redirect   int64
	redirectTo *client
	prefixes   []string // BCAST prefixes, sorted
}

// clientTrack is a client's tracking state. on, caching, derived and
// registered belong to the client's goroutine.
type clientTrack struct {
	cfg atomic.Pointer[trackConfig] // nil while tracking is off
	on  bool                        // cfg != nil, for the owner's per-command check
	// caching is CLIENT CACHING's one-shot flag for the next command (or
	// the next transaction).
	caching bool
	// derived marks a command whose keys are built, not named: its
	// relation lookups register what they read.
	derived bool
	// registered counts keys registered by the current command, for the
	// table limit check after it.
	registered int
	// brokenRedir is set once an invalidation found the redirect client
	// gone (CLIENT TRACKINGINFO's broken_redirect, CLIENT LIST's R).
	brokenRedir atomic.Bool
}

// trackedKey is one entry of the tracking table.
type trackedKey struct {
	ids []int64 // clients that may cache the key, sorted
}

type trackShard struct {
	mu sync.Mutex // guards m
	m  map[string]*trackedKey
	_  [48]byte // keeps neighbouring shards' locks off one cache line
}

// bcastPrefix is one BCAST prefix: its clients and the keys under it that
// changed since the last broadcast.
type bcastPrefix struct {
	clients map[int64]*client
	keys    map[string]int64 // changed key → origin of its last change (NOLOOP)
}

// tracker is the server's tracking table and its broadcast prefixes.
type tracker struct {
	srv   *Server
	users *atomic.Int64 // keyHooks' gate: tracking clients count there too

	clients atomic.Int64 // clients with tracking on (INFO tracking_clients)
	maxKeys atomic.Int64 // tracking-table-max-keys; 0: no limit
	keys    atomic.Int64 // entries in the table (tracking_total_keys)
	items   atomic.Int64 // client ids across entries (tracking_total_items)
	shards  [trackShards]trackShard

	idsMu sync.RWMutex // guards ids
	ids   map[int64]*client

	bcastMu   sync.Mutex // guards prefixes
	prefixes  map[string]*bcastPrefix
	nPrefixes atomic.Int64 // len(prefixes), for the store hook's check
	dirty     atomic.Bool  // some prefix has keys to broadcast

	limitMu    sync.Mutex // guards limitFails
	limitFails int        // cron passes that ended still over the limit
}

func newTracker(s *Server, users *atomic.Int64, maxKeys int64) *tracker {
	t := &tracker{srv: s, users: users, ids: map[int64]*client{}, prefixes: map[string]*bcastPrefix{}}
	t.maxKeys.Store(maxKeys)
	for i := range t.shards {
		t.shards[i].m = map[string]*trackedKey{}
	}
	return t
}

func (t *tracker) shard(key string) *trackShard {
	return &t.shards[xxhash.Sum64String(key)&(trackShards-1)]
}

// remember registers key as possibly cached by c.
func (t *tracker) remember(c *client, key []byte) {
	sh := &t.shards[xxhash.Sum64(key)&(trackShards-1)]
	sh.mu.Lock()
	tk := sh.m[string(key)]
	if tk == nil {
		tk = &trackedKey{}
		sh.m[string(key)] = tk
		t.keys.Add(1)
	}
	if i, found := slices.BinarySearch(tk.ids, c.id); !found {
		tk.ids = slices.Insert(tk.ids, i, c.id)
		t.items.Add(1)
		if n := len(tk.ids); n >= 16 && n&(n-1) == 0 {
			t.prune(tk)
		}
	}
	sh.mu.Unlock()
	c.track.registered++
}

// prune drops from a key's entry the ids of clients that no longer track
// (gone, or tracking turned off), which an entry otherwise keeps until its
// key changes: a key read by many short connections and never written
// would grow without bound. remember calls it as the list reaches each
// power of two from 16, so its cost is spread over the insertions.
func (t *tracker) prune(tk *trackedKey) {
	t.idsMu.RLock()
	live := tk.ids[:0]
	for _, id := range tk.ids {
		if t.ids[id] != nil {
			live = append(live, id)
		}
	}
	t.idsMu.RUnlock()
	t.items.Add(int64(len(live) - len(tk.ids)))
	clear(tk.ids[len(live):])
	tk.ids = live
}

// touched is the store's report of a change to a key.
func (t *tracker) touched(ch store.Change) {
	if ch.Flush {
		return // flushed answers the whole flush at once
	}
	if t.nPrefixes.Load() > 0 {
		t.noteBcast(ch.Key, ch.Origin)
	}
	sh := t.shard(ch.Key)
	sh.mu.Lock()
	tk := sh.m[ch.Key]
	if tk != nil {
		t.drop(sh, ch.Key, tk)
	}
	sh.mu.Unlock()
	if tk != nil {
		t.invalidate(ch.Key, tk.ids, ch.Origin)
	}
}

// drop removes key's entry; sh is locked.
func (t *tracker) drop(sh *trackShard, key string, tk *trackedKey) {
	delete(sh.m, key)
	t.keys.Add(-1)
	t.items.Add(-int64(len(tk.ids)))
}

// invalidate tells the clients ids that key changed; origin made the change
// (0: nobody's command, or an entry the table's limit dropped).
func (t *tracker) invalidate(key string, ids []int64, origin int64) {
	t.idsMu.RLock()
	defer t.idsMu.RUnlock()
	for _, id := range ids {
		target := t.ids[id]
		if target == nil {
			continue // tracking off, or gone: the id stayed behind
		}
		cfg := target.track.cfg.Load()
		if cfg == nil || cfg.bcast || (cfg.noloop && id == origin) {
			continue
		}
		t.send(target, cfg, origin, func(dst []byte, _ bool) []byte {
			dst = append(dst, "*1\r\n"...)
			return redcon.AppendBulkString(dst, key)
		})
	}
}

// send delivers one invalidation for tracking client tc: to tc itself in
// RESP3, or to its redirect client (RESP3 push, or a message on
// __redis__:invalidate when that client is subscribed to anything in
// RESP2), as Redis's sendTrackingMessage does; nothing to a RESP2 client
// without a redirect. payload writes the keys part; its flag is whether the
// tracking client (not the receiver) speaks RESP3, which is what Redis's
// null after a flush follows.
func (t *tracker) send(tc *client, cfg *trackConfig, origin int64, payload func(dst []byte, resp3 bool) []byte) {
	tcResp3 := tc.respVer.Load() == 3
	to, redirected := tc, false
	if cfg.redirect != 0 {
		r := cfg.redirectTo
		if r == nil || r.gone.Load() {
			tc.track.brokenRedir.Store(true)
			if tcResp3 {
				id := cfg.redirect
				tc.enqueuePush(tc.id == origin, func(dst []byte) []byte {
					dst = append(dst, ">2\r\n$21\r\ntracking-redir-broken\r\n"...)
					return redcon.AppendInt(dst, id)
				})
			}
			return
		}
		to, redirected = r, true
	}
	switch {
	case to.respVer.Load() == 3:
		to.enqueuePush(to.id == origin, func(dst []byte) []byte {
			dst = append(dst, ">2\r\n$10\r\ninvalidate\r\n"...)
			return payload(dst, tcResp3)
		})
	case redirected && to.ps.flag.Load():
		to.enqueuePush(to.id == origin, func(dst []byte) []byte {
			dst = append(dst, "*3\r\n$7\r\nmessage\r\n$20\r\n"+invalidateChannel+"\r\n"...)
			return payload(dst, tcResp3)
		})
	}
}

// flushed answers a FLUSHALL: one null invalidation to every tracking
// client, BCAST ones too, and an empty table. The table's locks are held
// while the nulls are queued, so a read that registers a key after them
// reads the empty keyspace.
func (t *tracker) flushed(origin int64) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	defer func() {
		for i := range t.shards {
			t.shards[i].mu.Unlock()
		}
	}()
	for i := range t.shards {
		sh := &t.shards[i]
		if len(sh.m) > 0 {
			sh.m = map[string]*trackedKey{}
		}
	}
	t.keys.Store(0)
	t.items.Store(0)
	t.idsMu.RLock()
	defer t.idsMu.RUnlock()
	for _, tc := range t.sortedTracking() {
		if cfg := tc.track.cfg.Load(); cfg != nil {
			t.send(tc, cfg, origin, appendNull)
		}
	}
}

// sortedTracking lists the tracking clients by id (for a deterministic
// order); idsMu is held.
func (t *tracker) sortedTracking() []*client {
	out := make([]*client, 0, len(t.ids))
	for _, c := range t.ids {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *client) int { return cmp.Compare(a.id, b.id) })
	return out
}

// noteBcast records a change for the BCAST prefixes it falls under.
func (t *tracker) noteBcast(key string, origin int64) {
	hit := false
	t.bcastMu.Lock()
	for p, bp := range t.prefixes {
		if strings.HasPrefix(key, p) {
			bp.keys[key] = origin
			hit = true
		}
	}
	t.bcastMu.Unlock()
	if hit {
		t.dirty.Store(true)
	}
}

// broadcast sends each BCAST prefix's changed keys, sorted, to its clients
// (leaving out, for a NOLOOP client, the keys whose last change was its
// own), and forgets them.
func (t *tracker) broadcast() {
	if !t.dirty.CompareAndSwap(true, false) {
		return
	}
	t.bcastMu.Lock()
	defer t.bcastMu.Unlock()
	names := make([]string, 0, len(t.prefixes))
	for p, bp := range t.prefixes {
		if len(bp.keys) > 0 {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	for _, p := range names {
		bp := t.prefixes[p]
		keys := make([]string, 0, len(bp.keys))
		for k := range bp.keys {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		ids := make([]int64, 0, len(bp.clients))
		for id := range bp.clients {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			tc := bp.clients[id]
			cfg := tc.track.cfg.Load()
			if cfg == nil {
				continue
			}
			mine := keys[:0:0]
			if cfg.noloop {
				for _, k := range keys {
					if bp.keys[k] != id {
						mine = append(mine, k)
					}
				}
				if len(mine) == 0 {
					continue
				}
			} else {
				mine = keys
			}
			t.send(tc, cfg, 0, func(dst []byte, _ bool) []byte {
				dst = appendPushHeader(dst, false, len(mine))
				for _, k := range mine {
					dst = redcon.AppendBulkString(dst, k)
				}
				return dst
			})
		}
		bp.keys = map[string]int64{}
	}
}

// limit drops random entries while the table holds more than
// tracking-table-max-keys, telling their clients as if the keys had
// changed, with at most effort tries. It reports whether the table is
// within the limit.
func (t *tracker) limit(effort int) bool {
	max := t.maxKeys.Load()
	for ; max > 0 && t.keys.Load() > max; effort-- {
		if effort <= 0 {
			return false
		}
		sh := &t.shards[rand.IntN(trackShards)]
		sh.mu.Lock()
		var key string
		var tk *trackedKey
		for k, v := range sh.m { // a map's iteration starts at a random slot
			key, tk = k, v
			break
		}
		if tk != nil {
			t.drop(sh, key, tk)
		}
		sh.mu.Unlock()
		if tk != nil {
			t.invalidate(key, tk.ids, 0)
		}
	}
	return true
}

// cron runs from the housekeeping loop: it sends broadcasts that no client
// flush has sent (changes made by expiry or a background fill), and keeps
// trying to bring the table within its limit, trying harder each time it
// fails, as Redis's trackingLimitUsedSlots does.
func (t *tracker) cron() {
	t.broadcast()
	t.limitMu.Lock()
	defer t.limitMu.Unlock()
	if t.limit(100 * (t.limitFails + 1)) {
		t.limitFails = 0
	} else {
		t.limitFails++
	}
}

// enable turns tracking on for c with cfg, or changes its settings: the
// new options replace the old (redirect, OPTIN, OPTOUT, NOLOOP), prefixes
// add to those c has, as Redis's enableTracking does.
func (t *tracker) enable(c *client, cfg *trackConfig, newPrefixes []string) {
	old := c.track.cfg.Load()
	if cfg.bcast {
		t.bcastMu.Lock()
		var have []string
		if old != nil {
			have = old.prefixes
		}
		all := slices.Clone(have)
		if len(have) == 0 && len(newPrefixes) == 0 {
			newPrefixes = []string{""}
		}
		for _, p := range newPrefixes {
			bp := t.prefixes[p]
			if bp == nil {
				bp = &bcastPrefix{clients: map[int64]*client{}, keys: map[string]int64{}}
				t.prefixes[p] = bp
				t.nPrefixes.Add(1)
			}
			if bp.clients[c.id] == nil {
				bp.clients[c.id] = c
				all = append(all, p)
			}
		}
		slices.Sort(all)
		cfg.prefixes = slices.Compact(all)
		t.bcastMu.Unlock()
	}
	c.track.brokenRedir.Store(false)
	if old == nil {
		t.idsMu.Lock()
		t.ids[c.id] = c
		t.idsMu.Unlock()
		t.clients.Add(1)
		t.users.Add(1)
	}
	c.track.cfg.Store(cfg)
	c.track.on = true
}

// disable turns tracking off for c. Its entries in the table stay until
// their keys change, are dropped or pruned (remember), as in Redis: they
// name an id that no longer tracks, and are skipped; the last client to
// stop empties the table.
func (t *tracker) disable(c *client) {
	old := c.track.cfg.Load()
	if old == nil {
		return
	}
	if old.bcast {
		t.bcastMu.Lock()
		for _, p := range old.prefixes {
			if bp := t.prefixes[p]; bp != nil {
				delete(bp.clients, c.id)
				if len(bp.clients) == 0 {
					delete(t.prefixes, p)
					t.nPrefixes.Add(-1)
				}
			}
		}
		t.bcastMu.Unlock()
	}
	t.idsMu.Lock()
	delete(t.ids, c.id)
	t.idsMu.Unlock()
	c.track.cfg.Store(nil)
	c.track.on, c.track.caching = false, false
	c.track.brokenRedir.Store(false)
	t.users.Add(-1)
	if t.clients.Add(-1) == 0 {
		t.clearIfIdle()
	}
}

// clearIfIdle empties the table when no client tracks any more: its
// entries name only clients that stopped, and with nobody tracking the
// store's changes no longer reach the tracker to clean them up. (Redis
// keeps them until FLUSHALL.) The count is checked again under every
// shard's lock: a client that turns tracking on counts itself before it
// registers anything, and its first registration waits for the locks.
func (t *tracker) clearIfIdle() {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	if t.clients.Load() == 0 {
		for i := range t.shards {
			if len(t.shards[i].m) > 0 {
				t.shards[i].m = map[string]*trackedKey{}
			}
		}
		t.keys.Store(0)
		t.items.Store(0)
	}
	for i := range t.shards {
		t.shards[i].mu.Unlock()
	}
}

// trackRead registers, before cmd runs, the keys it will read, when c
// tracks in default mode and its OPTIN/OPTOUT state says this command's
// keys are to be remembered (Redis's trackingRememberKeys). Relation
// commands whose keys are built from uids register in lookupRel instead.
func (c *client) trackRead(cmd *command, args [][]byte) {
	cfg := c.track.cfg.Load()
	if cfg == nil || cfg.bcast || cmd.flags&flagReadonly == 0 {
		return
	}
	if (cfg.optin && !c.track.caching) || (cfg.optout && c.track.caching) {
		return
	}
	t := c.srv.track
	switch {
	case cmd.firstKey > 0:
		last := cmd.lastKey
		if last < 0 {
			last = len(args) + last
		}
		for i := cmd.firstKey; i <= last && i < len(args); i += max(cmd.step, 1) {
			t.remember(c, args[i])
		}
	case cmd.name == "object" || cmd.name == "memory":
		// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, MEMORY USAGE key:
		// the key is the subcommand's first argument, as Redis's key
		// specs say.
		if len(args) > 2 && !eqFold(args[1], "help") {
			t.remember(c, args[2])
		}
	default:
		c.track.derived = true
	}
}

// afterTracked is the serve loop's bookkeeping after each command of a
// tracking client: CLIENT CACHING's flag lasts one command (or one
// transaction; CLIENT's own subcommands keep it, as in Redis), and what the
// command registered may have taken the table past its limit.
func (c *client) afterTracked(args [][]byte) {
	c.track.derived = false
	if c.track.caching && !c.inTx() {
		// Redis keeps the flag when the command was resolved to a CLIENT
		// subcommand, even one refused for its argument count.
		cmd := c.srv.lookup(c, args[0])
		keep := false
		if cmd != nil && cmd.name == "client" && len(args) > 1 {
			_, keep = cmd.subs[strings.ToLower(string(args[1]))]
		}
		if !keep {
			c.track.caching = false
		}
	}
	if n := c.track.registered; n > 0 {
		c.track.registered = 0
		c.srv.track.limit(100 + n)
	}
}

// lookupRel looks a relation list up for a handler, registering it first
// when the command's keys are built from uids and c tracks them.
func (c *client) lookupRel(key []byte) (set openhash.Set, found bool, err error) {
	if c.track.derived {
		c.srv.track.remember(c, key)
	}
	set, found, err = c.srv.lookupRelSet(c.db(), key)
	if !found && err == nil {
		// Only a miss pays for the parse: a bi-follow key is never stored.
		if uid, kind, ok := c.srv.keys.Parse(key); ok && kind == shard.Bifollow {
			if c.track.on {
				// No write to the key will ever announce a change to
				// the lists it is computed from: tell the clients that
				// registered it (this one, after its reply) not to keep
				// it, and forget it.
				defer c.srv.track.touched(store.Change{Key: string(key)})
			}
			return c.bifollowSet(uid)
		}
	}
	return set, found, err
}
