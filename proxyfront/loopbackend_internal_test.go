//go:build linux

package proxyfront

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"
)

// A loop that stops (shutdown) with a reply half read on a backend
// connection it reads hands the connection to a reader goroutine, which
// reads the rest and delivers the whole reply: the one owner of the reads
// changes, the bytes already read stay.
func TestLoopBackendHandBackOnStop(t *testing.T) {
	_, l, be := testLoop(t, true)
	bc := be.conns[0]
	nfd := loopOwnedNode(t, l, bc)
	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	k := newCall()
	k.req = append(k.req[:0], req...)
	if !be.enqueue(k, bc) {
		t.Fatalf("enqueue failed: %v", k.err)
	}
	bc.flushBackend()
	got := make([]byte, len(req))
	if _, err := io.ReadFull(fdReader(nfd), got); err != nil || string(got) != string(req) {
		t.Fatalf("the node read %q, %v; want %q", got, err, req)
	}
	if _, err := unix.Write(nfd, []byte("$5\r\nhel")); err != nil {
		t.Fatal(err)
	}
	for _, lb := range l.backs {
		l.backendReady(lb) // reads the half reply
	}
	select {
	case <-k.done:
		t.Fatalf("the call finished on half a reply: %q, %v", k.reply, k.err)
	default:
	}
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	if l.wakeups() {
		t.Fatal("the loop did not stop")
	}
	if len(l.backs) != 0 {
		t.Fatalf("the stopped loop still reads %d connections", len(l.backs))
	}
	bc.mu.Lock()
	owned := bc.lb != nil
	bc.mu.Unlock()
	if owned {
		t.Fatal("the connection is still the loop's")
	}
	if _, err := unix.Write(nfd, []byte("lo\r\n")); err != nil {
		t.Fatal(err)
	}
	k.wait()
	if k.err != nil || string(k.reply) != "$5\r\nhello\r\n" {
		t.Fatalf("the reply after the hand-back: %q, %v; want %q", k.reply, k.err, "$5\r\nhello\r\n")
	}
}
