package proxyfront_test

// Integration tests of `relcache proxy` against the real binary: real
// relcache nodes behind it, a single relcache node holding everything as the
// reference, a real MariaDB for FOLLOW, a real nutcracker for placement.
// Replies are compared as raw RESP bytes, so an integer where a bulk string
// belongs, or a nil array where an empty one belongs, is caught.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/shard"
)

// --- A raw RESP client ------------------------------------------------------

// rconn is a RESP2 connection that returns each reply as the exact bytes
// the server sent.
type rconn struct {
	addr string
	c    net.Conn
	rd   *bufio.Reader
	w    *bufio.Writer
}

func dialRESP(addr string) (*rconn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rconn{addr: addr, c: c, rd: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t testing.TB, addr string) *rconn {
	t.Helper()
	c, err := dialRESP(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.c.Close() })
	return c
}

func (c *rconn) Close() error { return c.c.Close() }

// send buffers one command as an array of bulk strings.
func (c *rconn) send(args ...string) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n", len(a))
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

func (c *rconn) flush() error {
	c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.w.Flush()
}

// read returns the next reply's raw bytes.
func (c *rconn) read() ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return readReply(c.rd, nil)
}

// do sends one command and returns its raw reply.
func (c *rconn) do(args ...string) ([]byte, error) {
	c.send(args...)
	if err := c.flush(); err != nil {
		return nil, err
	}
	return c.read()
}

// must is do for the test goroutine: an I/O error fails the test.
func (c *rconn) must(t testing.TB, args ...string) []byte {
	t.Helper()
	raw, err := c.do(args...)
	if err != nil {
		t.Fatalf("%s %s: %v", c.addr, showArgs(args), err)
	}
	return raw
}

// readReply appends one complete RESP2 reply from rd to dst.
func readReply(rd *bufio.Reader, dst []byte) ([]byte, error) {
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return append(dst, line...), err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return append(dst, line...), fmt.Errorf("malformed reply line %q", line)
	}
	dst = append(dst, line...)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':':
		return dst, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return dst, fmt.Errorf("malformed bulk length %q", line)
		}
		if n == -1 {
			return dst, nil
		}
		start := len(dst)
		dst = append(dst, make([]byte, n+2)...)
		if _, err := io.ReadFull(rd, dst[start:]); err != nil {
			return dst, err
		}
		if dst[len(dst)-2] != '\r' || dst[len(dst)-1] != '\n' {
			return dst, fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		return dst, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return dst, fmt.Errorf("malformed array length %q", line)
		}
		for range n {
			if dst, err = readReply(rd, dst); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, fmt.Errorf("unknown reply type %q", line)
}

// respErr is an error reply, without its "-".
type respErr string

// status is a simple-string reply, without its "+".
type status string

// parse decodes one raw reply: status, respErr, int64, []byte (bulk),
// []any (array), or nil (null bulk or null array).
func parse(raw []byte) (any, []byte, error) {
	i := bytes.Index(raw, []byte("\r\n"))
	if i < 1 {
		return nil, raw, fmt.Errorf("no reply line in %q", raw)
	}
	body, rest := string(raw[1:i]), raw[i+2:]
	switch raw[0] {
	case '+':
		return status(body), rest, nil
	case '-':
		return respErr(body), rest, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return n, rest, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n == -1 {
			return nil, rest, err
		}
		if len(rest) < n+2 {
			return nil, rest, fmt.Errorf("short bulk")
		}
		return rest[:n], rest[n+2:], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n == -1 {
			return nil, rest, err
		}
		out := make([]any, n)
		for j := range out {
			if out[j], rest, err = parse(rest); err != nil {
				return nil, rest, err
			}
		}
		return out, rest, nil
	}
	return nil, raw, fmt.Errorf("unknown reply type in %q", raw)
}

// value parses a complete raw reply.
func value(t testing.TB, raw []byte) any {
	t.Helper()
	v, rest, err := parse(raw)
	if err != nil || len(rest) != 0 {
		t.Fatalf("unparsable reply %s: %v", show(raw), err)
	}
	return v
}

// relsetMagic starts every openhash array. A relation set's bytes depend on
// a random seed per build, so two servers holding the same set return
// different bytes for GET; canon hides them.
var relsetMagic = []byte{0x8f, 'R', 'H', 'S'}

// canon returns raw with relation-set bulks replaced by a placeholder.
func canon(raw []byte) []byte {
	if !bytes.Contains(raw, relsetMagic) {
		return raw
	}
	v, _, err := parse(raw)
	if err != nil {
		return raw
	}
	var out []byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
			out = append(out, "$-1\r\n"...)
		case status:
			out = append(out, "+"+string(x)+"\r\n"...)
		case respErr:
			out = append(out, "-"+string(x)+"\r\n"...)
		case int64:
			out = append(out, ":"+strconv.FormatInt(x, 10)+"\r\n"...)
		case []byte:
			if bytes.HasPrefix(x, relsetMagic) {
				x = []byte("<relation set>") // its size depends on its history too
			}
			out = append(out, fmt.Sprintf("$%d\r\n%s\r\n", len(x), x)...)
		case []any:
			out = append(out, fmt.Sprintf("*%d\r\n", len(x))...)
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// show quotes a reply for a failure message, cut to a readable length.
func show(raw []byte) string {
	const most = 600
	if len(raw) > most {
		return strconv.Quote(string(raw[:most])) + fmt.Sprintf("... (%d bytes)", len(raw))
	}
	return strconv.Quote(string(raw))
}

func showArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i == 12 {
			fmt.Fprintf(&b, " ... (%d args)", len(args))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(a) > 40 {
			a = a[:40] + "..."
		}
		b.WriteString(a)
	}
	return b.String()
}

// bulk is the raw reply of a bulk string.
func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// --- Backends, configs, placement -----------------------------------------

// stopGroups holds, per test, the processes stopAtEnd was given.
var stopGroups sync.Map // testing.TB → *stopGroup

type stopGroup struct {
	mu    sync.Mutex // guards procs
	procs []*relcachetest.Proc
}

// stopAtEnd stops p, with every other process given for the test, all at
// once when the test ends. A relcache process takes about a second to shut
// down, and the cleanups of Start stop them one after another; they still
// run afterwards and check each exit status.
func stopAtEnd(t testing.TB, ps ...*relcachetest.Proc) {
	v, _ := stopGroups.LoadOrStore(t, &stopGroup{})
	g := v.(*stopGroup)
	g.mu.Lock()
	g.procs = append(g.procs, ps...)
	g.mu.Unlock()
	// Cleanups run last-registered first: this one runs before those of
	// every process started so far.
	t.Cleanup(func() {
		stopGroups.Delete(t)
		g.mu.Lock()
		procs := slices.Clone(g.procs)
		g.mu.Unlock()
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Stop()
			}()
		}
		wg.Wait()
	})
}

// startNode is relcachetest.Start, stopped with the test's other processes.
func startNode(t testing.TB, args ...string) *relcachetest.Proc {
	t.Helper()
	p := relcachetest.Start(t, args...)
	stopAtEnd(t, p)
	return p
}

// cluster is a pool's worth of relcache nodes, named prefix1, prefix2, ...
type cluster struct {
	procs []*relcachetest.Proc
	names []string
	ports []int
}

