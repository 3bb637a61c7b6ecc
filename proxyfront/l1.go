package proxyfront

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
)

// The L1: hot strings and relation sets kept in the proxy's memory, so a
// celebrity's RELCHECK, RELMULTI or GET is answered without a round trip
// to its node. docs/proxy.md ("L1 cache") is the user's guide; the design
// in brief:
//
// Exactness comes from the node, by server-assisted invalidation (CLIENT
// TRACKING, default mode, RESP3 pushes) on ONE connection per node, the
// tracked connection, owned by an l1node. Every value the L1 holds was
// fetched on that connection (PTTL key, then GETRANGE key 0 max: both
// reads, so the node registers the key before reading it; max is the
// largest value the L1 caches), and every invalidation for it
// arrives on the same connection. One goroutine reads that connection and
// applies, in stream order, replies (a fetched value is inserted) and
// pushes (the key is deleted). The node queues a push for a change to a
// registered key synchronously in the writing command, under the key's
// shard lock, and a connection's queued pushes go out ahead of the reply
// to its next command (server/push.go, "Order"). Hence:
//
//   - Fetch/invalidate race. A fetch that read the value before a change
//     is answered before that change's push (the key was registered before
//     the read, so the push is queued after the reply was built): the
//     reader inserts the old value, then deletes it. A fetch that read
//     after the change shows the new value; a push that lands between
//     PTTL's and GETRANGE's replies (so the two may disagree) marks the fetch
//     poisoned and it is not inserted. Nothing fetched before an
//     invalidation can be inserted after it. (TestL1FetchInvalidateOrder.)
//   - Writes the proxy acknowledges. Before a client is sent the reply to
//     a write, the proxy sends PING on the tracked connection of every
//     node the client wrote to since its last reply and waits for PONG
//     (barrier). The write's push was queued before the node replied to
//     the write, so it precedes that PONG, and the reader has deleted the
//     key by the time the PONG is seen: a read that starts after the
//     acknowledgement cannot find the old value. (TestL1NeverStale.)
//   - Loss. When the tracked connection fails, or a barrier times out, the
//     node's epoch is bumped: every entry of an older epoch is dead at
//     once (and removed in the background), and nothing is served for the
//     node until a new connection has tracking on again.
//
// Admission is by frequency: otter's W-TinyLFU decides what stays within
// max_bytes, and a key is only fetched on its second miss (the first
// leaves a small "seen" entry that competes like any other), so a key read
// once costs the node no fetch.
type l1cache struct {
	cfg L1Config
	log *zap.Logger
	c   *otter.Cache[string, *l1entry]

	nodes sync.Map  // *backend → *l1node: read on every lookup, without a lock
	start time.Time // l1cache.now's origin

	hits, misses, fetches, invalidations, drops, barriers atomic.Int64
}

// l1entry is one key's state in the L1; it is never changed, only
// replaced or removed.
type l1entry struct {
	node  *l1node
	epoch uint64
	kind  l1kind
	raw   []byte       // l1String: the GET reply as the node framed it
	set   openhash.Set // l1Set: opened over raw's payload
	// expires is when the key may expire on the node (l1cache.now's
	// clock; 0: it has no TTL): the fetch's send time plus the PTTL the
	// node answered, which is never later than the node's own expiry.
	// From then on the node is asked, so a key past its TTL is never
	// answered from here, however late the node's expiry cycle runs.
	expires int64
}

type l1kind uint8

const (
	l1Seen   l1kind = iota // missed once; the next miss fetches
	l1Pass                 // fetched and not cacheable (TTL, nil, truncated, too big): forwarded until the node invalidates it
	l1String               // a string: GET is answered from raw
	l1Set                  // a relation set: GET from raw, probes from set
)

// l1EntryOverhead is what an entry costs besides its key and value: the
// struct, otter's node and map slot (measured roughly; it only has to keep
// max_bytes honest for small values).
const l1EntryOverhead = 160

