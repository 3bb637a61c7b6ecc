// Package loader reads relation lists from the system of record: MySQL
// sharded by uid in production, an embedded SQLite file out of the box. Both
// go through database/sql and share the queries here.
//
// The layout is Weibo's: every relation is stored twice, in a following table
// sharded by the follower's uid (to answer "whom does U follow") and in a
// follower table sharded by the followee's uid (to answer "who follows U"),
// because each question needs its own shard key. A uid lives in shard
// uid mod (DBs×Tables): database shard/Tables, table shard%Tables.
package loader

import "fmt"

// Layout is how the relation tables are split.
type Layout struct {
	// DBs is the number of databases (MySQL schemas). Default 1.
	DBs int
	// Tables is the number of tables of each kind per database. Default 1.
	Tables int
}

func (l *Layout) fill() error {
	if l.DBs == 0 {
		l.DBs = 1
	}
	if l.Tables == 0 {
		l.Tables = 1
	}
	if l.DBs < 1 || l.Tables < 1 || l.DBs*l.Tables > 1<<16 {
		return fmt.Errorf("loader layout: %d databases x %d tables (want >= 1 each, at most 65536 in all)", l.DBs, l.Tables)
	}
	return nil
}

// Route gives the database and table index of uid's rows.
func (l Layout) Route(uid uint64) (db, table int) {
	s := int(uid % uint64(l.DBs*l.Tables))
	return s / l.Tables, s % l.Tables
}

// Table names, zero-padded so they sort: following_00 .. following_15.
func (l Layout) tableName(kind string, table int) string {
	width := len(fmt.Sprint(l.Tables - 1))
	return fmt.Sprintf("%s_%0*d", kind, max(width, 2), table)
}

// DatabaseName is the name of database db: relation_00, relation_01, ...
func (l Layout) DatabaseName(db int) string {
	width := len(fmt.Sprint(l.DBs - 1))
	return fmt.Sprintf("relation_%0*d", max(width, 2), db)
}

// Dialect is the SQL flavour of a source.
type Dialect uint8

const (
	// MySQL covers MySQL and MariaDB.
	MySQL Dialect = iota
	// SQLite is the embedded default.
	SQLite
)

// DDL returns the statements that create one database's tables,
// idempotently. The primary key starts with the shard key, so a list is one
// index range, and (key, addtime) serves the newest-first query with a cap.
func (l Layout) DDL(d Dialect) []string {
	var out []string
	for t := range l.Tables {
		for _, k := range []Kind{Following, Follower} {
			name := l.tableName(k.String(), t)
			key, other := k.columns()
			create := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s BIGINT UNSIGNED NOT NULL,\n  %s BIGINT UNSIGNED NOT NULL,\n  addtime INT UNSIGNED NOT NULL,\n  PRIMARY KEY (%s, %s)", name, key, other, key, other)
			if d == MySQL {
				out = append(out, create+fmt.Sprintf(",\n  KEY %s_time (%s, addtime)\n)", name, key))
				continue
			}
			out = append(out, create+"\n)",
				fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s_time ON %s (%s, addtime)", name, name, key))
		}
	}
	return out
}

// Kind is which of a user's lists a query reads.
type Kind uint8

const (
	// Following is the list of uids a user follows.
	Following Kind = iota
	// Follower is the user's fans.
	Follower
)

func (k Kind) String() string {
	if k == Follower {
		return "follower"
	}
	return "following"
}

// columns names a table's shard-key column and the other uid column.
func (k Kind) columns() (key, other string) {
	if k == Follower {
		return "touid", "fromuid"
	}
	return "fromuid", "touid"
}

// listQuery is the SELECT for one list, newest first, with a cap: the one
// query both dialects run.
func (l Layout) listQuery(k Kind, table int) string {
	key, other := k.columns()
	return fmt.Sprintf("SELECT %s, addtime FROM %s WHERE %s = ? ORDER BY addtime DESC, %s LIMIT ?",
		other, l.tableName(k.String(), table), key, other)
}
