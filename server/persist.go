package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/safefile"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/persistence"
	"github.com/relcache/relcache/store"
)

// Snapshots: SAVE, BGSAVE, LASTSAVE, the save rules, the save at shutdown
// and the load at startup. The file format is package persistence's.
//
// A background save needs no fork and no copy of the keyspace: values are
// immutable, so store.Each hands the writer one shard's references at a
// time, each key at one whole version, while clients keep reading and
// writing. Memory beyond the keyspace is one shard of references and the
// writer's block buffer.

// SaveRule is one "save <seconds> <changes>" point: snapshot when at least
// Changes writes happened and Seconds passed since the last save.
type SaveRule struct {
	Seconds int64
	Changes int64
}

// ParseSaveRules reads Redis's form, "3600 1 300 100 60 10000"; "" is no
// rules (no periodic saving, no save at shutdown).
func ParseSaveRules(s string) ([]SaveRule, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("save %q: want pairs of <seconds> <changes>", s)
	}
	var rules []SaveRule
	for i := 0; i < len(f); i += 2 {
		sec, err1 := strconv.ParseInt(f[i], 10, 64)
		ch, err2 := strconv.ParseInt(f[i+1], 10, 64)
		if err1 != nil || err2 != nil || sec < 1 || ch < 0 {
			return nil, fmt.Errorf("save %q: %q %q is not <seconds ≥ 1> <changes ≥ 0>", s, f[i], f[i+1])
		}
		rules = append(rules, SaveRule{Seconds: sec, Changes: ch})
	}
	return rules, nil
}

func formatSaveRules(rules []SaveRule) string {
	var parts []string
	for _, r := range rules {
		parts = append(parts, strconv.FormatInt(r.Seconds, 10), strconv.FormatInt(r.Changes, 10))
	}
	return strings.Join(parts, " ")
}

// bgsaveRetryDelay is how long the save rules wait after a failed save
// before trying again (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const bgsaveRetryDelay = 5 * time.Second

//lint:ignore ST1005 Redis's exact reply to SAVE and BGSAVE during a save, sent after "ERR "
var errSaveInProgress = errors.New("Background save already in progress")

// persister is the server's snapshot state.
type persister struct {
	path  string
	rules atomic.Pointer[[]SaveRule]

	mu         sync.Mutex  // held by the save running now
	background atomic.Bool // a BGSAVE is running
	scheduled  atomic.Bool // BGSAVE SCHEDULE: run another when this one ends

	lastSave        atomic.Int64 // Unix seconds of the last good save (start time until then)
	lastAttempt     atomic.Int64 // Unix seconds of the last save that failed
	lastOK          atomic.Bool  // outcome of the last save
	lastDurationMs  atomic.Int64
	changesAtSave   atomic.Int64 // store.Changes() when the last good save began
	saves, failures atomic.Int64
	lastKeys        atomic.Int64 // keys in the last good snapshot
	lastBytes       atomic.Int64
	// Unchecked relation sets that failed the full check and were left
	// out: by the last save, and by every save since start.
	lastSkipped, skipped atomic.Int64

	loadedKeys, loadExpired int64 // at startup
	loadDuration            time.Duration
	loadedCreated           time.Time // the loaded snapshot's creation time; zero if none
}

func newPersister(cfg *Config, now time.Time) *persister {
	p := &persister{path: filepath.Join(cfg.Dir, cfg.DBFilename)}
	rules := cfg.Save
	p.rules.Store(&rules)
	p.lastSave.Store(now.Unix())
	p.lastOK.Store(true)
	return p
}

func (p *persister) saveRules() []SaveRule { return *p.rules.Load() }

