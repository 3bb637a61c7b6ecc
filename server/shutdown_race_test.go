package server

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestShutdownWhileAccepting shuts the server down while clients keep
// connecting. The accept loop adds to the client WaitGroup; shutdown waits on
// it. Under -race the old order (Wait started before the accept loop was
// known to be gone) was reported as a data race by CI.
func TestShutdownWhileAccepting(t *testing.T) {
	for round := 0; round < 20; round++ {
		cfg := Defaults()
		cfg.Dir = t.TempDir()
		cfg.Save = nil
		cfg.ShutdownTimeout = time.Second
		s, err := New(cfg, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln) }()

		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
						c.Close()
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("round %d: Serve: %v", round, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Serve did not return after cancel", round)
		}
		close(stop)
		wg.Wait()
	}
}