func newL1(cfg L1Config, log *zap.Logger) (*l1cache, error) {
	l := &l1cache{cfg: cfg, log: log.Named("l1"), start: time.Now()}
	c, err := otter.New(&otter.Options[string, *l1entry]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher: func(k string, e *l1entry) uint32 {
			return uint32(min(len(k)+len(e.raw)+l1EntryOverhead, 1<<31))
		},
		ExpiryCalculator: otter.ExpiryWriting[string, *l1entry](cfg.TTL.Duration),
	})
	if err != nil {
		return nil, fmt.Errorf("l1: %w", err)
	}
	l.c = c
	return l, nil
}

// node is be's tracked connection, started on first use.
func (l *l1cache) node(be *backend) *l1node {
	if n, ok := l.nodes.Load(be); ok {
		return n.(*l1node)
	}
	n, loaded := l.nodes.LoadOrStore(be, &l1node{l: l, be: be, inflight: map[string]*l1fetch{},
		wanted: map[string]struct{}{}, fkick: make(chan struct{}, 1)})
	if !loaded {
		go n.(*l1node).run()
	}
	return n.(*l1node)
}

// now is monotonic nanoseconds since the L1 started.
func (l *l1cache) now() int64 { return int64(time.Since(l.start)) }

// existing is be's tracked connection if it has one: a node without one
// has nothing in the L1.
func (l *l1cache) existing(be *backend) *l1node {
	if n, ok := l.nodes.Load(be); ok {
		return n.(*l1node)
	}
	return nil
}

// lookup returns key's usable entry for be, or nil after counting a miss
// (and fetching on a second one). A pass entry counts as a miss without a
// fetch: the node has said the key is not to be cached and will say when
// that changes.
func (l *l1cache) lookup(be *backend, key []byte) *l1entry {
	if len(key) == 0 {
		return nil
	}
	n := l.node(be)
	// otter keeps no reference to a looked-up key: no copy.
	e, ok := l.c.GetIfPresent(unsafe.String(&key[0], len(key)))
	if ok && e.node == n && e.epoch == n.epoch.Load() && n.live.Load() && (e.expires == 0 || l.now() < e.expires) {
		switch e.kind {
		case l1String, l1Set:
			return e
		case l1Seen:
			n.fetch(string(key))
		}
		l.misses.Add(1)
		return nil
	}
	l.misses.Add(1)
	if ep, live := n.epoch.Load(), n.live.Load(); live {
		seen := &l1entry{node: n, epoch: ep, kind: l1Seen}
		if ok {
			// A dead entry (an older connection's, or another node's
			// before a reload): the key starts over. Should the reader
			// have put a live one there meanwhile, it is lost, not wrong.
			l.c.Set(string(key), seen)
		} else {
			l.c.SetIfAbsent(string(key), seen)
		}
	}
	return nil
}

// forget removes key if n's reader put it there.
func (l *l1cache) forget(n *l1node, key string) {
	if e, ok := l.c.GetEntryQuietly(key); ok && e.Value.node == n {
		l.c.Invalidate(key)
	}
}

// dropNode removes every entry of n; they are dead already (their epoch
// is past), this only gives their memory back.
func (l *l1cache) dropNode(n *l1node) {
	ep := n.epoch.Load()
	for k, e := range l.c.All() {
		if e.node == n && e.epoch < ep {
			l.c.Invalidate(k)
		}
	}
}

// l1Stats is what INFO shows.
type l1Stats struct {
	hits, misses, fetches, invalidations, drops, barriers int64
	bytes                                                 uint64
	entries                                               int
}

func (l *l1cache) stats() l1Stats {
	return l1Stats{hits: l.hits.Load(), misses: l.misses.Load(), fetches: l.fetches.Load(),
		invalidations: l.invalidations.Load(), drops: l.drops.Load(), barriers: l.barriers.Load(),
		bytes: l.c.WeightedSize(), entries: l.c.EstimatedSize()}
}

