package proxyfront

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/mcproto"
	"github.com/relcache/relcache/internal/resp"
)

// The memcache entry (memcache_listen) speaks memcached's text protocol and
// runs each command as the RESP commands a RESP client of the proxy would
// send, through the same client machinery: routing and placement, the
// per-node split of a multi-key get (one MGET), WATCH on a connection of
// its own, output limits. An item lives in the node's string key
// mcKeyPrefix+key, its value the item header (flags, cas unique) and the
// data (mcproto.AppendItem), so the two keyspaces are disjoint by design and
// a RESP client's key is never read or written by a memcache client.
// docs/proxy.md has the mapping.

// mcOutOfMemory is memcached's line for a store it has no memory for.
const mcOutOfMemory = "SERVER_ERROR out of memory storing object\r\n"

// mcKeyPrefix puts the memcache keyspace apart from the RESP one.
const mcKeyPrefix = "mc:"

// mcMaxRetries bounds how often a cas, incr, decr, append or prepend starts
// over when another client changed the item between its read and its
// write (EXEC answered nil).
const mcMaxRetries = 100

// mcCas hands out cas uniques: a counter from a random start, so that two
// proxies in front of the same nodes give the same unique to one key's two
// versions with a chance of about 2^-64.
var mcCas atomic.Uint64

func init() {
	var b [8]byte
	rand.Read(b[:])
	mcCas.Store(binary.BigEndian.Uint64(b[:]) >> 1)
}

func nextCas() uint64 {
	for {
		if u := mcCas.Add(1); u != 0 {
			return u
		}
	}
}

// A memcache client's read buffer starts at mcBufSize and grows to hold a
// whole line or data block; past mcBufShrink it goes back when drained.
const (
	mcBufSize   = 16 << 10
	mcBufShrink = 64 << 10
)

// mcConn is one memcache client.
type mcConn struct {
	c       *client
	buf     []byte // bytes read; buf[r:w] not yet parsed
	r, w    int
	out     []byte // memcache replies not written yet
	queue   []mcOp // commands sent whose RESP replies come in order
	cmd     mcproto.Command
	own     map[*backend]*bconn // connections of its own, for cas and the like (rmw)
	arena   []byte              // keys and values of the queued commands
	argv    [][]byte            // their RESP arguments
	itemMax int
}

// mcOp is a command whose reply is built when its RESP replies are in.
type mcOp struct {
	op      mcproto.Op
	n       int    // RESP replies it waits for
	fixed   string // its reply, when made without a node
	noReply bool
	keys    [][]byte // get family: the keys, for the VALUE lines
	neg     bool     // a store with an exptime in the past (answered from DEL/EXISTS)
	single  bool     // a get of one key, sent as GET
}

func (p *Proxy) newMcConn(nc net.Conn, id uint64) *mcConn {
	// The default user, authenticated: the text protocol has no AUTH, and
	// the proxy starts the entry only when that user needs no password
	// (readUsers); its command and key rules still apply.
	c := &client{p: p, id: id, nc: nc, user: p.users.Default(), authed: true, scratch: make([]byte, 0, 64)}
	return &mcConn{c: c, buf: make([]byte, mcBufSize), itemMax: int(p.cfgNow().MemcacheItemSizeMax)}
}

