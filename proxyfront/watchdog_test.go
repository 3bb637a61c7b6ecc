package proxyfront

import (
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestTimeoutBlamesOnlyAWaitingReader: the watchdog fails a connection's
// calls for a silent node only when the reader has waited in one Read
// longer than the timeout. A reader held up outside Read (the collector's
// assists while it allocates a big reply, a starved CPU) did read what the
// node sent; failing every call on the connection then would hand every
// client behind it an error for a node that answers. On the old code, a
// reply read more than a timeout ago with the reader busy since failed
// the connection.
func TestTimeoutBlamesOnlyAWaitingReader(t *testing.T) {
	// An hour, so that the backend's own watchdog, on the real clock,
	// never acts: the test calls checkTimeout with its own times.
	const timeout = time.Hour
	st := backendSettings{connections: 1, timeout: timeout, dialTimeout: time.Second,
		failureLimit: 100, retryTimeout: time.Second, maxReply: maxReplySize}
	be := newBackend("p", "n", "127.0.0.1:1", st, newMetrics(), zap.NewNop())
	defer be.close()
	bc := be.conns[0]
	node := &loopNode{ch: make(chan []byte)}
	t0 := time.Now()
	k := newCall()
	bc.mu.Lock()
	bc.nc, bc.dialed = node, true
	bc.gen++
	bc.kick = make(chan struct{}, 1)
	k.sent = t0
	bc.inflight = append(bc.inflight, k)
	bc.unsent = 1 // written, waiting for its reply
	bc.mu.Unlock()
	failed := func() bool {
		bc.mu.Lock()
		defer bc.mu.Unlock()
		return bc.nc == nil
	}

	// The reader read at t0 and has been busy with it since: two hours
	// later the node is still not the one to blame.
	bc.progress.at.Store(t0.UnixNano())
	bc.progress.seq.Store(2) // outside Read
	bc.checkTimeout(t0.Add(2 * timeout))
	if failed() {
		t.Fatal("the connection failed while its reader was busy outside Read")
	}

	// Now it waits in a Read: the first look starts the clock, and only a
	// timeout later is the node silent.
	bc.progress.seq.Store(3)
	t1 := t0.Add(3 * timeout)
	bc.checkTimeout(t1)
	bc.checkTimeout(t1.Add(timeout / 2))
	if failed() {
		t.Fatal("the connection failed half a timeout into the reader's wait")
	}
	// A new Read (bytes came in between) starts the clock again.
	bc.progress.seq.Store(5)
	bc.checkTimeout(t1.Add(timeout * 9 / 10))
	bc.checkTimeout(t1.Add(timeout * 3 / 2))
	if failed() {
		t.Fatal("the connection failed though the reader's current Read began less than a timeout ago")
	}
	bc.checkTimeout(t1.Add(2 * timeout))
	if !failed() {
		t.Fatal("a reader waiting in one Read longer than the timeout, a call out: the connection did not fail")
	}
	k.wait()
	if k.err == nil {
		t.Fatal("the call out got no error")
	}
}
