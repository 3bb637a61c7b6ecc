package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Crash recovery through the source's journal (loader.Journal; the design
// is in docs/persistence.md, "Snapshots and the source of record", and
// docs/mysql.md, "Writes").
//
// Pending intents. A FOLLOW across two MySQL servers that crashed, or whose
// second half kept failing, leaves an intent in from's database. The server
// completes them before it listens, and then every source-sweep-interval,
// each under the edge's lock as FOLLOW takes it, and drops both cached
// lists of the edge after.
//
// Snapshot marks. A snapshot holds relation lists as they were when it was
// taken; FOLLOWs after it are in the source but not in the file. Before a
// save walks the keyspace it reads each database's newest change id (the
// marks) and then waits out the source writes in flight, so that every
// change at or below a mark is in the cache the save walks. The marks go to
// <snapshot>.marks, written after the snapshot is renamed into place and
// naming the snapshot's creation time. A start that loads a snapshot asks
// the journal for the changes after its marks and drops both lists of each
// changed edge. Without marks that name the loaded snapshot (no file, a
// crash between the two renames, marks that could not be read), or when
// the journal was pruned past them, it drops every relation list the
// snapshot loaded: the source refills them on demand.

const (
	// marksHeader is the first line of a marks file.
	marksHeader = "relcache snapshot source marks 1"
	// startSweepBudget bounds the intent sweep and the change reading
	// before the server listens; what is left waits for the next sweep.
	startSweepBudget = 30 * time.Second
	// sweepBatch is how many pending intents a sweep reads at a time.
	sweepBatch = 1000
)

// journal is the source's journal, or nil (no source, or one without).
func (s *Server) journal() loader.Journal {
	if s.fill == nil {
		return nil
	}
	j, _ := s.cfg.Source.(loader.Journal)
	return j
}

// edgeLock is the lock serialising writes to the edge a->b.
func (f *filler) edgeLock(a, b uint64) *sync.Mutex {
	return &f.edges[(a*0x9E3779B97F4A7C15^b)%edgeStripes]
}

// dropEdgeLists drops the cached a.following and b.follower, bumping their
// fill generations first so that a fill whose query predates the drop
// does not store its (possibly stale) list after it. It returns how many
// were cached.
func (s *Server) dropEdgeLists(a, b uint64) (dropped int64) {
	aKey, _ := s.keys.Append(nil, a, shard.Following)
	bKey, _ := s.keys.Append(nil, b, shard.Follower)
	for _, key := range [][]byte{aKey, bKey} {
		if f := s.fill; f != nil {
			f.gen(key).Add(1)
		}
		if s.store.Delete(key) {
			dropped++
		}
	}
	return dropped
}

// recoverSource runs before the server listens: it completes the intents
// a crash left, then drops the snapshot-loaded lists the source changed
// after the snapshot.
func (s *Server) recoverSource() {
	j := s.journal()
	if j == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), startSweepBudget)
	defer cancel()
	s.sweepIntents(ctx, j, time.Now())
	if created := s.persist.loadedCreated; !created.IsZero() {
		s.reconcileSnapshot(ctx, j, created)
	}
}

// runSweeper completes pending intents and prunes the journal every
// SourceSweepInterval until ctx is done.
func (s *Server) runSweeper(ctx context.Context) {
	j := s.journal()
	if j == nil {
		return
	}
	t := time.NewTicker(s.cfg.SourceSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// Younger intents may belong to a write still in flight (on
			// another node: this one's hold the edge lock); completing
			// them is safe, only wasted.
			s.sweepIntents(ctx, j, now.Add(-s.cfg.LoadTimeout-time.Second))
			pctx, cancel := context.WithTimeout(ctx, s.cfg.SourceSweepInterval)
			n, err := j.PruneChanges(pctx, now.Add(-s.cfg.SourceChangeRetention))
			cancel()
			if err != nil {
				s.log.Warn("journal: pruning old changes failed", zap.Error(err))
			}
			if n > 0 {
				s.log.Info("journal: pruned old changes", zap.Int64("changes", n), zap.Duration("retention", s.cfg.SourceChangeRetention))
			}
		}
	}
}

