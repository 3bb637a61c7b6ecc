package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// workerStats is one connection's measurements; merged under runState.mu.
type workerStats struct {
	hist     []*hdrhistogram.Histogram // per op of the mix
	errors   []int64
	misses   []int64
	unsent   int64
	sec      int // second of the run cur covers
	cur      *hdrhistogram.Histogram
	firstErr []string
}

// runState is what the workers share.
type runState struct {
	mu       sync.Mutex // guards timeline
	timeline []*hdrhistogram.Histogram
}

const shownErrors = 5

func (rs *runState) flushSecond(ws *workerStats) {
	if ws.cur.TotalCount() == 0 {
		return
	}
	rs.mu.Lock()
	for len(rs.timeline) <= ws.sec {
		rs.timeline = append(rs.timeline, newHist())
	}
	rs.timeline[ws.sec].Merge(ws.cur)
	rs.mu.Unlock()
	ws.cur.Reset()
}

func (w *workload) run(ctx context.Context, rep *CapacityReport) error {
	cfg := w.cfg
	cum := make([]int, len(cfg.Mix))
	total := 0
	for i, e := range cfg.Mix {
		total += e.Weight
		cum[i] = total
	}
	pick := func(rng *rand.Rand) int {
		r := rng.IntN(total)
		i, _ := slices.BinarySearch(cum, r+1)
		return i
	}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Conns) / cfg.Rate * float64(time.Second))
	}
	rs := &runState{}
	stats := make([]*workerStats, cfg.Conns)
	conns := make([]*wireConn, cfg.Conns)
	for i := range conns {
		wc, err := dialWire(ctx, cfg.target())
		if err != nil {
			return fmt.Errorf("capacity: connect to %s: %w", cfg.target(), err)
		}
		conns[i] = wc
		defer func() { conns[i].close() }()
	}
	begin := time.Now()
	start := begin.Add(cfg.Warmup) // measured from here
	end := start.Add(cfg.Duration)
	// A fixed-rate client that fell behind sends its backlog after the end,
	// but not for ever: what is still unsent then is counted as unsent.
	hardStop := end.Add(max(5*time.Second, cfg.Duration/2))
	secs := int((cfg.Warmup + cfg.Duration).Round(time.Second) / time.Second)
	if cfg.Progress != nil {
		cfg.Progress("run", 0, secs)
		defer cfg.Progress("run", secs, secs)
	}
	// Deferred calls run last first: cancel, wait for the ticker, then
	// the final Progress, so Progress is never called concurrently.
	var progress sync.WaitGroup
	defer progress.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Progress != nil {
		progress.Add(1)
		go func() {
			defer progress.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case now := <-t.C:
					cfg.Progress("run", min(int(now.Sub(begin)/time.Second), secs), secs)
				}
			}
		}()
	}
	cpuSamples := sampleCPU(runCtx, start)
	var wg sync.WaitGroup
	var prepErr error
	var prepOnce sync.Once
	for i := range cfg.Conns {
		ws := &workerStats{errors: make([]int64, len(cfg.Mix)), misses: make([]int64, len(cfg.Mix)), cur: newHist()}
		for range cfg.Mix {
			ws.hist = append(ws.hist, newHist())
		}
		stats[i] = ws
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rs.flushSecond(ws)
			// Cancelling the run unblocks a worker waiting on its
			// connection; the deferred close above is the normal end.
			watch := func(wc *wireConn) func() bool {
				return context.AfterFunc(runCtx, func() { wc.close() })
			}
			stop := watch(conns[i])
			defer func() { stop() }()
			rng := rand.New(rand.NewPCG(cfg.Seed+uint64(i), 0xcafe))
			var req request
			// Connections start staggered across one interval, so a
			// fixed rate is spread evenly rather than in bursts.
			next := begin.Add(interval * time.Duration(i) / time.Duration(cfg.Conns))
			for runCtx.Err() == nil {
				now := time.Now()
				if interval > 0 {
					if !next.Before(end) {
						return
					}
					if now.After(hardStop) {
						ws.unsent += int64(end.Sub(next)/interval) + 1
						return
					}
				} else if !now.Before(end) {
					return
				}
				op := pick(rng)
				if err := w.prepare(cfg.Mix[op].Op, rng, &req); err != nil {
					prepOnce.Do(func() { prepErr = err })
					cancel()
					return
				}
				began := time.Now()
				slot := began // when the schedule meant it to go
				if interval > 0 {
					slot = next
					if d := next.Sub(began); d > 0 {
						// Idle until the slot: timed from the
						// send, since a Go timer wakes up to a
						// millisecond late and that delay is
						// the client's, not the server's.
						timer := time.NewTimer(d)
						select {
						case <-timer.C:
						case <-runCtx.Done():
							timer.Stop()
							return
						}
						began = time.Now()
					} else {
						// Still busy with an earlier answer when
						// this one was due: wrk2's correction,
						// the clock starts when the schedule
						// meant to send, so a stall is charged
						// to every request it delayed.
						began = next
					}
					next = next.Add(interval)
				}
				miss, err := conns[i].do(&req, requestTimeout)
				took := time.Since(began).Microseconds()
				if err != nil {
					if runCtx.Err() != nil {
						return
					}
					ws.errors[op]++
					if len(ws.firstErr) < shownErrors {
						ws.firstErr = append(ws.firstErr, cfg.Mix[op].Op+": "+err.Error())
					}
					if broken(err) {
						// Out of step with the server: start over
						// on a new connection, as a pool would.
						stop()
						conns[i].close()
						wc, err := dialWire(runCtx, cfg.target())
						if err != nil {
							if runCtx.Err() == nil && len(ws.firstErr) < shownErrors {
								ws.firstErr = append(ws.firstErr, "reconnect: "+err.Error())
							}
							return
						}
						conns[i], stop = wc, watch(wc)
					}
					continue
				}
				if slot.Before(start) {
					continue // warming up
				}
				if miss {
					ws.misses[op]++
				}
				took = min(max(took, 0), maxLatencyUS)
				ws.hist[op].RecordValue(took)
				if sec := int(slot.Sub(start) / time.Second); sec != ws.sec {
					rs.flushSecond(ws)
					ws.sec = sec
				}
				ws.cur.RecordValue(took)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	if prepErr != nil {
		return prepErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	run := &rep.Run
	run.Latency = "service"
	if interval > 0 {
		run.Latency = "intended start"
	}
	run.Seconds = elapsed.Seconds()
	all := newHist()
	var allErrs, allMisses int64
	for i, e := range cfg.Mix {
		h := newHist()
		var errs, misses int64
		for _, ws := range stats {
			h.Merge(ws.hist[i])
			errs += ws.errors[i]
			misses += ws.misses[i]
		}
		all.Merge(h)
		allErrs += errs
		allMisses += misses
		run.Ops = append(run.Ops, opReport(e.Op, opCommand(e.Op, w.redis, cfg.Write), e.Weight, h, errs, misses, elapsed))
	}
	for _, ws := range stats {
		run.Unsent += ws.unsent
		for _, e := range ws.firstErr {
			if len(rep.Errors) < shownErrors {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	run.All = opReport("all", "", total, all, allErrs, allMisses, elapsed)
	run.Requests = run.All.Requests
	run.Throughput = run.All.Throughput
	run.Errors = allErrs
	for s, h := range rs.timeline {
		run.Timeline = append(run.Timeline, Second{Second: s, Requests: h.TotalCount(),
			P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99)})
	}
	run.Host = hostCPU(cpuSamples(), run.Timeline)
	return nil
}
