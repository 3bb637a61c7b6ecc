package proxyfront_test

// Transactions through the proxy (issue 15): MULTI/EXEC on one node,
// refused across nodes, atomic for other clients, WATCH on a connection of
// its own, and replicated to replica pools.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const crossSlot = "-CROSSSLOT Keys in request don't hash to the same node: relcache proxy runs a transaction only when all its keys live on one node\r\n"

// usersOn returns n uids whose lists p places on node i.
func (p *placer) usersOn(i, n int, from uint64) []string {
	var out []string
	for u := from; len(out) < n; u++ {
		if p.node(fkey(u)) == i {
			out = append(out, u64(u))
		}
	}
	return out
}

// txScript is a run of transactions on keys a, b, c and users u0..u2 that
// all live on one node; every reply must be what one node holding
// everything answers, byte for byte.
func txScript(ks, u []string) [][]string {
	a, b, c, d := ks[0], ks[1], ks[2], ks[3]
	return [][]string{
		{"EXEC"}, {"DISCARD"},
		{"MULTI"}, {"MULTI"}, {"SET", a, "x"}, {"INCR", b}, {"EXEC"},
		{"MULTI"}, {"SET", a, "b"}, {"INCR", a}, {"GET", a}, {"EXEC"},
		// Errors at queue time abort the whole transaction.
		{"MULTI"}, {"SET", a, "c"}, {"FOOBAR", "x"}, {"EXEC"}, {"GET", a},
		{"MULTI"}, {"SET", a, "d"}, {"INCR", a, "extra"}, {"EXEC"},
		{"MULTI"}, {"SET", a, "e"}, {"FOLLOW", u[0], u[1]}, {"EXEC"}, {"GET", a},
		{"MULTI"}, {"SETRANGE", a, "0"}, {"EXEC"},
		// WATCH inside MULTI is an error that does not abort.
		{"MULTI"}, {"WATCH", a}, {"SET", a, "f"}, {"EXEC"},
		{"MULTI"}, {"SET", a, "g"}, {"DISCARD"}, {"GET", a},
		{"MULTI"}, {"EXEC"},
		{"MULTI"}, {"PING"}, {"ECHO", "hi"}, {"SELECT", "0"}, {"SELECT", "1"}, {"UNWATCH"}, {"EXEC"},
		{"MULTI"}, {"MSET", a, "1", b, "2"}, {"MGET", a, b, c}, {"DEL", c}, {"EXISTS", a, b, c},
		{"MSETNX", c, "3", b, "4"}, {"RENAME", a, c}, {"GET", c}, {"EXEC"},
		{"MULTI"}, {"MSET", a, "1", b}, {"SET", b, "5"}, {"EXEC"},
		{"MULTI"}, {"GET", b}, {"INCRBYFLOAT", b, "1.5"}, {"APPEND", b, "x"}, {"SETBIT", c, "7", "1"},
		{"BITCOUNT", c}, {"EXPIRE", c, "100"}, {"TTL", c}, {"PERSIST", c}, {"TTL", c}, {"EXEC"},
		// Relation commands, composed by the proxy outside a transaction,
		// run whole on the node when every list they read lives there.
		{"MULTI"},
		{"RELLOAD", ukey(u[0]), u[1], u[2], "100"}, {"RELLOAD", ukey(u[1]), u[0], "200"},
		{"RELLOAD", ukey(u[2]), u[0], u[1]},
		{"RELCHECK", u[0], "BATCH", u[1], u[2]}, {"RELCHECK", u[1], u[0]}, {"RELFOLLOWS", u[0], u[1], u[2]},
		{"RELFOLLOWS", "100", u[0], u[2]}, {"RELCOMMON", u[0], u[2]}, {"RELCOMMON", u[2], u[0], "LIMIT", "1"},
		{"RELADD", ukey(u[1]), u[2]}, {"RELDEL", ukey(u[0]), "100"}, {"RELMEMBERS", ukey(u[0])},
		{"RELCARD", ukey(u[1])}, {"RELMULTI", ukey(u[1]), u[0], u[2], "7"},
		// Windows: the times after SINCE and UNTIL are no users to place.
		{"RELLOAD", ukey(u[2]), "TIMES", u[0], "300", u[1], "400"},
		{"RELCHECK", u[2], "SINCE", "350", "BATCH", u[0]}, {"RELFOLLOWS", u[0], "UNTIL", "350", u[2]},
		{"RELMULTI", ukey(u[2]), "SINCE", "350", u[0], u[1]},
		{"RELMEMBERS", ukey(u[2]), "WITHTIMES", "BEFORE", "400", u[1], "LIMIT", "1"},
		{"RELCHECK", "x", u[0]}, {"GET", a},
		{"EXEC"},
		// WATCH: a change by anyone, this client included, fails EXEC.
		{"WATCH", a}, {"SET", a, "h"}, {"MULTI"}, {"GET", a}, {"EXEC"},
		{"MULTI"}, {"GET", a}, {"EXEC"},
		{"WATCH", d}, {"SET", d, "1"}, {"MULTI"}, {"PING"}, {"EXEC"},
		{"WATCH", a, b}, {"UNWATCH"}, {"SET", a, "i"}, {"MULTI"}, {"GET", a}, {"EXEC"},
		{"WATCH", a}, {"SET", a, "j"}, {"MULTI"}, {"DISCARD"}, {"MULTI"}, {"GET", a}, {"EXEC"},
		{"WATCH", a}, {"GET", a}, {"MULTI"}, {"SET", a, "k"}, {"INCR", b}, {"EXEC"}, {"GET", a},
		{"WATCH", a}, {"WATCH", b}, {"MULTI"}, {"GET", a}, {"EXEC"},
		{"WATCH", a}, {"MULTI"}, {"SET", a, "l"}, {"NOSUCH"}, {"EXEC"}, {"GET", a},
		{"WATCH", a}, {"MULTI"}, {"PING"}, {"EXEC"},
	}
}

