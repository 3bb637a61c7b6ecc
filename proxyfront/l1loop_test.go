//go:build linux

package proxyfront_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestL1LoopReadsBesideWrites: with io_model eventloop and the L1 on,
// readers that send only RELCHECK, RELMULTI and GET, pipelined, are served
// by the event loop for their whole life (L1 hits answered inline, misses
// forwarded, RELCHECK across two nodes finished by the loop's drain),
// while writers on other connections RELADD and RELDEL the lists they
// read and SET the strings (a writer is handed over to a goroutine at its
// first write: the write barrier waits). No read may show a value older
// than a write acknowledged before the read was sent.
func TestL1LoopReadsBesideWrites(t *testing.T) {
	var conf proxyConfig
	cl, px := l1Proxy(t, 2, func(c *proxyConfig) {
		c.Extra = "io_model = \"eventloop\"\n" + c.Extra
		conf = *c
	})
	pl := newPlacer(t, conf, cl.lines())

	const hot, bs, trail, strs, readers, depth = 4, 40, 6, 2, 4, 4
	a := func(i int) uint64 { return uint64(1 + i) }
	// b(i, k): k even on a(i)'s node, k odd on the other one, so RELCHECK
	// a b runs as one call and as a joinOp of two.
	var bUID [hot][bs + 1]uint64
	for i := range hot {
		home := pl.node(fkey(a(i)))
		next := uint64(100000 + 10000*i)
		for k := 1; k <= bs; k++ {
			for (pl.node(fkey(next)) == home) != (k%2 == 0) {
				next++
			}
			bUID[i][k] = next
			next++
		}
	}
	b := func(i, k int) uint64 { return bUID[i][k] }

	w := dial(t, px.Addr)
	for i := range hot {
		w.must(t, "RELLOAD", fkey(a(i)))
		for k := 1; k <= bs; k++ {
			w.must(t, "RELLOAD", fkey(b(i, k)), u64(a(i))) // b follows a: bit 2
		}
	}
	for j := range strs {
		w.must(t, "SET", fmt.Sprintf("loopstr%d", j), "0")
	}

	type progress struct{ added, delSent, deleted atomic.Int64 }
	var users [hot]progress
	var counters [strs]atomic.Int64
	var stop atomic.Bool
	var stale atomic.Int64
	fail := func(format string, args ...any) {
		if stale.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	var writers sync.WaitGroup
	for i := range hot {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c := dial(t, px.Addr)
			defer c.Close()
			for k := 1; k <= bs && !stop.Load(); k++ {
				if raw, err := c.do("RELADD", fkey(a(i)), u64(b(i, k))); err != nil || raw[0] != ':' {
					fail("RELADD: %s %v", show(raw), err)
					return
				}
				users[i].added.Store(int64(k))
				if k > trail {
					users[i].delSent.Store(int64(k - trail))
					if raw, err := c.do("RELDEL", fkey(a(i)), u64(b(i, k-trail))); err != nil || raw[0] != ':' {
						fail("RELDEL: %s %v", show(raw), err)
						return
					}
					users[i].deleted.Store(int64(k - trail))
				}
			}
		}()
	}
	for j := range strs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c := dial(t, px.Addr)
			defer c.Close()
			for n := 1; n <= 200 && !stop.Load(); n++ {
				if raw, err := c.do("SET", fmt.Sprintf("loopstr%d", j), strconv.Itoa(n)); err != nil || string(raw) != "+OK\r\n" {
					fail("SET: %s %v", show(raw), err)
					return
				}
				counters[j].Store(int64(n))
			}
		}()
	}

	// One read of a pipeline: what to send, and the check of its reply
	// against what was acknowledged before the pipeline was sent.
	type read struct {
		args  []string
		check func(raw []byte)
	}
	relcheck := func(i, k int) read {
		added, deleted := users[i].added.Load(), users[i].deleted.Load()
		return read{[]string{"RELCHECK", u64(a(i)), u64(b(i, k))}, func(raw []byte) {
			// A RELDEL sent by now may have run before the read.
			delSent := users[i].delSent.Load()
			code, ok := value(t, raw).(int64)
			switch {
			case !ok || code < 0 || code&2 == 0:
				fail("RELCHECK %d %d: %s, want bit 2 (b follows a)", a(i), b(i, k), show(raw))
			case int64(k) <= deleted && code&1 != 0:
				fail("RELCHECK %d %d: RELDELed before the read, answered %s", a(i), b(i, k), show(raw))
			case int64(k) > delSent && int64(k) <= added && code&1 == 0:
				fail("RELCHECK %d %d: RELADDed before the read, answered %s", a(i), b(i, k), show(raw))
			}
		}}
	}
	relmulti := func(i int) read {
		added, deleted := users[i].added.Load(), users[i].deleted.Load()
		args := []string{"RELMULTI", fkey(a(i))}
		for k := 1; k <= bs; k++ {
			args = append(args, u64(b(i, k)))
		}
		return read{args, func(raw []byte) {
			delSent := users[i].delSent.Load()
			codes, ok := value(t, raw).([]any)
			if !ok || len(codes) != bs {
				fail("RELMULTI %s: %s", fkey(a(i)), show(raw))
				return
			}
			for k := 1; k <= bs; k++ {
				switch {
				case int64(k) <= deleted && codes[k-1] != int64(0):
					fail("RELMULTI %s: b_%d RELDELed before the read, answered %v", fkey(a(i)), k, codes[k-1])
				case int64(k) > delSent && int64(k) <= added && codes[k-1] != int64(1):
					fail("RELMULTI %s: b_%d RELADDed before the read, answered %v", fkey(a(i)), k, codes[k-1])
				}
			}
		}}
	}
	get := func(j int) read {
		n := counters[j].Load()
		key := fmt.Sprintf("loopstr%d", j)
		return read{[]string{"GET", key}, func(raw []byte) {
			got, _ := value(t, raw).([]byte)
			if v, err := strconv.ParseInt(string(got), 10, 64); err != nil || v < n {
				fail("GET %s: %s, but %d was acknowledged before the read", key, show(raw), n)
			}
		}}
	}

	var reads atomic.Int64
	var rs sync.WaitGroup
	conns := make([]*rconn, readers)
	for r := range readers {
		conns[r] = dial(t, px.Addr)
		rs.Add(1)
		go func() {
			defer rs.Done()
			c := conns[r]
			rng := rand.New(rand.NewPCG(uint64(r), 26))
			batch := make([]read, 0, depth)
			for !stop.Load() {
				batch = batch[:0]
				for range 1 + rng.IntN(depth) {
					i := rng.IntN(hot)
					switch rng.IntN(3) {
					case 0:
						batch = append(batch, relcheck(i, 1+rng.IntN(bs)))
					case 1:
						batch = append(batch, relmulti(i))
					default:
						batch = append(batch, get(rng.IntN(strs)))
					}
				}
				for _, rd := range batch {
					c.send(rd.args...)
				}
				if err := c.flush(); err != nil {
					fail("reader: %v", err)
					return
				}
				for _, rd := range batch {
					raw, err := c.read()
					if err != nil {
						fail("reader: %v", err)
						return
					}
					rd.check(raw)
				}
				reads.Add(int64(len(batch)))
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	rs.Wait()

	info := dial(t, px.Addr)
	hits := l1Info(t, info, "l1_hits")
	onLoop := infoField(t, info, "clients", "loop_clients")
	want := strconv.Itoa(readers)
	t.Logf("%d reads, %d stale; L1: %d hits, %d misses, %d invalidations, %d barriers; %s clients on the loop, %s handed over",
		reads.Load(), stale.Load(), hits, l1Info(t, info, "l1_misses"), l1Info(t, info, "l1_invalidations"),
		l1Info(t, info, "l1_barriers"), onLoop, infoField(t, info, "clients", "loop_handovers"))
	if hits == 0 {
		t.Errorf("the L1 answered none of the reads: the test proved nothing")
	}
	// The readers are connected still; every other connection wrote or
	// sent INFO, and was handed over.
	if onLoop != want {
		t.Errorf("loop_clients = %q, want the %d readers: a reader was handed over to a goroutine", onLoop, readers)
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestEventLoopRelCheckAcrossNodes: with the L1 off, RELCHECK whose users
// live on two nodes (a joinOp: RELMULTI to one, RELFOLLOWS to the other)
// is answered by the event loop, pipelined and in order, as one node
// holding every list answers it, and the client stays on the loop.
func TestEventLoopRelCheckAcrossNodes(t *testing.T) {
	cl := startCluster(t, 2, "node", "--source", "none")
	conf := onePool(cl)
	conf.Extra = "io_model = \"eventloop\"\n"
	px, _ := startProxy(t, conf)
	ref := startCluster(t, 1, "ref", "--source", "none")
	pl := newPlacer(t, conf, cl.lines())

	// a on node 0; bs on both nodes.
	a := uint64(1)
	for pl.node(fkey(a)) != 0 {
		a++
	}
	var bs []string
	for u := uint64(1000); len(bs) < 8; u++ {
		if len(bs)%2 == pl.node(fkey(u)) {
			bs = append(bs, u64(u))
		}
	}
	c, r := dial(t, px.Addr), dial(t, ref.procs[0].Addr)
	defer c.Close()
	defer r.Close()
	load := [][]string{{"RELLOAD", fkey(a), bs[0], bs[1], bs[4], bs[5]}}
	for i, b := range bs {
		args := []string{"RELLOAD", b + ".following"}
		if i%4 < 2 == (i%3 == 0) {
			args = append(args, u64(a))
		}
		load = append(load, args)
	}
	for _, args := range load {
		c.must(t, args...)
		r.must(t, args...)
	}
	var reqs [][]string
	for _, b := range bs {
		reqs = append(reqs, []string{"RELCHECK", u64(a), b}, []string{"RELCHECK", b, u64(a)})
	}
	reqs = append(reqs, append([]string{"RELCHECK", u64(a), "BATCH"}, bs...), []string{"RELCHECK", u64(a), "424242"})
	for range 3 {
		for _, args := range reqs {
			c.send(args...)
		}
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		for _, args := range reqs {
			got, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if want := r.must(t, args...); string(got) != string(want) {
				t.Fatalf("%s: proxy %s, one node %s", showArgs(args), show(got), show(want))
			}
		}
	}
	info := dial(t, px.Addr)
	defer info.Close()
	if got := infoField(t, info, "clients", "loop_clients"); got != "1" {
		t.Errorf("loop_clients = %q, want 1: the RELCHECK client was handed over", got)
	}
}

// TestL1LoopPipelinedWriteThenRead: a loop client whose pipeline reads a
// key from the L1, writes it, and reads it again gets the old value, the
// write's reply, then the new value: the write hands the client over to a
// goroutine in the middle of the pipeline, and the read after it is not
// answered from the L1 until the write's barrier has run.
func TestL1LoopPipelinedWriteThenRead(t *testing.T) {
	_, px := l1Proxy(t, 2, func(c *proxyConfig) {
		c.Extra = "io_model = \"eventloop\"\n" + c.Extra
	})
	info := dial(t, px.Addr)
	defer info.Close()
	info.must(t, "SET", "k", "0")
	info.must(t, "RELLOAD", fkey(1), "2")
	info.must(t, "RELLOAD", fkey(2))
	for n := 1; n <= 20; n++ {
		warmL1(t, info, "GET", "k")
		warmL1(t, info, "RELCHECK", "1", "2")
		c := dial(t, px.Addr)
		old := strconv.Itoa(n - 1)
		c.send("GET", "k")
		c.send("RELCHECK", "1", "2")
		c.send("SET", "k", strconv.Itoa(n))
		c.send("RELDEL", fkey(1), "2")
		c.send("GET", "k")
		c.send("RELCHECK", "1", "2")
		c.send("RELADD", fkey(1), "2")
		c.send("RELCHECK", "1", "2")
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{bulk(old), ":1\r\n", "+OK\r\n", ":1\r\n", bulk(strconv.Itoa(n)), ":0\r\n", ":1\r\n", ":1\r\n"} {
			got, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("round %d, reply %d: %s, want %s", n, i, show(got), show([]byte(want)))
			}
		}
		c.Close()
	}
}