// startCluster starts n pure-cache nodes on fixed ports (so a test can
// restart one where it was) with args appended.
func startCluster(t testing.TB, n int, prefix string, args ...string) *cluster {
	t.Helper()
	c := &cluster{}
	for i := range n {
		port := relcachetest.FreePort(t)
		p := startNode(t, append([]string{"--addr", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...)
		c.procs = append(c.procs, p)
		c.names = append(c.names, fmt.Sprintf("%s%d", prefix, i+1))
		c.ports = append(c.ports, port)
	}
	return c
}

// lines are the pool's twemproxy server lines, "127.0.0.1:port:1 name".
func (c *cluster) lines() []string {
	out := make([]string, len(c.procs))
	for i := range c.procs {
		out[i] = fmt.Sprintf("127.0.0.1:%d:1 %s", c.ports[i], c.names[i])
	}
	return out
}

// conns dials every node directly.
func (c *cluster) conns(t testing.TB) []*rconn {
	t.Helper()
	out := make([]*rconn, len(c.procs))
	for i, p := range c.procs {
		out[i] = dial(t, p.Addr)
	}
	return out
}

type proxyConfig struct {
	Listen, Admin   string // default "127.0.0.1:0"
	Password        string
	Hash            string
	Distribution    string
	HashTag         string
	RouteBy         string
	ReadPool        string
	ReplicateWrites bool
	Extra           string // raw TOML lines for the top level
	Pools           []poolConfig
}

type poolConfig struct {
	Name, Role         string
	Servers            []string
	ServerConnections  int
	Timeout            string
	DialTimeout        string
	ServerRetryTimeout string
	ServerFailureLimit int
	NoAutoEject        bool
	Password           string
}

func (c proxyConfig) toml() string {
	var b strings.Builder
	q := strconv.Quote
	str := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s = %s\n", k, q(v))
		}
	}
	str("listen", cmp.Or(c.Listen, "127.0.0.1:0"))
	str("admin", cmp.Or(c.Admin, "127.0.0.1:0"))
	str("password", c.Password)
	str("hash", c.Hash)
	str("distribution", c.Distribution)
	str("hash_tag", c.HashTag)
	str("route_by", c.RouteBy)
	str("read_pool", c.ReadPool)
	if c.ReplicateWrites {
		b.WriteString("replicate_writes = true\n")
	}
	b.WriteString(c.Extra)
	for _, p := range c.Pools {
		b.WriteString("\n[[pool]]\n")
		str("name", p.Name)
		str("role", p.Role)
		b.WriteString("servers = [\n")
		for _, s := range p.Servers {
			fmt.Fprintf(&b, "  %s,\n", q(s))
		}
		b.WriteString("]\n")
		if p.ServerConnections > 0 {
			fmt.Fprintf(&b, "server_connections = %d\n", p.ServerConnections)
		}
		// Generous where timeouts are not under test: the nodes run with
		// -race on a busy CI machine.
		str("timeout", cmp.Or(p.Timeout, "10s"))
		str("dial_timeout", cmp.Or(p.DialTimeout, "2s"))
		str("server_retry_timeout", p.ServerRetryTimeout)
		if p.ServerFailureLimit > 0 {
			fmt.Fprintf(&b, "server_failure_limit = %d\n", p.ServerFailureLimit)
		}
		if p.NoAutoEject {
			b.WriteString("auto_eject = false\n")
		}
		str("password", p.Password)
	}
	return b.String()
}

func (c proxyConfig) write(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(c.toml()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// onePool is a config with a primary pool "dc1" over cl.
func onePool(cl *cluster) proxyConfig {
	return proxyConfig{Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: cl.lines()}}}
}

// startProxy writes c to a fresh file and starts a proxy on it.
func startProxy(t testing.TB, c proxyConfig) (*relcachetest.Proc, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.toml")
	c.write(t, path)
	p := relcachetest.StartProxy(t, path)
	stopAtEnd(t, p)
	return p, path
}

// placer predicts the node of a key with package shard's functions, as the
// spec defines routing.
type placer struct {
	hash shard.HashFunc
	dist shard.Distribution
	tag  string
	kp   *shard.KeyPattern // nil when route_by is "key"
}