// ukey is the following list of a uid written as text.
func ukey(u string) string { return u + ".following" }

// startLoad sets two keys on each of a pool's nodes and starts clients
// GETting them through the proxy at addr, one client per key.
func startLoad(t *testing.T, addr string, pl *placer, nodes int) *getLoad {
	t.Helper()
	c := dial(t, addr)
	var keys []string
	for i := range nodes {
		for _, k := range pl.keysOn(i, 2, "load:") {
			if raw := c.must(t, "SET", k, "v"+k); string(raw) != "+OK\r\n" {
				t.Fatalf("SET %s: %s", k, show(raw))
			}
			keys = append(keys, k)
		}
	}
	return startGets(addr, keys, func(k string) string { return bulk("v" + k) })
}

// TestProxyTxMatchesOneNode runs the same transactions through a proxy
// over three nodes (on keys of one node at a time) and on one reference
// node, pipelined and one by one, and compares every reply byte for byte.
func TestProxyTxMatchesOneNode(t *testing.T) {
	cl := startCluster(t, 3, "node")
	ref := startNode(t)
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	p := newPair(t, px.Addr, ref.Addr)
	for node := range 3 {
		for _, args := range txScript(pl.keysOn(node, 4, "tx:"), pl.usersOn(node, 3, 1000)) {
			p.queue(args...)
		}
		p.sync()
		for _, args := range txScript(pl.keysOn(node, 4, "tx1:"), pl.usersOn(node, 3, 5000)) {
			p.check(args...)
		}
	}
	// A transaction without keys runs on a node too.
	for _, args := range [][]string{{"MULTI"}, {"PING", "x"}, {"ECHO", "y"}, {"EXEC"}} {
		p.queue(args...)
	}
	p.sync()
	t.Logf("compared %v", p.compared)
	if n := p.compared["EXEC"]; n < 100 {
		t.Errorf("compared %d EXECs; the script is shorter than it should be", n)
	}
}

