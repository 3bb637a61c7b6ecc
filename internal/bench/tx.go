package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"
)

// TxConfig configures RunTx.
type TxConfig struct {
	Addr     string        // the server
	Conns    int           // connections, each one transaction at a time
	Sets     int           // SETs per transaction
	Keys     int           // keyspace the SETs pick from
	Duration time.Duration // how long to run
}

// RunTx measures transactions: each of Conns connections sends MULTI, Sets
// SETs of 64-byte values to random keys and EXEC in one write and waits for
// the Sets+2 replies (and EXEC's array) before the next, for Duration. It
// returns the transactions completed. redis-benchmark cannot send a
// transaction as one unit, hence this.
func RunTx(ctx context.Context, cfg TxConfig) (int64, error) {
	if cfg.Conns < 1 || cfg.Sets < 1 || cfg.Keys < 1 || cfg.Duration <= 0 {
		return 0, fmt.Errorf("bench tx: conns, sets, keys and duration must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.Conns)
	for w := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialWire(ctx, cfg.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.close()
			var r request
			value := make([]byte, 64)
			for i := range value {
				value[i] = 'x'
			}
			seq := uint64(w)*0x9E3779B97F4A7C15 + 1
			for ctx.Err() == nil {
				r.reset()
				r.command(1, "MULTI")
				for range cfg.Sets {
					seq ^= seq << 13
					seq ^= seq >> 7
					seq ^= seq << 17
					r.command(3, "SET")
					r.out = redcon.AppendBulkString(r.out, "key:"+strconv.FormatUint(seq%uint64(cfg.Keys), 10))
					r.out = redcon.AppendBulk(r.out, value)
				}
				r.command(1, "EXEC")
				if _, err := c.do(&r, 10*time.Second); err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("bench tx: %w", err)
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return done.Load(), <-errs
}