func newPlacer(t testing.TB, c proxyConfig, servers []string) *placer {
	t.Helper()
	h, err := shard.HashByName(cmp.Or(c.Hash, "fnv1a_64"))
	if err != nil {
		t.Fatal(err)
	}
	var ss []shard.Server
	for _, line := range servers {
		s, err := shard.ParseServer(line)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	d, err := shard.NewDistribution(cmp.Or(c.Distribution, "ketama"), ss)
	if err != nil {
		t.Fatal(err)
	}
	p := &placer{hash: h, dist: d, tag: c.HashTag}
	if cmp.Or(c.RouteBy, "uid") == "uid" {
		if p.kp, err = shard.ParseKeyPattern(shard.DefaultKeyPattern, shard.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// node returns the index in the pool's server list of key's node.
func (p *placer) node(key string) int {
	k := []byte(key)
	if p.kp != nil {
		if uid, _, ok := p.kp.Parse(k); ok {
			return p.dist.Index(p.hash(strconv.AppendUint(nil, uid, 10)))
		}
	}
	return p.dist.Index(p.hash(shard.HashTag(k, p.tag)))
}

// keysOn returns n keys "prefix<i>" that p places on node i.
func (p *placer) keysOn(i, n int, prefix string) []string {
	var out []string
	for j := 0; len(out) < n; j++ {
		if k := fmt.Sprintf("%s%d", prefix, j); p.node(k) == i {
			out = append(out, k)
		}
	}
	return out
}

// --- Comparing the proxy with a reference node ------------------------------

// pair sends the same commands to the proxy and to a reference node holding
// everything, and compares the raw replies.
type pair struct {
	t          testing.TB
	proxy, ref *rconn
	queued     [][]string
	mismatches int
	compared   map[string]int // command name → replies compared
	nonEmpty   map[string]int // command name → replies with content: a non-empty array, or a bulk
}

func newPair(t testing.TB, proxyAddr, refAddr string) *pair {
	return &pair{t: t, proxy: dial(t, proxyAddr), ref: dial(t, refAddr), compared: map[string]int{}, nonEmpty: map[string]int{}}
}

// queue sends a command to both sides (buffered) for the next sync.
func (p *pair) queue(args ...string) {
	p.proxy.send(args...)
	p.ref.send(args...)
	p.queued = append(p.queued, args)
}

// sync flushes both sides, reads every queued reply, and fails the test on
// a difference (stopping after a few).
func (p *pair) sync() {
	p.t.Helper()
	if err := p.proxy.flush(); err != nil {
		p.t.Fatalf("write to proxy: %v", err)
	}
	if err := p.ref.flush(); err != nil {
		p.t.Fatalf("write to reference: %v", err)
	}
	for _, args := range p.queued {
		got, err := p.proxy.read()
		if err != nil {
			p.t.Fatalf("proxy: %s: reading the reply: %v (got %s)", showArgs(args), err, show(got))
		}
		want, err := p.ref.read()
		if err != nil {
			p.t.Fatalf("reference: %s: %v", showArgs(args), err)
		}
		p.compared[strings.ToUpper(args[0])]++
		if (want[0] == '*' || want[0] == '$') && want[1] != '0' && want[1] != '-' {
			p.nonEmpty[strings.ToUpper(args[0])]++
		}
		if !bytes.Equal(canon(got), canon(want)) {
			p.mismatches++
			p.t.Errorf("%s\n  proxy:     %s\n  one node:  %s", showArgs(args), show(got), show(want))
			if p.mismatches >= 25 {
				p.t.Fatalf("stopping after %d differences", p.mismatches)
			}
		}
	}
	p.queued = p.queued[:0]
}

// check sends one command to both and compares.
func (p *pair) check(args ...string) {
	p.t.Helper()
	p.queue(args...)
	p.sync()
}

// --- A random social graph ---------------------------------------------------

type edge struct {
	uid  uint64
	time uint32
}

type socialGraph struct {
	users     []uint64 // users whose lists may be cached
	others    []uint64 // followed, never cached
	following map[uint64][]edge
	fans      map[uint64][]edge
	popular   *rand.Zipf
}

// newSocialGraph makes n users with power-law follow counts (most follow a
// few, some hundreds) and a handful of heavy users following thousands,
// following mostly popular users; times come from a narrow range so that
// equal times (ties ordered by uid) occur.
func newSocialGraph(rng *rand.Rand, n int) *socialGraph {
	g := &socialGraph{following: map[uint64][]edge{}, fans: map[uint64][]edge{}}
	seen := map[uint64]bool{}
	fresh := func() uint64 {
		for {
			var u uint64
			switch rng.IntN(4) {
			case 0:
				u = rng.Uint64N(100_000) // short uids
			case 1:
				u = rng.Uint64() // up to 20 digits
			default:
				u = 1_000_000_000 + rng.Uint64N(9_000_000_000)
			}
			if !seen[u] {
				seen[u] = true
				return u
			}
		}
	}
	g.users = append(g.users, 0) // uid 0 is valid
	seen[0] = true
	for len(g.users) < n {
		g.users = append(g.users, fresh())
	}
	for range 6000 {
		g.others = append(g.others, fresh())
	}
	g.popular = rand.NewZipf(rng, 1.1, 2, uint64(n-1))
	count := rand.NewZipf(rng, 1.2, 3, 300)
	for i, u := range g.users {
		want := int(count.Uint64())
		if i%60 == 7 {
			want = 1500 + rng.IntN(3000) // heavy users
		}
		set := map[uint64]bool{u: true}
		var es []edge
		for len(es) < want {
			var v uint64
			if rng.IntN(10) < 6 {
				v = g.users[g.popular.Uint64()]
			} else {
				v = g.others[rng.IntN(len(g.others))]
			}
			if set[v] {
				if len(set) > len(g.users)/2 {
					v = g.others[rng.IntN(len(g.others))] // popular ones exhausted
				}
				if set[v] {
					continue
				}
			}
			set[v] = true
			e := edge{v, 1_600_000_000 + uint32(rng.IntN(20_000))}
			es = append(es, e)
			g.fans[v] = append(g.fans[v], edge{u, e.time})
		}
		g.following[u] = es
	}
	return g
}

// newestFirst sorts edges as RELMEMBERS orders them.
func newestFirst(es []edge) []edge {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b edge) int {
		if c := cmp.Compare(b.time, a.time); c != 0 {
			return c
		}
		return cmp.Compare(a.uid, b.uid)
	})
	return out
}

func u64(u uint64) string { return strconv.FormatUint(u, 10) }

func fkey(u uint64) string { return u64(u) + ".following" }
func rkey(u uint64) string { return u64(u) + ".follower" }

// relload builds RELLOAD args for key.
func relload(key string, es []edge, times, truncated bool) []string {
	args := []string{"RELLOAD", key}
	if times {
		args = append(args, "TIMES")
	}
	if truncated {
		args = append(args, "TRUNCATED")
	}
	for _, e := range es {
		args = append(args, u64(e.uid))
		if times {
			args = append(args, strconv.FormatUint(uint64(e.time), 10))
		}
	}
	return args
}

// --- 1. The proxy answers as one node holding everything --------------------

// queries makes random commands over a loaded graph: every relation
// command, the multi-key commands and a sample of single-key ones, with
// uids that are cached, not cached, truncated, repeated, and command names
// in any case. Each client has its own.
type queries struct {
	g       *socialGraph
	rng     *rand.Rand
	popular *rand.Zipf
	strKeys []string
	odd     []string // keys with odd bytes, empty included
	heavy   []uint64 // users following thousands
}

func newQueries(g *socialGraph, seed uint64, strKeys, odd []string) *queries {
	rng := rand.New(rand.NewPCG(seed, seed*31+7))
	q := &queries{g: g, rng: rng, popular: rand.NewZipf(rng, 1.1, 2, uint64(len(g.users)-1)), strKeys: strKeys, odd: odd}
	for _, u := range g.users {
		if len(g.following[u]) >= 1000 {
			q.heavy = append(q.heavy, u)
		}
	}
	return q
}

func (q *queries) pickUser() uint64 { return q.g.users[q.popular.Uint64()] }
func (q *queries) anyUser() uint64  { return q.g.users[q.rng.IntN(len(q.g.users))] }

func (q *queries) pickUID() uint64 {
	switch x := q.rng.IntN(100); {
	case x < 60:
		return q.anyUser()
	case x < 85:
		return q.g.others[q.rng.IntN(len(q.g.others))]
	case x < 95:
		return q.rng.Uint64N(1 << 40) // nobody
	case x < 97:
		return 0
	default:
		return ^uint64(0)
	}
}

func (q *queries) member(u uint64) uint64 {
	if es := q.g.following[u]; len(es) > 0 && q.rng.IntN(3) > 0 {
		return es[q.rng.IntN(len(es))].uid
	}
	return q.pickUID()
}

func (q *queries) fan(u uint64) uint64 {
	if es := q.g.fans[u]; len(es) > 0 && q.rng.IntN(2) == 0 {
		return es[q.rng.IntN(len(es))].uid
	}
	return q.pickUID()
}

func (q *queries) relKey() string {
	u := q.pickUID()
	if q.rng.IntN(3) > 0 {
		u = q.anyUser()
	}
	if q.rng.IntN(3) == 0 {
		return rkey(u)
	}
	return fkey(u)
}

// uids picks n uids to test against a: members, fans, others, with
// duplicates and a itself now and then.
func (q *queries) uids(n int, a uint64) []string {
	out := make([]string, n)
	for i := range out {
		switch q.rng.IntN(4) {
		case 0, 1:
			out[i] = u64(q.member(a))
		case 2:
			out[i] = u64(q.fan(a))
		default:
			out[i] = u64(q.pickUID())
		}
	}
	if n > 2 && q.rng.IntN(4) == 0 {
		out[q.rng.IntN(n)] = out[0]
	}
	if n > 1 && q.rng.IntN(10) == 0 {
		out[q.rng.IntN(n)] = u64(a)
	}
	return out
}

func (q *queries) limit(args []string) []string {
	if q.rng.IntN(3) == 0 {
		args = append(args, "LIMIT", strconv.Itoa([]int{1, 2, 3, 5, 10, 1000}[q.rng.IntN(6)]))
	}
	return args
}

func (q *queries) anyKey() string {
	switch q.rng.IntN(12) {
	case 0, 1, 2:
		return q.relKey()
	case 3, 4:
		return fmt.Sprintf("missing:%d", q.rng.IntN(50))
	case 5:
		return q.odd[q.rng.IntN(len(q.odd))]
	default:
		return q.strKeys[q.rng.IntN(len(q.strKeys))]
	}
}

func (q *queries) keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = q.anyKey()
	}
	if n > 1 && q.rng.IntN(3) == 0 {
		out[q.rng.IntN(n)] = out[0]
	}
	return out
}