// TestProxyTxCrossNode: a command whose keys are not all on the
// transaction's node is refused at queue time with CROSSSLOT, which aborts
// the transaction; so are commands that cannot run in one. Nothing is
// written anywhere.
func TestProxyTxCrossNode(t *testing.T) {
	cl := startCluster(t, 3, "node")
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	a, b := pl.keysOn(0, 1, "x:")[0], pl.keysOn(1, 1, "x:")[0]
	a2 := pl.keysOn(0, 2, "x:")[1]
	u0, u1 := pl.usersOn(0, 2, 1), pl.usersOn(1, 1, 1)[0]
	c := dial(t, px.Addr)
	const (
		ok, queued = "+OK\r\n", "+QUEUED\r\n"
		abort      = "-EXECABORT Transaction discarded because of previous errors.\r\n"
		notInTx    = "-ERR Command not allowed inside a transaction\r\n"
	)
	for _, tc := range []struct {
		name string
		cmds [][]string
		want []string
	}{
		{"keys of two nodes in turn",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"SET", b, "1"}, {"INCR", a2}, {"EXEC"}},
			[]string{ok, queued, crossSlot, queued, abort}},
		{"MGET over two nodes first",
			[][]string{{"MULTI"}, {"MGET", a, b}, {"SET", a, "1"}, {"EXEC"}},
			[]string{ok, crossSlot, queued, abort}},
		{"MSET over two nodes",
			[][]string{{"MULTI"}, {"MSET", a, "1", b, "2"}, {"EXEC"}},
			[]string{ok, crossSlot, abort}},
		{"DEL over two nodes after a write",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"DEL", a, b}, {"EXEC"}},
			[]string{ok, queued, crossSlot, abort}},
		{"RENAME across nodes",
			[][]string{{"MULTI"}, {"RENAME", a, b}, {"EXEC"}},
			[]string{ok, crossSlot, abort}},
		{"RELCHECK over users on two nodes",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"RELCHECK", u0[0], "BATCH", u0[1], u1}, {"EXEC"}},
			[]string{ok, queued, crossSlot, abort}},
		{"RELFOLLOWS over users on two nodes",
			[][]string{{"MULTI"}, {"RELFOLLOWS", u0[0], u0[1], u1}, {"SET", a, "1"}, {"EXEC"}},
			[]string{ok, crossSlot, queued, abort}},
		{"RELCOMMON of users on two nodes",
			[][]string{{"MULTI"}, {"RELCOMMON", u0[0], u1}, {"SET", a, "1"}, {"EXEC"}},
			[]string{ok, crossSlot, queued, abort}},
		{"RELWHO, whose members may live anywhere",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"RELWHO", u0[0], u0[1]}, {"EXEC"}},
			[]string{ok, queued, "-CROSSSLOT Keys in request don't hash to the same node: RELWHO reads the lists of a's members, which may live on any node; relcache proxy runs a transaction only when all its keys live on one node\r\n", abort}},
		{"DBSIZE, which counts every node",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"DBSIZE"}, {"EXEC"}},
			[]string{ok, queued, "-CROSSSLOT Keys in request don't hash to the same node: DBSIZE counts the keys of every node; relcache proxy runs a transaction only when all its keys live on one node\r\n", abort}},
		{"FOLLOW, refused in a transaction as the node refuses it",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"FOLLOW", u0[0], u0[1]}, {"EXEC"}},
			[]string{ok, queued, notInTx, abort}},
		{"UNFOLLOW",
			[][]string{{"MULTI"}, {"UNFOLLOW", u0[0], u1}, {"SET", a, "1"}, {"EXEC"}},
			[]string{ok, notInTx, queued, abort}},
		{"a command the proxy refuses",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"KEYS", "*"}, {"EXEC"}},
			[]string{ok, queued, "-ERR 'keys' command is not supported by the proxy\r\n", abort}},
		{"INFO, which the proxy answers itself",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"INFO"}, {"EXEC"}},
			[]string{ok, queued, "-ERR 'info' inside MULTI is not supported by the proxy: the proxy answers it, not a node\r\n", abort}},
		{"unknown command and arity, as a node",
			[][]string{{"MULTI"}, {"SET", a, "1"}, {"GET"}, {"NOPE", "x"}, {"EXEC"}},
			[]string{ok, queued, "-ERR wrong number of arguments for 'get' command\r\n", "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n", abort}},
		{"WATCH of keys on two nodes",
			[][]string{{"WATCH", a, b}, {"MULTI"}, {"SET", a, "1"}, {"EXEC"}, {"DEL", a}},
			[]string{"-CROSSSLOT Keys in request don't hash to the same node: relcache proxy watches the keys of one node per client\r\n", ok, queued, "*1\r\n+OK\r\n", ":1\r\n"}},
		{"a transaction on another node than the watched keys",
			[][]string{{"WATCH", a}, {"MULTI"}, {"SET", b, "1"}, {"SET", a, "2"}, {"EXEC"}, {"EXISTS", a}},
			[]string{ok, ok, crossSlot, queued, abort, ":0\r\n"}},
		{"a second WATCH on another node",
			[][]string{{"WATCH", a}, {"WATCH", b}, {"UNWATCH"}, {"WATCH", b}, {"UNWATCH"}},
			[]string{ok, "-CROSSSLOT Keys in request don't hash to the same node: relcache proxy watches the keys of one node per client\r\n", ok, ok, ok}},
	} {
		for _, args := range tc.cmds {
			c.send(args...)
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.want {
			raw, err := c.read()
			if err != nil || string(raw) != want {
				t.Errorf("%s: %s: %s, %v; want %q", tc.name, showArgs(tc.cmds[i]), show(raw), err, want)
			}
		}
	}
	// Nothing was written on any node.
	for i, n := range cl.conns(t) {
		if raw := n.must(t, "DBSIZE"); string(raw) != ":0\r\n" {
			t.Errorf("node %d holds keys after refused transactions: DBSIZE %s", i+1, show(raw))
		}
	}
	if raw := c.must(t, "PING"); string(raw) != "+PONG\r\n" {
		t.Errorf("PING after the transactions: %s", show(raw))
	}
}