// save writes a snapshot of the keyspace now; wait says whether to queue
// behind a save in progress rather than fail with errSaveInProgress.
func (s *Server) save(wait bool) error {
	p := s.persist
	if wait {
		p.mu.Lock()
	} else if !p.mu.TryLock() {
		return errSaveInProgress
	}
	defer p.mu.Unlock()
	marks := s.snapshotMarks() // before the walk: journal.go
	start := time.Now()
	changes := s.store.Changes()
	var skipped int64
	sum, err := persistence.WriteFile(p.path, start, func(w *persistence.Writer) error {
		return s.store.Each(func(key string, e store.Entry) error {
			if !s.checkBeforeSave(key, e, &skipped) {
				return nil
			}
			return w.Write(persistence.Record{Key: stringBytes(key), Kind: e.Kind, Value: e.Value, ExpireAt: e.ExpireAt})
		})
	})
	d := time.Since(start)
	p.lastDurationMs.Store(d.Milliseconds())
	p.lastOK.Store(err == nil)
	if skipped > 0 {
		p.skipped.Add(skipped)
		s.log.Warn("relation sets that fail the full check were left out of the snapshot; they are still served",
			zap.String("file", p.path), zap.Int64("sets", skipped))
	}
	if err != nil {
		p.failures.Add(1)
		p.lastAttempt.Store(time.Now().Unix())
		s.log.Error("snapshot failed; the previous one is kept", zap.String("file", p.path), zap.Error(err))
		return err
	}
	s.writeMarks(p.path, start, marks)
	p.saves.Add(1)
	p.lastSave.Store(start.Unix())
	p.changesAtSave.Store(changes)
	p.lastKeys.Store(int64(sum.Keys))
	p.lastBytes.Store(sum.Bytes)
	p.lastSkipped.Store(skipped)
	s.log.Info("snapshot saved", zap.String("file", p.path), zap.Uint64("keys", sum.Keys),
		zap.Int64("bytes", sum.Bytes), zap.Duration("took", d))
	return nil
}

// loggedSkips is how many left-out sets one save names in the log; the
// rest are only counted.
const loggedSkips = 10

// checkBeforeSave is the rule that no snapshot carries a set its own loader
// would refuse, whatever snapshot-verify says: a relation set taken without
// the full check (rel-verify header, or a snapshot-verify header load) gets
// it now, on the saving thread rather than on a client's SET. One that
// fails is left out (a cache may lose a key; a file its loader refuses
// loses them all) and counted in *skipped; one that passes is marked
// checked, so later saves do not walk it again.
func (s *Server) checkBeforeSave(key string, e store.Entry, skipped *int64) (write bool) {
	if e.Kind != store.KindRelSet || !e.Unchecked {
		return true
	}
	if err := openhash.Check(e.Value); err != nil {
		*skipped++
		if *skipped <= loggedSkips {
			s.log.Warn("relation set fails the full check; not saved", zap.String("key", key), zap.Error(err))
		}
		return false
	}
	s.store.MarkChecked(stringBytes(key), e.Value)
	return true
}

// stringBytes views a key string as bytes for the snapshot writer, which
// only copies them: no allocation per key during a save.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// bgsave starts a background save, or reports errSaveInProgress.
func (s *Server) bgsave() error {
	p := s.persist
	if !p.background.CompareAndSwap(false, true) {
		return errSaveInProgress
	}
	if !p.mu.TryLock() { // a foreground SAVE is running
		p.background.Store(false)
		return errSaveInProgress
	}
	p.mu.Unlock()
	go func() {
		lowerPriority()
		_ = s.save(true) // logged and counted by save
		p.background.Store(false)
		if p.scheduled.Swap(false) {
			_ = s.bgsave()
		}
	}()
	return nil
}

// changesSinceSave is INFO's rdb_changes_since_last_save.
func (s *Server) changesSinceSave() int64 {
	return s.store.Changes() - s.persist.changesAtSave.Load()
}