// An l1node is the tracked connection to one node: the fetches, the
// barriers and the node's invalidations for the L1, in one stream.
type l1node struct {
	l  *l1cache
	be *backend

	// epoch numbers the tracked connections; an entry is alive only while
	// its epoch is the current one and live is set.
	epoch atomic.Uint64
	live  atomic.Bool

	mu       sync.Mutex // guards nc, queue, inflight; held while writing to nc
	nc       net.Conn
	queue    []l1req             // requests awaiting their replies, in order
	inflight map[string]*l1fetch // fetches awaiting GETRANGE's reply, by key

	// Fetches asked for and not yet sent: a lookup (on an event loop, or
	// a client's goroutine) only notes the key here, and the session's
	// fetcher writes every noted key's fetch in one write. A lookup never
	// waits on the tracked connection's socket, nor on mu, which is held
	// across that socket's writes.
	fmu    sync.Mutex // guards wanted
	wanted map[string]struct{}
	fkick  chan struct{} // cap 1: the fetcher has keys to send
}

// l1req is one command on the tracked connection whose reply is awaited.
type l1req struct {
	f    *l1fetch      // PTTL's or GETRANGE's reply of a fetch
	get  bool          // GETRANGE's (else PTTL's)
	done chan struct{} // a barrier's PING: closed on its reply or on loss
}

type l1fetch struct {
	key      string
	epoch    uint64
	sent     int64 // l1cache.now when PTTL was sent
	pttl     int64
	poisoned bool // an invalidation for key arrived while the fetch was out
}

var errL1Handshake = errors.New("l1: node refused tracking")

// run keeps a tracked connection to the node until the backend is closed.
func (n *l1node) run() {
	go func() {
		// A backend a reload removed: end the session it may be in.
		<-n.be.stop
		n.mu.Lock()
		if n.nc != nil {
			n.nc.Close()
		}
		n.mu.Unlock()
	}()
	retry := 50 * time.Millisecond
	for {
		select {
		case <-n.be.stop:
			n.l.nodes.Delete(n.be)
			return
		default:
		}
		start := time.Now()
		err := n.session()
		n.lost()
		if time.Since(start) > 5*time.Second {
			retry = 50 * time.Millisecond
		}
		if errors.Is(err, errL1Handshake) {
			// A node that refuses HELLO 3 or tracking (its ACL) never
			// gets an L1: say so, it is a configuration to fix.
			n.l.log.Warn("node refused tracking; nothing of it is cached in the L1",
				zap.String("backend", n.be.name), zap.Error(err))
		} else {
			n.l.log.Debug("tracked connection lost; the node's L1 entries are dropped",
				zap.String("backend", n.be.name), zap.Error(err))
		}
		select {
		case <-n.be.stop:
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, 2*time.Second)
	}
}

// session dials, turns tracking on, and reads until the connection fails.
func (n *l1node) session() error {
	nc, _, err := n.be.dial(nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	vr := resp.NewValueReader(nc)
	nc.SetDeadline(time.Now().Add(n.be.settings.timeout))
	hs := resp.AppendCommand(nil, []byte("HELLO"), []byte("3"))
	hs = resp.AppendCommand(hs, []byte("CLIENT"), []byte("TRACKING"), []byte("ON"))
	if _, err := nc.Write(hs); err != nil {
		return err
	}
	hello, err := vr.Next()
	if err != nil {
		return err
	}
	on, err := vr.Next()
	if err != nil {
		return err
	}
	if hello.Type != '%' || on.Type != '+' || string(on.Str) != "OK" {
		return fmt.Errorf("%w: HELLO 3 answered %q, CLIENT TRACKING ON %q", errL1Handshake, hello.Type, on.Str)
	}
	nc.SetDeadline(time.Time{})
	n.mu.Lock()
	select {
	case <-n.be.stop: // removed while this connection was made
		n.mu.Unlock()
		return errBackendRemoved
	default:
	}
	n.nc = nc
	n.live.Store(true)
	n.mu.Unlock()
	done := make(chan struct{})
	defer close(done)
	go n.keepalive(done)
	go n.fetcher(done)
	for {
		v, raw, err := vr.NextRaw()
		if err != nil {
			return err
		}
		if v.Type == '>' {
			n.push(v)
			continue
		}
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return errors.New("l1: a reply nobody asked for")
		}
		r := n.queue[0]
		n.queue[0] = l1req{}
		n.queue = n.queue[1:]
		switch {
		case r.done != nil:
			close(r.done)
		case !r.get:
			var ok bool
			if r.f.pttl, ok = resp.Int(raw); !ok {
				r.f.pttl = -2 // not an answer to cache by (NOPERM, say): a pass
			}
		default:
			n.fetched(r.f, v, raw)
		}
		n.mu.Unlock()
	}
}