// next returns a random read-only command.
func (q *queries) next() []string {
	cat := func(head []string, rest []string) []string { return append(head, rest...) }
	var args []string
	switch q.rng.IntN(34) {
	case 0, 1, 2: // one b: an integer reply
		a := q.pickUser()
		args = []string{"RELCHECK", u64(a), u64([]uint64{q.member(a), q.fan(a), q.pickUID()}[q.rng.IntN(3)])}
	case 3, 4, 5:
		a := q.anyUser()
		args = cat([]string{"RELCHECK", u64(a)}, q.uids(2+q.rng.IntN(40), a))
	case 6:
		a := q.pickUser()
		args = cat([]string{"RELCHECK", u64(a)}, q.uids(200+q.rng.IntN(400), a))
	case 7:
		a := q.pickUID()
		args = cat([]string{"RELCHECK", u64(a)}, q.uids(1+q.rng.IntN(10), a))
	case 8, 9:
		a := q.anyUser()
		args = cat([]string{"RELMULTI", fkey(a)}, q.uids(1+q.rng.IntN(30), a))
	case 10:
		a := q.anyUser()
		args = cat([]string{"RELMULTI", fkey(a), "BITS"}, q.uids(1+q.rng.IntN(30), a))
	case 11, 12, 13:
		x := q.pickUser()
		us := make([]string, 1+q.rng.IntN(50))
		for i := range us {
			us[i] = u64([]uint64{q.fan(x), q.anyUser(), q.pickUID()}[q.rng.IntN(3)])
		}
		args = cat([]string{"RELFOLLOWS", u64(x)}, us)
	case 14, 15, 16: // x is followed by some of a's members
		a := q.anyUser()
		if q.rng.IntN(2) == 0 {
			a = q.pickUser()
		}
		args = q.limit([]string{"RELWHO", u64(a), u64(q.member(q.member(a)))})
	case 17, 18:
		a := q.anyUser()
		b := []uint64{q.fan(a), q.anyUser(), q.pickUser(), q.pickUID(), a}[q.rng.IntN(5)]
		args = q.limit([]string{"RELCOMMON", u64(a), u64(b)})
	case 19: // users following thousands, over every node
		a, b := q.heavy[q.rng.IntN(len(q.heavy))], q.heavy[q.rng.IntN(len(q.heavy))]
		switch q.rng.IntN(3) {
		case 0:
			args = q.limit([]string{"RELWHO", u64(a), u64(q.member(q.member(a)))})
		case 1:
			args = q.limit([]string{"RELCOMMON", u64(a), u64(b)})
		default:
			args = cat([]string{"RELCHECK", u64(a)}, q.uids(500, a))
		}
	case 20, 21:
		args = []string{"RELMEMBERS", q.relKey()}
		if q.rng.IntN(2) == 0 {
			args = append(args, "WITHTIMES")
		}
		if q.rng.IntN(2) == 0 {
			args = append(args, "NEWEST", strconv.Itoa(1+q.rng.IntN(20)))
		}
	case 22:
		args = []string{[]string{"RELCARD", "RELINFO", "TYPE", "HLEN", "SCARD", "EXISTS"}[q.rng.IntN(6)], q.relKey()}
	case 23:
		a := q.anyUser()
		args = []string{[]string{"HGET", "HEXISTS", "SISMEMBER"}[q.rng.IntN(3)], fkey(a), u64(q.member(a))}
	case 24:
		a := q.anyUser()
		args = cat([]string{[]string{"HMGET", "SMISMEMBER"}[q.rng.IntN(2)], fkey(a)}, q.uids(1+q.rng.IntN(10), a))
	case 25, 26, 27:
		args = cat([]string{"MGET"}, q.keys(1+q.rng.IntN(40)))
	case 28:
		args = cat([]string{"MGET"}, q.keys(500+q.rng.IntN(500)))
	case 29, 30:
		args = cat([]string{"EXISTS"}, q.keys(1+q.rng.IntN(20)))
	case 31: // not on relation sets, whose bytes differ from build to build
		k := q.strKeys[q.rng.IntN(len(q.strKeys))]
		if q.rng.IntN(3) == 0 {
			k = q.odd[q.rng.IntN(len(q.odd))]
		}
		args = []string{[]string{"GET", "STRLEN", "TYPE", "GETRANGE"}[q.rng.IntN(4)], k}
		if args[0] == "GETRANGE" {
			args = append(args, "1", "-2")
		}
	case 32:
		args = []string{"UNLINK", fmt.Sprintf("missing:%d", q.rng.IntN(50)), fmt.Sprintf("missing:%d", q.rng.IntN(50))}
	default: // answered by the proxy itself
		args = [][]string{{"PING"}, {"PING", "hello there"}, {"ECHO", q.anyKey()}}[q.rng.IntN(3)]
	}
	switch q.rng.IntN(10) {
	case 0:
		args[0] = strings.ToLower(args[0])
	case 1:
		b := []byte(strings.ToLower(args[0]))
		b[0] -= 'a' - 'A'
		args[0] = string(b)
	}
	return args
}

// run sends n queries in pipelined batches of 1 to 12 and compares.
func (q *queries) run(p *pair, n int) {
	for sent := 0; sent < n; {
		for range 1 + q.rng.IntN(12) {
			p.queue(q.next()...)
			sent++
		}
		p.sync()
	}
}

