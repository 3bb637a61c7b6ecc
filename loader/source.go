package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the embedded default source; pure Go, no cgo

	"github.com/relcache/relcache/shard"
)

// CheckUID implements Source: database/sql reads integers as int64 (and
// the MySQL driver refuses to send a uint64 with the high bit set), so
// uids above 2^63-1 cannot be stored or asked for.
func (s *SQL) CheckUID(uid uint64) error {
	if uid > math.MaxInt64 {
		return fmt.Errorf("uid %d: %w", uid, ErrUIDRange)
	}
	return nil
}

// Member is one entry of a relation list.
type Member struct {
	UID  uint64
	Time uint32 // follow time, Unix seconds
}

// List is one user's list as the source holds it, newest first.
type List struct {
	Members []Member
	// Truncated is set when the list was cut at the limit (the latest
	// 5000 fans, say): a cache built from it must say it is incomplete.
	Truncated bool
	// Total is the length of the whole list when Truncated (its COUNT(*),
	// read in the same statement as the members, so the two agree); 0
	// otherwise.
	Total int
}

// Source is the system of record for relation lists.
type Source interface {
	// Load reads uid's list of kind k, newest first, at most limit
	// members (0: all).
	Load(ctx context.Context, uid uint64, k shard.Kind, limit int) (List, error)
	// Lookup reads which of others are in uid's list of kind k, with
	// their times, in no particular order: how a cache answers for members
	// a truncated list does not hold. One query per call (others are sent
	// in batches of LookupBatch).
	Lookup(ctx context.Context, uid uint64, k shard.Kind, others []uint64) ([]Member, error)
	// Shard names the database holding uid's lists, for errors and metrics.
	Shard(uid uint64) string
	// CheckUID reports a uid the source cannot represent (an error
	// wrapping ErrUIDRange) without asking the source anything, so that a
	// request it could never serve is refused before it reaches shared
	// state: a query, a connection, a shard's circuit breaker.
	CheckUID(uid uint64) error
}

// Writer is a Source that also takes follow writes. Each writes both rows
// (following in from's shard, follower in to's) idempotently.
type Writer interface {
	Source
	// Follow records that from follows to since t; added reports whether
	// the edge is new (false: it was there, and its time is now t).
	Follow(ctx context.Context, from, to uint64, t uint32) (added bool, err error)
	// Unfollow removes the edge; removed reports whether it was there.
	Unfollow(ctx context.Context, from, to uint64) (removed bool, err error)
}

// ErrBadRow is wrapped by errors about rows that cannot be cached as they
// are (a NULL or negative uid, a time outside 32 bits): the list is reported,
// never half-cached.
var ErrBadRow = errors.New("malformed relation row")

// SQLConfig configures an SQL source.
type SQLConfig struct {
	Layout  Layout
	Dialect Dialect
	// QueryTimeout bounds one list query. Default 2s.
	QueryTimeout time.Duration
}

// SQL is a Source over database/sql: one *sql.DB per database index (for
// MySQL, the pool of the physical server holding that database; several
// indexes may share one pool). It is safe for concurrent use.
//
// Both dialects run the same prepared statements, prepared on first use per
// table and kind (or per database, for the journal's) and kept until Close.
// database/sql prepares a statement again on each pooled connection it runs
// on, so a MySQL server holds up to (tables used) × (statement kinds, 9) ×
// (open connections) of them, plus 4 per database and connection for the
// journal: keep max_prepared_stmt_count above that.
type SQL struct {
	cfg   SQLConfig
	dbs   []*sql.DB // by database index
	pools []*sql.DB // dbs without repeats, for Close
	stmts sync.Map  // stmtKey -> *sql.Stmt
	// writer is held by the write transaction running now, for SQLite,
	// which runs one at a time anyway: queued here, writers wait their
	// turn, rather than each polling the file lock in SQLite's busy
	// handler, whose sleeps (up to 100ms) cost most of the throughput
	// with a few dozen writers.
	writer chan struct{}
}

// stmtKey names a cached statement: op on the table of kind on shard
// (database×Tables + table). A journal statement names its database's
// first shard and kind shard.Following; its op tells it apart.
type stmtKey struct {
	shard int32
	kind  shard.Kind
	op    stmtOp
}

type stmtOp uint8

const (
	opList        stmtOp = iota
	opListCounted        // opList with the list's COUNT(*) on every row
	opInsert
	opTouch
	opDelete
	opUpsert   // one row
	opTime     // one row's addtime
	opTimeLock // the same, locking the row (MySQL; SQLite's write transactions lock the file)

	// Per database, on the journal's tables (journal.go).
	opLogChange
	opIntentUpsert
	opIntentLock
	opIntentDelete
)