// TestProxyTxAtomic: writers set two keys of one node in one transaction
// while readers MGET them (and read them in a transaction) through the
// proxy: nobody sees them differ. Meanwhile other clients' GETs on the same
// shared backend connections see no error.
func TestProxyTxAtomic(t *testing.T) {
	cl := startCluster(t, 2, "node")
	conf := onePool(cl)
	conf.Pools[0].ServerConnections = 1 // every client shares one connection per node
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	keys := pl.keysOn(0, 2, "atom:")
	ctx := context.Background()

	load := startLoad(t, px.Addr, pl, 2)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes, reads atomic.Int64
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}
	newClient := func() *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: px.Addr, Protocol: 2, MaxRetries: -1})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := newClient()
			for n := w; !stop.Load(); n += 2 {
				_, err := rc.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					pipe.Set(ctx, keys[0], n, 0)
					pipe.Set(ctx, keys[1], n, 0)
					return nil
				})
				if err != nil {
					fail(fmt.Errorf("writer: %w", err))
					return
				}
				writes.Add(1)
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := newClient()
			for !stop.Load() {
				vals, err := rc.MGet(ctx, keys...).Result()
				if err != nil {
					fail(fmt.Errorf("MGET: %w", err))
					return
				}
				if vals[0] != vals[1] {
					fail(fmt.Errorf("MGET through the proxy saw half a transaction: %v", vals))
					return
				}
				var gets [2]*redis.StringCmd
				if _, err := rc.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					gets[0], gets[1] = pipe.Get(ctx, keys[0]), pipe.Get(ctx, keys[1])
					return nil
				}); err != nil && !errors.Is(err, redis.Nil) {
					fail(fmt.Errorf("read transaction: %w", err))
					return
				}
				if gets[0].Val() != gets[1].Val() {
					fail(fmt.Errorf("a transaction saw half of another: %q and %q", gets[0].Val(), gets[1].Val()))
					return
				}
				reads.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && !stop.Load() {
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	load.stop(t, "while transactions ran on their connections")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d write transactions, %d reads", writes.Load(), reads.Load())
	if writes.Load() < 10 || reads.Load() < 10 {
		t.Errorf("too little work to say anything: %d writes, %d reads", writes.Load(), reads.Load())
	}
}