// maybeSave applies the save rules; housekeeping calls it once a second.
func (s *Server) maybeSave(now time.Time) {
	p := s.persist
	if p.background.Load() {
		return
	}
	if p.scheduled.Load() && s.bgsave() == nil {
		p.scheduled.Store(false)
		return
	}
	if !p.lastOK.Load() && now.Unix()-p.lastAttempt.Load() < int64(bgsaveRetryDelay/time.Second) {
		return
	}
	changes := s.changesSinceSave()
	elapsed := now.Unix() - p.lastSave.Load()
	for _, r := range p.saveRules() {
		if changes >= r.Changes && elapsed >= r.Seconds && changes > 0 {
			s.log.Info("save rule met; starting a background save",
				zap.Int64("changes", changes), zap.Int64("seconds", elapsed), zap.String("rule", formatSaveRules([]SaveRule{r})))
			_ = s.bgsave()
			return
		}
	}
}

// loadSnapshot fills the keyspace from the snapshot file, if there is one,
// before the server listens. Expired keys are skipped. A corrupt file stops
// the start, naming the file and offset, unless SnapshotOnCorrupt is skip:
// then the server starts empty and the file is renamed aside, never loaded
// in part.
func (s *Server) loadSnapshot() error {
	p := s.persist
	start := time.Now()
	now := start.UnixMilli()
	var loaded, expired, untotalled int64
	// Relation sets get the cheap check (header and control-word count,
	// what memory safety and listing replies need) unless snapshot-verify
	// says full: this server's writer ran the full check on each, and the
	// block checksums prove the bytes unchanged since. A file from an
	// older writer may hold sets that never had it, so sets loaded this
	// way are marked unchecked: the next save checks each once.
	shallow := s.cfg.SnapshotVerify != CheckFull
	opt := persistence.ReadOptions{ShallowSets: shallow}
	hdr, err := persistence.ReadFileWith(p.path, opt, func(r persistence.Record) error {
		if r.ExpireAt != 0 && r.ExpireAt <= now {
			expired++
			return nil
		}
		if s.untotalled(r) {
			// A capped list from before openhash format version 2 knows
			// no true count; with a source, the next read fills one that
			// does.
			untotalled++
			return nil
		}
		s.store.Set(append([]byte(nil), r.Key...), store.Entry{
			Kind: r.Kind, Value: append(make([]byte, 0, len(r.Value)), r.Value...), ExpireAt: r.ExpireAt,
			Unchecked: shallow && r.Kind == store.KindRelSet})
		loaded++
		return nil
	})
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.log.Info("no snapshot to load; starting empty", zap.String("file", p.path))
		return nil
	case errors.Is(err, safefile.ErrNotRegular):
		// A FIFO or a device would have blocked the start, or fed it
		// whatever comes; neither is a snapshot to move aside.
		return fmt.Errorf("%w: the snapshot must be a regular file; move it away or set dbfilename", err)
	// Only a corrupt file is moved aside: a snapshot from a newer build
	// (ErrVersion) or an unreadable one is probably sound and stops the start.
	case err != nil && s.cfg.SnapshotOnCorrupt == OnCorruptSkip && errors.Is(err, persistence.ErrCorrupt):
		s.store.Flush()
		aside := fmt.Sprintf("%s.corrupt-%d", p.path, start.Unix())
		if rerr := os.Rename(p.path, aside); rerr != nil {
			return fmt.Errorf("%w; and moving it aside failed: %w", err, rerr)
		}
		s.log.Error("snapshot unusable; starting empty as snapshot-on-corrupt=skip says",
			zap.Error(err), zap.String("kept_as", aside))
		return nil
	case err != nil:
		s.store.Flush()
		return fmt.Errorf("%w (the file is left as it is; start with --snapshot-on-corrupt=skip to start empty and keep it aside)", err)
	}
	p.loadedKeys, p.loadExpired, p.loadDuration = loaded, expired, time.Since(start)
	p.loadedCreated = hdr.Created
	p.lastSave.Store(hdr.Created.Unix())
	p.lastKeys.Store(loaded)
	// The keyspace now equals the file: nothing to save yet.
	p.changesAtSave.Store(s.store.Changes())
	if untotalled > 0 {
		s.log.Info("snapshot: truncated relation lists without a total left out, to be filled again from the source",
			zap.Int64("lists", untotalled))
	}
	s.log.Info("snapshot loaded", zap.String("file", p.path), zap.Int64("keys", loaded),
		zap.Int64("expired_skipped", expired), zap.Time("created", hdr.Created), zap.Duration("took", p.loadDuration))
	return nil
}

