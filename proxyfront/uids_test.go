package proxyfront_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestProxyDecimalBatchMatchesGeneral: the relation batches whose decimal
// uids the proxy's reader reads while it frames them (RELCHECK,
// RELFOLLOWS; RELMULTI with the L1 on) answer byte for byte what the same
// command answers through the general path (the same bytes sent inline,
// which the numbers loop never reads) and what one node holding
// everything answers, with options, BITS, SINCE/UNTIL and bad uids at
// either end and in the middle; go-redis sees the same values and errors
// from the proxy as from the node.
func TestProxyDecimalBatchMatchesGeneral(t *testing.T) {
	for _, l1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("l1=%v", l1), func(t *testing.T) { testProxyDecimalBatch(t, l1) })
	}
}

func testProxyDecimalBatch(t *testing.T, l1 bool) {
	cl := startCluster(t, 2, "node", "--source", "none")
	conf := onePool(cl)
	if l1 {
		conf.Extra = l1On
	}
	px, _ := startProxy(t, conf)
	ref := startNode(t, "--source", "none")
	p := newPair(t, px.Addr, ref.Addr)

	var users []uint64
	for i := range 40 {
		users = append(users, uint64(1+i*7919)%100_000+uint64(i%3)*1_000_000_000_000)
	}
	for i, u := range users {
		load := []string{"RELLOAD", fkey(u), "TIMES"}
		for j := range 15 {
			load = append(load, u64(users[(i+j*3+1)%len(users)]), strconv.Itoa(1_600_000_000+j))
		}
		p.queue(load...)
	}
	p.sync()
	var uids []string
	for i, u := range users {
		uids = append(uids, strings.Repeat("0", i%3)+u64(u))
	}
	// 1 to 19 digits: the reader's numbers loop reads each (20 digits it
	// leaves to the general path, as any argument it does not read).
	uids = append(uids, "9999999999999999999", "1", "7", "123456789012")
	with := func(i int, bad string) []string {
		out := append([]string{}, uids...)
		out[i] = bad
		return out
	}
	a, x, key := u64(users[3]), u64(users[5]), fkey(users[7])
	cmd := func(head []string, tail []string) []string { return append(append([]string{}, head...), tail...) }
	var cmds [][]string
	for _, head := range [][]string{
		{"RELCHECK", a, "BATCH"}, {"relcheck", a, "SINCE", "1600000003", "UNTIL", "1600000010", "BATCH"},
		{"RELCHECK", a}, {"RELCHECK", "x", "BATCH"}, {"RELCHECK", a, "SINCE", "x", "BATCH"}, {"RELCHECK", a, "BATCH", "BATCH"},
		{"RELFOLLOWS", x}, {"relfollows", x, "WITHTIMES", "SINCE", "1600000004"}, {"RELFOLLOWS", x, "UNTIL", "1600000002"},
		{"RELFOLLOWS", "-1"},
		{"RELMULTI", key}, {"RELMULTI", key, "BITS"}, {"RELMULTI", key, "SINCE", "1600000005", "UNTIL", "1600000009"},
		{"RELMULTI", "nokey"},
	} {
		cmds = append(cmds, cmd(head, uids))
		for _, bad := range []struct {
			at int
			v  string
		}{{0, "-1"}, {20, "12a"}, {len(uids) - 1, "+5"}, {10, "18446744073709551616"}, {30, "00000000000000000000000000042"},
			{15, ""}, {25, "1 2"}, {len(uids) - 1, "99999999999999999999"}, {3, "18446744073709551615"}} {
			cmds = append(cmds, cmd(head, with(bad.at, bad.v)))
		}
	}
	if l1 {
		// The L1 answers this RELMULTI from here on: its uids come from the
		// reader too.
		warmL1(t, dial(t, px.Addr), cmd([]string{"RELMULTI", key}, uids)...)
	}

	// Framed by the numbers loop (a multibulk), against one node.
	for _, c := range cmds {
		p.queue(c...)
	}
	p.sync()
	// The same command inline: the general path.
	c := dial(t, px.Addr)
	for _, args := range cmds {
		multi := c.must(t, args...)
		fmt.Fprintf(c.w, "%s\r\n", inlineLine(args))
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		inline, err := c.read()
		if err != nil {
			t.Fatalf("%s inline: %v", showArgs(args), err)
		}
		if string(multi) != string(inline) {
			t.Errorf("%s\n  multibulk: %s\n  inline:    %s", showArgs(args), show(multi), show(inline))
		}
	}
	if l1 && l1Info(t, c, "l1_hits") == 0 {
		t.Errorf("the L1 answered nothing")
	}

	// go-redis: the proxy's values and errors are the node's.
	ctx := context.Background()
	opts := func(addr string) *redis.Options {
		return &redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, Protocol: 2}
	}
	pc, rc := redis.NewClient(opts(px.Addr)), redis.NewClient(opts(ref.Addr))
	defer pc.Close()
	defer rc.Close()
	for _, args := range cmds {
		anys := make([]any, len(args))
		for i, s := range args {
			anys[i] = s
		}
		got, gerr := pc.Do(ctx, anys...).Result()
		want, werr := rc.Do(ctx, anys...).Result()
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Errorf("go-redis %s: proxy %v, %v; node %v, %v", showArgs(args), got, gerr, want, werr)
		}
	}
}

// inlineLine writes args as an inline command, each word double-quoted
// (the words here have no quote or backslash).
func inlineLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = `"` + a + `"`
	}
	return strings.Join(q, " ")
}
