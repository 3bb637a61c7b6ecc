package server_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/loader"
)

// keysOnDifferentShards returns n keys with prefix that fall on n different
// shards of a 256-shard keyspace, so a test of atomicity spans shards.
func keysOnDifferentShards(prefix string, n int) []string {
	seen := map[uint64]bool{}
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if sh := xxhash.Sum64String(k) & 255; !seen[sh] {
			seen[sh] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// No client observes half a transaction: writers set four keys on four
// shards to the same number in one EXEC, while readers read them all with
// MGET and with a read-only transaction; every read must see one number.
func TestExecIsAtomic(t *testing.T) {
	p := relcachetest.Start(t, "--shards", "256")
	ctx := context.Background()
	keys := keysOnDifferentShards("atom", 4)
	rels := []string{"1.following", "2.following"}
	// A first state, so a reader that runs before any writer finds the
	// relation sets (RELCARD of a missing one is nil in a pure cache).
	setup := client(t, p.Addr)
	for _, r := range rels {
		if err := setup.Do(ctx, "RELLOAD", r, "10").Err(); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes, reads atomic.Int64
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(t, p.Addr)
			for n := w; !stop.Load(); n += 2 {
				_, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					for _, k := range keys {
						pipe.Set(ctx, k, n, 0)
					}
					// Relation sets of n members each, built in the same step.
					members := []any{}
					for m := range n%50 + 1 {
						members = append(members, m+10)
					}
					for _, r := range rels {
						pipe.Do(ctx, append([]any{"RELLOAD", r}, members...)...)
					}
					return nil
				})
				if err != nil {
					fail(fmt.Errorf("writer: %w", err))
					return
				}
				writes.Add(1)
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(t, p.Addr)
			for !stop.Load() {
				vals, err := c.MGet(ctx, keys...).Result()
				if err != nil {
					fail(fmt.Errorf("MGET: %w", err))
					return
				}
				for _, v := range vals[1:] {
					if v != vals[0] {
						fail(fmt.Errorf("MGET saw half a transaction: %v", vals))
						return
					}
				}
				var cards []*redis.Cmd
				_, err = c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
					for _, r := range rels {
						cards = append(cards, pipe.Do(ctx, "RELCARD", r))
					}
					return nil
				})
				// Nil: a read before the first write, when neither set
				// exists yet (both nil is a whole state too).
				if err != nil && !errors.Is(err, redis.Nil) {
					fail(fmt.Errorf("read transaction: %w", err))
					return
				}
				if a, b := cards[0].Val(), cards[1].Val(); fmt.Sprint(a) != fmt.Sprint(b) {
					fail(fmt.Errorf("a transaction saw half of another: RELCARD %v and %v", a, b))
					return
				}
				reads.Add(1)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d transactions, %d checked reads", writes.Load(), reads.Load())
	if writes.Load() == 0 || reads.Load() == 0 {
		t.Fatal("nothing ran")
	}
}

// go-redis's optimistic locking (WATCH, read, MULTI/EXEC, retry on
// TxFailedErr) from many clients at once: no increment is lost.
func TestWatchOptimisticIncrements(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	const workers, each = 8, 40
	var wg sync.WaitGroup
	var retries atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(t, p.Addr)
			for range each {
				for {
					err := c.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, "counter").Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
							pipe.Set(ctx, "counter", n+1, 0)
							return nil
						})
						return err
					}, "counter")
					if errors.Is(err, redis.TxFailedErr) {
						retries.Add(1)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	c := client(t, p.Addr)
	if n, err := c.Get(ctx, "counter").Int(); err != nil || n != workers*each {
		t.Fatalf("counter %d (%v), want %d", n, err, workers*each)
	}
	t.Logf("%d increments, %d retried after a conflict", workers*each, retries.Load())
}

