package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/relcache/relcache/internal/breaker"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Lazy fill: a read command that finds a relation key missing is answered
// from the source of record instead of as "not cached".
//
// The read path never blocks on the source itself. A handler that misses a
// key notes it (client.noteMiss) and answers as if the key were absent;
// dispatch then throws that reply away, fills every noted key (in parallel,
// one query per key however many clients miss it at once), and runs the
// handler a second time, when the keys are there. So handlers stay
// straight-line code, a hit costs nothing extra, and RELCHECK a b1..b500 with
// 500 cold users waits for one parallel round, not 500 sequential ones.
//
// A fill must never cache a list older than a FOLLOW that already reached
// the database. Writers bump a per-key generation (striped) after the
// database write and before patching the cache; a fill stores its list only
// if the generation is unchanged, checked under the store's key lock. Either
// the fill stored first, and the writer's patch then applies to the cached
// list, or the writer bumped first, and the fill discards its (possibly
// stale) list and queries again.

// LoadError is a fill that failed: the source timed out, failed, or its
// breaker is open. The client sees "-LOADFAIL <shard> <reason>".
type LoadError struct {
	Shard  string
	Reason string
	// timeout: the source missed the load deadline (counted as a timeout
	// whether the query's own deadline or the waiting client's came first).
	timeout bool
}

func (e *LoadError) Error() string { return "LOADFAIL " + e.Shard + " " + e.Reason }

const (
	genStripes  = 4096 // generation counters; a collision only costs a re-query
	edgeStripes = 1024 // locks serialising writes to one edge
	// fillParallel bounds the loads one command runs at once.
	fillParallel = 16
	// fillAttempts is how often a fill re-queries when writes keep
	// landing on its key; after that the command answers "not cached".
	fillAttempts = 3
)

// filler fills missing relation keys from the source and applies FOLLOW
// writes to it.
type filler struct {
	cfg   *Config
	log   *zap.Logger
	store *store.Store
	keys  *shard.KeyPattern
	src   loader.Source
	w     loader.Writer // nil when the source takes no writes

	group singleflight.Group
	gens  [genStripes]atomic.Uint64
	edges [edgeStripes]sync.Mutex
	// writing is held (read) by every source write from before it reaches
	// the source until the cache has it; a save takes it (write) to wait
	// those out after reading the journal's marks (journal.go).
	writing sync.RWMutex

	bmu      sync.Mutex
	breakers map[string]*breaker.Breaker

	stats fillStats
}

// fillStats are the counters INFO and /metrics report.
type fillStats struct {
	loads, loadErrors, timeouts, failFast, empty, discarded atomic.Int64
	latency                                                 prometheus.Histogram
	errorsByShard                                           sync.Map // shard -> *atomic.Int64
	// The journal's work (journal.go).
	intentsCompleted, intentsFailed, listsInvalidated atomic.Int64
}

func newFiller(cfg *Config, log *zap.Logger, st *store.Store, keys *shard.KeyPattern) *filler {
	if cfg.Source == nil {
		return nil
	}
	f := &filler{
		cfg: cfg, log: log, store: st, keys: keys, src: cfg.Source,
		breakers: map[string]*breaker.Breaker{},
	}
	f.w, _ = cfg.Source.(loader.Writer)
	f.stats.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "relcache_load_duration_seconds",
		Help:    "Time one list query to the source took, failures included.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs .. 3.3s
	})
	return f
}

func (f *filler) gen(key []byte) *atomic.Uint64 {
	return &f.gens[xxhash.Sum64(key)%genStripes]
}

func (f *filler) breaker(shardName string) *breaker.Breaker {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	b := f.breakers[shardName]
	if b == nil {
		b = breaker.New(breaker.Config{Failures: f.cfg.LoadBreakerFailures, Cooldown: f.cfg.LoadBreakerCooldown})
		f.breakers[shardName] = b
	}
	return b
}

