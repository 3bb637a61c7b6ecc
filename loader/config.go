package loader

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config says which source to open and how it is laid out. It is what the
// `source-*` settings of `relcache serve`, `schema` and `import` fill.
type Config struct {
	// Kind is SourceSQLite (the embedded default; "" means it too),
	// SourceMySQL or SourceNone (a pure cache: misses stay misses).
	Kind SourceKind
	// Path is the SQLite file.
	Path string
	// Layout is the databases × tables split. SQLite holds one database.
	Layout Layout
	// MySQL lists the physical servers, each serving a range of database
	// indexes; together they must cover 0..Layout.DBs-1 exactly once.
	MySQL []MySQLServer
	// QueryTimeout bounds one query. Default 2s.
	QueryTimeout time.Duration
}

// SourceKind is the `source` setting: which system of record a node
// opens. It stays the setting's text, checked by Open (which every tool
// reports in its own words), so a Config can be written with a plain
// string; the constants are the words Open takes.
type SourceKind string

const (
	SourceSQLite SourceKind = "sqlite"
	SourceMySQL  SourceKind = "mysql"
	SourceNone   SourceKind = "none"
)

// MySQLServer is one physical MySQL server and the database indexes it
// holds (relation_First .. relation_Last).
type MySQLServer struct {
	// DSN is go-sql-driver/mysql's data source name without a database,
	// e.g. "relcache:pw@tcp(10.0.0.7:3306)/".
	DSN         string
	First, Last int
}

// Open opens the source cfg describes, creating its schema when create is
// set (`relcache schema`, the embedded default on first start). It returns
// nil, nil for Kind "none".
func Open(ctx context.Context, cfg Config, create bool) (*SQL, error) {
	switch cfg.Kind {
	case SourceNone:
		return nil, nil
	case SourceSQLite, "":
		if cfg.Path == "" {
			return nil, fmt.Errorf("sqlite source: no file path")
		}
		return openSQLite(ctx, cfg.Path, cfg.Layout, cfg.QueryTimeout)
	case SourceMySQL:
		return OpenMySQL(ctx, cfg, create)
	}
	return nil, fmt.Errorf("source %q: want sqlite, mysql or none", cfg.Kind)
}

// ParseMySQLServer reads the `source-mysql` setting's form,
// "FIRST-LAST=DSN" or "N=DSN": the database indexes, then the DSN (which may
// itself contain '=', so the first one splits).
func ParseMySQLServer(s string) (MySQLServer, error) {
	rng, dsn, ok := strings.Cut(s, "=")
	if !ok || dsn == "" {
		return MySQLServer{}, fmt.Errorf("mysql server %q: want FIRST-LAST=DSN, e.g. 0-1=user:pw@tcp(host:3306)/", s)
	}
	first, last, isRange := strings.Cut(rng, "-")
	if !isRange {
		last = first
	}
	f, err1 := strconv.Atoi(strings.TrimSpace(first))
	l, err2 := strconv.Atoi(strings.TrimSpace(last))
	if err1 != nil || err2 != nil || f < 0 || l < f {
		return MySQLServer{}, fmt.Errorf("mysql server %q: database range %q is not FIRST-LAST with 0 <= FIRST <= LAST", s, rng)
	}
	return MySQLServer{DSN: dsn, First: f, Last: l}, nil
}

// Shard names the database holding uid's rows (of either kind: the shard
// key is the list owner's uid): the name LOADFAIL replies and metrics carry.
func (s *SQL) Shard(uid uint64) string {
	db, _ := s.cfg.Layout.Route(uid)
	return s.cfg.Layout.DatabaseName(db)
}
