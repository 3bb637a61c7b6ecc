package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkServeGET is a GET at pipeline 1 through the goroutine model's
// loop (serveCommands: the reader, beforeRead, dispatch, flush) over an
// in-memory pipe: the path every connection takes under io-model
// goroutine, TLS ones always, and a handed-over one until it goes back
// to its loop. Most of its time is the pipe's goroutine hand-offs; what
// it is for is comparing builds of this path (benchstat), e.g. with and
// without the hand-back check in beforeRead.
func BenchmarkServeGET(b *testing.B) {
	s := newTestServer(b)
	srv, cli := net.Pipe()
	c := s.newClient(srv)
	c.authed = true
	s.dispatch(c, [][]byte{[]byte("SET"), []byte("k"), []byte("v")}, time.Now())
	c.out = c.out[:0]
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.serveCommands(nil, time.Time{})
	}()
	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	const want = "$1\r\nv\r\n"
	reply := make([]byte, len(want))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cli.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, reply); err != nil || string(reply) != want {
			b.Fatalf("reply %q, %v", reply, err)
		}
	}
	cli.Close()
	<-done
}