// fillAll fills keys (the misses of one command), all by one deadline.
func (f *filler) fillAll(keys [][]byte) error {
	deadline := time.Now().Add(f.cfg.LoadTimeout)
	if len(keys) == 1 {
		return f.fillOne(keys[0], deadline)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, fillParallel)
	for _, key := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f.fillOne(key, deadline); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// fillOne waits for key's fill until deadline. Concurrent callers share one
// load (singleflight); a caller that gives up leaves the load running, to
// be cached for the next request.
func (f *filler) fillOne(key []byte, deadline time.Time) error {
	uid, kind, ok := f.keys.Parse(key)
	if !ok {
		return nil
	}
	if err := f.src.CheckUID(uid); err != nil {
		// Refused before the flight: a request the source cannot even
		// represent says nothing about the source's health, so it must
		// not count against the shard's breaker (one client repeating
		// it would keep every cold read failing).
		return refusal(err)
	}
	ch := f.group.DoChan(string(key), func() (any, error) {
		return nil, f.load(string(key), uid, kind)
	})
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-ch:
		if le, ok := r.Err.(*LoadError); ok && le.timeout {
			f.stats.timeouts.Add(1)
		}
		return r.Err
	case <-timer.C:
		f.stats.timeouts.Add(1)
		return &LoadError{Shard: f.src.Shard(uid), Reason: fmt.Sprintf("timeout: no answer from the source within %v", f.cfg.LoadTimeout)}
	}
}

