// Package loader reads relation lists from the system of record: MySQL
// sharded by uid in production, an embedded SQLite file out of the box. Both
// go through database/sql and share the queries here.
//
// The layout is Weibo's: every relation is stored twice, in a following table
// sharded by the follower's uid (to answer "whom does U follow") and in a
// follower table sharded by the followee's uid (to answer "who follows U"),
// because each question needs its own shard key. Which database and table
// hold a uid's rows is shard.SourceTable's to say (Layout.Route), and which
// list a query reads is a shard.Kind: the routing vocabulary the server and
// the proxy use too.
package loader

import (
	"fmt"
	"strconv"

	"github.com/relcache/relcache/shard"
)

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
func (l Layout) Route(uid uint64) (db, table int) { return shard.SourceTable(uid, l.DBs, l.Tables) }

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
// idempotently, with bare table names (for the database in use). The
// primary key starts with the shard key, so a list is one index range, and
// (key, addtime) serves the newest-first query with a cap.
func (l Layout) DDL(d Dialect) []string {
	return l.ddl(d, func(k shard.Kind, t int) string { return l.tableName(k.String(), t) })
}

// ddl is DDL with the table names name gives (qualified ones, for
// CreateSchema on a MySQL server holding several databases).
func (l Layout) ddl(d Dialect, name func(k shard.Kind, table int) string) []string {
	var out []string
	for t := range l.Tables {
		for _, k := range []shard.Kind{shard.Following, shard.Follower} {
			bare, full := l.tableName(k.String(), t), name(k, t)
			key, other := columns(k)
			create := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s BIGINT UNSIGNED NOT NULL,\n  %s BIGINT UNSIGNED NOT NULL,\n  addtime INT UNSIGNED NOT NULL,\n  PRIMARY KEY (%s, %s)", full, key, other, key, other)
			if d == MySQL {
				out = append(out, create+fmt.Sprintf(",\n  KEY %s_time (%s, addtime)\n)", bare, key))
				continue
			}
			out = append(out, create+"\n)",
				fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s_time ON %s (%s, addtime)", bare, full, key))
		}
	}
	return out
}

// columns names a table's shard-key column and the other uid column.
func columns(k shard.Kind) (key, other string) {
	if k == shard.Follower {
		return "touid", "fromuid"
	}
	return "fromuid", "touid"
}

// table is the name every query uses for table t of kind k in database
// db: qualified (relation_01.following_03) for MySQL, where one server holds
// several databases and a pooled connection has no current one; bare for
// SQLite, whose one file is the one database.
func (l Layout) table(d Dialect, k shard.Kind, db, t int) string {
	name := l.tableName(k.String(), t)
	if d == MySQL {
		return l.DatabaseName(db) + "." + name
	}
	return name
}

// listQuery is the SELECT for one list, newest first, with a cap: the one
// query both dialects run. Ties in time go in descending uid order because
// InnoDB's (key, addtime) index ends with the primary key's other column:
// read backwards it yields exactly this order, so a capped load of a
// million-fan list reads cap+1 index entries. With other ascending, MySQL
// reads the whole list and sorts it (EXPLAIN: Using filesort).
func listQuery(table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("SELECT %s, addtime FROM %s WHERE %s = ? ORDER BY addtime DESC, %s DESC LIMIT ?",
		other, table, key, other)
}

// countedListQuery is listQuery with the list's length on every row: an
// uncorrelated subquery, evaluated once, in the same statement and so the
// same snapshot as the members.
func countedListQuery(table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("SELECT %s, addtime, (SELECT COUNT(*) FROM %s WHERE %s = ?) FROM %s WHERE %s = ? ORDER BY addtime DESC, %s DESC LIMIT ?",
		other, table, key, table, key, other)
}

// lookupQuery reads the rows of key ? whose other uid is one of others,
// which it names as decimals: the primary key (key, other) answers it.
func lookupQuery(table string, k shard.Kind, others []uint64) string {
	key, other := columns(k)
	q := fmt.Appendf(nil, "SELECT %s, addtime FROM %s WHERE %s = ? AND %s IN (", other, table, key, other)
	for i, o := range others {
		if i > 0 {
			q = append(q, ',')
		}
		q = strconv.AppendUint(q, o, 10)
	}
	return string(append(q, ')'))
}

// upsertQuery writes one row (key, other, addtime) into table, replacing
// the time of a row already there.
func upsertQuery(d Dialect, table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("INSERT INTO %s (%s, %s, addtime) VALUES (?, ?, ?)%s", table, key, other, onConflict(d, k))
}

// onConflict is the clause that makes an INSERT an upsert.
func onConflict(d Dialect, k shard.Kind) string {
	if d == MySQL {
		return " ON DUPLICATE KEY UPDATE addtime = VALUES(addtime)"
	}
	key, other := columns(k)
	return fmt.Sprintf(" ON CONFLICT (%s, %s) DO UPDATE SET addtime = excluded.addtime", key, other)
}

// insertQuery writes one row unless its key is there: one affected row
// means it was not. MySQL's INSERT IGNORE would also swallow conversion
// errors, but every argument is a typed uid or time.
func insertQuery(d Dialect, table string, k shard.Kind) string {
	key, other := columns(k)
	if d == MySQL {
		return fmt.Sprintf("INSERT IGNORE INTO %s (%s, %s, addtime) VALUES (?, ?, ?)", table, key, other)
	}
	return fmt.Sprintf("INSERT INTO %s (%s, %s, addtime) VALUES (?, ?, ?) ON CONFLICT (%s, %s) DO NOTHING", table, key, other, key, other)
}

// timeQuery reads the time of one row (key, other).
func timeQuery(table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("SELECT addtime FROM %s WHERE %s = ? AND %s = ?", table, key, other)
}

// touchQuery sets the time of one row (addtime, key, other).
func touchQuery(table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("UPDATE %s SET addtime = ? WHERE %s = ? AND %s = ?", table, key, other)
}

// deleteQuery removes one row (key, other).
func deleteQuery(table string, k shard.Kind) string {
	key, other := columns(k)
	return fmt.Sprintf("DELETE FROM %s WHERE %s = ? AND %s = ?", table, key, other)
}
