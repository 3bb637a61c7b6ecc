package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	_ "modernc.org/sqlite" // the embedded default source; pure Go, no cgo
)

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
}

// Source is the system of record for relation lists.
type Source interface {
	// Load reads uid's list of kind k, newest first, at most limit
	// members (0: all).
	Load(ctx context.Context, uid uint64, k Kind, limit int) (List, error)
	// Shard names the database holding uid's lists, for errors and metrics.
	Shard(uid uint64) string
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
type SQL struct {
	cfg SQLConfig
	dbs []*sql.DB
}

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
	return &SQL{cfg: cfg, dbs: dbs}, nil
}

// CreateSchema creates the tables in every database, idempotently.
func (s *SQL) CreateSchema(ctx context.Context) error {
	for i, db := range s.dbs {
		for _, stmt := range s.cfg.Layout.DDL(s.cfg.Dialect) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create schema in database %d: %w", i, err)
			}
		}
	}
	return nil
}

// Load implements Source.
func (s *SQL) Load(ctx context.Context, uid uint64, k Kind, limit int) (List, error) {
	dbi, table := s.cfg.Layout.Route(uid)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	// One more row than the cap tells a full list from a cut one.
	fetch := math.MaxInt32
	if limit > 0 {
		fetch = limit + 1
	}
	rows, err := s.dbs[dbi].QueryContext(ctx, s.cfg.Layout.listQuery(k, table), uid, fetch)
	if err != nil {
		return List{}, fmt.Errorf("load %s of uid %d from database %d: %w", k, uid, dbi, err)
	}
	defer rows.Close()
	var l List
	for rows.Next() {
		var other, t sql.NullInt64
		if err := rows.Scan(&other, &t); err != nil {
			return List{}, fmt.Errorf("load %s of uid %d from database %d: %w: %w", k, uid, dbi, ErrBadRow, err)
		}
		if !other.Valid || other.Int64 < 0 || !t.Valid || t.Int64 < 0 || t.Int64 > math.MaxUint32 {
			return List{}, fmt.Errorf("load %s of uid %d from database %d: %w: uid %v, addtime %v", k, uid, dbi, ErrBadRow, nullString(other), nullString(t))
		}
		l.Members = append(l.Members, Member{UID: uint64(other.Int64), Time: uint32(t.Int64)})
	}
	if err := rows.Err(); err != nil {
		return List{}, fmt.Errorf("load %s of uid %d from database %d: %w", k, uid, dbi, err)
	}
	if limit > 0 && len(l.Members) > limit {
		l.Members, l.Truncated = l.Members[:limit], true
	}
	return l, nil
}

func nullString(n sql.NullInt64) string {
	if !n.Valid {
		return "NULL"
	}
	return fmt.Sprint(n.Int64)
}

// Edge is one follow relation: From follows To since Time.
type Edge struct {
	From, To uint64
	Time     uint32
}

// AddEdges writes each edge to both tables (following in From's shard,
// follower in To's), replacing the time of an edge already there, so it is
// idempotent. Each edge is one transaction per database it touches in turn;
// a failure between the two writes is returned naming which half is
// written. (Bulk import and FOLLOW build on this.)
func (s *SQL) AddEdges(ctx context.Context, edges []Edge) error {
	for _, e := range edges {
		if err := s.upsert(ctx, Following, e.From, e.To, e.Time); err != nil {
			return fmt.Errorf("add edge %d->%d: following row: %w", e.From, e.To, err)
		}
		if err := s.upsert(ctx, Follower, e.To, e.From, e.Time); err != nil {
			return fmt.Errorf("add edge %d->%d: following row written, follower row failed: %w", e.From, e.To, err)
		}
	}
	return nil
}

func (s *SQL) upsert(ctx context.Context, k Kind, key, other uint64, t uint32) error {
	dbi, table := s.cfg.Layout.Route(key)
	kc, oc := k.columns()
	name := s.cfg.Layout.tableName(k.String(), table)
	q := fmt.Sprintf("INSERT INTO %s (%s, %s, addtime) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE addtime = VALUES(addtime)", name, kc, oc)
	if s.cfg.Dialect == SQLite {
		q = fmt.Sprintf("INSERT INTO %s (%s, %s, addtime) VALUES (?, ?, ?) ON CONFLICT (%s, %s) DO UPDATE SET addtime = excluded.addtime", name, kc, oc, kc, oc)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	_, err := s.dbs[dbi].ExecContext(ctx, q, key, other, t)
	return err
}

// OpenSQLite opens (creating if needed) the embedded source at path with the
// schema in place: one database, tables as layout says.
func OpenSQLite(ctx context.Context, path string, layout Layout) (*SQL, error) {
	if layout.DBs > 1 {
		return nil, fmt.Errorf("sqlite source: one database file holds all tables; got %d databases", layout.DBs)
	}
	// WAL lets readers run beside a writer; busy_timeout makes concurrent
	// writers wait instead of failing at once.
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite source %s: %w", path, err)
	}
	s, err := NewSQL(SQLConfig{Layout: layout, Dialect: SQLite}, []*sql.DB{db})
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

// Close closes every database handle.
func (s *SQL) Close() error {
	var errs []error
	for _, db := range s.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}
