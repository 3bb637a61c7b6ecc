package bench

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/relcache/relcache/openhash"
)

// capLoad is one load of the graph into the server.
type capLoad struct {
	cfg   CapacityConfig
	g     *capGraph
	c     *redis.Client   // where the load goes: the server, or the proxy
	nodes []*redis.Client // the servers, whose memory is summed
	rep   *CapacityReport
	redis bool
	ix    *graphIndex

	buckets [64]SizeBucket
	probes  [64][]redisProbe // Redis: keys measured per bucket
}

type redisProbe struct {
	key string
	n   int
}

// loadChunk is a pipeline of writes for consecutive users.
type loadChunk struct {
	users int
	rels  int64
	cmds  [][]any
}

const (
	chunkCmds  = 500
	chunkBytes = 1 << 20
)

func (l *capLoad) load(ctx context.Context) error {
	g := l.g
	l.ix = &graphIndex{sample: make([]uint64, g.users*sampleSlots), nsample: make([]uint8, g.users)}
	used0, rss0, err := l.memory(ctx)
	if err != nil {
		return fmt.Errorf("capacity: memory before the load: %w", err)
	}
	l.rep.UsedBefore, l.rep.RSSBefore = used0, rss0
	l.rep.LoadSamples = []LoadSample{{RSS: rss0, UsedMemory: used0}}
	start := time.Now()

	chunks := make(chan loadChunk, 4)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(chunks)
		return l.generate(ectx, chunks)
	})
	eg.Go(func() error { return l.send(ectx, chunks, start) })
	if err := eg.Wait(); err != nil {
		return err
	}
	l.rep.LoadSeconds = time.Since(start).Seconds()
	if err := l.count(ctx); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // let the server settle, as `bench relations` does
	used, rss, err := l.memory(ctx)
	if err != nil {
		return fmt.Errorf("capacity: memory after the load: %w", err)
	}
	r := l.rep
	r.UsedMemory, r.RSS = used, rss
	if r.Relations > 0 {
		r.RSSPerRelation = float64(rss) / float64(r.Relations)
		r.UsedPerRelation = float64(used) / float64(r.Relations)
	}
	if r.RelationsGenerated > 0 {
		r.ArrayPerRelation = float64(r.ArrayBytes) / float64(r.RelationsGenerated)
	}
	return l.sizeBuckets(ctx)
}

// memory sums used_memory and RSS over the nodes.
func (l *capLoad) memory(ctx context.Context) (used, rss int64, err error) {
	for _, n := range l.nodes {
		u, r, err := memory(ctx, n)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", n.Options().Addr, err)
		}
		used += u
		rss += r
	}
	return used, rss, nil
}