// TestProxyMatchesOneNode loads a random graph and string keys through a
// proxy over three nodes and identically into one reference node, then
// sends both the same random relation, multi-key and single-key commands,
// from four clients at once, and compares the raw replies byte for byte.
// Afterwards each node must hold a fair share of the keys, and together
// exactly the reference's.
func TestProxyMatchesOneNode(t *testing.T) {
	cl := startCluster(t, 3, "node")
	ref := startNode(t)
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	p := newPair(t, px.Addr, ref.Addr)
	rng := rand.New(rand.NewPCG(20240601, 7))
	g := newSocialGraph(rng, 360)

	// Load through the proxy and into the reference: pipelined RELLOADs,
	// some lists not cached, some empty, some truncated, some without times.
	for i, u := range g.users {
		switch x := rng.IntN(100); {
		case x < 8: // not cached
		case x < 12:
			p.queue("RELLOAD", fkey(u))
		case x < 17:
			es := newestFirst(g.following[u])
			p.queue(relload(fkey(u), es[:len(es)/2], true, true)...)
		case x < 27:
			p.queue(relload(fkey(u), g.following[u], false, false)...)
		default:
			p.queue(relload(fkey(u), g.following[u], true, false)...)
		}
		fans := g.fans[u]
		switch x := rng.IntN(100); {
		case x < 10:
		case len(fans) > 100 && x < 60:
			p.queue(relload(rkey(u), newestFirst(fans)[:100], true, true)...)
		default:
			p.queue(relload(rkey(u), fans, true, false)...)
		}
		if i%16 == 15 {
			p.sync()
		}
	}
	p.sync()

	// String keys: SETs, then MSETs that overwrite some of them; keys with
	// odd bytes, the empty key among them.
	val := func() string {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	var strKeys []string
	for i := range 200 {
		k := fmt.Sprintf("str:%d", i)
		strKeys = append(strKeys, k)
		p.queue("SET", k, val())
	}
	odd := []string{"", " ", "key with spaces", "crlf\r\nin key", "\xff\xfe\x00", "{tag}x", "42", "42.followers", "042.following", ".following", "18446744073709551616.following"}
	for _, k := range odd {
		p.queue("SET", k, val())
	}
	// A string where a user's following list belongs.
	const strUser = "999999999999"
	p.queue("SET", strUser+".following", "not a relation set")
	p.sync()
	for range 12 {
		args := []string{"MSET"}
		for range 1 + rng.IntN(25) {
			args = append(args, strKeys[rng.IntN(len(strKeys))], val())
		}
		p.queue(args...)
	}
	p.sync()

	// Queries from four clients at once, then from one.
	t.Run("parallel", func(t *testing.T) {
		for w := range 4 {
			t.Run(fmt.Sprint("client", w), func(t *testing.T) {
				t.Parallel()
				wp := newPair(t, px.Addr, ref.Addr)
				newQueries(g, uint64(100+w), strKeys, odd).run(wp, 300)
				t.Logf("compared %v", wp.compared)
			})
		}
	})
	q := newQueries(g, 1, strKeys, odd)
	q.run(p, 600)

	// Single-key edits, then the same queries on the edited lists.
	for range 150 {
		a := q.anyUser()
		switch rng.IntN(10) {
		case 0:
			p.queue("RELADD", fkey(a), "XX", "TIMES", u64(q.pickUID()), strconv.Itoa(1_600_000_000+rng.IntN(20_000)))
		case 1:
			p.queue("RELADD", fkey(a), u64(q.pickUID()), u64(q.pickUID()))
		case 2:
			p.queue("RELDEL", fkey(a), u64(q.member(a)), u64(q.pickUID()))
		case 3:
			p.queue("HSET", rkey(a), u64(q.pickUID()), "1600000001")
		case 4:
			p.queue("SADD", fkey(q.pickUID()), u64(q.pickUID()))
		case 5:
			p.queue("HDEL", fkey(a), u64(q.member(a)))
		case 6:
			k := strKeys[rng.IntN(len(strKeys))]
			p.queue([][]string{{"APPEND", k, "x"}, {"SETNX", k, "y"}, {"GETSET", k, "z"}, {"SET", k, "w", "XX", "GET"}, {"GETDEL", k}}[rng.IntN(5)]...)
		case 7:
			k := fmt.Sprintf("n:%d", rng.IntN(10))
			p.queue([][]string{{"INCR", k}, {"INCRBY", k, "7"}, {"DECR", k}}[rng.IntN(3)]...)
		default:
			p.queue(q.next()...)
		}
	}
	p.sync()
	q.run(p, 400)

	// Arguments one node refuses must be refused the same way.
	a := u64(q.anyUser())
	for _, args := range [][]string{
		{"RELCHECK", a, "x"},
		{"RELCHECK", "x", a},
		{"RELCHECK", a, "1", "-3"},
		{"RELCHECK", a, "18446744073709551616"},
		{"RELFOLLOWS", a, "1", "abc"},
		{"RELWHO", a, "2", "LIMIT", "-1"},
		{"RELWHO", a, "2", "LIMIT", "0"},
		{"RELWHO", a, "2", "LIMIT", "x"},
		{"RELWHO", a, "2", "LIMIT"},
		{"RELWHO", "x", "2"},
		{"RELCOMMON", a, "2", "LIMIT"},
		{"RELCOMMON", a, "y"},
		{"RELCOMMON", a, "2", "FOO", "3"},
		{"RELMEMBERS", fkey(q.anyUser()), "NEWEST", "0"},
		{"RELMULTI", fkey(q.anyUser()), "1.5"},
		{"RELMULTI", "str:1", "1"},
		{"RELCHECK", a, "1", "str"},
		{"INCR", "str:1"},
		// A user whose key holds a string: an error in its position, the
		// rest of the array intact, on one node and through the proxy.
		{"RELCHECK", a, strUser},
		{"RELCHECK", a, "1", strUser},
		{"RELCHECK", a, strUser, "1", "2", "3", "4", "5"},
		{"RELFOLLOWS", a, strUser, "1", "2", "3", "4", "5"},
		{"RELCHECK", strUser, a},
		{"RELCHECK", strUser, a, "1"},
		{"RELFOLLOWS", a, "1", strUser},
		{"RELWHO", strUser, a},
		{"RELCOMMON", a, strUser},
		{"RELCOMMON", strUser, a},
		{"RELMULTI", strUser + ".following", "1"},
		// Odd but valid spellings.
		{"RELCHECK", "0" + a, a},
		{"RELCHECK", a, "007", "+5"},
		{"RELFOLLOWS", "0" + a, a},
		{"RELWHO", a, "2", "limit", "3"},
		{"RELCOMMON", a, a, "Limit", "2"},
	} {
		p.check(args...)
	}
	// TOUCH, split per node like EXISTS.
	p.check("TOUCH", "str:1", "str:2", "str:3", "str:4", "str:5", "missing:1", "str:1")

	// MSET and DEL mixes leave both sides equal.
	var mix []string
	for i := range 60 {
		mix = append(mix, fmt.Sprintf("mix:%d", i))
	}
	for range 40 {
		args := []string{"MSET"}
		for range 1 + rng.IntN(12) {
			args = append(args, mix[rng.IntN(len(mix))], val())
		}
		p.queue(args...)
		del := []string{[]string{"DEL", "UNLINK", "del"}[rng.IntN(3)]}
		for range 1 + rng.IntN(10) {
			if rng.IntN(5) == 0 {
				del = append(del, strKeys[rng.IntN(len(strKeys))])
			} else {
				del = append(del, mix[rng.IntN(len(mix))])
			}
		}
		if len(del) > 2 {
			del = append(del, del[1]) // deleted twice: counted once
		}
		p.queue(del...)
		p.queue(append(append([]string{"EXISTS"}, mix[:20]...), mix[:5]...)...)
		p.sync()
	}
	p.check(append([]string{"MGET"}, mix...)...)
	p.check(append([]string{"MGET"}, strKeys...)...)
	p.check(append([]string{"MGET"}, odd...)...)
	p.check("DEL", fkey(g.users[1]), rkey(g.users[1]), "str:0", "mix:0", "missing:1", "")

	// Every node got a share of the keys, and together exactly the
	// reference's keys.
	refSize := value(t, p.ref.must(t, "DBSIZE")).(int64)
	var sum int64
	for i, c := range cl.conns(t) {
		n := value(t, c.must(t, "DBSIZE")).(int64)
		t.Logf("%s holds %d of %d keys", cl.names[i], n, refSize)
		if n < refSize/8 {
			t.Errorf("%s holds %d of %d keys: not spread over the nodes", cl.names[i], n, refSize)
		}
		sum += n
	}
	if sum != refSize {
		t.Errorf("the nodes hold %d keys in all, the reference %d", sum, refSize)
	}
	t.Logf("compared %v", p.compared)
	t.Logf("of which with content (a non-empty array or a bulk): %v", p.nonEmpty)
}

// --- 2. FOLLOW through the proxy, with MariaDB as the source of record --------

// TestProxyFollowWithMariaDB runs three nodes and a reference over one
// MariaDB, caches some users' lists through the proxy, then FOLLOWs and
// UNFOLLOWs through it. Replies must match the model; afterwards every
// list read through the proxy, and every fan list read directly on its
// node, must equal what the reference loads fresh from the database.
func TestProxyFollowWithMariaDB(t *testing.T) {
	m := relcachetest.StartMariaDB(t)
	source := []string{"--source", "mysql", "--source-dbs", "2", "--source-tables", "2",
		"--source-mysql", "0-1=" + m.DSN()}
	if out, err := exec.Command(relcachetest.Binary(t), append([]string{"schema"}, source...)...).CombinedOutput(); err != nil {
		t.Fatalf("relcache schema: %v\n%s", err, out)
	}
	nodeArgs := append(slices.Clone(source), "--load-timeout", "10s")
	cl := startCluster(t, 3, "node", nodeArgs...)
	// A replica pool over the same database, kept in step by
	// replicate_writes: FOLLOW must patch its cached lists too.
	dc2 := startCluster(t, 3, "node", nodeArgs...)
	conf := onePool(cl)
	conf.ReplicateWrites = true
	conf.Pools = append(conf.Pools, poolConfig{Name: "dc2", Role: "replica", Servers: dc2.lines()})
	px, _ := startProxy(t, conf)
	replicas := dc2.conns(t)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	rng := rand.New(rand.NewPCG(3, 4))

	var users []uint64
	for i := range 24 {
		users = append(users, uint64(1000+i*7919+rng.IntN(7)))
	}
	edges := map[[2]uint64]bool{}
	follow := func(a, b uint64, tm string) {
		t.Helper()
		args := []string{"FOLLOW", u64(a), u64(b)}
		if tm != "" {
			args = append(args, tm)
		}
		want := ":0\r\n"
		if !edges[[2]uint64{a, b}] {
			want = ":1\r\n"
		}
		if got := c.must(t, args...); string(got) != want {
			t.Fatalf("%s through the proxy: %s, want %q", showArgs(args), show(got), want)
		}
		edges[[2]uint64{a, b}] = true
	}
	unfollow := func(a, b uint64) {
		t.Helper()
		want := ":0\r\n"
		if edges[[2]uint64{a, b}] {
			want = ":1\r\n"
		}
		if got := c.must(t, "UNFOLLOW", u64(a), u64(b)); string(got) != want {
			t.Fatalf("UNFOLLOW %d %d through the proxy: %s, want %q", a, b, show(got), want)
		}
		delete(edges, [2]uint64{a, b})
	}
	pick := func() (uint64, uint64) {
		for {
			a, b := users[rng.IntN(len(users))], users[rng.IntN(len(users))]
			if a != b {
				return a, b
			}
		}
	}
	tm := func() string { return strconv.Itoa(1_650_000_000 + rng.IntN(1000)) }

	// A first graph, then half the users' lists cached on their nodes.
	for range 80 {
		a, b := pick()
		follow(a, b, tm())
	}
	cachedBefore := map[uint64]bool{}
	for _, u := range users[:len(users)/2] {
		cachedBefore[u] = true
		for _, k := range []string{fkey(u), rkey(u)} {
			if raw := c.must(t, "RELCARD", k); raw[0] != ':' {
				t.Fatalf("RELCARD %s through the proxy: %s", k, show(raw))
			}
			if raw := replicas[pl.node(k)].must(t, "RELCARD", k); raw[0] != ':' {
				t.Fatalf("RELCARD %s on dc2's %s: %s", k, dc2.names[pl.node(k)], show(raw))
			}
		}
	}
	// Writes: new edges with and without a time, repeated edges with a new
	// time, unfollows of edges that exist and that do not.
	for range 160 {
		a, b := pick()
		switch rng.IntN(5) {
		case 0, 1:
			follow(a, b, tm())
		case 2:
			follow(a, b, "")
		default:
			unfollow(a, b)
		}
	}
	if got := c.must(t, "FOLLOW", u64(users[0]), u64(users[0])); string(got) != "-ERR a user cannot follow itself\r\n" {
		t.Errorf("FOLLOW a a through the proxy: %s", show(got))
	}

	// Lists as their nodes hold them, in both pools, before anything else
	// reads them.
	nodes := cl.conns(t)
	direct := map[uint64][]byte{}
	inDC2 := map[string][]byte{}
	patched, patched2 := 0, 0
	for _, u := range users {
		n := nodes[pl.node(rkey(u))]
		if cachedBefore[u] && string(n.must(t, "EXISTS", rkey(u))) == ":1\r\n" {
			patched++
		}
		direct[u] = n.must(t, "RELMEMBERS", rkey(u), "WITHTIMES")
		for _, k := range []string{fkey(u), rkey(u)} {
			r := replicas[pl.node(k)]
			if cachedBefore[u] && string(r.must(t, "EXISTS", k)) == ":1\r\n" {
				patched2++
			}
			inDC2[k] = r.must(t, "RELMEMBERS", k, "WITHTIMES")
		}
	}
	t.Logf("%d of %d fan lists cached before the writes are still cached on their dc1 nodes (patched, not dropped); in dc2 %d of %d lists",
		patched, len(cachedBefore), patched2, 2*len(cachedBefore))

	// The reference starts only now: it loads everything fresh from MariaDB.
	ref := startNode(t, nodeArgs...)
	p := newPair(t, px.Addr, ref.Addr)
	r := p.ref
	for _, u := range users {
		p.check("RELMEMBERS", fkey(u), "WITHTIMES")
		p.check("RELMEMBERS", rkey(u), "WITHTIMES")
		want := r.must(t, "RELMEMBERS", rkey(u), "WITHTIMES")
		if !bytes.Equal(direct[u], want) {
			t.Errorf("%s directly on its node %s (cached before the writes: %v):\n  node:     %s\n  database: %s",
				rkey(u), cl.names[pl.node(rkey(u))], cachedBefore[u], show(direct[u]), show(want))
		}
		for _, k := range []string{fkey(u), rkey(u)} {
			want := r.must(t, "RELMEMBERS", k, "WITHTIMES")
			if !bytes.Equal(inDC2[k], want) {
				t.Errorf("%s directly on dc2's %s (cached before the writes: %v):\n  dc2 node: %s\n  database: %s",
					k, dc2.names[pl.node(k)], cachedBefore[u], show(inDC2[k]), show(want))
			}
		}
		// And against the model: the members, whatever the times.
		var wantF, wantR []uint64
		for e := range edges {
			if e[0] == u {
				wantF = append(wantF, e[1])
			}
			if e[1] == u {
				wantR = append(wantR, e[0])
			}
		}
		for _, tc := range []struct {
			key  string
			want []uint64
		}{{fkey(u), wantF}, {rkey(u), wantR}} {
			v, _ := value(t, c.must(t, "RELMEMBERS", tc.key)).([]any)
			var got []uint64
			for _, x := range v {
				n, _ := strconv.ParseUint(string(x.([]byte)), 10, 64)
				got = append(got, n)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("RELMEMBERS %s through the proxy = %v, the writes made %v", tc.key, got, tc.want)
			}
		}
	}
	for _, u := range users {
		p.check(append([]string{"RELCHECK", u64(u)}, strsOf(users)...)...)
		x := users[rng.IntN(len(users))]
		p.check("RELWHO", u64(u), u64(x))
		p.check("RELCOMMON", u64(u), u64(x))
	}
}

func strsOf(us []uint64) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u64(u)
	}
	return out
}