// TestProxyWatch: clients incrementing one counter with go-redis's Watch
// helper through the proxy lose no update; a write by another client
// between WATCH and EXEC makes EXEC answer nil; watch connections are
// bounded by max_watch_connections and given back by EXEC, DISCARD,
// UNWATCH and the client leaving; other clients' commands see no error.
func TestProxyWatch(t *testing.T) {
	cl := startCluster(t, 3, "node")
	conf := onePool(cl)
	conf.Extra = "max_watch_connections = 6\n"
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, cl.lines())
	ctx := context.Background()
	counter := pl.keysOn(1, 1, "counter:")[0]
	other := pl.keysOn(1, 2, "counter:")[1]
	admin := dial(t, px.Addr)
	watching := func() string { return infoField(t, admin, "clients", "watch_connections") }

	load := startLoad(t, px.Addr, pl, 3)

	const clients, each = 4, 40
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := redis.NewClient(&redis.Options{Addr: px.Addr, Protocol: 2, MaxRetries: -1, PoolSize: 1})
			defer rc.Close()
			for range each {
				for {
					err := rc.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, counter).Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
							pipe.Set(ctx, counter, n+1, 0)
							pipe.Incr(ctx, other)
							return nil
						})
						return err
					}, counter)
					if errors.Is(err, redis.TxFailedErr) {
						conflicts.Add(1)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("watching client: %v", err)
	}
	want := fmt.Sprint(clients * each)
	if got := string(admin.must(t, "GET", counter)); got != bulk(want) {
		t.Errorf("counter after %d watched increments: %s, want %q (lost updates)", clients*each, show([]byte(got)), want)
	}
	if got := string(admin.must(t, "GET", other)); got != bulk(want) {
		t.Errorf("second key after %d transactions: %s, want %q", clients*each, show([]byte(got)), want)
	}
	t.Logf("%d increments, %d conflicts retried", clients*each, conflicts.Load())

	// A write by another client between WATCH and EXEC: EXEC answers nil.
	a, b := dial(t, px.Addr), dial(t, px.Addr)
	for _, step := range []struct {
		c    *rconn
		args []string
		want string
	}{
		{a, []string{"WATCH", counter}, "+OK\r\n"},
		{a, []string{"GET", counter}, bulk(want)},
		{b, []string{"SET", counter, "0"}, "+OK\r\n"},
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"SET", counter, "999"}, "+QUEUED\r\n"},
		{a, []string{"EXEC"}, "*-1\r\n"},
		{a, []string{"GET", counter}, bulk("0")},
		// Pipelined WATCH, GET, MULTI, ... EXEC in one write.
		{a, []string{"WATCH", counter}, "+OK\r\n"},
	} {
		if raw := step.c.must(t, step.args...); string(raw) != step.want {
			t.Errorf("%s: %s, want %q", showArgs(step.args), show(raw), step.want)
		}
	}
	a.send("GET", counter)
	a.send("MULTI")
	a.send("INCR", counter)
	a.send("EXEC")
	a.send("GET", counter)
	if err := a.flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{bulk("0"), "+OK\r\n", "+QUEUED\r\n", "*1\r\n:1\r\n", bulk("1")} {
		if raw, err := a.read(); err != nil || string(raw) != want {
			t.Errorf("pipelined transaction, reply %d: %s, %v; want %q", i, show(raw), err, want)
		}
	}

	// Connections are given back; past the bound WATCH is refused.
	if w := watching(); w != "0" {
		t.Errorf("watch_connections after the transactions: %s, want 0", w)
	}
	var ws []*rconn
	for i := range 6 {
		c := dial(t, px.Addr)
		if raw := c.must(t, "WATCH", pl.keysOn(i%3, 1, "w:")[0]); string(raw) != "+OK\r\n" {
			t.Fatalf("WATCH %d: %s", i, show(raw))
		}
		ws = append(ws, c)
	}
	if w := watching(); w != "6" {
		t.Errorf("watch_connections with 6 clients watching: %s", w)
	}
	extra := dial(t, px.Addr)
	if raw := extra.must(t, "WATCH", counter); string(raw) != "-ERR proxy: max_watch_connections (6) reached: too many clients are watching keys\r\n" {
		t.Errorf("WATCH past max_watch_connections: %s", show(raw))
	}
	ws[0].must(t, "UNWATCH")
	ws[1].must(t, "MULTI")
	ws[1].must(t, "DISCARD")
	ws[2].must(t, "MULTI")
	ws[2].must(t, "EXEC")
	ws[3].Close()
	ws[4].must(t, "WATCH", pl.keysOn(1, 1, "w:")[0]) // a second WATCH keeps its one connection
	deadline := time.Now().Add(10 * time.Second)
	for watching() != "2" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if w := watching(); w != "2" {
		t.Errorf("watch_connections after UNWATCH, DISCARD, EXEC and a close: %s, want 2", w)
	}
	if raw := extra.must(t, "WATCH", counter); string(raw) != "+OK\r\n" {
		t.Errorf("WATCH once connections were given back: %s", show(raw))
	}
	load.stop(t, "while clients watched and ran transactions")
}

