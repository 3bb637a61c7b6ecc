package loader

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/relcache/relcache/shard"
)

// The journal: what makes a follow write crash-safe, and what lets a cache
// that restarts from a snapshot tell which lists changed after it.
//
// Change log. Every FOLLOW and UNFOLLOW, and every fix the sweep or
// `relcache repair` makes, inserts (id, fromuid, touid, created) into
// edge_changes of from's database, in the transaction that writes the
// following row. Ids only grow (AUTO_INCREMENT; AUTOINCREMENT in SQLite,
// which never reuses one), so "the newest id of each database" is a
// watermark: a snapshot that keeps it can ask on restart which lists
// changed since (ChangeMarks, ChangesSince). Old changes are pruned
// (PruneChanges), which records how far in relcache_meta, so that a
// watermark older than that is known to be useless rather than trusted.
//
// Intents (MySQL, rows on two servers). No transaction spans two servers,
// so a write whose rows live on both is two: the first, in from's
// database, upserts an intent row (fromuid, touid) in edge_intents, writes
// the following row and logs the change; the second (completeIntent) locks
// the intent row, reads the following row as it is then, makes the
// follower row on to's server agree with it, and deletes the intent. Every
// writer of an edge locks its intent row first, so completions and writes
// of one edge are serialised by the database itself, across relcache
// processes: a completion can never write a follower row older than the
// following row, whoever wrote that. A crash between the two leaves the
// intent; relcache serve completes pending intents at start and every
// source-sweep-interval (PendingIntents, CompleteIntent). Where both
// databases share a server (and always in SQLite), both rows and the change
// are one transaction and no intent is written.

const (
	changesTable = "edge_changes"
	intentsTable = "edge_intents"
	metaTable    = "relcache_meta"
	// prunedKey's value in relcache_meta is the highest change id pruned
	// (deleted) from edge_changes, or that is about to be.
	prunedKey = "changes_pruned_through"
	// pruneChunk is the changes read, and deleted, per prune statement.
	pruneChunk = 5000
)

// ErrChangesPruned is wrapped by ChangesSince's error when changes after a
// watermark were pruned: what changed since it can no longer be told.
var ErrChangesPruned = errors.New("changes after the watermark were pruned")

// Journal is a Writer that logs its writes and completes interrupted ones.
// relcache serve uses it to keep snapshot-loaded lists equal to the source
// and to sweep pending intents.
type Journal interface {
	Writer
	// ChangeMarks returns, per database, the id of its newest change (0:
	// none yet), or -1 where it could not be read (the error says why).
	ChangeMarks(ctx context.Context) ([]int64, error)
	// ChangesSince calls fn for every change logged after marks (one per
	// database, as ChangeMarks gave them), in id order per database. An
	// error wrapping ErrChangesPruned means some were pruned.
	ChangesSince(ctx context.Context, marks []int64, fn func(from, to uint64)) error
	// PendingIntents lists up to limit edges whose intent was recorded at
	// or before olderThan and not completed.
	PendingIntents(ctx context.Context, olderThan time.Time, limit int) ([]Edge, error)
	// CompleteIntent makes the follower row of from->to agree with its
	// following row and clears the edge's intent; changed reports whether
	// the follower row had to change. Without an intent it does nothing.
	CompleteIntent(ctx context.Context, from, to uint64) (changed bool, err error)
	// PruneChanges deletes changes logged before before, and returns how
	// many.
	PruneChanges(ctx context.Context, before time.Time) (int64, error)
}

var _ Journal = (*SQL)(nil)

// journalDDL is the statements creating the journal's tables of one
// database, named by name. SQLite gets no intents: its rows are always in
// one file, written in one transaction.
func journalDDL(d Dialect, name func(table string) string) []string {
	if d == SQLite {
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  fromuid INTEGER NOT NULL,\n  touid INTEGER NOT NULL,\n  created INTEGER NOT NULL\n)", name(changesTable)),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  name TEXT NOT NULL PRIMARY KEY,\n  value INTEGER NOT NULL\n)", name(metaTable)),
		}
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,\n  fromuid BIGINT UNSIGNED NOT NULL,\n  touid BIGINT UNSIGNED NOT NULL,\n  created INT UNSIGNED NOT NULL,\n  PRIMARY KEY (id)\n)", name(changesTable)),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  fromuid BIGINT UNSIGNED NOT NULL,\n  touid BIGINT UNSIGNED NOT NULL,\n  created INT UNSIGNED NOT NULL,\n  PRIMARY KEY (fromuid, touid)\n)", name(intentsTable)),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  name VARCHAR(64) NOT NULL,\n  value BIGINT NOT NULL,\n  PRIMARY KEY (name)\n)", name(metaTable)),
	}
}

