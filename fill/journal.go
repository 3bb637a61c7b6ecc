package fill

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/store"
)

// The cache's side of the source's journal (loader.Journal; the design is
// in docs/persistence.md, "Snapshots and the source of record", and
// docs/mysql.md, "Writes"). The server decides when each runs (before it
// listens, every source-sweep-interval, around a save); the engine runs
// them under the same locks as FOLLOW.

// sweepBatch is how many pending intents a sweep reads at a time.
const sweepBatch = 1000

// Journal is the source's journal, or nil (no source, or one without).
func (e *Engine) Journal() loader.Journal { return e.j }

// SweepIntents completes the intents recorded at or before olderThan, each
// under its edge's lock as FOLLOW takes it, and drops the edge's cached
// lists. It reads them sweepBatch at a time, and stops after a batch with a
// failure (the next batch would hold the failed ones again) or when ctx
// ends. Within a batch, once an intent failed, those of the same databases
// are left for the next sweep: a server that is down would fail each after
// a timeout, and hold up a start.
func (e *Engine) SweepIntents(ctx context.Context, olderThan time.Time) {
	j := e.j
	if j == nil {
		return
	}
	log := e.cfg.Log
	var done, failed, deferred int
	var last error
	down := map[string]bool{} // databases an intent failed on in this sweep
	for failed == 0 && ctx.Err() == nil {
		pending, err := j.PendingIntents(ctx, olderThan, sweepBatch)
		if err != nil {
			log.Warn("journal: listing pending intents failed", zap.Error(err))
		}
		for _, in := range pending {
			from, to := j.Shard(in.From), j.Shard(in.To)
			if down[from] || down[to] {
				deferred++
				continue
			}
			err := func() error {
				mu := e.edgeLock(in.From, in.To)
				mu.Lock()
				defer mu.Unlock()
				e.writing.RLock()
				defer e.writing.RUnlock()
				_, err := j.CompleteIntent(ctx, in.From, in.To)
				// Whatever happened, the cache must not keep either list.
				e.DropEdge(in.From, in.To)
				return err
			}()
			if err != nil {
				failed++
				last = err
				down[from], down[to] = true, true
				continue
			}
			done++
		}
		if len(pending) < sweepBatch {
			break
		}
	}
	e.stats.intentsCompleted.Add(int64(done))
	e.stats.intentsFailed.Add(int64(failed))
	if done > 0 {
		log.Info("journal: completed interrupted writes", zap.Int("intents", done))
	}
	if failed > 0 {
		log.Warn("journal: some interrupted writes could not be completed; the next sweep tries again",
			zap.Int("intents", failed), zap.Int("deferred", deferred), zap.Error(last))
	}
}

// SnapshotMarks is what a save records before it walks the keyspace: the
// newest change of each database, read before waiting out the source
// writes in flight, so that a write that logged a change at or below a
// mark has reached the cache the save then walks. nil, nil without a
// journal. With an error the marks may be partial (loader.Journal's
// ChangeMarks), and the writes are still waited out.
func (e *Engine) SnapshotMarks(ctx context.Context) ([]int64, error) {
	if e.j == nil {
		return nil, nil
	}
	marks, err := e.j.ChangeMarks(ctx)
	// Empty: taking the lock is the wait.
	e.writing.Lock()
	//lint:ignore SA2001 the critical section is empty on purpose: acquiring it waits out the writes in flight
	e.writing.Unlock()
	return marks, err
}

// DropChangedSince drops both cached lists of every edge the journal
// changed after marks (a snapshot's, as SnapshotMarks gave them), and
// returns how many changes it read and lists it dropped. On an error the
// caller cannot tell which lists are stale: DropAllLists is the way out.
func (e *Engine) DropChangedSince(ctx context.Context, marks []int64) (changes, dropped int64, err error) {
	if e.j == nil {
		return 0, 0, nil
	}
	err = e.j.ChangesSince(ctx, marks, func(from, to uint64) {
		changes++
		dropped += e.DropEdge(from, to)
	})
	if err == nil {
		e.stats.listsDropped.Add(dropped)
	}
	return changes, dropped, err
}

// DropAllLists deletes every key that names a relation list, and returns
// how many: the source refills them on demand.
func (e *Engine) DropAllLists() int64 {
	var n int64
	st := e.cfg.Store
	_ = st.Each(func(key string, _ store.Entry) error {
		if _, _, ok := e.cfg.Keys.Parse([]byte(key)); ok && st.Delete([]byte(key)) {
			n++
		}
		return nil
	})
	e.stats.listsDropped.Add(n)
	return n
}
