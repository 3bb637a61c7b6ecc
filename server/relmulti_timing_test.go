package server

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/resp"
)

// BenchmarkRelMultiWire is a RELMULTI of 500 decimal uids as the server
// meets it on the wire: framed by the reader, dispatched, replied; four
// pipelined per iteration. "19digit" is scripts/bench-batch.sh's shape
// (uids whose little-endian bytes are ASCII letters), "10digit" a
// Weibo-like one; half the probes are members in both.
func BenchmarkRelMultiWire(b *testing.B) {
	for _, bc := range []struct {
		name string
		base uint64
	}{{"10digit", 1_000_000_000}, {"19digit", 0x4142434445464748}} {
		b.Run(bc.name, func(b *testing.B) {
			s, c, stream := relMultiWire(b, bc.base, 4)
			src := bytes.NewReader(stream)
			rd := resp.NewReader(src, func() resp.Limits {
				return resp.Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 20}
			}, nil)
			// As a connection's reader: the uids read while framed.
			rd.SetUintCommands(uidBatchCommand)
			c.rd = rd
			s.slowlog.threshold.Store(-1)
			b.SetBytes(int64(len(stream) / 4))
			b.ReportAllocs()
			now := time.Now()
			for b.Loop() {
				src.Reset(stream)
				c.out = c.out[:0]
				for range 4 {
					args, err := rd.Next()
					if err != nil {
						b.Fatal(err)
					}
					now = s.dispatch(c, args, now)
				}
			}
			if c.out[0] != '*' {
				b.Fatalf("replied %.40q", c.out)
			}
		})
	}
}

// relMultiWire loads a set of 3000 uids from base at u.following and
// returns the server, a client and pipe copies of RELMULTI u.following
// with 500 uids in RESP, every other one a member.
func relMultiWire(tb testing.TB, base uint64, pipe int) (*Server, *client, []byte) {
	s := newTestServer(tb)
	c := newTestClient(s)
	load := [][]byte{[]byte("RELLOAD"), []byte("u.following")}
	for i := range 3000 {
		load = append(load, strconv.AppendUint(nil, base+uint64(i)*7919, 10))
	}
	s.dispatch(c, load, time.Now())
	if string(c.out) != ":3000\r\n" {
		tb.Fatalf("RELLOAD replied %q", c.out)
	}
	cmd := []byte("*502\r\n$8\r\nRELMULTI\r\n$11\r\nu.following\r\n")
	for i := range 500 {
		u := base + uint64(i/2)*7919
		if i%2 == 1 {
			u = base + 3000*7919 + uint64(i)
		}
		d := strconv.FormatUint(u, 10)
		cmd = fmt.Appendf(cmd, "$%d\r\n%s\r\n", len(d), d)
	}
	return s, c, bytes.Repeat(cmd, pipe)
}