// TestProxyTxReplicated: with replicate_writes, a transaction that ran on
// the primary's node runs on each replica pool's node too; one that did
// not run (a watched key changed, or refused at queue time) is not sent.
func TestProxyTxReplicated(t *testing.T) {
	dc1, dc2 := startCluster(t, 2, "node"), startCluster(t, 2, "node")
	conf := proxyConfig{ReplicateWrites: true, Pools: []poolConfig{
		{Name: "dc1", Role: "primary", Servers: dc1.lines()},
		{Name: "dc2", Role: "replica", Servers: dc2.lines()},
	}}
	px, _ := startProxy(t, conf)
	pl := newPlacer(t, conf, dc1.lines())
	ks := pl.keysOn(1, 3, "rep:")
	reps := dc2.conns(t)
	c, other := dial(t, px.Addr), dial(t, px.Addr)
	for _, step := range []struct {
		c    *rconn
		args []string
		want string
	}{
		{c, []string{"MULTI"}, "+OK\r\n"},
		{c, []string{"SET", ks[0], "a"}, "+QUEUED\r\n"},
		{c, []string{"INCR", ks[1]}, "+QUEUED\r\n"},
		{c, []string{"EXEC"}, "*2\r\n+OK\r\n:1\r\n"},
		{c, []string{"WATCH", ks[0]}, "+OK\r\n"},
		{other, []string{"SET", ks[0], "b"}, "+OK\r\n"},
		{c, []string{"MULTI"}, "+OK\r\n"},
		{c, []string{"SET", ks[0], "lost"}, "+QUEUED\r\n"},
		{c, []string{"EXEC"}, "*-1\r\n"},
		{c, []string{"MULTI"}, "+OK\r\n"},
		{c, []string{"SET", ks[0], "aborted"}, "+QUEUED\r\n"},
		{c, []string{"NOPE"}, "-ERR unknown command 'NOPE', with args beginning with: \r\n"},
		{c, []string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{c, []string{"MULTI"}, "+OK\r\n"},
		{c, []string{"SET", ks[2], "marker"}, "+QUEUED\r\n"},
		{c, []string{"EXEC"}, "*1\r\n+OK\r\n"},
	} {
		if raw := step.c.must(t, step.args...); string(raw) != step.want {
			t.Errorf("%s: %s, want %q", showArgs(step.args), show(raw), step.want)
		}
	}
	// Replication is fire and forget: wait for the last transaction, sent
	// after the others on the same connection.
	deadline := time.Now().Add(10 * time.Second)
	for string(reps[1].must(t, "GET", ks[2])) != bulk("marker") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for k, want := range map[string]string{ks[0]: bulk("b"), ks[1]: ":1\r\n", ks[2]: bulk("marker")} {
		args := []string{"GET", k}
		if strings.HasPrefix(want, ":") {
			args = []string{"INCRBY", k, "0"}
		}
		if raw := reps[1].must(t, args...); string(raw) != want {
			t.Errorf("replica node: %s: %s, want %q", showArgs(args), show(raw), want)
		}
	}
	if raw := reps[0].must(t, "DBSIZE"); string(raw) != ":0\r\n" {
		t.Errorf("the other replica node got keys: DBSIZE %s", show(raw))
	}
	// A transaction's copy must leave its connection in step with the
	// replica's replies: a copy that expected one reply for MULTI's, each
	// +QUEUED and EXEC's reset the connection after every replicated
	// transaction (and lost the copies queued behind it, so the replica
	// ended with "a", under load).
	for _, name := range []string{"backend_dc2_node1", "backend_dc2_node2"} {
		if v := infoField(t, c, "", name); !strings.Contains(v, ",errors=0,") {
			t.Errorf("proxy INFO %s:%s, want errors=0: a replica connection fell out of step", name, v)
		}
	}
}

// TestProxyWatchReadsPrimary: while a client watches keys of a node, its
// reads of that node come from the primary pool, where the WATCH is, even
// with read_pool naming a replica pool: a value read from a lagging
// replica would let a lost update through the watched transaction.
func TestProxyWatchReadsPrimary(t *testing.T) {
	dc1, dc2 := startCluster(t, 1, "node"), startCluster(t, 1, "node")
	conf := proxyConfig{ReadPool: "dc2", Pools: []poolConfig{
		{Name: "dc1", Role: "primary", Servers: dc1.lines()},
		{Name: "dc2", Role: "replica", Servers: dc2.lines()},
	}}
	px, _ := startProxy(t, conf)
	c := dial(t, px.Addr)
	for _, step := range []struct{ args, want []string }{
		{[]string{"SET", "k", "new"}, []string{"+OK\r\n"}}, // not replicated: the replica lags
		{[]string{"GET", "k"}, []string{"$-1\r\n"}},        // read from the replica
		{[]string{"WATCH", "k"}, []string{"+OK\r\n"}},
		{[]string{"GET", "k"}, []string{bulk("new")}},
		{[]string{"MGET", "k", "k"}, []string{"*2\r\n" + bulk("new") + bulk("new")}},
		{[]string{"MULTI"}, []string{"+OK\r\n"}},
		{[]string{"GET", "k"}, []string{"+QUEUED\r\n"}},
		{[]string{"EXEC"}, []string{"*1\r\n" + bulk("new")}},
		{[]string{"GET", "k"}, []string{"$-1\r\n"}}, // not watching: the read pool again
	} {
		if raw := c.must(t, step.args...); string(raw) != step.want[0] {
			t.Errorf("%s: %s, want %q", showArgs(step.args), show(raw), step.want[0])
		}
	}
}

// oldNode is a RESP server that knows no transactions, as a relcache from
// before issue 15: MULTI, EXEC, DISCARD and WATCH are unknown commands,
// anything else is +OK. It records the commands it is sent.
func oldNode(t *testing.T) (addr string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var cmds []string
	addr = fakeNode(t, func(args []string) string {
		name := strings.ToUpper(args[0])
		mu.Lock()
		cmds = append(cmds, name)
		mu.Unlock()
		switch name {
		case "MULTI", "EXEC", "DISCARD", "WATCH":
			return "-ERR unknown command '" + args[0] + "', with args beginning with: \r\n"
		case "INFO":
			return bulk("# Loader\r\nsource_id:none\r\n")
		}
		return "+OK\r\n"
	})
	return addr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(cmds)
	}
}