// WATCH sees another client's write, an eviction, and an expiry; CLIENT
// LIST shows a client in MULTI (flags x, multi=N) and one whose watched key
// changed (flags d).
func TestWatchAcrossClients(t *testing.T) {
	p := relcachetest.Start(t, "--maxmemory-policy", "allkeys-random")
	ctx := context.Background()
	a := client(t, p.Addr, func(o *redis.Options) { o.PoolSize = 1 })
	b := client(t, p.Addr)
	exec := func(watched ...string) error {
		return a.Watch(ctx, func(tx *redis.Tx) error {
			if err := b.Set(ctx, "other", "x", 0).Err(); err != nil { // an unrelated write changes nothing
				return err
			}
			_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Set(ctx, "result", "done", 0)
				return nil
			})
			return err
		}, watched...)
	}
	if err := exec("w1"); err != nil {
		t.Fatalf("EXEC with nothing changed: %v", err)
	}
	// Another client writes the watched key.
	err := a.Watch(ctx, func(tx *redis.Tx) error {
		b.Set(ctx, "w1", "changed", 0)
		list, _ := b.ClientList(ctx).Result()
		if !strings.Contains(list, "flags=d ") {
			t.Errorf("CLIENT LIST does not show the dirty client:\n%s", list)
		}
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, "result", "lost", 0)
			return nil
		})
		return err
	}, "w1")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after another client wrote the watched key: %v, want TxFailedErr", err)
	}
	if v := b.Get(ctx, "result").Val(); v != "done" {
		t.Fatalf("a failed EXEC wrote: result = %q", v)
	}
	// Eviction: fill past maxmemory until the watched key is gone.
	b.Set(ctx, "victim", "v", 0)
	err = a.Watch(ctx, func(tx *redis.Tx) error {
		b.ConfigSet(ctx, "maxmemory", "2mb")
		for i := 0; b.Exists(ctx, "victim").Val() == 1 && i < 100000; i++ {
			b.Set(ctx, "fill"+strconv.Itoa(i), strings.Repeat("x", 1000), 0)
		}
		b.ConfigSet(ctx, "maxmemory", "0")
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, "result", "lost", 0)
			return nil
		})
		return err
	}, "victim")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("EXEC after the watched key was evicted: %v, want TxFailedErr", err)
	}
	if v := b.Get(ctx, "result").Val(); v == "lost" { // (the eviction may have taken "done")
		t.Fatalf("a failed EXEC wrote: result = %q", v)
	}
	// A client in MULTI, as CLIENT LIST shows it.
	raw := rawConnFor(t, p.Addr)
	raw.do(t, "CLIENT", "SETNAME", "txer")
	raw.do(t, "MULTI")
	raw.do(t, "SET", "q", "1")
	raw.do(t, "SET", "q", "2")
	list, _ := b.ClientList(ctx).Result()
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name=txer") && (!strings.Contains(line, "flags=x ") || !strings.Contains(line, "multi=2 ")) {
			t.Fatalf("CLIENT LIST of a client with two queued commands: %s", line)
		}
	}
}

// txConn is one connection kept for a test that must stay in MULTI.
type txConn struct {
	c *redis.Conn
}

func rawConnFor(t *testing.T, addr string) *txConn {
	t.Helper()
	c := client(t, addr, func(o *redis.Options) { o.PoolSize = 1 })
	conn := c.Conn()
	t.Cleanup(func() { conn.Close() })
	return &txConn{c: conn}
}

// try sends one command and returns its reply and error.
func (r *txConn) try(args ...any) (any, error) {
	cmd := redis.NewCmd(context.Background(), args...)
	_ = r.c.Process(context.Background(), cmd)
	return cmd.Result()
}

func (r *txConn) do(t *testing.T, args ...any) any {
	t.Helper()
	v, err := r.try(args...)
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// Relation reads in a transaction are filled from the source before EXEC
// takes its locks, and answer as they would outside one; FOLLOW, which
// writes the source of record, is refused inside MULTI.
func TestTransactionFillsFromTheSource(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "graph.db")
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: path, Layout: loader.Layout{Tables: 4}, QueryTimeout: time.Minute}, true)
	if err != nil {
		t.Fatal(err)
	}
	edges := []loader.Edge{{From: 1, To: 2, Time: 100}, {From: 2, To: 1, Time: 200}, {From: 1, To: 3, Time: 300}, {From: 4, To: 1, Time: 400}}
	if err := src.AddEdges(ctx, edges); err != nil {
		t.Fatal(err)
	}
	src.Close()
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4")
	c := client(t, p.Addr)
	var check, exists, card *redis.Cmd
	_, err = c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		check = pipe.Do(ctx, "RELCHECK", "1", "BATCH", "2", "3", "4", "5")
		exists = pipe.Do(ctx, "HEXISTS", "1.following", "3")
		card = pipe.Do(ctx, "RELCARD", "1.follower")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(check.Val()); got != "[3 1 2 0]" {
		t.Errorf("RELCHECK in a transaction on a cold cache: %s, want [3 1 2 0]", got)
	}
	if exists.Val() != int64(1) || card.Val() != int64(2) {
		t.Errorf("HEXISTS %v, RELCARD %v in a transaction, want 1 and 2", exists.Val(), card.Val())
	}
	conn := rawConnFor(t, p.Addr)
	conn.do(t, "MULTI")
	if _, err := conn.try("FOLLOW", "7", "8"); err == nil || !strings.Contains(err.Error(), "not allowed inside a transaction") {
		t.Fatalf("FOLLOW inside MULTI: %v", err)
	}
	if _, err := conn.try("EXEC"); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("EXEC after a refused FOLLOW: %v", err)
	}
}
