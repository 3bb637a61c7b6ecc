package server

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/resp"
)

// wireClient is a test client whose commands come from stream through the
// reader a connection has (uids read while framed: uidBatchCommand).
func wireClient(s *Server, stream []byte) *client {
	c := newTestClient(s)
	c.rd = resp.NewReader(bytes.NewReader(stream), c.limits, nil)
	c.rd.SetUintCommands(uidBatchCommand)
	return c
}

// batchLine is a RESP command of name, key and args.
func batchLine(name, key string, args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(args)+2, len(name), name, len(key), key)
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// TestUIDsReadWhileFramedMatchGeneral: every command that takes its uids
// from the reader answers byte for byte what it answers when it parses
// them itself (the same arguments, copied, so the reader has no values
// for them): members and not, every uid length, leading zeros, option
// words, and each kind of bad uid with its error.
func TestUIDsReadWhileFramedMatchGeneral(t *testing.T) {
	var uids []string
	for i := range 60 {
		u := strconv.FormatUint(uint64(i*7919)%1000+uint64(i%3)*1_000_000_000_000, 10)
		uids = append(uids, strings.Repeat("0", i%4)+u)
	}
	uids = append(uids, "9999999999999999999", "1", "7919")
	with := func(i int, bad string) []string {
		out := append([]string{}, uids...)
		out[i] = bad
		return out
	}
	var stream []byte
	for _, line := range [][]byte{
		batchLine("RELMULTI", "1.following", uids...),
		batchLine("relmulti", "1.following", append([]string{"BITS"}, uids...)...),
		batchLine("RELMULTI", "1.following", append([]string{"SINCE", "5", "UNTIL", "500"}, uids...)...),
		batchLine("RELMULTI", "nokey", uids...),
		batchLine("RELCHECK", "1", append([]string{"BATCH"}, uids...)...),
		batchLine("RELFOLLOWS", "7919", uids...),
		batchLine("SMISMEMBER", "1.following", uids...),
		batchLine("HMGET", "1.following", uids...),
		batchLine("RELMULTI", "1.following", with(30, "12a")...),
		batchLine("RELMULTI", "1.following", with(62, "+5")...),
		batchLine("RELMULTI", "1.following", with(0, "-1")...),
		batchLine("RELMULTI", "1.following", with(10, "18446744073709551616")...),
		batchLine("RELMULTI", "1.following", with(5, "18446744073709551615")...),
		batchLine("RELMULTI", "1.following", with(20, "00000000000000000000000000042")...),
		batchLine("RELMULTI", "1.following", with(40, "")...),
		batchLine("RELMULTI", "1.following", with(50, "1 2")...),
		batchLine("RELDEL", "2.following", uids...),
		batchLine("RELLOAD", "3.following", uids...),
		batchLine("RELMULTI", "3.following", uids...),
	} {
		stream = append(stream, line...)
	}
	load := func(s *Server) {
		c := newTestClient(s)
		set := []string{"TIMES"}
		for i, u := range uids[:40] {
			if i%2 == 0 {
				set = append(set, u, strconv.Itoa(i*20))
			}
		}
		do(s, c, append([]string{"RELLOAD", "1.following"}, set...)...)
		do(s, c, append([]string{"RELLOAD", "2.following"}, uids[10:30]...)...)
		do(s, c, "RELLOAD", "7.following", "1", "7919")
	}
	fast, slow := newTestServer(t), newTestServer(t)
	load(fast)
	load(slow)
	fc, sc := wireClient(fast, stream), newTestClient(slow)
	now := time.Now()
	for i := 0; ; i++ {
		args, err := fc.rd.Next()
		if err != nil {
			break
		}
		fc.out = fc.out[:0]
		if i == 0 {
			if _, ok := fc.rd.Uints(args[2:]); !ok {
				t.Fatal("the reader read no uids for a plain RELMULTI: the test does not reach the new path")
			}
		}
		now = fast.dispatch(fc, args, now)
		cp := make([][]byte, len(args))
		for j, a := range args {
			cp[j] = bytes.Clone(a)
		}
		sc.out = sc.out[:0]
		now = slow.dispatch(sc, cp, now)
		if !bytes.Equal(fc.out, sc.out) {
			t.Errorf("%s %s ...: read while framed %.200q, parsed by the command %.200q", args[0], args[1], fc.out, sc.out)
		}
	}
}

// TestRelMultiWireAllocatesNothing: a RELMULTI of 500 uids framed, read
// and answered through the reader allocates nothing once warm.
func TestRelMultiWireAllocatesNothing(t *testing.T) {
	s, c, stream := relMultiWire(t, 0x4142434445464748, 4)
	src := bytes.NewReader(stream)
	c.rd = resp.NewReader(src, c.limits, nil)
	c.rd.SetUintCommands(uidBatchCommand)
	s.slowlog.threshold.Store(-1)
	now := time.Now()
	allocs := testing.AllocsPerRun(20, func() {
		src.Reset(stream)
		for range 4 {
			c.out = c.out[:0]
			args, err := c.rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			now = s.dispatch(c, args, now)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per 4 RELMULTIs, want 0", allocs)
	}
	if !bytes.HasPrefix(c.out, []byte("*500\r\n:1\r\n:0\r\n")) {
		t.Fatalf("replied %.40q", c.out)
	}
}