// push applies an invalidation: its keys, or every key (a null, after a
// FLUSHALL). Anything else the node pushes on this connection (a broken
// redirect, which it should never have) drops everything too.
func (n *l1node) push(v resp.Value) {
	if len(v.Elems) == 2 && string(v.Elems[0].Str) == "invalidate" && !v.Elems[1].Null {
		n.mu.Lock()
		for _, k := range v.Elems[1].Elems {
			key := string(k.Str)
			if f := n.inflight[key]; f != nil {
				f.poisoned = true
			}
			n.l.forget(n, key)
			n.l.invalidations.Add(1)
		}
		n.mu.Unlock()
		return
	}
	n.l.invalidations.Add(1)
	n.mu.Lock()
	n.forgetAllLocked()
	n.mu.Unlock()
}

// fetched inserts what a fetch read, unless an invalidation overtook it;
// n.mu is held.
func (n *l1node) fetched(f *l1fetch, v resp.Value, raw []byte) {
	delete(n.inflight, f.key)
	if f.poisoned || f.epoch != n.epoch.Load() {
		return
	}
	e := &l1entry{node: n, epoch: f.epoch, kind: l1Pass}
	if f.pttl >= 0 {
		e.expires = f.sent + f.pttl*int64(time.Millisecond)
	}
	// The size test also refuses a value GETRANGE cut (fetch): it read
	// MaxBytes/16+1 bytes, and raw is longer still.
	if (f.pttl == -1 || f.pttl > 0) && v.Type == '$' && !v.Null && int64(len(raw)) <= n.l.cfg.MaxBytes/16 {
		e.kind, e.raw = l1String, raw
		if openhash.IsSet(v.Str) {
			// v.Str is raw's payload; opened over raw so the entry holds
			// one buffer.
			payload := raw[bytes.IndexByte(raw, '\n')+1 : len(raw)-2]
			s, err := openhash.Open(payload)
			switch {
			case err != nil || s.Truncated():
				// A truncated set's misses are the source's to answer, or
				// unknown: the node must answer them.
				e.kind, e.raw = l1Pass, nil
			default:
				e.kind, e.set = l1Set, s
			}
		}
	}
	n.l.c.Set(f.key, e)
}

// fetch asks for key's value and TTL to be fetched on the tracked
// connection; the session's fetcher sends it. Nothing is asked while the
// node has no live connection (a fetch noted then would be sent on the
// next one, harmlessly, but nobody is waiting for it).
func (n *l1node) fetch(key string) {
	if !n.live.Load() {
		return
	}
	n.fmu.Lock()
	if _, ok := n.wanted[key]; ok || len(n.wanted) >= maxL1Wanted {
		n.fmu.Unlock()
		return
	}
	n.wanted[key] = struct{}{}
	n.fmu.Unlock()
	select {
	case n.fkick <- struct{}{}:
	default:
	}
}

// maxL1Wanted bounds the fetches waiting for the fetcher: past it a key's
// next miss asks again.
const maxL1Wanted = 4096

// fetcher sends the fetches lookups asked for, every waiting one in one
// write, until done (the session's end).
func (n *l1node) fetcher(done chan struct{}) {
	var keys []string
	var req []byte
	for {
		select {
		case <-done:
			return
		case <-n.fkick:
		}
		n.fmu.Lock()
		for k := range n.wanted {
			keys = append(keys, k)
		}
		clear(n.wanted)
		n.fmu.Unlock()
		req = n.sendFetches(keys, req[:0])
		clear(keys)
		keys = keys[:0]
	}
}