// journalTable names a journal table of database dbi as queries use it
// (qualified for MySQL, as Layout.table does).
func (s *SQL) journalTable(dbi int, table string) string {
	if s.cfg.Dialect == MySQL {
		return s.cfg.Layout.DatabaseName(dbi) + "." + table
	}
	return table
}

func logChangeQuery(table string) string {
	return "INSERT INTO " + table + " (fromuid, touid, created) VALUES (?, ?, ?)"
}

func intentUpsertQuery(table string) string {
	return "INSERT INTO " + table + " (fromuid, touid, created) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE created = VALUES(created)"
}

func intentLockQuery(table string) string {
	return "SELECT created FROM " + table + " WHERE fromuid = ? AND touid = ? FOR UPDATE"
}

func intentDeleteQuery(table string) string {
	return "DELETE FROM " + table + " WHERE fromuid = ? AND touid = ?"
}

// journalHint says what to do when the journal's tables are missing: a
// MySQL schema created by an older relcache (serve never creates MySQL
// tables).
func journalHint(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 {
		return fmt.Errorf("%w (run `relcache schema` to create the tables this version needs)", err)
	}
	return err
}

// sameServer reports whether from's following row and to's follower row
// are reached through one pool, so that one transaction can hold both.
func (s *SQL) sameServer(from, to uint64) bool {
	dbF, _ := s.cfg.Layout.Route(from)
	dbT, _ := s.cfg.Layout.Route(to)
	return s.dbs[dbF] == s.dbs[dbT]
}

