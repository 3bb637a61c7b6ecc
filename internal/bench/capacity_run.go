package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// workerStats is one connection's measurements; its seconds are merged into
// the run's timeline under mixRun.mu, the rest summed once the workers are
// done.
type workerStats struct {
	hist     []*hdrhistogram.Histogram // per op of the mix
	errors   []int64
	misses   []int64
	unsent   int64
	sec      int // second of the run cur covers
	cur      *hdrhistogram.Histogram
	firstErr []string
}

const shownErrors = 5

// mixRun is one run of the mix: its schedule, and what its workers share.
type mixRun struct {
	w    *workload
	pick mixPicker
	// interval is the time between two requests of one connection at a
	// fixed rate; 0 is open loop.
	interval time.Duration
	begin    time.Time // the warm-up starts
	start    time.Time // recording starts: latencies are measured from here
	end      time.Time // no request is scheduled from here
	// hardStop ends a fixed-rate client that fell behind: it sends its
	// backlog after end, but not for ever; what is still unsent then is
	// counted as unsent.
	hardStop time.Time

	ctx    context.Context // ends the workers: the run is over, or cannot go on
	cancel context.CancelFunc

	prepOnce sync.Once
	prepErr  error // the first op a worker could not encode; it ends the run

	mu       sync.Mutex // guards timeline
	timeline []*hdrhistogram.Histogram
}

func newMixRun(w *workload, begin time.Time) *mixRun {
	cfg := w.cfg
	r := &mixRun{w: w, pick: newMixPicker(cfg.Mix), begin: begin}
	if cfg.Rate > 0 {
		r.interval = time.Duration(float64(cfg.Conns) / cfg.Rate * float64(time.Second))
	}
	r.start = begin.Add(cfg.Warmup)
	r.end = r.start.Add(cfg.Duration)
	r.hardStop = r.end.Add(max(5*time.Second, cfg.Duration/2))
	return r
}

// seconds is the length of the run, warm-up included, as Progress counts it.
func (r *mixRun) seconds() int {
	return int((r.w.cfg.Warmup + r.w.cfg.Duration).Round(time.Second) / time.Second)
}

// tickProgress reports the seconds run to cfg.Progress once a second until
// the run's context ends.
func (r *mixRun) tickProgress(secs int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-t.C:
			r.w.cfg.Progress("run", min(int(now.Sub(r.begin)/time.Second), secs), secs)
		}
	}
}

// failPrepare ends the run with the first error of encoding an op: it is the
// client's fault, and every worker would meet it again.
func (r *mixRun) failPrepare(err error) {
	r.prepOnce.Do(func() { r.prepErr = err })
	r.cancel()
}

// flushSecond merges the second ws.cur covers into the timeline.
func (r *mixRun) flushSecond(ws *workerStats) {
	if ws.cur.TotalCount() == 0 {
		return
	}
	r.mu.Lock()
	for len(r.timeline) <= ws.sec {
		r.timeline = append(r.timeline, newHist())
	}
	r.timeline[ws.sec].Merge(ws.cur)
	r.mu.Unlock()
	ws.cur.Reset()
}