// NewSQL wraps dbs[i], the handle of database i, as a Source.
func NewSQL(cfg SQLConfig, dbs []*sql.DB) (*SQL, error) {
	if err := cfg.Layout.fill(); err != nil {
		return nil, err
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 2 * time.Second
	}
	if len(dbs) != cfg.Layout.DBs {
		return nil, fmt.Errorf("loader: %d database handles for a layout of %d databases", len(dbs), cfg.Layout.DBs)
	}
	s := &SQL{cfg: cfg, dbs: dbs, writer: make(chan struct{}, 1)}
	for _, db := range dbs {
		if !slices.Contains(s.pools, db) {
			s.pools = append(s.pools, db)
		}
	}
	return s, nil
}

// CreateSchema creates the databases (MySQL) and tables, idempotently.
func (s *SQL) CreateSchema(ctx context.Context) error {
	l := s.cfg.Layout
	for i, db := range s.dbs {
		name := l.DatabaseName(i)
		if s.cfg.Dialect == MySQL {
			if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
				return fmt.Errorf("create database %s: %w", name, err)
			}
		}
		stmts := l.ddl(s.cfg.Dialect, func(k shard.Kind, t int) string { return l.table(s.cfg.Dialect, k, i, t) })
		stmts = append(stmts, journalDDL(s.cfg.Dialect, func(table string) string { return s.journalTable(i, table) })...)
		for _, stmt := range stmts {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create schema in database %s: %w", name, err)
			}
		}
	}
	return nil
}

// stmt returns the prepared statement op on the table of kind k holding
// key's rows, preparing it on first use.
func (s *SQL) stmt(ctx context.Context, op stmtOp, k shard.Kind, key uint64) (*sql.Stmt, error) {
	l := s.cfg.Layout
	dbi, t := l.Route(key)
	return s.prepared(ctx, stmtKey{shard: int32(dbi*l.Tables + t), kind: k, op: op}, dbi, t)
}

// dbStmt returns the journal statement op of database dbi.
func (s *SQL) dbStmt(ctx context.Context, op stmtOp, dbi int) (*sql.Stmt, error) {
	return s.prepared(ctx, stmtKey{shard: int32(dbi * s.cfg.Layout.Tables), op: op}, dbi, 0)
}

