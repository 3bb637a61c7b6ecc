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