// TestProxyTxOldNode: a node that does not know MULTI would refuse it and
// run the queued commands one by one. The proxy finds out before sending
// the first transaction and refuses it, sending nothing of it.
func TestProxyTxOldNode(t *testing.T) {
	addr, seen := oldNode(t)
	px, _ := startProxy(t, proxyConfig{Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: []string{addr + ":1 old1"}}}})
	c := dial(t, px.Addr)
	for _, step := range []struct{ args, want []string }{
		{[]string{"SET", "k", "1"}, []string{"+OK\r\n"}},
		{[]string{"MULTI"}, []string{"+OK\r\n"}},
		{[]string{"SET", "k", "2"}, []string{"+QUEUED\r\n"}},
		{[]string{"EXEC"}, []string{"-ERR proxy: backend old1 (" + addr + ") answered DISCARD with \"-ERR unknown command 'DISCARD', with args beginning with: \\r\\n\", not as a node that runs transactions (relcache before issue 15?); transaction not run\r\n"}},
		{[]string{"WATCH", "k"}, []string{"-ERR unknown command 'WATCH', with args beginning with: \r\n"}},
		{[]string{"PING"}, []string{"+PONG\r\n"}},
	} {
		if raw := c.must(t, step.args...); string(raw) != step.want[0] {
			t.Errorf("%s: %s, want %q", showArgs(step.args), show(raw), step.want[0])
		}
	}
	var sets int
	for _, name := range seen() {
		switch name {
		case "SET":
			sets++
		case "MULTI", "EXEC":
			t.Errorf("the old node was sent %s", name)
		}
	}
	if sets != 1 {
		t.Errorf("the old node was sent %d SETs, want 1 (the one outside the transaction): %v", sets, seen())
	}
	if raw := c.must(t, "INFO", "clients"); !strings.Contains(string(raw), "watch_connections:0\r\n") {
		t.Errorf("a refused WATCH kept its connection: %s", show(raw))
	}
}

