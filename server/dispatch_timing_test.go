package server

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDispatch measures a command's cost inside the server, without the
// network: lookup, checks, handler, reply encoding and accounting.
func BenchmarkDispatch(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	defer c.conn.Close()
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%06d", i)
		s.dispatch(c, [][]byte{[]byte("SET"), keys[i], []byte("some value of 32 bytes, roughly.")}, time.Now())
	}
	for _, bc := range []struct {
		name string
		args func(i int) [][]byte
	}{
		{"GET", func(i int) [][]byte { return [][]byte{[]byte("GET"), keys[i&1023]} }},
		{"SET", func(i int) [][]byte {
			return [][]byte{[]byte("SET"), keys[i&1023], []byte("some value of 32 bytes, roughly.")}
		}},
		{"INCR", func(i int) [][]byte { return [][]byte{[]byte("INCR"), []byte("counter")} }},
		{"PING", func(int) [][]byte { return [][]byte{[]byte("PING")} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			argv := make([][][]byte, 1024)
			for i := range argv {
				argv[i] = bc.args(i)
			}
			b.ReportAllocs()
			i := 0
			now := time.Now()
			for b.Loop() {
				c.out = c.out[:0]
				now = s.dispatch(c, argv[i&1023], now)
				i++
			}
		})
	}
}

// BenchmarkDispatchTracked is BenchmarkDispatch's GET and SET for a client
// with tracking on (default mode, 10,000 keys registered, as many as it
// reads), beside the same client with tracking off: what registering a
// read's key costs, and what a write to a key nobody tracks costs once
// the store's change hook is active.
func BenchmarkDispatchTracked(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	defer c.conn.Close()
	const n = 10000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%06d", i)
		s.dispatch(c, [][]byte{[]byte("SET"), keys[i], []byte("some value of 32 bytes, roughly.")}, time.Now())
	}
	other := fmt.Appendf(nil, "other")
	for _, tracking := range []string{"off", "on"} {
		if tracking == "on" {
			s.dispatch(c, [][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("on")}, time.Now())
			for _, k := range keys {
				s.dispatch(c, [][]byte{[]byte("GET"), k}, time.Now())
				c.afterTracked([][]byte{[]byte("GET"), k})
			}
			if got := s.track.keys.Load(); got != n {
				b.Fatalf("%d keys tracked, want %d", got, n)
			}
		}
		gets := make([][][]byte, n)
		for i, k := range keys {
			gets[i] = [][]byte{[]byte("GET"), k}
		}
		b.Run("GET/tracking="+tracking, func(b *testing.B) {
			b.ReportAllocs()
			i, now := 0, time.Now()
			for b.Loop() {
				c.out = c.out[:0]
				args := gets[i%n]
				now = s.dispatch(c, args, now)
				if c.track.on {
					c.afterTracked(args)
				}
				i++
			}
		})
		b.Run("SET-untracked-key/tracking="+tracking, func(b *testing.B) {
			b.ReportAllocs()
			now := time.Now()
			args := [][]byte{[]byte("SET"), other, []byte("v")}
			for b.Loop() {
				c.out = c.out[:0]
				now = s.dispatch(c, args, now)
			}
		})
	}
}