// txExec runs the statement op of the table of kind k holding key's rows
// in tx and returns the affected-row count.
func (s *SQL) txExec(ctx context.Context, tx *sql.Tx, op stmtOp, k shard.Kind, key uint64, args ...any) (int64, error) {
	st, err := s.stmt(ctx, op, k, key)
	if err != nil {
		return 0, err
	}
	res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// txDBExec runs the journal statement op of database dbi in tx.
func (s *SQL) txDBExec(ctx context.Context, tx *sql.Tx, op stmtOp, dbi int, args ...any) error {
	st, err := s.dbStmt(ctx, op, dbi)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	return err
}

// logChange records, in tx on from's database, that from->to changed.
func (s *SQL) logChange(ctx context.Context, tx *sql.Tx, from, to uint64) error {
	dbi, _ := s.cfg.Layout.Route(from)
	if err := s.txDBExec(ctx, tx, opLogChange, dbi, from, to, time.Now().Unix()); err != nil {
		return fmt.Errorf("log the change in %s: %w", s.cfg.Layout.DatabaseName(dbi), err)
	}
	return nil
}

// rowTime reads the time of the row (key, other) of kind k with op (opTime
// or opTimeLock), in tx if there is one, else on key's pool.
func (s *SQL) rowTime(ctx context.Context, tx *sql.Tx, op stmtOp, k shard.Kind, key, other uint64) (t int64, ok bool, err error) {
	st, err := s.stmt(ctx, op, k, key)
	if err != nil {
		return 0, false, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	var c intCol
	switch err := st.QueryRowContext(ctx, key, other).Scan(&c); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return c.n, true, nil
}

// writeFollower makes the follower row of from->to hold time t, or not be
// there when present is false: in tx if there is one, else on to's pool.
func (s *SQL) writeFollower(ctx context.Context, tx *sql.Tx, from, to uint64, t int64, present bool) error {
	op, args := opDelete, []any{to, from}
	if present {
		op, args = opUpsert, []any{to, from, t}
	}
	if tx != nil {
		_, err := s.txExec(ctx, tx, op, shard.Follower, to, args...)
		return err
	}
	_, err := s.exec(ctx, op, shard.Follower, to, args...)
	return err
}

// completeIntent is the second half of a write across servers: under the
// lock of the edge's intent row, in from's database, it makes the follower
// row agree with the following row as it is now, then deletes the intent.
// Without an intent (completed already) it does nothing. With fix set (the
// sweep, repair) it first reads the follower row, writes it only if it
// differs, and logs a change when it did; a FOLLOW's own completion skips
// that read, its change being logged with the following row.
//
// The follower row is written while the intent's row lock is held: a
// concurrent writer of the same edge waits for it in its first half, and
// so cannot interleave a different following row between this read and
// this write. The following row is read without a lock: every writer of it
// takes the intent lock first, and a plain read after that lock sees them
// all; a locking read would also take InnoDB gap locks on neighbouring
// edges for as long as the other server takes.
func (s *SQL) completeIntent(ctx context.Context, from, to uint64, fix bool) (changed bool, err error) {
	dbF, _ := s.cfg.Layout.Route(from)
	err = s.inTx(ctx, from, func(ctx context.Context, tx *sql.Tx) error {
		st, err := s.dbStmt(ctx, opIntentLock, dbF)
		if err != nil {
			return err
		}
		var created int64
		switch err := tx.StmtContext(ctx, st).QueryRowContext(ctx, from, to).Scan(&created); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("lock the intent in %s: %w", s.Shard(from), err)
		}
		want, present, err := s.rowTime(ctx, tx, opTime, shard.Following, from, to)
		if err != nil {
			return fmt.Errorf("read the following row in %s: %w", s.Shard(from), err)
		}
		changed = true
		if fix {
			cur, there, err := s.rowTime(ctx, nil, opTime, shard.Follower, to, from)
			if err != nil {
				return fmt.Errorf("read the follower row in %s: %w", s.Shard(to), err)
			}
			changed = there != present || cur != want
		}
		if changed {
			if err := s.writeFollower(ctx, nil, from, to, want, present); err != nil {
				return fmt.Errorf("write the follower row in %s: %w", s.Shard(to), err)
			}
		}
		if err := s.txDBExec(ctx, tx, opIntentDelete, dbF, from, to); err != nil {
			return fmt.Errorf("clear the intent in %s: %w", s.Shard(from), err)
		}
		if fix && changed {
			return s.logChange(ctx, tx, from, to)
		}
		return nil
	})
	return changed && err == nil, err
}

// CompleteIntent implements Journal. It makes one attempt, within
// QueryTimeout: the sweep that calls it is the retry.
func (s *SQL) CompleteIntent(ctx context.Context, from, to uint64) (changed bool, err error) {
	if changed, err = s.completeIntent(ctx, from, to, true); err != nil {
		return false, fmt.Errorf("complete the intent of %d->%d: %w", from, to, journalHint(err))
	}
	return changed, nil
}

// FixEdge makes the follower row of from->to agree with its following row
// (the following row is written first and is what FOLLOW answered from),
// logging a change if it had to write; changed reports whether it did. It
// serialises with concurrent writers of the edge as they do with each
// other: in one locking transaction where one server holds both rows,
// through the edge's intent otherwise. `relcache repair` calls it for each
// one-sided edge it finds.
func (s *SQL) FixEdge(ctx context.Context, from, to uint64) (changed bool, err error) {
	if err := checkUIDs(from, to); err != nil {
		return false, fmt.Errorf("fix: %w", err)
	}
	if s.sameServer(from, to) {
		err = s.retryDeadlock(ctx, func() error {
			var err error
			changed, err = s.fixTx(ctx, from, to)
			return err
		})
	} else {
		err = s.retryDeadlock(ctx, func() error { return s.recordIntent(ctx, from, to) })
		if err == nil {
			err = s.retry(ctx, func(ctx context.Context) error {
				var err error
				changed, err = s.completeIntent(ctx, from, to, true)
				return err
			})
		}
	}
	if err != nil {
		return false, fmt.Errorf("fix %d->%d (%s, %s): %w", from, to, s.Shard(from), s.Shard(to), journalHint(err))
	}
	return changed, nil
}

// fixTx is FixEdge where one transaction holds both rows: both are read
// with locks (SQLite's transaction holds the write lock from its start),
// so no writer of the edge can come between the reads and the write.
func (s *SQL) fixTx(ctx context.Context, from, to uint64) (changed bool, err error) {
	read := opTime
	if s.cfg.Dialect == MySQL {
		read = opTimeLock
	}
	err = s.inTx(ctx, from, func(ctx context.Context, tx *sql.Tx) error {
		want, present, err := s.rowTime(ctx, tx, read, shard.Following, from, to)
		if err != nil {
			return err
		}
		cur, there, err := s.rowTime(ctx, tx, read, shard.Follower, to, from)
		if err != nil || (there == present && cur == want) {
			return err
		}
		changed = true
		if err := s.writeFollower(ctx, tx, from, to, want, present); err != nil {
			return err
		}
		return s.logChange(ctx, tx, from, to)
	})
	return changed && err == nil, err
}

// recordIntent commits an intent for from->to alone, so that
// completeIntent will look at the edge.
func (s *SQL) recordIntent(ctx context.Context, from, to uint64) error {
	dbF, _ := s.cfg.Layout.Route(from)
	return s.inTx(ctx, from, func(ctx context.Context, tx *sql.Tx) error {
		return s.txDBExec(ctx, tx, opIntentUpsert, dbF, from, to, time.Now().Unix())
	})
}

// inTx runs f in a transaction on from's database, the whole bounded by
// QueryTimeout, and commits it if f succeeds.
func (s *SQL) inTx(ctx context.Context, from uint64, f func(context.Context, *sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	dbF, _ := s.cfg.Layout.Route(from)
	return s.writeTxOn(ctx, dbF, f)
}

// writeTxOn runs f in a write transaction on database dbi, one at a time
// for SQLite (see SQL.writer), and commits it if f succeeds.
func (s *SQL) writeTxOn(ctx context.Context, dbi int, f func(context.Context, *sql.Tx) error) error {
	if s.cfg.Dialect == SQLite {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := s.dbs[dbi].BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// PendingIntents implements Journal. A database that cannot be read is
// skipped, and named in the error; the intents of the others are returned.
func (s *SQL) PendingIntents(ctx context.Context, olderThan time.Time, limit int) ([]Edge, error) {
	if s.cfg.Dialect != MySQL {
		return nil, nil
	}
	var (
		out  []Edge
		errs []error
	)
	for dbi, db := range s.dbs {
		if len(out) >= limit {
			break
		}
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		err := queryEdges(qctx, db, func(from, to uint64) { out = append(out, Edge{From: from, To: to}) },
			"SELECT fromuid, touid FROM "+s.journalTable(dbi, intentsTable)+" WHERE created <= ? ORDER BY fromuid, touid LIMIT ?",
			olderThan.Unix(), limit-len(out))
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("pending intents in %s: %w", s.cfg.Layout.DatabaseName(dbi), journalHint(err)))
		}
	}
	return out, errors.Join(errs...)
}

// queryEdges runs q, whose rows are (fromuid, touid), and calls fn with each.
func queryEdges(ctx context.Context, db *sql.DB, fn func(from, to uint64), q string, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var from, to intCol
	for rows.Next() {
		if err := rows.Scan(&from, &to); err != nil {
			return err
		}
		fn(uint64(from.n), uint64(to.n))
	}
	return rows.Err()
}

// ChangeMarks implements Journal.
func (s *SQL) ChangeMarks(ctx context.Context) ([]int64, error) {
	marks := make([]int64, len(s.dbs))
	var errs []error
	for dbi, db := range s.dbs {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		var m sql.NullInt64
		err := db.QueryRowContext(qctx, "SELECT MAX(id) FROM "+s.journalTable(dbi, changesTable)).Scan(&m)
		cancel()
		if err != nil {
			marks[dbi] = -1
			errs = append(errs, fmt.Errorf("newest change in %s: %w", s.cfg.Layout.DatabaseName(dbi), journalHint(err)))
			continue
		}
		marks[dbi] = m.Int64
	}
	return marks, errors.Join(errs...)
}

// ChangesSince implements Journal. It reads how far changes were pruned
// after reading them: pruning records that before it deletes, so a prune
// that raced the read is seen.
func (s *SQL) ChangesSince(ctx context.Context, marks []int64, fn func(from, to uint64)) error {
	if len(marks) != len(s.dbs) {
		return fmt.Errorf("%d change marks for %d databases: the layout changed", len(marks), len(s.dbs))
	}
	for dbi, db := range s.dbs {
		name := s.cfg.Layout.DatabaseName(dbi)
		if marks[dbi] < 0 {
			return fmt.Errorf("changes in %s: no mark", name)
		}
		err := queryEdges(ctx, db, fn, "SELECT fromuid, touid FROM "+s.journalTable(dbi, changesTable)+" WHERE id > ? ORDER BY id", marks[dbi])
		if err != nil {
			return fmt.Errorf("changes in %s after %d: %w", name, marks[dbi], journalHint(err))
		}
		pruned, err := s.prunedThrough(ctx, dbi)
		if err != nil {
			return err
		}
		if pruned > marks[dbi] {
			return fmt.Errorf("changes in %s after %d: %w (through %d)", name, marks[dbi], ErrChangesPruned, pruned)
		}
	}
	return nil
}

// prunedThrough is the highest change id of database dbi pruned (0: none).
func (s *SQL) prunedThrough(ctx context.Context, dbi int) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var v int64
	err := s.dbs[dbi].QueryRowContext(ctx, "SELECT value FROM "+s.journalTable(dbi, metaTable)+" WHERE name = ?", prunedKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pruned changes in %s: %w", s.cfg.Layout.DatabaseName(dbi), journalHint(err))
	}
	return v, nil
}

// PruneChanges implements Journal. It walks each database's log from the
// oldest change in chunks, stops at the first change logged at or after
// before, and never deletes the newest change, so that no id is handed out
// twice even by a server that derives AUTO_INCREMENT from MAX(id) after a
// restart. Before each delete it raises changes_pruned_through to the
// chunk's last id.
func (s *SQL) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var (
		total int64
		errs  []error
	)
	for dbi := range s.dbs {
		n, err := s.pruneDB(ctx, dbi, before.Unix())
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("prune changes in %s: %w", s.cfg.Layout.DatabaseName(dbi), journalHint(err)))
		}
	}
	return total, errors.Join(errs...)
}