// prepared returns the statement sk names, on table t of database dbi,
// preparing it on first use.
func (s *SQL) prepared(ctx context.Context, sk stmtKey, dbi, t int) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(sk); ok {
		return st.(*sql.Stmt), nil
	}
	d, k := s.cfg.Dialect, sk.kind
	table := s.cfg.Layout.table(d, k, dbi, t)
	var q string
	switch sk.op {
	case opList:
		q = listQuery(table, k)
	case opListCounted:
		q = countedListQuery(table, k)
	case opInsert:
		q = insertQuery(d, table, k)
	case opTouch:
		q = touchQuery(table, k)
	case opDelete:
		q = deleteQuery(table, k)
	case opUpsert:
		q = upsertQuery(d, table, k)
	case opTime:
		q = timeQuery(table, k)
	case opTimeLock:
		q = timeQuery(table, k) + " FOR UPDATE"
	case opLogChange:
		q = logChangeQuery(s.journalTable(dbi, changesTable))
	case opIntentUpsert:
		q = intentUpsertQuery(s.journalTable(dbi, intentsTable))
	case opIntentLock:
		q = intentLockQuery(s.journalTable(dbi, intentsTable))
	case opIntentDelete:
		q = intentDeleteQuery(s.journalTable(dbi, intentsTable))
	}
	st, err := s.dbs[dbi].PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	// Two callers may prepare the same statement at once; the second keeps
	// the first's and closes its own.
	if prev, loaded := s.stmts.LoadOrStore(sk, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Load implements Source.
func (s *SQL) Load(ctx context.Context, uid uint64, k shard.Kind, limit int) (List, error) {
	if err := s.CheckUID(uid); err != nil {
		return List{}, fmt.Errorf("load %s: %w", k, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	// One more row than the cap tells a full list from a cut one.
	fetch := math.MaxInt32
	if limit > 0 {
		fetch = limit + 1
	}
	fail := func(err error) (List, error) {
		return List{}, fmt.Errorf("load %s of uid %d from %s: %w", k, uid, s.Shard(uid), err)
	}
	// A capped load reads the list's COUNT(*) in the same statement, so
	// the total and the members come from one snapshot of the table: a
	// FOLLOW landing between two queries would otherwise be counted in the
	// total and then once more by its patch of the cached list.
	op, args := opList, []any{uid, fetch}
	if limit > 0 {
		op, args = opListCounted, []any{uid, uid, fetch}
	}
	st, err := s.stmt(ctx, op, k, uid)
	if err != nil {
		return fail(err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var l List
	if limit > 0 {
		l.Members = make([]Member, 0, min(limit+1, 1024))
	}
	var other, t, total intCol
	dest := []any{&other, &t}
	if limit > 0 {
		dest = append(dest, &total)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrBadRow, err))
		}
		if other.null || other.n < 0 || t.null || t.n < 0 || t.n > math.MaxUint32 {
			return fail(fmt.Errorf("%w: uid %v, addtime %v", ErrBadRow, other, t))
		}
		l.Members = append(l.Members, Member{UID: uint64(other.n), Time: uint32(t.n)})
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if limit > 0 && len(l.Members) > limit {
		l.Members, l.Truncated = l.Members[:limit], true
		l.Total = int(max(total.n, int64(limit)+1))
	}
	return l, nil
}

// LookupBatch is the most uids one Lookup query names.
const LookupBatch = 1000

// Lookup implements Source. The uids are written into the query as
// decimals (CheckUID bounds them to int64), so a batch of any length is
// one statement without a prepared variant per length.
func (s *SQL) Lookup(ctx context.Context, uid uint64, k shard.Kind, others []uint64) ([]Member, error) {
	if err := s.CheckUID(uid); err != nil {
		return nil, fmt.Errorf("look up %s: %w", k, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var found []Member
	for len(others) > 0 {
		batch := others[:min(len(others), LookupBatch)]
		others = others[len(batch):]
		var err error
		if found, err = s.lookupBatch(ctx, uid, k, batch, found); err != nil {
			return nil, fmt.Errorf("look up %d uids in %s of uid %d from %s: %w", len(batch), k, uid, s.Shard(uid), err)
		}
	}
	return found, nil
}

func (s *SQL) lookupBatch(ctx context.Context, uid uint64, k shard.Kind, others []uint64, found []Member) ([]Member, error) {
	for _, o := range others {
		if err := s.CheckUID(o); err != nil {
			return found, err
		}
	}
	dbi, t := s.cfg.Layout.Route(uid)
	rows, err := s.dbs[dbi].QueryContext(ctx, lookupQuery(s.cfg.Layout.table(s.cfg.Dialect, k, dbi, t), k, others), uid)
	if err != nil {
		return found, err
	}
	defer rows.Close()
	var other, tm intCol
	for rows.Next() {
		if err := rows.Scan(&other, &tm); err != nil {
			return found, fmt.Errorf("%w: %w", ErrBadRow, err)
		}
		if other.null || other.n < 0 || tm.null || tm.n < 0 || tm.n > math.MaxUint32 {
			return found, fmt.Errorf("%w: uid %v, addtime %v", ErrBadRow, other, tm)
		}
		found = append(found, Member{UID: uint64(other.n), Time: uint32(tm.n)})
	}
	return found, rows.Err()
}

// intCol scans an integer column without database/sql's reflection,
// which took most of the client's time on a 3000-member list. A value
// that is not an integer within int64 is a bad row.
type intCol struct {
	n    int64
	null bool
}

func (c *intCol) Scan(src any) error {
	c.n, c.null = 0, false
	switch v := src.(type) {
	case int64:
		c.n = v
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Errorf("integer %d out of range", v)
		}
		c.n = int64(v)
	case nil:
		c.null = true
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return err
		}
		c.n = n
	default:
		return fmt.Errorf("%T %v is not an integer", src, src)
	}
	return nil
}

func (c intCol) String() string {
	if c.null {
		return "NULL"
	}
	return strconv.FormatInt(c.n, 10)
}

// OpenSQLite opens (creating if needed) the embedded source at path with the
// schema in place: one database, tables as layout says.
func OpenSQLite(ctx context.Context, path string, layout Layout) (*SQL, error) {
	return openSQLite(ctx, path, layout, 0)
}

// openSQLite is OpenSQLite with a query timeout (0: the default).
func openSQLite(ctx context.Context, path string, layout Layout, timeout time.Duration) (*SQL, error) {
	if layout.DBs > 1 {
		return nil, fmt.Errorf("sqlite source: one database file holds all tables; got %d databases", layout.DBs)
	}
	if err := checkSQLiteDir(path); err != nil {
		return nil, err
	}
	// WAL lets readers run beside a writer; busy_timeout makes concurrent
	// writers wait instead of failing at once. Write transactions begin
	// IMMEDIATE, taking the write lock first: one that read first and
	// wrote after would get SQLITE_BUSY at once, without waiting, when
	// another writer committed in between.
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=cache_size(-65536)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite source %s: %w", path, err)
	}
	s, err := NewSQL(SQLConfig{Layout: layout, Dialect: SQLite, QueryTimeout: timeout}, []*sql.DB{db})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.CreateSchema(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite source %s: %w", path, err)
	}
	return s, nil
}

// checkSQLiteDir says plainly what SQLite reports as "unable to open
// database file: out of memory (14)": the database's directory is missing
// or not writable. SQLite needs it writable even for an existing file, to
// create the -wal and -shm files beside it.
func checkSQLiteDir(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".relcache-probe-*")
	if err != nil {
		return fmt.Errorf("sqlite source %s: SQLite must create files in %s: %w", path, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Close closes the cached statements and every database handle.
func (s *SQL) Close() error {
	var errs []error
	s.stmts.Range(func(k, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		s.stmts.Delete(k)
		return true
	})
	for _, db := range s.pools {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}
