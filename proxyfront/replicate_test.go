package proxyfront_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReplicatedWritesKeepCausalOrder: client A's write was acknowledged
// before client B sent its write to the same key, so every replica must end
// with B's value, as the primary does. The replica copies of the two clients'
// writes used to go down different connections to the replica node (each
// client's own), and the node, serving connections concurrently, could
// apply them the other way round: the replica kept A's value for good.
func TestReplicatedWritesKeepCausalOrder(t *testing.T) {
	dc1, dc2 := startCluster(t, 1, "node"), startCluster(t, 1, "node")
	conf := proxyConfig{ReplicateWrites: true, Pools: []poolConfig{
		{Name: "dc1", Role: "primary", Servers: dc1.lines()},
		{Name: "dc2", Role: "replica", Servers: dc2.lines()},
	}}
	px, _ := startProxy(t, conf)
	a, b := dial(t, px.Addr), dial(t, px.Addr)
	const n = 3000
	for i := range n {
		k := fmt.Sprintf("order:%d", i)
		if raw := a.must(t, "SET", k, "a"); string(raw) != "+OK\r\n" {
			t.Fatalf("SET %s a: %s", k, show(raw))
		}
		if raw := b.must(t, "SET", k, "b"); string(raw) != "+OK\r\n" {
			t.Fatalf("SET %s b: %s", k, show(raw))
		}
	}
	// Fire and forget: wait until the last write of each client arrived.
	rep := dc2.conns(t)[0]
	last := fmt.Sprintf("order:%d", n-1)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if string(rep.must(t, "GET", last)) == bulk("b") {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // and A's copies on another connection, if any
	wrong := 0
	for i := range n {
		k := fmt.Sprintf("order:%d", i)
		if raw := rep.must(t, "GET", k); string(raw) != bulk("b") {
			if wrong++; wrong <= 5 {
				t.Errorf("replica: GET %s: %s, want b (the primary has b)", k, show(raw))
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d keys ended with the older write on the replica", wrong, n)
	}
}

// TestReplicaThatStopsReadingDoesNotHoldWrites: a replica node that
// accepts the proxy's connection and never reads it must not hold up the
// clients whose writes are copied to it (fire and forget), even once the
// copies fill the socket's buffers; its timeout is an hour here, so only
// writing the copies from the connection's own writer, not from the
// client's goroutine, lets the writes through. The read deadline only
// turns a hang into a failure.
func TestReplicaThatStopsReadingDoesNotHoldWrites(t *testing.T) {
	dc1 := startCluster(t, 1, "node")
	stuck := silentNode(t, false)
	conf := proxyConfig{ReplicateWrites: true, Pools: []poolConfig{
		{Name: "dc1", Role: "primary", Servers: dc1.lines()},
		{Name: "dc2", Role: "replica", Servers: []string{stuck + ":1 stuck"}, Timeout: "1h"},
	}}
	px, _ := startProxy(t, conf)
	c := dial(t, px.Addr)
	c.c.SetDeadline(time.Now().Add(time.Minute))
	value := strings.Repeat("v", 512<<10)
	for i := range 64 { // 32 MiB of copies: far past the socket buffers
		if raw := c.must(t, "SET", fmt.Sprintf("big:%d", i), value); string(raw) != "+OK\r\n" {
			t.Fatalf("SET big:%d: %s", i, show(raw))
		}
	}
}