// sendFetches writes PTTL and GETRANGE for each key not being fetched
// already, and notes what their replies are for; req is scratch.
func (n *l1node) sendFetches(keys []string, req []byte) []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc == nil {
		return req
	}
	// sent is taken before the write: the node reads the TTL after it,
	// so sent plus the PTTL is never later than the node's expiry.
	epoch, sent := n.epoch.Load(), n.l.now()
	var fs []*l1fetch
	for _, key := range keys {
		if n.inflight[key] != nil {
			continue
		}
		fs = append(fs, &l1fetch{key: key, epoch: epoch, sent: sent})
		req = resp.AppendCommand(req, []byte("PTTL"), []byte(key))
		// GETRANGE, not GET: a value too big to cache (fetched below)
		// comes back cut one byte past that size instead of whole, so
		// this connection, which every client's invalidations and
		// barriers wait behind, never reads more than the L1 could keep.
		// A missing key reads as "" here, but its PTTL of -2 already
		// makes it a pass.
		req = resp.AppendCommand(req, []byte("GETRANGE"), []byte(key), []byte("0"), strconv.AppendInt(nil, n.l.cfg.MaxBytes/16, 10))
	}
	if len(fs) == 0 || !n.writeLocked(req) {
		return req
	}
	for _, f := range fs {
		n.inflight[f.key] = f
		n.queue = append(n.queue, l1req{f: f}, l1req{f: f, get: true})
	}
	n.l.fetches.Add(int64(len(fs)))
	return req
}

// A barrier returns once every invalidation the node queued before it
// started has been applied (or the node's entries are dropped): see the
// type's doc.
// keepalive sends a PING on the tracked connection every second until
// done: a node that stops answering without closing the connection (a
// network partition) would otherwise leave its entries served with none
// of its invalidations arriving. A PING not answered within the pool's
// timeout drops the node's entries and closes the connection (waitBarrier).
func (n *l1node) keepalive(done chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			n.waitBarrier(n.ping())
		}
	}
}

// startBarrier sends the PING; waitBarrier waits for its PONG. Split so
// that a client that wrote to several nodes waits for them together.
func (n *l1node) startBarrier() chan struct{} {
	n.l.barriers.Add(1)
	return n.ping()
}

// ping sends PING on the tracked connection; the channel is closed on its
// PONG, or when the connection is lost. Nil when there is no connection.
func (n *l1node) ping() chan struct{} {
	done := make(chan struct{})
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc == nil || !n.writeLocked([]byte("*1\r\n$4\r\nPING\r\n")) {
		return nil // nothing of the node is served
	}
	n.queue = append(n.queue, l1req{done: done})
	return done
}

func (n *l1node) waitBarrier(done chan struct{}) {
	if done == nil {
		return
	}
	t := time.NewTimer(n.be.settings.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		// The node is slow to answer: not knowing what it invalidated,
		// drop all and start over.
		n.mu.Lock()
		if n.nc != nil {
			n.nc.Close()
		}
		n.dropLocked()
		n.mu.Unlock()
	}
}

// writeLocked writes b to the tracked connection; on failure the node's
// entries are dropped (the reader then ends the session).
func (n *l1node) writeLocked(b []byte) bool {
	n.nc.SetWriteDeadline(time.Now().Add(n.be.settings.timeout))
	if _, err := n.nc.Write(b); err != nil {
		n.nc.Close()
		n.dropLocked()
		return false
	}
	return true
}

// forgetAllLocked kills every entry of the node, for a push that names
// no keys (FLUSHALL): a new epoch, and fetches out now are not inserted.
// The connection stays, and so does tracking; n.mu is held.
func (n *l1node) forgetAllLocked() {
	n.epoch.Add(1)
	for _, f := range n.inflight {
		f.poisoned = true
	}
	n.l.drops.Add(1)
	go n.l.dropNode(n)
}

// lost ends a session: everything of the node is dropped.
func (n *l1node) lost() {
	n.mu.Lock()
	// Already dropped when a write or a barrier found the connection
	// broken, and nothing to drop when it never had tracking on.
	if n.live.Load() || n.nc != nil {
		n.dropLocked()
	}
	n.nc = nil
	n.mu.Unlock()
}

// dropLocked kills every entry of the node (a new epoch) and fails what
// waits on the connection; n.mu is held. Barriers waiting are released:
// with the entries gone there is nothing stale to wait for.
func (n *l1node) dropLocked() {
	n.live.Store(false)
	n.forgetAllLocked()
	clear(n.inflight)
	for _, r := range n.queue {
		if r.done != nil {
			close(r.done)
		}
	}
	n.queue = nil
	n.nc = nil
}