func (s *SQL) pruneDB(ctx context.Context, dbi int, before int64) (int64, error) {
	db, changes := s.dbs[dbi], s.journalTable(dbi, changesTable)
	ctx, cancel := context.WithTimeout(ctx, 10*s.cfg.QueryTimeout)
	defer cancel()
	var newest sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MAX(id) FROM "+changes).Scan(&newest); err != nil || !newest.Valid {
		return 0, err
	}
	upsert := "INSERT INTO " + s.journalTable(dbi, metaTable) + " (name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value))"
	if s.cfg.Dialect == SQLite {
		upsert = "INSERT INTO " + metaTable + " (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)"
	}
	var total int64
	for {
		// The oldest chunk: the ids to delete are its prefix logged before
		// the cutoff.
		rows, err := db.QueryContext(ctx, "SELECT id, created FROM "+changes+" WHERE id < ? ORDER BY id LIMIT ?", newest.Int64, pruneChunk)
		if err != nil {
			return total, err
		}
		var last int64 = -1
		n, whole := 0, true
		for rows.Next() {
			var id, created int64
			if err := rows.Scan(&id, &created); err != nil {
				rows.Close()
				return total, err
			}
			n++
			if created >= before {
				whole = false
				break
			}
			last = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, err
		}
		if last < 0 {
			return total, nil
		}
		if _, err := db.ExecContext(ctx, upsert, prunedKey, last); err != nil {
			return total, err
		}
		res, err := db.ExecContext(ctx, "DELETE FROM "+changes+" WHERE id <= ?", last)
		if err != nil {
			return total, err
		}
		deleted, _ := res.RowsAffected()
		total += deleted
		if !whole || n < pruneChunk {
			return total, nil
		}
	}
}