// generate walks the graph, keeps the workload's index of it and sends
// chunks of writes.
func (l *capLoad) generate(ctx context.Context, chunks chan<- loadChunk) error {
	g, ix := l.g, l.ix
	stride := max(1, g.users/reloadPool)
	var ch loadChunk
	var chBytes int
	flush := func() error {
		select {
		case chunks <- ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		ch, chBytes = loadChunk{}, 0
		return nil
	}
	err := g.each(func(u int, fs []uint64, ts []uint32) error {
		n := len(fs)
		ns := min(n, sampleSlots)
		for i := range ns {
			ix.sample[u*sampleSlots+i] = fs[i*n/ns]
		}
		ix.nsample[u] = uint8(ns)
		if u%stride == 0 && n > 0 {
			ix.pool = append(ix.pool, poolList{u, slices.Clone(fs), slices.Clone(ts)})
		}
		b := &l.buckets[bits.Len(uint(n))]
		b.Users++
		b.Relations += int64(n)
		k := key(g.uid(u))
		if l.redis {
			if n == 0 {
				// Redis has no empty hash: the user reads as absent
				// there, which is what an empty list answers anyway.
				ch.users++
				return nil
			}
			if bi := bits.Len(uint(n)); len(l.probes[bi]) < redisBucketN {
				l.probes[bi] = append(l.probes[bi], redisProbe{k, n})
			}
			for lo := 0; lo < n; lo += hsetPairs {
				hi := min(lo+hsetPairs, n)
				a := make([]any, 0, 2+2*(hi-lo))
				a = append(a, "HSET", k)
				for i := lo; i < hi; i++ {
					a = append(a, fs[i], ts[i])
				}
				ch.cmds = append(ch.cmds, a)
				chBytes += 20 * (hi - lo)
			}
		} else {
			array, err := openhash.Build(nil, fs, ts, openhash.Options{Seed: uint64(u), Version: l.cfg.setVersion(), Fit: l.cfg.Fit})
			if err != nil {
				return fmt.Errorf("capacity: build the list of uid %d: %w", g.uid(u), err)
			}
			b.Bytes += int64(len(array))
			b.Sampled++
			b.SampledRelations += int64(n)
			l.rep.ArrayBytes += int64(len(array))
			ch.cmds = append(ch.cmds, []any{"SET", k, array})
			chBytes += len(array)
		}
		ch.users++
		ch.rels += int64(n)
		l.rep.RelationsGenerated += int64(n)
		// A chunk ends at every 5% of the users too, where send samples
		// the server's memory.
		if len(ch.cmds) >= chunkCmds || chBytes >= chunkBytes || (u+1)*20/g.users != u*20/g.users {
			return flush()
		}
		return nil
	})
	if err == nil && ch.users > 0 {
		err = flush()
	}
	return err
}

// send writes the chunks in order on one connection, sampling the server's
// memory every 5% of the users.
func (l *capLoad) send(ctx context.Context, chunks <-chan loadChunk, start time.Time) error {
	total := l.g.users
	done, mark := 0, 1
	var rels int64
	for ch := range chunks {
		if len(ch.cmds) > 0 && !l.cfg.Reuse {
			p := l.c.Pipeline()
			for _, a := range ch.cmds {
				p.Do(ctx, a...)
			}
			if _, err := p.Exec(ctx); err != nil {
				return fmt.Errorf("capacity: load users %d..%d: %w", done, done+ch.users-1, err)
			}
		}
		done += ch.users
		rels += ch.rels
		if l.cfg.Progress != nil {
			l.cfg.Progress("load", done, total)
		}
		if done*20 >= mark*total {
			used, rss, err := l.memory(ctx)
			if err != nil {
				return fmt.Errorf("capacity: memory during the load: %w", err)
			}
			l.rep.LoadSamples = append(l.rep.LoadSamples, LoadSample{Users: done, Relations: rels,
				RSS: rss, UsedMemory: used, Seconds: time.Since(start).Seconds()})
			for done*20 >= mark*total {
				mark++
			}
		}
	}
	return ctx.Err()
}

// count asks the server how many relations it holds, list by list: the
// relations loaded, whatever the client believes it sent.
func (l *capLoad) count(ctx context.Context) error {
	cmd := "RELCARD"
	if l.redis {
		cmd = "HLEN"
	}
	const chunk = 1000
	for lo := 0; lo < l.g.users; lo += chunk {
		p := l.c.Pipeline()
		cmds := make([]*redis.Cmd, 0, chunk)
		for u := lo; u < min(lo+chunk, l.g.users); u++ {
			cmds = append(cmds, p.Do(ctx, cmd, key(l.g.uid(u))))
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("capacity: count relations with %s: %w", cmd, err)
		}
		for i, c := range cmds {
			n, err := c.Int64()
			switch {
			case errors.Is(err, redis.Nil), l.redis && err == nil && n == 0:
				l.rep.MissingLists++
			case err != nil:
				return fmt.Errorf("capacity: %s %s: %w", cmd, key(l.g.uid(lo+i)), err)
			default:
				l.rep.Relations += n
			}
		}
	}
	if l.redis {
		// Redis has no empty hash, so HLEN cannot tell an empty list
		// from a missing one; the users who follow no one were empty.
		l.rep.MissingLists -= l.buckets[0].Users
	}
	return nil
}

// sizeBuckets fills the report's bytes per relation by list size; for Redis
// it measures the sampled keys with MEMORY USAGE.
func (l *capLoad) sizeBuckets(ctx context.Context) error {
	for i := range l.buckets {
		b := &l.buckets[i]
		if b.Users == 0 {
			continue
		}
		if i == 0 {
			b.MinFollows, b.MaxFollows = 0, 0
		} else {
			b.MinFollows, b.MaxFollows = 1<<(i-1), 1<<i-1
		}
		if l.redis {
			for _, pr := range l.probes[i] {
				n, err := l.c.MemoryUsage(ctx, pr.key, 0).Result()
				if err != nil {
					return fmt.Errorf("capacity: MEMORY USAGE %s: %w", pr.key, err)
				}
				b.Sampled++
				b.SampledRelations += int64(pr.n)
				b.Bytes += n
			}
		}
		if b.SampledRelations > 0 {
			b.BytesPerRelation = float64(b.Bytes) / float64(b.SampledRelations)
		}
		l.rep.SizeBuckets = append(l.rep.SizeBuckets, *b)
	}
	return nil
}
