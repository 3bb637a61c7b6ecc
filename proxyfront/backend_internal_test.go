package proxyfront

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestBconnSharedByManyClients has many clients pipeline through one
// connection to a real node at once, each flushing its own pipeline, while
// the connection is closed under them now and then: whoever writes (a
// flushing client, or the writer goroutine that takes over what was queued
// during a client's write), every call gets its own reply or a backend
// error, never another's, and a connection opened after a close works.
func TestBconnSharedByManyClients(t *testing.T) {
	node := relcachetest.Start(t)
	st := backendSettings{connections: 1, timeout: 5 * time.Second, dialTimeout: 5 * time.Second,
		failureLimit: 2, retryTimeout: time.Second, maxReply: maxReplySize}
	be := newBackend("p", "n", node.Addr, st, newMetrics(), zap.NewNop())
	defer be.close()
	bc := be.conns[0]

	const clients, rounds = 16, 150
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex // guards replied, failed
		replied, failed int
	)
	stop := make(chan struct{})
	closerDone := make(chan struct{})
	go func() { // closes the connection under the clients now and then
		defer close(closerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				bc.shutdown(errors.New("closed by the test"))
			}
		}
	}()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := make([]*call, 0, 8)
			for r := range rounds {
				calls = calls[:0]
				for j := range 1 + (i+r)%8 {
					k := newCall()
					k.req = resp.AppendCommand(k.req[:0], []byte("ECHO"), fmt.Appendf(nil, "c%d-r%d-j%d", i, r, j))
					be.enqueue(k, bc)
					calls = append(calls, k)
				}
				bc.flush()
				for j, k := range calls {
					k.wait()
					want := fmt.Sprintf("c%d-r%d-j%d", i, r, j)
					mu.Lock()
					switch {
					case k.err != nil:
						var bErr *backendError
						if !errors.As(k.err, &bErr) {
							t.Errorf("client %d round %d call %d failed with %v, want a backend error", i, r, j, k.err)
						}
						failed++
					case string(k.reply) != fmt.Sprintf("$%d\r\n%s\r\n", len(want), want):
						t.Errorf("client %d round %d call %d: reply %q, want %q", i, r, j, k.reply, want)
					default:
						replied++
					}
					mu.Unlock()
					k.release()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-closerDone

	// After the last close, a new connection still answers.
	k := newCall()
	k.req = resp.AppendCommand(k.req[:0], []byte("ECHO"), []byte("last"))
	be.enqueue(k, bc)
	bc.flush()
	k.wait()
	if k.err != nil || string(k.reply) != "$4\r\nlast\r\n" {
		t.Fatalf("after the closes: reply %q, err %v", k.reply, k.err)
	}
	t.Logf("%d calls answered, %d failed by the closes", replied, failed)
	if replied == 0 {
		t.Fatal("no call was answered")
	}
}