// --- 3. Keys land where twemproxy puts them -------------------------------------

// TestProxyPlacementMatchesNutcracker SETs keys through a real nutcracker
// over three relcache nodes and GETs them through proxyfront (route_by =
// "key", same hash and distribution): every key must be found, and sit on
// exactly the node package shard predicts. With fnv1a_64 and md5, each
// without and with hash_tag "{}".
func TestProxyPlacementMatchesNutcracker(t *testing.T) {
	bin := "/usr/sbin/nutcracker"
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath("nutcracker")
		if err != nil {
			t.Skip("nutcracker not installed (Debian package nutcracker)")
		}
		bin = p
	}
	cl := startCluster(t, 3, "node")
	nodes := cl.conns(t)
	variants := []proxyConfig{
		{Hash: "fnv1a_64", Distribution: "ketama"},
		{Hash: "md5", Distribution: "ketama"},
		{Hash: "fnv1a_64", Distribution: "ketama", HashTag: "{}"},
		{Hash: "md5", Distribution: "ketama", HashTag: "{}"},
	}
	dir := t.TempDir()
	var yml strings.Builder
	listen := make([]string, len(variants))
	for i, v := range variants {
		listen[i] = fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
		fmt.Fprintf(&yml, "pool%d:\n  listen: %s\n  hash: %s\n  distribution: %s\n  redis: true\n  auto_eject_hosts: false\n", i, listen[i], v.Hash, v.Distribution)
		if v.HashTag != "" {
			fmt.Fprintf(&yml, "  hash_tag: %q\n", v.HashTag)
		}
		yml.WriteString("  servers:\n")
		for _, s := range cl.lines() {
			fmt.Fprintf(&yml, "   - %s\n", s)
		}
	}
	conf := filepath.Join(dir, "nutcracker.yml")
	if err := os.WriteFile(conf, []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	nc := exec.Command(bin, "-c", conf, "-s", strconv.Itoa(relcachetest.FreePort(t)), "-a", "127.0.0.1",
		"-o", filepath.Join(dir, "nutcracker.log"))
	if err := nc.Start(); err != nil {
		t.Fatalf("start nutcracker: %v", err)
	}
	t.Cleanup(func() {
		nc.Process.Kill()
		nc.Wait()
	})

	rng := rand.New(rand.NewPCG(5, 6))
	for i, v := range variants {
		name := fmt.Sprintf("%s/%s/tag=%q", v.Hash, v.Distribution, v.HashTag)
		var n *rconn
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if n, err = dialRESP(listen[i]); err == nil {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "nutcracker.log"))
				t.Fatalf("nutcracker does not listen on %s: %v\n%s", listen[i], err, log)
			}
		}
		defer n.Close()
		v.RouteBy = "key"
		v.Pools = onePool(cl).Pools
		px, _ := startProxy(t, v)
		pc := dial(t, px.Addr)
		pl := newPlacer(t, v, cl.lines())

		keys := make([]string, 500)
		for j := range keys {
			u := rng.Uint64N(1 << 34)
			k := []string{
				fmt.Sprintf("%d.following", u),
				fmt.Sprintf("%d.follower", u),
				fmt.Sprintf("key:%x", rng.Uint64()),
				fmt.Sprintf("{user%d}.x:%d", rng.IntN(40), j),
				fmt.Sprintf("a{b%d}c:%d", rng.IntN(40), j),
				fmt.Sprintf("{}x%d", j),
				fmt.Sprintf("x{%d", j),
				fmt.Sprintf("z}{%d}", rng.IntN(40)),
			}[rng.IntN(8)]
			keys[j] = fmt.Sprintf("v%d:%s", i, k)
		}
		keys = slices.Compact(keys)
		for _, k := range keys {
			n.send("SET", k, "val:"+k)
		}
		if err := n.flush(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if raw, err := n.read(); err != nil || string(raw) != "+OK\r\n" {
				t.Fatalf("%s: SET %s through nutcracker: %s, %v", name, k, show(raw), err)
			}
		}
		for _, k := range keys {
			pc.send("GET", k)
		}
		if err := pc.flush(); err != nil {
			t.Fatal(err)
		}
		lost := 0
		for _, k := range keys {
			raw, err := pc.read()
			if err != nil {
				t.Fatalf("%s: GET %s through the proxy: %v", name, k, err)
			}
			if string(raw) != bulk("val:"+k) {
				lost++
				if lost <= 10 {
					t.Errorf("%s: key %q SET through nutcracker, GET through the proxy: %s", name, k, show(raw))
				}
			}
		}
		// Where each key is, asked of every node directly.
		for _, nd := range nodes {
			for _, k := range keys {
				nd.send("EXISTS", k)
			}
			if err := nd.flush(); err != nil {
				t.Fatal(err)
			}
		}
		misplaced := 0
		where := make([][]int, len(keys))
		for ni, nd := range nodes {
			for j := range keys {
				raw, err := nd.read()
				if err != nil {
					t.Fatal(err)
				}
				if string(raw) == ":1\r\n" {
					where[j] = append(where[j], ni)
				}
			}
		}
		for j, k := range keys {
			if want := pl.node(k); len(where[j]) != 1 || where[j][0] != want {
				misplaced++
				if misplaced <= 10 {
					t.Errorf("%s: key %q is on nodes %v; package shard predicts %s (index %d)", name, k, where[j], cl.names[want], want)
				}
			}
		}
		t.Logf("%s: %d keys; %d not found through the proxy, %d not where package shard predicts", name, len(keys), lost, misplaced)
	}
}

