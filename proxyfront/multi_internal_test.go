package proxyfront

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestTxQueueLimits: a transaction may queue at most
// client_query_buffer_limit bytes and maxTxCommands commands; the command
// past either is refused, which aborts the transaction (nothing is sent to
// a node: the pool's only server is never dialled).
func TestTxQueueLimits(t *testing.T) {
	cfg := &Config{Admin: "-", ClientQueryBufferLimit: 1 << 20,
		Pools: []Pool{{Name: "dc1", Role: "primary", Servers: []string{"127.0.0.1:1:1 n1"}}}}
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.topo.Load().close()
	nc, peer := net.Pipe()
	defer nc.Close()
	defer peer.Close()
	c := p.newClient(nc, 1)
	do := func(args ...string) string {
		t.Helper()
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		mark := len(c.out)
		c.handle(bs)
		if len(c.pending) != 0 {
			t.Fatalf("%s: sent to a node", args[0])
		}
		return string(c.out[mark:])
	}
	const abort = "-EXECABORT Transaction discarded because of previous errors.\r\n"
	big := strings.Repeat("x", 600<<10)
	for i, step := range []struct{ args, want string }{
		{"MULTI", "+OK\r\n"},
		{"SET k " + big, "+QUEUED\r\n"},
		{"SET k " + big, "-ERR proxy: transaction discarded: its queued commands exceed client_query_buffer_limit (1048576 bytes)\r\n"},
		{"PING", "+QUEUED\r\n"},
		{"EXEC", abort},
		{"EXEC", "-ERR EXEC without MULTI\r\n"},
	} {
		if got := do(strings.Fields(step.args)...); got != step.want {
			t.Errorf("step %d %.20s: %q, want %q", i, step.args, got, step.want)
		}
	}
	roomy := *p.cfgNow()
	roomy.ClientQueryBufferLimit = 1 << 30
	p.cfg.Store(&roomy)
	do("MULTI")
	for i := range maxTxCommands {
		if got := do("PING"); got != "+QUEUED\r\n" {
			t.Fatalf("PING %d in a transaction: %q", i, got)
		}
		c.out = c.out[:0]
	}
	if got := do("PING"); got != "-ERR proxy: transaction discarded: more than 1048576 queued commands\r\n" {
		t.Errorf("command past maxTxCommands: %q", got)
	}
	if got := do("EXEC"); got != abort {
		t.Errorf("EXEC after the limit: %q", got)
	}
}

// TestTxNodeAfterReload: EXEC places a transaction's keys again with the
// routing of the moment. A reload that keeps them on one node (even
// another one) runs it there; one that splits them, or changes how keys
// hash, discards it.
func TestTxNodeAfterReload(t *testing.T) {
	m := newMetrics()
	topo := func(hash string, servers ...string) *topology {
		t.Helper()
		cfg := &Config{Admin: "-", Hash: hash, Pools: []Pool{{Name: "dc1", Role: "primary", Servers: servers}}}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		tp, _, err := newTopology(cfg, nil, m, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tp.close)
		return tp
	}
	two := topo("", "127.0.0.1:1:1 n1", "127.0.0.1:2:1 n2")
	three := topo("", "127.0.0.1:1:1 n1", "127.0.0.1:2:1 n2", "127.0.0.1:3:1 n3")
	md5 := topo("md5", "127.0.0.1:1:1 n1", "127.0.0.1:2:1 n2")
	node := func(tp *topology, h uint32) string { return tp.primary.backendFor(h).name }
	// Two keys on n1 with two servers: one that stays on n1 with three,
	// one that moves to n3.
	var stay, move uint32
	var haveStay, haveMove bool
	for i := 0; !haveStay || !haveMove; i++ {
		h := two.hash(fmt.Appendf(nil, "k%d", i))
		switch {
		case node(two, h) != "n1":
		case node(three, h) == "n1":
			stay, haveStay = h, true
		case node(three, h) == "n3":
			move, haveMove = h, true
		}
	}
	for _, tc := range []struct {
		name string
		tx   *txState
		now  *topology
		want string // the node, or the start of the error
	}{
		{"no reload", &txState{t: two, hs: []uint32{stay, move}}, two, "n1"},
		{"keys still together", &txState{t: two, hs: []uint32{stay, stay}}, three, "n1"},
		{"moved together", &txState{t: two, hs: []uint32{move}}, three, "n3"},
		{"split by the reload", &txState{t: two, hs: []uint32{stay, move}}, three, "EXECABORT Transaction discarded: the proxy's pools were reloaded"},
		{"another hash", &txState{t: two, hs: []uint32{stay}}, md5, "EXECABORT Transaction discarded: the proxy's routing was reloaded"},
		{"no keys", &txState{t: two}, three, "n1"},
	} {
		be, msg := tc.tx.node(tc.now, nil)
		got := msg
		if be != nil {
			got = be.name
		}
		if !strings.HasPrefix(got, tc.want) || (be != nil) == (msg != "") {
			t.Errorf("%s: node %v, error %q; want %q", tc.name, be, msg, tc.want)
		}
	}
}