// load is the one query behind a key's concurrent misses.
func (f *filler) load(key string, uid uint64, kind shard.Kind) error {
	kb := []byte(key)
	if _, ok := f.store.Peek(kb); ok {
		return nil // filled (or SET) while this caller waited for the flight
	}
	shardName := f.src.Shard(uid)
	b := f.breaker(shardName)
	if !b.Allow(time.Now()) {
		f.stats.failFast.Add(1)
		_, why := b.State()
		return &LoadError{Shard: shardName, Reason: "circuit open after repeated failures (last: " + oneLine(why) + ")"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.LoadTimeout)
	defer cancel()
	lk := loader.Following
	if kind == shard.Follower {
		lk = loader.Follower
	}
	gen := f.gen(kb)
	for range fillAttempts {
		g0 := gen.Load()
		start := time.Now()
		list, err := f.src.Load(ctx, uid, lk, f.cfg.SourceListLimit)
		f.stats.latency.Observe(time.Since(start).Seconds())
		f.stats.loads.Add(1)
		// A malformed row is the data's fault, not the shard's: it does
		// not count against the breaker.
		b.Done(time.Now(), errIfNot(errIfNot(err, loader.ErrBadRow), loader.ErrUIDRange))
		if err != nil {
			f.loadFailed(shardName, key, err)
			return &LoadError{Shard: shardName, Reason: oneLine(err.Error()), timeout: errors.Is(err, context.DeadlineExceeded)}
		}
		if len(list.Members) == 0 {
			f.stats.empty.Add(1)
		}
		value, err := buildList(list)
		if err != nil {
			f.loadFailed(shardName, key, err)
			return &LoadError{Shard: shardName, Reason: oneLine(err.Error())}
		}
		if err := f.store.EnsureMemory(); err != nil {
			return errFillOOM
		}
		ttl := f.cfg.LoadTTL
		if len(list.Members) == 0 {
			ttl = f.cfg.LoadNegativeTTL
		}
		var expireAt int64
		if ttl > 0 {
			expireAt = f.store.Now() + ttl.Milliseconds()
		}
		stored := false
		f.store.Update(kb, func(cur store.Entry, exists bool) (store.Entry, store.Action) {
			if exists || gen.Load() != g0 {
				stored = exists // someone SET it: theirs stands
				return cur, store.Keep
			}
			stored = true
			return store.Entry{Kind: store.KindRelSet, Value: value, ExpireAt: expireAt}, store.Put
		})
		if stored {
			return nil
		}
		f.stats.discarded.Add(1) // a FOLLOW raced the query: ask again
	}
	return nil
}

// refusal is the client's error for a request the source cannot serve.
func refusal(err error) error {
	return fmt.Errorf("ERR %s: the source of record cannot hold it", oneLine(err.Error()))
}

//lint:ignore ST1005 Redis's exact OOM reply, which clients match; the client sees it verbatim
var errFillOOM = errors.New("OOM command not allowed when used memory > 'maxmemory'.")

func (f *filler) loadFailed(shardName, key string, err error) {
	f.stats.loadErrors.Add(1)
	n, _ := f.stats.errorsByShard.LoadOrStore(shardName, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	f.log.Warn("load failed", zap.String("shard", shardName), zap.String("key", key), zap.Error(err))
}

// buildList encodes a loaded list as a relation set with times, with a
// quarter of room so a run of FOLLOWs patches it in place.
func buildList(l loader.List) ([]byte, error) {
	uids := make([]uint64, len(l.Members))
	times := make([]uint32, len(l.Members))
	for i, m := range l.Members {
		uids[i], times[i] = m.UID, m.Time
	}
	return openhash.Build(nil, uids, times, openhash.Options{
		Seed: rand.Uint64(), Truncated: l.Truncated, Extra: len(uids)/4 + 4,
	})
}

func errIfNot(err, benign error) error {
	if err == nil || errors.Is(err, benign) {
		return nil
	}
	return err
}

// oneLine keeps an error message fit for a RESP simple error.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// noteMiss records key as missing for dispatch to fill, if a source is
// configured, the key names a relation list, and this is not already the
// second run.
func (c *client) noteMiss(key []byte) {
	f := c.srv.fill
	if f == nil || c.refill {
		return
	}
	if _, _, ok := f.keys.Parse(key); !ok {
		return
	}
	start := len(c.missBuf)
	c.missBuf = append(c.missBuf, key...)
	c.missed = append(c.missed, c.missBuf[start:len(c.missBuf):len(c.missBuf)])
}

// refillMissed is dispatch's second half for a command that missed: drop
// the reply built from "not cached", fill, and run the handler again. A
// handler may need keys it only learns of from a filled one (RELWHO probes
// the members of a list), so there is one more round before the last run,
// which notes nothing and answers what is cached.
func (c *client) refillMissed(cmd *command, args [][]byte, mark int) {
	const refills = 2
	for round := 1; len(c.missed) > 0; round++ {
		c.out = c.out[:mark]
		// (Views into an outgrown missBuf stay valid: append copied, and
		// nothing writes the old array again.)
		err := c.srv.fill.fillAll(c.missed)
		c.missed, c.missBuf = c.missed[:0], c.missBuf[:0]
		var le *LoadError
		switch {
		case errors.As(err, &le):
			c.err(oneLine(le.Error()))
			return
		case err != nil:
			c.err(err.Error())
			return
		}
		// The fill changed the keys it stored, which invalidated them for
		// a tracking client (this one too) and took them out of the
		// tracking table: register them again before the second run
		// reads them, and send those invalidations ahead of its reply,
		// which shows the filled lists.
		if c.track.on {
			c.trackRead(cmd, args)
		}
		if c.push.pending.Load() {
			c.drainPushes()
			mark = len(c.out)
		}
		c.refill = round == refills
		cmd.fn(c, args)
		c.refill = false
	}
}

// fillCollector renders the fill counters for Prometheus at scrape time.
type fillCollector struct {
	f                                          *filler
	loads, errs, timeouts, fast, empty, breaks *prometheus.Desc
}

func newFillCollector(f *filler) *fillCollector {
	return &fillCollector{
		f:        f,
		loads:    prometheus.NewDesc("relcache_loads_total", "List queries sent to the source on cache misses.", nil, nil),
		errs:     prometheus.NewDesc("relcache_load_errors_total", "Failed list queries, by shard.", []string{"shard"}, nil),
		timeouts: prometheus.NewDesc("relcache_load_timeouts_total", "Clients answered LOADFAIL because the source missed the deadline.", nil, nil),
		fast:     prometheus.NewDesc("relcache_load_fail_fast_total", "Misses answered LOADFAIL at once by an open breaker.", nil, nil),
		empty:    prometheus.NewDesc("relcache_loads_empty_total", "Loads that found an empty list (cached as negative entries).", nil, nil),
		breaks:   prometheus.NewDesc("relcache_load_breaker_state", "A shard's circuit breaker: 0 closed, 1 open, 2 half-open.", []string{"shard"}, nil),
	}
}

func (fc *fillCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{fc.loads, fc.errs, fc.timeouts, fc.fast, fc.empty, fc.breaks} {
		ch <- d
	}
	fc.f.stats.latency.Describe(ch)
}

func (fc *fillCollector) Collect(ch chan<- prometheus.Metric) {
	st := &fc.f.stats
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(fc.loads, st.loads.Load())
	counter(fc.timeouts, st.timeouts.Load())
	counter(fc.fast, st.failFast.Load())
	counter(fc.empty, st.empty.Load())
	st.errorsByShard.Range(func(k, v any) bool {
		counter(fc.errs, v.(*atomic.Int64).Load(), k.(string))
		return true
	})
	for name, state := range fc.f.breakerStates() {
		ch <- prometheus.MustNewConstMetric(fc.breaks, prometheus.GaugeValue, float64(state), name)
	}
	st.latency.Collect(ch)
}

// breakerStates snapshots every shard's breaker.
func (f *filler) breakerStates() map[string]breaker.State {
	f.bmu.Lock()
	bs := make(map[string]*breaker.Breaker, len(f.breakers))
	for k, b := range f.breakers {
		bs[k] = b
	}
	f.bmu.Unlock()
	out := make(map[string]breaker.State, len(bs))
	for k, b := range bs {
		out[k], _ = b.State()
	}
	return out
}