// sweepIntents completes the intents recorded at or before olderThan, each
// under its edge's lock, and drops the edge's cached lists. It reads them
// sweepBatch at a time, and stops after a batch with a failure (the next
// batch would hold the failed ones again) or when ctx ends. Within a batch,
// once an intent failed, those of the same databases are left for the next
// sweep: a server that is down would fail each after a timeout, and hold up
// a start.
func (s *Server) sweepIntents(ctx context.Context, j loader.Journal, olderThan time.Time) {
	f := s.fill
	var done, failed, deferred int
	var last error
	down := map[string]bool{} // databases an intent failed on in this sweep
	for failed == 0 && ctx.Err() == nil {
		pending, err := j.PendingIntents(ctx, olderThan, sweepBatch)
		if err != nil {
			s.log.Warn("journal: listing pending intents failed", zap.Error(err))
		}
		for _, e := range pending {
			from, to := j.Shard(e.From), j.Shard(e.To)
			if down[from] || down[to] {
				deferred++
				continue
			}
			err := func() error {
				mu := f.edgeLock(e.From, e.To)
				mu.Lock()
				defer mu.Unlock()
				f.writing.RLock()
				defer f.writing.RUnlock()
				_, err := j.CompleteIntent(ctx, e.From, e.To)
				// Whatever happened, the cache must not keep either list.
				s.dropEdgeLists(e.From, e.To)
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
	f.stats.intentsCompleted.Add(int64(done))
	f.stats.intentsFailed.Add(int64(failed))
	if done > 0 {
		s.log.Info("journal: completed interrupted writes", zap.Int("intents", done))
	}
	if failed > 0 {
		s.log.Warn("journal: some interrupted writes could not be completed; the next sweep tries again",
			zap.Int("intents", failed), zap.Int("deferred", deferred), zap.Error(last))
	}
}

// snapshotMarks is what a save records before it walks the keyspace: the
// newest change of each database, read before waiting out the source
// writes in flight (a write that logged a change at or below a mark has
// then reached the cache). nil without a journal.
func (s *Server) snapshotMarks() []int64 {
	j := s.journal()
	if j == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.LoadTimeout)
	marks, err := j.ChangeMarks(ctx)
	cancel()
	if err != nil {
		s.log.Warn("snapshot: the source's change marks could not be read; a restart from this snapshot will drop its relation lists",
			zap.Error(err))
	}
	// Empty: taking the lock is the wait.
	s.fill.writing.Lock()
	//lint:ignore SA2001 the write lock is granted only once every source write in flight has released its read lock
	s.fill.writing.Unlock()
	return marks
}

// marksPath is the marks file of the snapshot at path.
func marksPath(path string) string { return path + ".marks" }

// writeMarks records marks for the snapshot created at created, now in
// place at path, the way the snapshot itself is written: a fresh temporary
// file (never one that was there, nor a link), synced, renamed, the
// directory synced. Failing leaves an older marks file, which names an
// older snapshot and so is not trusted: a restart drops the lists.
func (s *Server) writeMarks(path string, created time.Time, marks []int64) {
	if marks == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\ncreated-ms %d\nmarks", marksHeader, created.UnixMilli())
	for _, m := range marks {
		fmt.Fprintf(&b, " %d", m)
	}
	b.WriteByte('\n')
	final := marksPath(path)
	tmp := final + ".tmp"
	err := func() error {
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(b.String())
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, final)
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
		d, err := os.Open(filepath.Dir(final))
		if err != nil {
			return err
		}
		defer d.Close()
		return d.Sync()
	}()
	if err != nil {
		s.log.Error("snapshot: writing the source marks failed; a restart from this snapshot will drop its relation lists",
			zap.String("file", final), zap.Error(err))
	}
}

// readMarks reads the marks of the snapshot at path created at created.
func readMarks(path string, created time.Time) ([]int64, error) {
	f, err := os.Open(marksPath(path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() && len(lines) < 3 {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) != 3 || lines[0] != marksHeader {
		return nil, fmt.Errorf("%s: not a marks file", marksPath(path))
	}
	ms, ok := strings.CutPrefix(lines[1], "created-ms ")
	if n, err := strconv.ParseInt(ms, 10, 64); !ok || err != nil || n != created.UnixMilli() {
		return nil, fmt.Errorf("%s: marks of another snapshot (%q; this one was created at %d)", marksPath(path), lines[1], created.UnixMilli())
	}
	fields := strings.Fields(lines[2])
	if len(fields) < 2 || fields[0] != "marks" {
		return nil, fmt.Errorf("%s: no marks", marksPath(path))
	}
	marks := make([]int64, len(fields)-1)
	for i, v := range fields[1:] {
		if marks[i], err = strconv.ParseInt(v, 10, 64); err != nil || marks[i] < 0 {
			return nil, fmt.Errorf("%s: database %d has no mark (%q)", marksPath(path), i, v)
		}
	}
	return marks, nil
}

// reconcileSnapshot drops the loaded lists that the source changed after
// the snapshot created at created; all of them when it cannot tell which.
func (s *Server) reconcileSnapshot(ctx context.Context, j loader.Journal, created time.Time) {
	marks, err := readMarks(s.persist.path, created)
	var changes, dropped int64
	if err == nil {
		err = j.ChangesSince(ctx, marks, func(from, to uint64) {
			changes++
			dropped += s.dropEdgeLists(from, to)
		})
	}
	if err != nil {
		n := s.dropSourceLists()
		s.fill.stats.listsInvalidated.Add(n)
		s.log.Warn("snapshot: cannot tell which relation lists the source changed after it; dropped them all, to be refilled on demand",
			zap.Int64("lists", n), zap.Error(err))
		return
	}
	s.fill.stats.listsInvalidated.Add(dropped)
	s.log.Info("snapshot: dropped the relation lists the source changed after it",
		zap.Int64("changes", changes), zap.Int64("lists", dropped), zap.Time("snapshot_created", created))
}

// dropSourceLists deletes every key that names a relation list, and
// returns how many.
func (s *Server) dropSourceLists() int64 {
	var n int64
	_ = s.store.Each(func(key string, _ store.Entry) error {
		if _, _, ok := s.keys.Parse([]byte(key)); ok && s.store.Delete([]byte(key)) {
			n++
		}
		return nil
	})
	return n
}