// --- 5. Reload under load -------------------------------------------------------

// loadClient SETs and GETs its own keys until stop is closed, checking
// every reply; a GET may miss (a reload moved the key) but nothing else may
// go wrong.
func loadClient(addr string, id int, stop <-chan struct{}, ops *atomic.Int64) error {
	c, err := dialRESP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		k, v := fmt.Sprintf("load:%d:%d", id, i%500), fmt.Sprintf("v%d-%d", id, i)
		c.send("SET", k, v)
		c.send("GET", k)
		if err := c.flush(); err != nil {
			return fmt.Errorf("client %d op %d: write: %w", id, i, err)
		}
		raw, err := c.read()
		if err != nil {
			return fmt.Errorf("client %d: SET %s: %w (after %s)", id, k, err, show(raw))
		}
		if string(raw) != "+OK\r\n" {
			return fmt.Errorf("client %d: SET %s: %s", id, k, show(raw))
		}
		raw, err = c.read()
		if err != nil {
			return fmt.Errorf("client %d: GET %s: %w (after %s)", id, k, err, show(raw))
		}
		if string(raw) != bulk(v) && string(raw) != "$-1\r\n" {
			return fmt.Errorf("client %d: GET %s right after SET %s: %s", id, k, v, show(raw))
		}
		ops.Add(1)
	}
}