// TestProxyWatchLost: when the connection holding a client's WATCH is
// lost, the proxy never replaces it (a new connection would not hold the
// WATCH): the client's EXEC fails and runs nothing, its other commands go
// on over a shared connection, and the connection is given back.
func TestProxyWatchLost(t *testing.T) {
	cl := startCluster(t, 1, "node")
	px, _ := startProxy(t, onePool(cl))
	c := dial(t, px.Addr)
	node := cl.conns(t)[0]
	c.must(t, "SET", "k", "1")
	if raw := c.must(t, "WATCH", "k"); string(raw) != "+OK\r\n" {
		t.Fatalf("WATCH: %s", show(raw))
	}
	// The node's client whose last command was WATCH is the proxy's
	// connection holding it.
	list, _ := value(t, node.must(t, "CLIENT", "LIST")).([]byte)
	id := ""
	for _, line := range strings.Split(string(list), "\n") {
		if strings.Contains(line, " cmd=watch") {
			id = strings.TrimPrefix(strings.Fields(line)[0], "id=")
		}
	}
	if id == "" {
		t.Fatalf("no client of the node ran WATCH:\n%s", list)
	}
	errs := backendErrors(t, c, "node1")
	if raw := node.must(t, "CLIENT", "KILL", "ID", id); string(raw) != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID %s: %s", id, show(raw))
	}
	// The node has closed the connection, but the proxy learns of it only
	// when its reader of that connection runs and reads EOF: on a busy
	// machine that can be after the EXEC below went down it, which then
	// fails as any call in flight on a lost connection does ("connection
	// lost: EOF"), the loss not known yet. This test is about a loss the
	// proxy knows of, so it waits for that: the reader counts it as one of
	// the node's errors, having marked the connection lost.
	for backendErrors(t, c, "node1") == errs {
	}
	c.must(t, "MULTI")
	c.must(t, "SET", "k", "2")
	raw := c.must(t, "EXEC")
	if !strings.HasPrefix(string(raw), "-ERR proxy: backend node1 (") || !strings.Contains(string(raw), "it held this client's WATCH, which a new connection would not") {
		t.Errorf("EXEC after the WATCH's connection was lost: %s", show(raw))
	}
	if raw := c.must(t, "GET", "k"); string(raw) != bulk("1") {
		t.Errorf("GET after the failed EXEC: %s, want the value before it", show(raw))
	}
	if w := infoField(t, c, "clients", "watch_connections"); w != "0" {
		t.Errorf("watch_connections after the failed EXEC: %s", w)
	}
}

// backendErrors is the errors count INFO shows for the primary pool's
// backend name.
func backendErrors(t *testing.T, c *rconn, name string) string {
	t.Helper()
	line := infoField(t, c, "backends", "backend_dc1_"+name)
	for _, f := range strings.Split(line, ",") {
		if n, ok := strings.CutPrefix(f, "errors="); ok {
			return n
		}
	}
	t.Fatalf("INFO backends has no errors= for %s: %q", name, line)
	return ""
}
