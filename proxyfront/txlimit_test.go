package proxyfront

import (
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
