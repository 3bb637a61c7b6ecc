package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// PreludeConfig configures RunPrelude.
type PreludeConfig struct {
	Addr     string // the server
	Conns    int    // connections
	Requests int64  // GETs in all, shared by the connections
	Pipeline int    // GETs per write
	Keys     int    // the GETs' keyspace: key:__rand_int__ as redis-benchmark -r names it
	// Prelude are the commands each connection sends first, one at a time,
	// as a client library does when it connects (CLIENT SETINFO, HELLO,
	// ...); each is its words, split on spaces. Their error replies are
	// ignored.
	Prelude []string
}

// RunPrelude measures GETs on connections that each began with the
// Prelude commands: what a pooled connection of a real client costs the
// server for the rest of its life (issue 19 item 1, the event loop's
// hand-back). redis-benchmark cannot send anything before its load.
// It returns the GETs answered and how long they took.
func RunPrelude(ctx context.Context, cfg PreludeConfig) (int64, time.Duration, error) {
	if cfg.Conns < 1 || cfg.Requests < 1 || cfg.Pipeline < 1 || cfg.Keys < 1 {
		return 0, 0, fmt.Errorf("bench prelude: conns, requests, pipeline and keys must be positive")
	}
	conns := make([]*wireConn, cfg.Conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}()
	var r request
	for i := range conns {
		c, err := dialWire(ctx, cfg.Addr)
		if err != nil {
			return 0, 0, err
		}
		conns[i] = c
		for _, cmd := range cfg.Prelude {
			words := strings.Fields(cmd)
			if len(words) == 0 {
				continue
			}
			r.reset()
			r.command(len(words), words[0])
			for _, w := range words[1:] {
				r.out = redcon.AppendBulkString(r.out, w)
			}
			// An error reply is taken as clients take it (go-redis ignores
			// CLIENT SETINFO's on a Redis older than 7.2).
			if _, err := c.do(&r, 10*time.Second); broken(err) {
				return 0, 0, fmt.Errorf("bench prelude: %s: %w", cmd, err)
			}
		}
	}
	var left, done atomic.Int64
	left.Store(cfg.Requests)
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Conns)
	start := time.Now()
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r request
			seq := uint64(w)*0x9E3779B97F4A7C15 + 1
			for ctx.Err() == nil {
				n := min(int64(cfg.Pipeline), left.Add(-int64(cfg.Pipeline))+int64(cfg.Pipeline))
				if n <= 0 {
					return
				}
				r.reset()
				for range n {
					seq ^= seq << 13
					seq ^= seq >> 7
					seq ^= seq << 17
					r.command(2, "GET")
					r.out = appendRandKey(r.out, seq%uint64(cfg.Keys))
				}
				if _, err := c.do(&r, 10*time.Second); err != nil {
					errs <- fmt.Errorf("bench prelude: GET: %w", err)
					return
				}
				done.Add(n)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return done.Load(), elapsed, <-errs
}

// appendRandKey appends the key redis-benchmark -r names for n:
// "key:" and n in 12 digits.
func appendRandKey(dst []byte, n uint64) []byte {
	var num [12]byte
	for i := len(num) - 1; i >= 0; i-- {
		num[i] = '0' + byte(n%10)
		n /= 10
	}
	dst = append(dst, "$16\r\nkey:"...)
	dst = append(dst, num[:]...)
	return append(dst, '\r', '\n')
}