func (w *workload) run(ctx context.Context, rep *CapacityReport) error {
	cfg := w.cfg
	workers := make([]*worker, cfg.Conns)
	for i := range workers {
		wc, err := dialWire(ctx, cfg.target())
		if err != nil {
			return fmt.Errorf("capacity: connect to %s: %w", cfg.target(), err)
		}
		workers[i] = &worker{conn: wc}
		// The worker's connection when the run ends: a reconnect
		// replaces it.
		defer func() { workers[i].conn.close() }()
	}
	r := newMixRun(w, time.Now())
	secs := r.seconds()
	if cfg.Progress != nil {
		cfg.Progress("run", 0, secs)
		defer cfg.Progress("run", secs, secs)
	}
	// Deferred calls run last first: cancel, wait for the ticker, then
	// the final Progress, so Progress is never called concurrently.
	var progress sync.WaitGroup
	defer progress.Wait()
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	if cfg.Progress != nil {
		progress.Go(func() { r.tickProgress(secs) })
	}
	cpuSamples := sampleCPU(r.ctx, r.start)
	var wg sync.WaitGroup
	for i, wk := range workers {
		wk.init(r, i)
		wg.Go(wk.loop)
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	r.cancel()
	if r.prepErr != nil {
		return r.prepErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.report(rep, workers, elapsed)
	rep.Run.Host = hostCPU(cpuSamples(), rep.Run.Timeline)
	return nil
}

// report sums the workers' measurements into rep.Run and rep.Errors.
func (r *mixRun) report(rep *CapacityReport, workers []*worker, elapsed time.Duration) {
	cfg := r.w.cfg
	run := &rep.Run
	run.Latency = "service"
	if r.interval > 0 {
		run.Latency = "intended start"
	}
	run.Seconds = elapsed.Seconds()
	all := newHist()
	var allErrs, allMisses int64
	for i, e := range cfg.Mix {
		h := newHist()
		var errs, misses int64
		for _, wk := range workers {
			ws := &wk.stats
			h.Merge(ws.hist[i])
			errs += ws.errors[i]
			misses += ws.misses[i]
		}
		all.Merge(h)
		allErrs += errs
		allMisses += misses
		run.Ops = append(run.Ops, opReport(e.Op, opCommand(e.Op, r.w.redis, cfg.Write), e.Weight, h, errs, misses, elapsed))
	}
	for _, wk := range workers {
		run.Unsent += wk.stats.unsent
		for _, e := range wk.stats.firstErr {
			if len(rep.Errors) < shownErrors {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	run.All = opReport("all", "", r.pick.total, all, allErrs, allMisses, elapsed)
	run.Requests = run.All.Requests
	run.Throughput = run.All.Throughput
	run.Errors = allErrs
	for s, h := range r.timeline {
		run.Timeline = append(run.Timeline, Second{Second: s, Requests: h.TotalCount(),
			P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99)})
	}
}

// worker is one connection of the mixed run: it draws ops from the mix,
// sends each when the schedule says (at once in open loop) and records its
// latency. Only its own goroutine touches it until the workers are done.
type worker struct {
	run   *mixRun
	conn  *wireConn
	stop  func() bool // ends the close of conn on the run's cancel
	rng   *rand.Rand
	req   request
	next  time.Time // fixed rate: when the next request is due
	stats workerStats
}

// init readies worker i of the run.
func (wk *worker) init(r *mixRun, i int) {
	cfg := r.w.cfg
	wk.run = r
	wk.stats = workerStats{errors: make([]int64, len(cfg.Mix)), misses: make([]int64, len(cfg.Mix)), cur: newHist()}
	for range cfg.Mix {
		wk.stats.hist = append(wk.stats.hist, newHist())
	}
	wk.rng = rand.New(rand.NewPCG(cfg.Seed+uint64(i), 0xcafe))
	// Connections start staggered across one interval, so a fixed rate
	// is spread evenly rather than in bursts.
	wk.next = r.begin.Add(r.interval * time.Duration(i) / time.Duration(cfg.Conns))
}

// loop sends requests until the run ends, is cancelled, or the worker's
// connection cannot be replaced.
func (wk *worker) loop() {
	r := wk.run
	defer r.flushSecond(&wk.stats)
	wk.stop = wk.closeOnCancel(wk.conn)
	defer func() { wk.stop() }()
	for r.ctx.Err() == nil {
		if !wk.due() {
			return
		}
		op := r.pick.pick(wk.rng)
		if err := r.w.prepare(r.w.cfg.Mix[op].Op, wk.rng, &wk.req); err != nil {
			r.failPrepare(err)
			return
		}
		slot, began, ok := wk.pace()
		if !ok {
			return
		}
		miss, err := wk.conn.do(&wk.req, requestTimeout)
		took := time.Since(began).Microseconds()
		if err != nil {
			if r.ctx.Err() != nil || !wk.fail(op, err) {
				return
			}
			continue
		}
		wk.record(op, slot, took, miss)
	}
}

// closeOnCancel closes wc when the run is cancelled, which unblocks a worker
// waiting on it; the deferred close in run is the normal end.
func (wk *worker) closeOnCancel(wc *wireConn) func() bool {
	return context.AfterFunc(wk.run.ctx, func() { wc.close() })
}

// due reports whether the worker has another request to send. In open loop
// that is until the end; at a fixed rate, while its next slot is before the
// end, unless the hard stop has passed: the slots still owed then are
// counted as unsent.
func (wk *worker) due() bool {
	r := wk.run
	now := time.Now()
	if r.interval == 0 {
		return now.Before(r.end)
	}
	if !wk.next.Before(r.end) {
		return false
	}
	if now.After(r.hardStop) {
		wk.stats.unsent += int64(r.end.Sub(wk.next)/r.interval) + 1
		return false
	}
	return true
}

// pace waits, at a fixed rate, for the next slot. It returns the slot (when
// the schedule meant the request to go; in open loop, now) and the time its
// latency is measured from; ok is false when the run was cancelled while
// waiting.
func (wk *worker) pace() (slot, began time.Time, ok bool) {
	r := wk.run
	began = time.Now()
	if r.interval == 0 {
		return began, began, true
	}
	slot = wk.next
	if d := wk.next.Sub(began); d > 0 {
		// Idle until the slot: timed from the send, since a Go timer
		// wakes up to a millisecond late and that delay is the
		// client's, not the server's.
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-r.ctx.Done():
			timer.Stop()
			return slot, began, false
		}
		began = time.Now()
	} else {
		// Still busy with an earlier answer when this one was due:
		// wrk2's correction, the clock starts when the schedule meant
		// to send, so a stall is charged to every request it delayed.
		began = wk.next
	}
	wk.next = wk.next.Add(r.interval)
	return slot, began, true
}

// fail counts a failed request of op i of the mix and, when the connection
// is out of step with the server, starts over on a new one, as a pool
// would. It reports whether the worker can go on.
func (wk *worker) fail(op int, err error) bool {
	ws := &wk.stats
	ws.errors[op]++
	if len(ws.firstErr) < shownErrors {
		ws.firstErr = append(ws.firstErr, wk.run.w.cfg.Mix[op].Op+": "+err.Error())
	}
	if !broken(err) {
		return true
	}
	wk.stop()
	wk.conn.close()
	wc, err := dialWire(wk.run.ctx, wk.run.w.cfg.target())
	if err != nil {
		if wk.run.ctx.Err() == nil && len(ws.firstErr) < shownErrors {
			ws.firstErr = append(ws.firstErr, "reconnect: "+err.Error())
		}
		return false
	}
	wk.conn, wk.stop = wc, wk.closeOnCancel(wc)
	return true
}

// record adds an answered request of op i of the mix, sent for slot, to the
// measurements, unless it was sent during the warm-up.
func (wk *worker) record(op int, slot time.Time, took int64, miss bool) {
	r, ws := wk.run, &wk.stats
	if slot.Before(r.start) {
		return // warming up
	}
	if miss {
		ws.misses[op]++
	}
	took = min(max(took, 0), maxLatencyUS)
	ws.hist[op].RecordValue(took)
	if sec := int(slot.Sub(r.start) / time.Second); sec != ws.sec {
		r.flushSecond(ws)
		ws.sec = sec
	}
	ws.cur.RecordValue(took)
}