// checkRouting SETs n fresh keys through the proxy and checks each is on
// the node pl predicts, asked directly.
func checkRouting(t *testing.T, what string, proxy *rconn, pl *placer, names []string, nodes []*rconn, n int, prefix string) {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", prefix, i)
		if i%3 == 0 {
			keys[i] = fmt.Sprintf("%d.following", 77_000+i) // routed by uid
		}
		proxy.send("SET", keys[i], prefix)
	}
	if err := proxy.flush(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if raw, err := proxy.read(); err != nil || string(raw) != "+OK\r\n" {
			t.Fatalf("%s: SET %s through the proxy: %s, %v", what, k, show(raw), err)
		}
	}
	bad := 0
	for _, k := range keys {
		i := pl.node(k)
		if raw := nodes[i].must(t, "GET", k); string(raw) != bulk(prefix) {
			bad++
			if bad <= 5 {
				t.Errorf("%s: key %q SET through the proxy is not on %s, where the new ring puts it: GET there = %s", what, k, names[i], show(raw))
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d keys not routed by the config", what, bad, n)
	}
}

// TestProxyReload rewrites the config under load from 8 clients: a node
// added and one removed, reloaded by SIGHUP; another change reloaded by
// `relcache proxy reload`; then broken configs, which must be refused while
// the proxy keeps serving with the config it has.
func TestProxyReload(t *testing.T) {
	cl := startCluster(t, 4, "node")
	nodes := cl.conns(t)
	lines := cl.lines()
	listen := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", relcachetest.FreePort(t))
	with := func(idx ...int) proxyConfig {
		var servers []string
		for _, i := range idx {
			servers = append(servers, lines[i])
		}
		return proxyConfig{Listen: listen, Admin: admin, Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: servers}}}
	}
	placerFor := func(idx ...int) (*placer, []string, []*rconn) {
		c := with(idx...)
		var names []string
		var ns []*rconn
		for _, i := range idx {
			names = append(names, cl.names[i])
			ns = append(ns, nodes[i])
		}
		return newPlacer(t, c, c.Pools[0].Servers), names, ns
	}
	path := filepath.Join(t.TempDir(), "proxy.toml")
	with(0, 1, 2).write(t, path)
	px := relcachetest.StartProxy(t, path)
	stopAtEnd(t, px)
	if px.Addr != listen {
		t.Errorf("proxy logged addr %q, config says %q", px.Addr, listen)
	}
	c := dial(t, px.Addr)
	pl, names, ns := placerFor(0, 1, 2)
	checkRouting(t, "first config", c, pl, names, ns, 60, "a")

	stop := make(chan struct{})
	var ops atomic.Int64
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loadClient(px.Addr, i, stop, &ops)
		}()
	}
	stopLoad := func() {
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("under load: %v", err)
			}
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			stopLoad()
		}
	}()
	time.Sleep(300 * time.Millisecond)

	// SIGHUP: node4 in, node2 out.
	with(0, 2, 3).write(t, path)
	if err := px.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	pl, names, ns = placerFor(0, 2, 3)
	probe := pl.keysOn(2, 1, "probe:")[0] // on node4, which only the new config has
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if raw := c.must(t, "SET", probe, "x"); string(raw) != "+OK\r\n" {
			t.Fatalf("SET %s after SIGHUP: %s", probe, show(raw))
		}
		if string(nodes[3].must(t, "EXISTS", probe)) == ":1\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after SIGHUP, key %s still does not go to node4 (added by the new config)\n%s", probe, px.Logs())
		}
	}
	checkRouting(t, "after SIGHUP", c, pl, names, ns, 150, "b")
	time.Sleep(200 * time.Millisecond)

	// `relcache proxy reload`: node2 back, node3 out. Synchronous: the
	// next request routes by the new ring.
	with(0, 1, 3).write(t, path)
	out, err := relcachetest.ProxyReload(t, admin)
	if err != nil || !strings.Contains(out, "reloaded") {
		t.Fatalf("relcache proxy reload: %v, output %q; want exit 0 and \"reloaded\"", err, out)
	}
	pl, names, ns = placerFor(0, 1, 3)
	checkRouting(t, "after relcache proxy reload", c, pl, names, ns, 150, "c")
	time.Sleep(200 * time.Millisecond)

	// Broken configs are refused; the proxy keeps the last good one.
	for _, bad := range []struct {
		name, text, mention string
	}{
		{"unknown hash", strings.Replace(with(0, 2).toml(), "[[pool]]", "hash = \"nosuch\"\n\n[[pool]]", 1), "nosuch"},
		{"TOML syntax", with(0, 2).toml() + "\n[[pool\n", "proxy.toml"},
		{"no primary", strings.Replace(with(0, 2).toml(), `role = "primary"`, `role = "replica"`, 1), "primary"},
	} {
		if err := os.WriteFile(path, []byte(bad.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := relcachetest.ProxyReload(t, admin)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s: relcache proxy reload: %v, output %q; want exit status 1", bad.name, err, out)
		}
		if !strings.Contains(out, bad.mention) {
			t.Errorf("%s: relcache proxy reload says %q, which does not mention %q", bad.name, out, bad.mention)
		}
		t.Logf("%s: relcache proxy reload: %v: %s", bad.name, err, out)
		checkRouting(t, bad.name+" refused by reload", c, pl, names, ns, 60, "d")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(with(0, 2).toml(), "[[pool]]", "hash = \"sighupbad\"\n\n[[pool]]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := px.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !px.WaitLog("sighupbad", 10*time.Second) {
		t.Errorf("a SIGHUP with a broken config logged no error naming the problem (\"sighupbad\"):\n%s", px.Logs())
	}
	checkRouting(t, "broken config refused on SIGHUP", c, pl, names, ns, 60, "e")

	stopLoad()
	t.Logf("%d SET+GET pairs under load", ops.Load())
	if ops.Load() < 100 {
		t.Errorf("only %d SET+GET pairs completed under load", ops.Load())
	}
	// A valid config again, so the proxy is left in a normal state.
	with(0, 1, 3).write(t, path)
}

// --- 7. AUTH, INFO, metrics -------------------------------------------------------

// TestProxyAuthInfoMetrics puts a password on the front and on the nodes,
// and checks INFO's Backends section, /metrics and /healthz.
func TestProxyAuthInfoMetrics(t *testing.T) {
	cl := startCluster(t, 3, "node", "--requirepass", "nodepw")
	conf := onePool(cl)
	conf.Password = "frontpw"
	conf.Pools[0].Password = "nodepw"
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	c := dial(t, px.Addr)
	expect := func(want string, args ...string) {
		t.Helper()
		if got := c.must(t, args...); string(got) != want {
			t.Errorf("%s: %s, want %q", showArgs(args), show(got), want)
		}
	}
	expect("-NOAUTH Authentication required.\r\n", "GET", "k")
	expect("-NOAUTH Authentication required.\r\n", "MGET", "k", "l")
	expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH", "nodepw")
	// The comparison is constant-time over hashes now: near misses still fail.
	for _, args := range [][]string{{"AUTH", "frontp"}, {"AUTH", "frontpwx"}, {"AUTH", ""}, {"AUTH", "FRONTPW"},
		{"AUTH", "default", "frontpwx"}, {"AUTH", "other", "frontpw"}} {
		expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n", args...)
	}
	expect("-NOAUTH Authentication required.\r\n", "SET", "k", "v")
	expect("+OK\r\n", "AUTH", "frontpw")
	expect("+OK\r\n", "AUTH", "default", "frontpw")

	// Keys on every node, through backends that need AUTH.
	var all []string
	for i := range cl.procs {
		for _, k := range pl.keysOn(i, 3, fmt.Sprintf("auth%d:", i)) {
			expect("+OK\r\n", "SET", k, "v-"+k)
			all = append(all, k)
		}
	}
	var want strings.Builder
	fmt.Fprintf(&want, "*%d\r\n", len(all))
	for _, k := range all {
		want.WriteString(bulk("v-" + k))
	}
	expect(want.String(), append([]string{"MGET"}, all...)...)
	expect(fmt.Sprintf(":%d\r\n", len(all)), append([]string{"EXISTS"}, all...)...)
	expect(":2\r\n", "RELLOAD", "5.following", "TIMES", "6", "100", "7", "200")
	expect(":1\r\n", "RELLOAD", "6.following", "5")
	expect(":0\r\n", "RELLOAD", "7.following")
	expect("*2\r\n:3\r\n:1\r\n", "RELCHECK", "5", "6", "7")
	expect("+PONG\r\n", "PING")
	expect(bulk("hi"), "PING", "hi")
	expect(bulk("hello"), "ECHO", "hello")
	expect("+OK\r\n", "SELECT", "0")

	// A connection that has not authenticated cannot use the proxy even
	// though the proxy's own backend connections are authenticated.
	anon := dial(t, px.Addr)
	if got := anon.must(t, "GET", all[0]); string(got) != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("GET on a new connection without AUTH: %s", show(got))
	}

	info, ok := value(t, c.must(t, "INFO")).([]byte)
	if !ok {
		t.Fatalf("INFO is not a bulk string")
	}
	text := string(info)
	if !strings.Contains(text, "# Backends\r\n") {
		t.Errorf("INFO has no \"# Backends\" section:\n%s", text)
	}
	for i, name := range cl.names {
		prefix := fmt.Sprintf("backend_dc1_%s:addr=127.0.0.1:%d,", name, cl.ports[i])
		line := ""
		for _, l := range strings.Split(text, "\r\n") {
			if strings.HasPrefix(l, prefix) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "state=up") {
			t.Errorf("INFO has no line %q...state=up...: %q\n%s", prefix, line, text)
		}
	}
	if info, ok := value(t, c.must(t, "INFO", "backends")).([]byte); !ok || !strings.Contains(string(info), "backend_dc1_node1:") {
		t.Errorf("INFO backends: %q", info)
	}

	// /metrics counts requests.
	metric := func(prefix string) (float64, string) {
		t.Helper()
		resp, err := http.Get("http://" + px.AdminAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, prefix) {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				return v, string(body)
			}
		}
		return -1, string(body)
	}
	getLabel := `relcache_proxy_requests_total{command="get"}`
	before, body := metric(getLabel)
	if before < 0 {
		getLabel = `relcache_proxy_requests_total{command="GET"}`
		before, body = metric(getLabel)
	}
	if before < 0 {
		t.Errorf("/metrics has no %s (nor command=\"GET\"):\n%s", `relcache_proxy_requests_total{command="get"}`, body)
	}
	for range 50 {
		c.must(t, "GET", all[0])
	}
	if after, _ := metric(getLabel); after < before+50 {
		t.Errorf("%s went from %v to %v after 50 GETs", getLabel, before, after)
	}
	_, body = metric("#")
	for _, name := range []string{
		"relcache_proxy_client_connections",
		"relcache_proxy_requests_total",
		"relcache_proxy_backend_requests_total",
		"relcache_proxy_backend_errors_total",
		"relcache_proxy_backend_latency_seconds",
		"relcache_proxy_ejections_total",
		"relcache_proxy_fanout",
	} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, name := range cl.names {
		label := fmt.Sprintf(`relcache_proxy_backend_requests_total{backend=%q,pool="dc1"}`, name)
		v, _ := metric(label)
		if v < 0 {
			label = fmt.Sprintf(`relcache_proxy_backend_requests_total{pool="dc1",backend=%q}`, name)
			v, _ = metric(label)
		}
		if v <= 0 {
			t.Errorf("/metrics: %s is %v, want > 0", label, v)
		}
	}
	if v, _ := metric("relcache_proxy_client_connections"); v < 2 {
		t.Errorf("relcache_proxy_client_connections = %v with 2 clients connected", v)
	}
	resp, err := http.Get("http://" + px.AdminAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %s", resp.Status)
	}

	// A stock go-redis client (HELLO 3 first, CLIENT SETINFO) works too.
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: px.Addr, Password: "frontpw", MaxRetries: -1})
	defer rc.Close()
	if err := rc.Set(ctx, "goredis", "v", 0).Err(); err != nil {
		t.Errorf("go-redis SET through the proxy: %v", err)
	} else if v, err := rc.Get(ctx, "goredis").Result(); err != nil || v != "v" {
		t.Errorf("go-redis GET through the proxy: %q, %v", v, err)
	}
	if vals, err := rc.MGet(ctx, all...).Result(); err != nil || len(vals) != len(all) || vals[0] != "v-"+all[0] {
		t.Errorf("go-redis MGET through the proxy: %v, %v", vals, err)
	}
	if codes, err := rc.Do(ctx, "RELCHECK", 5, 6, 7).Int64Slice(); err != nil || !slices.Equal(codes, []int64{3, 1}) {
		t.Errorf("go-redis RELCHECK 5 6 7 through the proxy: %v, %v", codes, err)
	}

	expect("+OK\r\n", "QUIT")
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := c.rd.ReadByte(); err == nil {
		t.Errorf("QUIT: connection still open, read %q", b)
	}

	// A pool with the wrong node password: requests fail with the proxy's
	// backend error, and do not hang.
	bad := onePool(cl)
	bad.Pools[0].Password = "wrong"
	px2, _ := startProxy(t, bad)
	c2 := dial(t, px2.Addr)
	got := c2.must(t, "GET", all[0])
	if !strings.HasPrefix(string(got), "-ERR proxy: backend ") {
		t.Errorf("GET through a pool with the wrong node password: %s, want \"-ERR proxy: backend <name> ...\"", show(got))
	}
	t.Logf("wrong node password: %s", show(got))
}
