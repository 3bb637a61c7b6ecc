package proxyfront_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestProxyStringFamily runs the string commands of issue 15 through a
// proxy over three nodes and on one reference node and compares the raw
// replies: the single-key ones (SETBIT, GETBIT, BITCOUNT, BITPOS,
// BITFIELD, BITFIELD_RO, INCRBYFLOAT, SUBSTR) on keys spread over every
// node, and the multi-key ones (BITOP, COPY, LCS) on keys that share a
// node. Those three across nodes are refused by the proxy, and nothing is
// written anywhere.
func TestProxyStringFamily(t *testing.T) {
	cl := startCluster(t, 3, "node")
	ref := startNode(t)
	conf := onePool(cl)
	px, _ := startProxy(t, conf)
	p := newPair(t, px.Addr, ref.Addr)
	pl := newPlacer(t, conf, cl.lines())

	var keys, spare []string // three keys per node, and a fourth
	for i := range 3 {
		on := pl.keysOn(i, 4, "bits:")
		keys, spare = append(keys, on[:3]...), append(spare, on[3])
	}
	for i, k := range keys {
		p.queue("SETBIT", k, fmt.Sprint(i*13), "1")
		p.queue("SETBIT", k, fmt.Sprint(i*7+3), "1")
		p.queue("GETBIT", k, fmt.Sprint(i*13))
		p.queue("BITCOUNT", k)
		p.queue("BITCOUNT", k, "0", "-1", "BIT")
		p.queue("BITPOS", k, "1", "1")
		p.queue("BITFIELD", k, "INCRBY", "u8", "#2", "200", "OVERFLOW", "SAT", "INCRBY", "i8", "#3", "-300", "GET", "u16", "0")
		p.queue("BITFIELD_RO", k, "GET", "i8", "#2")
		p.queue("INCRBYFLOAT", "f:"+k, "10.5")
		p.queue("INCRBYFLOAT", "f:"+k, "0.1")
		p.queue("INCRBYFLOAT", "f:"+k, "5.0e3")
		p.queue("SUBSTR", "f:"+k, "0", "3")
		p.queue("GET", k)
	}
	p.queue("INCRBYFLOAT", keys[0], "1")
	p.queue("SETBIT", keys[0], "4294967296", "1")
	p.sync()

	// Same node: forwarded whole.
	for node := range 3 {
		a, b, c := keys[3*node], keys[3*node+1], keys[3*node+2]
		p.queue("BITOP", "XOR", c, a, b)
		p.queue("GET", c)
		p.queue("BITOP", "NOT", c, a)
		p.queue("COPY", a, spare[node])
		p.queue("GET", spare[node])
		p.queue("COPY", a, b)
		p.queue("COPY", a, b, "REPLACE")
		p.queue("GET", b)
		p.queue("LCS", a, c)
		p.queue("LCS", a, c, "IDX", "WITHMATCHLEN")
		p.queue("MSETNX", b, "1", spare[node], "2")
		p.queue("RENAMENX", spare[node], c)
		p.queue("RENAME", spare[node], b)
		p.queue("GET", b)
	}
	p.queue("MSETNX", keys[0], "1", "b")
	p.sync()

	// Across nodes: refused before anything is sent.
	a, b := keys[0], keys[3]
	for _, args := range [][]string{
		{"BITOP", "OR", a, a, b},
		{"BITOP", "AND", a, b},
		{"COPY", a, b, "REPLACE"},
		{"COPY", b, a},
		{"LCS", a, b},
		// colocated's older users, whose key positions it now takes as
		// arguments.
		{"RENAME", a, b},
		{"RENAMENX", b, a},
		{"MSETNX", a, "1", b, "2"},
	} {
		got := string(p.proxy.must(t, args...))
		want := "-ERR '" + strings.ToLower(args[0]) + "' of keys on different nodes is not supported by the proxy\r\n"
		if got != want {
			t.Errorf("%q through the proxy: %q, want %q", args, got, want)
		}
	}
	// The refused writes changed nothing: every key still reads as on the
	// reference, which never saw them.
	for _, k := range keys {
		p.queue("GET", k)
	}
	p.sync()
	t.Logf("compared %v", p.compared)
}