func (m *mcConn) serve() {
	c := m.c
	defer func() {
		if r := recover(); r != nil {
			c.p.log.Error("panic while serving a memcache client; connection closed",
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
		c.dead.Store(true)
		for be := range m.own {
			m.dropOwn(be)
		}
		c.nc.Close()
	}()
	for !c.quit {
		line, err := m.line()
		if err != nil {
			m.readFailed(err)
			return
		}
		r := mcproto.Parse(line, &m.cmd)
		c.p.mcStats.count(m.cmd.Op, r != "")
		if r != "" {
			// memcached reads no data block after a storage line it could
			// not use (its data is read as the next command); neither
			// does the entry. noreply silences the refusal too, unless
			// the line was no command at all (ERROR), as in memcached.
			m.fixed(r, m.cmd.NoReply && r != mcproto.ReplyError)
		} else if err := m.run(); err != nil {
			m.readFailed(err)
			return
		}
		if len(m.queue) >= maxPending || len(m.out) >= flushAt || c.held.Load() >= flushAt {
			if m.drain() != nil {
				return
			}
		}
	}
	m.drain()
}

func (m *mcConn) readFailed(err error) {
	switch {
	case errors.Is(err, errMcLineTooLong):
		m.drain()
		m.c.p.log.Debug("closing memcache client whose command line is too long")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
	default:
		m.c.p.log.Debug("memcache client read failed", zap.Error(err))
	}
}

var errMcLineTooLong = errors.New("memcache command line too long")

// line returns the next command line (without "\n"); it aliases buf until
// the next read.
func (m *mcConn) line() ([]byte, error) {
	for {
		if i := bytes.IndexByte(m.buf[m.r:m.w], '\n'); i >= 0 {
			l := m.buf[m.r : m.r+i]
			m.r += i + 1
			return l, nil
		}
		lim := mcproto.MaxLineLen
		if mcproto.LineOp(m.buf[m.r:m.w]).IsGet() {
			lim = mcproto.MaxGetLineLen
		}
		if m.w-m.r > lim {
			// memcached closes a connection whose line has no end in
			// sight (it would have to buffer it whole).
			return nil, errMcLineTooLong
		}
		if err := m.fill(lim + 1); err != nil {
			return nil, err
		}
	}
}

// fill writes the replies owed, then reads more, keeping buf[r:w] and
// growing buf up to need bytes of it.
func (m *mcConn) fill(need int) error {
	if err := m.drain(); err != nil {
		return err
	}
	if m.r > 0 {
		m.w = copy(m.buf, m.buf[m.r:m.w])
		m.r = 0
	}
	if len(m.buf) > mcBufShrink && m.w <= mcBufSize && need <= mcBufSize {
		// A big value has gone through: an idle client keeps 16 KiB,
		// not item_size_max.
		m.buf = append(make([]byte, 0, mcBufSize), m.buf[:m.w]...)[:mcBufSize]
	}
	if m.w == len(m.buf) {
		if len(m.buf) >= need {
			return errMcLineTooLong
		}
		nb := make([]byte, min(2*len(m.buf), need))
		copy(nb, m.buf[:m.w])
		m.buf = nb
	}
	if t := m.c.p.cfgNow().ClientTimeout.Duration; t > 0 {
		m.c.nc.SetReadDeadline(time.Now().Add(t))
	}
	n, err := m.c.nc.Read(m.buf[m.w:])
	m.w += n
	if n > 0 {
		return nil
	}
	return err
}

// data reads a data block of n bytes and its "\r\n"; ok is false when the
// two bytes after the data are something else (memcached's bad data
// chunk: the n+2 bytes are consumed either way).
func (m *mcConn) data(n int) (d []byte, ok bool, err error) {
	for m.w-m.r < n+2 {
		if err := m.fill(n + 2); err != nil {
			return nil, false, err
		}
	}
	d = m.buf[m.r : m.r+n]
	ok = m.buf[m.r+n] == '\r' && m.buf[m.r+n+1] == '\n'
	m.r += n + 2
	return d, ok, nil
}

// swallow discards n bytes as they come, without buffering them.
func (m *mcConn) swallow(n int) error {
	for {
		k := min(n, m.w-m.r)
		m.r += k
		n -= k
		if n == 0 {
			return nil
		}
		m.r, m.w = 0, 0
		if err := m.fill(len(m.buf)); err != nil {
			return err
		}
	}
}

// fixed queues a reply made by the entry itself.
func (m *mcConn) fixed(r string, noReply bool) {
	m.queue = append(m.queue, mcOp{fixed: r, noReply: noReply})
}

// key copies key, prefixed, into the arena.
func (m *mcConn) key(k []byte) []byte {
	s := len(m.arena)
	m.arena = append(append(m.arena, mcKeyPrefix...), k...)
	return m.arena[s:len(m.arena):len(m.arena)]
}

func (m *mcConn) intArg(n int64) []byte {
	s := len(m.arena)
	m.arena = strconv.AppendInt(m.arena, n, 10)
	return m.arena[s:len(m.arena):len(m.arena)]
}

// send runs one RESP command through the client machinery; its reply
// comes in order with the others.
func (m *mcConn) send(args ...[]byte) {
	s := len(m.argv)
	m.argv = append(m.argv, args...)
	m.c.handle(m.argv[s:len(m.argv):len(m.argv)])
}

var (
	argGet     = []byte("GET")
	argMGet    = []byte("MGET")
	argSet     = []byte("SET")
	argDel     = []byte("DEL")
	argExists  = []byte("EXISTS")
	argGetEx   = []byte("GETEX")
	argGetDel  = []byte("GETDEL")
	argExpire  = []byte("EXPIRE")
	argExpAt   = []byte("EXPIREAT")
	argEX      = []byte("EX")
	argEXAT    = []byte("EXAT")
	argNX      = []byte("NX")
	argXX      = []byte("XX")
	argPersist = []byte("PERSIST")
	argKeepTTL = []byte("KEEPTTL")
	argWatch   = []byte("WATCH")
	argUnwatch = []byte("UNWATCH")
	argMulti   = []byte("MULTI")
	argExec    = []byte("EXEC")
)

// expiryArgs appends SET's expiry options for an exptime.
func (m *mcConn) expiryArgs(args [][]byte, e mcproto.Expiry, n int64) [][]byte {
	switch e {
	case mcproto.In:
		return append(args, argEX, m.intArg(n))
	case mcproto.At:
		return append(args, argEXAT, m.intArg(n))
	}
	return args
}

// run starts the parsed command.
func (m *mcConn) run() error {
	cmd := &m.cmd
	now := time.Now().Unix()
	switch cmd.Op {
	case mcproto.OpGet, mcproto.OpGets:
		op := mcOp{op: cmd.Op, n: 1, keys: make([][]byte, len(cmd.Keys))}
		if len(cmd.Keys) == 1 {
			// One key: GET, without MGET's split and merge.
			op.keys[0] = m.key(cmd.Keys[0])
			op.single = true
			m.queue = append(m.queue, op)
			m.send(argGet, op.keys[0])
			return nil
		}
		args := make([][]byte, 1, 1+len(cmd.Keys))
		args[0] = argMGet
		for i, k := range cmd.Keys {
			op.keys[i] = m.key(k)
			args = append(args, op.keys[i])
		}
		m.queue = append(m.queue, op)
		m.send(args...)
	case mcproto.OpGat, mcproto.OpGats:
		op := mcOp{op: cmd.Op, n: len(cmd.Keys), keys: make([][]byte, len(cmd.Keys))}
		for i, k := range cmd.Keys {
			op.keys[i] = m.key(k)
		}
		m.queue = append(m.queue, op)
		e, n := mcproto.ExpiryOf(cmd.Exptime, now)
		for _, k := range op.keys {
			switch e {
			case mcproto.Never:
				m.send(argGetEx, k, argPersist)
			case mcproto.In:
				m.send(argGetEx, k, argEX, m.intArg(n))
			case mcproto.At:
				m.send(argGetEx, k, argEXAT, m.intArg(n))
			default:
				m.send(argGetDel, k)
			}
		}
	case mcproto.OpSet, mcproto.OpAdd, mcproto.OpReplace, mcproto.OpCas, mcproto.OpAppend, mcproto.OpPrepend:
		return m.store(now)
	case mcproto.OpDelete:
		m.queue = append(m.queue, mcOp{op: cmd.Op, n: 1, noReply: cmd.NoReply})
		m.send(argDel, m.key(cmd.Keys[0]))
	case mcproto.OpTouch:
		m.queue = append(m.queue, mcOp{op: cmd.Op, n: 1, noReply: cmd.NoReply})
		k := m.key(cmd.Keys[0])
		switch e, n := mcproto.ExpiryOf(cmd.Exptime, now); e {
		case mcproto.Never:
			m.send(argGetEx, k, argPersist)
		case mcproto.In:
			m.send(argExpire, k, m.intArg(n))
		case mcproto.At:
			m.send(argExpAt, k, m.intArg(n))
		default:
			m.send(argDel, k)
		}
	case mcproto.OpIncr, mcproto.OpDecr:
		return m.sync(func() string { return m.delta() })
	case mcproto.OpVersion:
		m.fixed("VERSION "+m.c.p.version+"\r\n", false)
	case mcproto.OpVerbosity:
		// Nothing to set: the proxy logs by its own level.
		m.fixed(mcproto.ReplyOK, cmd.NoReply)
	case mcproto.OpFlushAll:
		m.fixed("SERVER_ERROR flush_all is not supported by the relcache proxy: it would empty the nodes' RESP keys too\r\n", false)
	case mcproto.OpQuit:
		m.c.quit = true
	}
	return nil
}

// store reads a storage command's data block and starts it.
func (m *mcConn) store(now int64) error {
	cmd := &m.cmd
	if cmd.Bytes > m.itemMax {
		// memcached answers, swallows the data, and (for set) drops the
		// old value rather than leave it stale.
		noReply, op := cmd.NoReply, cmd.Op
		if op == mcproto.OpSet {
			m.queue = append(m.queue, mcOp{op: mcproto.OpDelete, n: 1, noReply: true})
			m.send(argDel, m.key(cmd.Keys[0]))
		}
		m.fixed(mcproto.ReplyTooLarge, noReply)
		return m.swallow(cmd.Bytes + 2)
	}
	// Its own copy: reading the data may drain the queue, which reuses
	// the arena, and move the line in buf.
	key := append([]byte(mcKeyPrefix), cmd.Keys[0]...)
	d, ok, err := m.data(cmd.Bytes)
	if err != nil {
		return err
	}
	if !ok {
		m.fixed(mcproto.ReplyBadChunk, cmd.NoReply)
		return nil
	}
	e, n := mcproto.ExpiryOf(cmd.Exptime, now)
	switch cmd.Op {
	case mcproto.OpCas:
		// Copied: sync drains the queue, which reuses the arena.
		d = bytes.Clone(d)
		return m.sync(func() string { return m.cas(key, d, e, n) })
	case mcproto.OpAppend, mcproto.OpPrepend:
		d = bytes.Clone(d)
		return m.sync(func() string { return m.concat(key, d) })
	}
	op := mcOp{op: cmd.Op, n: 1, noReply: cmd.NoReply}
	if e == mcproto.Expired {
		// Stored already expired: gone at once, as in memcached 1.6. What
		// a store would have answered is read off the key's existence.
		op.neg = true
		m.queue = append(m.queue, op)
		if cmd.Op == mcproto.OpAdd {
			m.send(argExists, key)
		} else {
			m.send(argDel, key)
		}
		return nil
	}
	s := len(m.arena)
	m.arena = mcproto.AppendItem(m.arena, cmd.Flags, nextCas(), d)
	val := m.arena[s:len(m.arena):len(m.arena)]
	args := m.expiryArgs([][]byte{argSet, key, val}, e, n)
	switch cmd.Op {
	case mcproto.OpAdd:
		args = append(args, argNX)
	case mcproto.OpReplace:
		args = append(args, argXX)
	}
	m.queue = append(m.queue, op)
	m.send(args...)
	return nil
}

// drain waits for the queued commands' replies, turns them into memcache
// replies, and writes them.
func (m *mcConn) drain() error {
	c := m.c
	c.flushBackends()
	for i, o := range c.pending {
		o.finish(c)
		c.pending[i] = nil
	}
	c.pending = c.pending[:0]
	raw := c.out
	var rs [][]byte
	for _, op := range m.queue {
		rs = rs[:0]
		for range op.n {
			e, err := resp.ReplyEnd(raw)
			if err != nil || e == 0 {
				// Cannot happen: each RESP command answers once.
				return errors.New("memcache entry lost track of its replies")
			}
			rs = append(rs, raw[:e])
			raw = raw[e:]
		}
		if !op.noReply {
			m.out = m.reply(m.out, &op, rs)
		}
		if len(m.out) >= flushAt {
			if err := m.write(); err != nil {
				return err
			}
		}
	}
	clear(m.queue)
	m.queue = m.queue[:0]
	c.out = c.out[:0]
	c.held.Store(0)
	m.arena, m.argv = m.arena[:0], m.argv[:0]
	return m.write()
}

func (m *mcConn) write() error {
	if m.c.l1.writing {
		m.c.l1Sync()
	}
	if len(m.out) == 0 {
		return nil
	}
	err := m.c.writeAll(m.out)
	if cap(m.out) > 1<<20 {
		m.out = nil
	} else {
		m.out = m.out[:0]
	}
	return err
}

// serverError is memcached's line for a failure that is not the client's:
// a node's or the proxy's error reply.
func serverError(dst, raw []byte) []byte {
	msg := resp.ErrorText(raw)
	if strings.HasPrefix(msg, "OOM ") {
		// A node past maxmemory (noeviction) refused the write: in
		// memcached's words.
		return append(dst, mcOutOfMemory...)
	}
	if msg == "" {
		msg = "unexpected reply from node: " + strconv.Quote(string(raw))
	}
	return append(append(append(dst, "SERVER_ERROR "...), msg...), "\r\n"...)
}

// reply appends op's memcache reply, built from its RESP replies rs.
func (m *mcConn) reply(dst []byte, op *mcOp, rs [][]byte) []byte {
	if op.n == 0 {
		return append(dst, op.fixed...)
	}
	for _, r := range rs {
		if resp.IsError(r) {
			return serverError(dst, r)
		}
	}
	r := rs[0]
	switch op.op {
	case mcproto.OpGet, mcproto.OpGets:
		if op.single {
			return m.values(dst, op, rs)
		}
		elems, ok := resp.AppendElements(nil, r)
		if !ok || len(elems) != len(op.keys) {
			return serverError(dst, r)
		}
		for _, e := range elems {
			if resp.IsError(e) {
				return serverError(dst, e)
			}
		}
		return m.values(dst, op, elems)
	case mcproto.OpGat, mcproto.OpGats:
		return m.values(dst, op, rs)
	case mcproto.OpSet, mcproto.OpAdd, mcproto.OpReplace:
		switch {
		case op.neg && op.op == mcproto.OpAdd:
			return storedIf(dst, string(r) == ":0\r\n")
		case op.neg && op.op == mcproto.OpReplace:
			return storedIf(dst, string(r) == ":1\r\n")
		case op.neg:
			return append(dst, mcproto.ReplyStored...)
		}
		return storedIf(dst, string(r) == "+OK\r\n")
	case mcproto.OpDelete:
		if string(r) == ":0\r\n" {
			return append(dst, mcproto.ReplyNotFound...)
		}
		return append(dst, mcproto.ReplyDeleted...)
	case mcproto.OpTouch:
		if string(r) == ":0\r\n" || resp.IsNil(r) {
			return append(dst, mcproto.ReplyNotFound...)
		}
		return append(dst, mcproto.ReplyTouched...)
	}
	return serverError(dst, r)
}

// notAnItem answers for a node key that a RESP client wrote (the memcache
// keyspace is the prefix's, but nothing stops a RESP client from writing
// there): its value is not an item, and guessing its flags would be wrong.
func notAnItem(key []byte) string {
	return "SERVER_ERROR key " + strconv.Quote(string(key)) + " holds a value not written by the memcache entry\r\n"
}

// item parses a node's value of key; bad is the reply for one that is
// not an item.
func item(v, key []byte) (flags uint32, cas uint64, data []byte, bad string) {
	flags, cas, data, ok := mcproto.ParseItem(v)
	if !ok {
		return 0, 0, nil, notAnItem(key)
	}
	return flags, cas, data, ""
}

func storedIf(dst []byte, ok bool) []byte {
	if ok {
		return append(dst, mcproto.ReplyStored...)
	}
	return append(dst, mcproto.ReplyNotStored...)
}

// values appends the VALUE lines of a get's hits and END.
func (m *mcConn) values(dst []byte, op *mcOp, vals [][]byte) []byte {
	withCas := op.op == mcproto.OpGets || op.op == mcproto.OpGats
	start := len(dst)
	for i, r := range vals {
		v, ok := resp.Bulk(r)
		if !ok {
			continue // a miss (or a key of another type: not an item)
		}
		flags, cas, data, ok := mcproto.ParseItem(v)
		if !ok {
			return append(dst[:start], notAnItem(op.keys[i])...)
		}
		dst = append(dst, "VALUE "...)
		dst = append(dst, op.keys[i][len(mcKeyPrefix):]...)
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(flags), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(len(data)), 10)
		if withCas {
			dst = append(dst, ' ')
			dst = strconv.AppendUint(dst, cas, 10)
		}
		dst = append(dst, "\r\n"...)
		dst = append(dst, data...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, mcproto.ReplyEnd...)
}

// sync runs a read-modify-write command (cas, incr, decr, append,
// prepend) now, after the queued commands: it needs its read's reply
// before it can write. f returns the memcache reply.
func (m *mcConn) sync(f func() string) error {
	noReply := m.cmd.NoReply
	if err := m.drain(); err != nil {
		return err
	}
	r := f()
	if !noReply {
		m.out = append(m.out, r...)
	}
	return nil
}

// rmw is the read-modify-write loop of cas, incr, decr, append and
// prepend: UNWATCH, WATCH the key and GET it (one write, one round trip);
// f decides from the value (a reply now, or the write to make), and the
// write runs as MULTI, the write, EXEC. EXEC answers nil when another
// client wrote the key after the WATCH, and the loop reads it again. All of
// it goes down a connection of this client's own to the key's node (WATCH
// is a connection's state: on a shared one, another client's EXEC would
// lift it), kept for the client's next such command (a connect per cas
// would leave a socket in TIME_WAIT per cas) and counted in
// max_watch_connections.
func (m *mcConn) rmw(key []byte, f func(cur []byte, found bool) (reply string, set [][]byte)) string {
	c := m.c
	t := c.p.topo.Load()
	h := t.hashOf(key, c.scratch)
	be := t.primary.backendFor(h)
	for range mcMaxRetries {
		bc, msg := m.ownConn(be)
		if msg != "" {
			return msg
		}
		rs, ok := m.pipeline(bc, [][]byte{argUnwatch}, [][]byte{argWatch, key}, [][]byte{argGet, key})
		if !ok {
			m.dropOwn(be)
			return string(serverError(nil, rs[0]))
		}
		for _, r := range rs[:2] {
			if string(r) != "+OK\r\n" {
				return string(serverError(nil, r))
			}
		}
		r := rs[2]
		if resp.IsError(r) {
			return string(serverError(nil, r))
		}
		v, found := resp.Bulk(r)
		reply, set := f(v, found)
		if set == nil {
			return reply // the next command's UNWATCH lifts the WATCH
		}
		rs, ok = m.pipeline(bc, [][]byte{argMulti}, set, [][]byte{argExec})
		if !ok {
			m.dropOwn(be)
			return string(serverError(nil, rs[0]))
		}
		if string(rs[1]) != "+QUEUED\r\n" {
			// Refused when queued (a node past maxmemory answers OOM):
			// EXEC then ran nothing, and says only EXECABORT.
			return string(serverError(nil, rs[1]))
		}
		r = rs[2]
		switch {
		case resp.IsNil(r):
			continue // the key changed after the GET: read it again
		case resp.IsError(r):
			return string(serverError(nil, r))
		}
		elems, ok := resp.AppendElements(nil, r)
		if !ok || len(elems) != 1 {
			return string(serverError(nil, r))
		}
		if resp.IsError(elems[0]) {
			return string(serverError(nil, elems[0]))
		}
		if t.cfg.ReplicateWrites {
			// After the primary ran it, as replicated transactions are:
			// fire and forget, the primary's reply is the client's.
			w := resp.AppendCommand(nil, set...)
			for _, rp := range t.replicas {
				c.replicate(rp.backendFor(h), &call{req: w, done: make(chan struct{}, 1), noReply: true})
			}
			c.flushBackends()
		}
		return reply
	}
	return "SERVER_ERROR too many concurrent writes to the item; try again\r\n"
}

// pipeline sends cmds down bc in one write and returns their replies; ok
// is false when one got none (the connection failed), and rs[0] is then
// the error.
func (m *mcConn) pipeline(bc *bconn, cmds ...[][]byte) (rs [][]byte, ok bool) {
	c := m.c
	ks := make([]*call, len(cmds))
	for i, args := range cmds {
		k := newCall()
		k.req = resp.AppendCommand(k.req[:0], args...)
		c.sendOn(bc, k)
		ks[i] = k
	}
	c.flushBackends()
	rs, ok = make([][]byte, len(ks)), true
	for i, k := range ks {
		k.wait()
		if k.err != nil && ok {
			rs, ok = [][]byte{redcon.AppendError(nil, k.err.Error())}, false
		}
		if ok {
			rs[i] = append([]byte(nil), k.reply...)
		}
		k.release()
	}
	return rs, ok
}

// ownConn is the client's own connection to be, dialled on first use.
func (m *mcConn) ownConn(be *backend) (*bconn, string) {
	if bc := m.own[be]; bc != nil && !bc.lost() {
		return bc, ""
	}
	m.dropOwn(be)
	p := m.c.p
	most := p.cfgNow().MaxWatchConnections
	if p.watchConns.Add(1) > int64(most) {
		p.watchConns.Add(-1)
		return nil, fmt.Sprintf("SERVER_ERROR proxy: max_watch_connections (%d) reached: too many clients are watching keys\r\n", most)
	}
	p.metrics.watchConns.Inc()
	if m.own == nil {
		m.own = make(map[*backend]*bconn)
	}
	bc := be.dedicated()
	m.own[be] = bc
	return bc, ""
}

// dropOwn closes the client's own connection to be, if it has one.
func (m *mcConn) dropOwn(be *backend) {
	bc := m.own[be]
	if bc == nil {
		return
	}
	delete(m.own, be)
	be.release(bc)
	m.c.p.watchConns.Add(-1)
	m.c.p.metrics.watchConns.Dec()
}

// cas: stored only while the item's cas unique is the client's.
func (m *mcConn) cas(key, d []byte, e mcproto.Expiry, n int64) string {
	flags, want := m.cmd.Flags, m.cmd.Cas
	return m.rmw(key, func(cur []byte, found bool) (string, [][]byte) {
		if !found {
			return mcproto.ReplyNotFound, nil
		}
		_, have, _, bad := item(cur, key)
		if bad != "" {
			return bad, nil
		}
		if have != want {
			return mcproto.ReplyExists, nil
		}
		if e == mcproto.Expired {
			return mcproto.ReplyStored, [][]byte{argDel, key}
		}
		val := mcproto.AppendItem(nil, flags, nextCas(), d)
		return mcproto.ReplyStored, m.expiryArgs([][]byte{argSet, key, val}, e, n)
	})
}

// concat: append or prepend, keeping the item's flags and expiry.
func (m *mcConn) concat(key, d []byte) string {
	prepend := m.cmd.Op == mcproto.OpPrepend
	return m.rmw(key, func(cur []byte, found bool) (string, [][]byte) {
		if !found {
			return mcproto.ReplyNotStored, nil
		}
		flags, _, old, bad := item(cur, key)
		if bad != "" {
			return bad, nil
		}
		if len(old)+len(d) > m.itemMax {
			return mcproto.ReplyTooLarge, nil
		}
		val := mcproto.AppendItem(make([]byte, 0, mcproto.HeaderLen+len(old)+len(d)), flags, nextCas(), nil)
		if prepend {
			val = append(append(val, d...), old...)
		} else {
			val = append(append(val, old...), d...)
		}
		return mcproto.ReplyStored, [][]byte{argSet, key, val, argKeepTTL}
	})
}

// delta: incr or decr, keeping flags and expiry.
func (m *mcConn) delta() string {
	key := append([]byte(mcKeyPrefix), m.cmd.Keys[0]...)
	d, incr := m.cmd.Delta, m.cmd.Op == mcproto.OpIncr
	return m.rmw(key, func(cur []byte, found bool) (string, [][]byte) {
		if !found {
			return mcproto.ReplyNotFound, nil
		}
		flags, _, old, bad := item(cur, key)
		if bad != "" {
			return bad, nil
		}
		v, ok := mcproto.Delta(old, d, incr)
		if !ok {
			return mcproto.ReplyNonNum, nil
		}
		num := strconv.AppendUint(nil, v, 10)
		val := mcproto.AppendItem(nil, flags, nextCas(), num)
		return string(num) + "\r\n", [][]byte{argSet, key, val, argKeepTTL}
	})
}