// SAVE: a snapshot now, in the foreground.
func cmdSave(c *client, _ [][]byte) {
	if c.srv.persist.background.Load() {
		c.err("ERR " + errSaveInProgress.Error())
		return
	}
	if err := c.srv.save(false); err != nil {
		if errors.Is(err, errSaveInProgress) {
			c.err("ERR " + err.Error())
			return
		}
		c.err("ERR " + oneLine(err.Error()))
		return
	}
	c.ok()
}

// BGSAVE [SCHEDULE]: a snapshot in the background.
func cmdBgsave(c *client, args [][]byte) {
	schedule := false
	if len(args) > 2 {
		c.err(errSyntax)
		return
	}
	if len(args) == 2 {
		if !eqFold(args[1], "SCHEDULE") {
			c.err(errSyntax)
			return
		}
		schedule = true
	}
	if err := c.srv.bgsave(); err != nil {
		if schedule {
			c.srv.persist.scheduled.Store(true)
			c.simple("Background saving scheduled")
			return
		}
		c.err("ERR " + err.Error())
		return
	}
	c.simple("Background saving started")
}

// LASTSAVE: Unix time of the last good save (the start time before one).
func cmdLastsave(c *client, _ [][]byte) {
	c.integer(c.srv.persist.lastSave.Load())
}

// appendPersistenceInfo is INFO's persistence section.
func (s *Server) appendPersistenceInfo(b []byte) []byte {
	p := s.persist
	status := "ok"
	if !p.lastOK.Load() {
		status = "err"
	}
	inProgress := 0
	if p.background.Load() {
		inProgress = 1
	}
	b = append(b, "# Persistence\r\n"...)
	b = field(b, "loading", 0)
	b = field(b, "rdb_changes_since_last_save", s.changesSinceSave())
	b = field(b, "rdb_bgsave_in_progress", inProgress)
	b = field(b, "rdb_last_save_time", p.lastSave.Load())
	b = field(b, "rdb_last_bgsave_status", status)
	b = field(b, "rdb_last_bgsave_time_sec", p.lastDurationMs.Load()/1000)
	b = field(b, "rdb_saves", p.saves.Load())
	b = field(b, "rdb_save_failures", p.failures.Load())
	b = field(b, "rdb_last_save_keys", p.lastKeys.Load())
	b = field(b, "rdb_last_save_bytes", p.lastBytes.Load())
	b = field(b, "rdb_last_save_skipped_sets", p.lastSkipped.Load())
	b = field(b, "rdb_skipped_sets", p.skipped.Load())
	b = field(b, "rdb_last_load_keys_loaded", p.loadedKeys)
	b = field(b, "rdb_last_load_keys_expired", p.loadExpired)
	b = field(b, "rdb_last_load_time_ms", p.loadDuration.Milliseconds())
	b = field(b, "rdb_snapshot_file", p.path)
	return field(b, "aof_enabled", 0)
}

// untotalled reports a snapshot record that is a truncated relation list
// recording no true total (openhash format version 1), under a relation
// key, on a node with a source of record that can fill it again with one.
func (s *Server) untotalled(r persistence.Record) bool {
	if r.Kind != store.KindRelSet || !s.fill.HasSource() {
		return false
	}
	if _, _, ok := s.keys.Parse(r.Key); !ok {
		return false
	}
	set, err := openhash.Open(r.Value)
	if err != nil || !set.Truncated() {
		return false
	}
	_, known := set.Total()
	return !known
}
