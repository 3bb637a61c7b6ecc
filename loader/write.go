package loader

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/relcache/relcache/shard"
)

// Edge is one follow relation: From follows To since Time.
type Edge struct {
	From, To uint64
	Time     uint32
}

// ErrHalfWritten is wrapped by a Follow or Unfollow error when the
// following row was written (or deleted) but the follower row could not be,
// even after retries: the two tables disagree about the edge until the same
// call is repeated, which is safe since both writes are idempotent.
var ErrHalfWritten = errors.New("relation half written")

// upsertBatch is the number of rows in one multi-row upsert: about 20 kB
// of SQL, far below max_allowed_packet and SQLite's statement limit, and
// enough rows per round trip that the server's insert work dominates.
const upsertBatch = 500

// row is one row of a following or follower table.
type row struct {
	key, other uint64
	t          uint32
}

// group is the rows of one table.
type group struct {
	table int
	kind  shard.Kind
	rows  []row
}

// AddEdges writes each edge to both tables (following in From's shard,
// follower in To's), replacing the time of an edge already there, so it is
// idempotent; of duplicate edges in one call, the last one's time is kept.
//
// Rows are grouped by table, sorted by primary key and written as
// multi-row upserts, in one transaction per database, the databases in
// parallel. A failure leaves the databases that committed written and the
// others untouched (the error names the database): repeat the call. Edges
// whose rows land in different databases are therefore not atomic; batches
// of thousands of edges are what make it fast.
func (s *SQL) AddEdges(ctx context.Context, edges []Edge) error {
	for _, e := range edges {
		if err := checkUIDs(e.From, e.To); err != nil {
			return fmt.Errorf("add %d edges: %w", len(edges), err)
		}
	}
	if len(edges) == 0 {
		return nil
	}
	l := s.cfg.Layout
	// Grouped by database, then by shard and kind.
	byDB := make([]map[int]*group, l.DBs)
	add := func(k shard.Kind, r row) {
		dbi, t := l.Route(r.key)
		m := byDB[dbi]
		if m == nil {
			m = map[int]*group{}
			byDB[dbi] = m
		}
		id := t*2 + int(k)
		g := m[id]
		if g == nil {
			g = &group{table: t, kind: k}
			m[id] = g
		}
		g.rows = append(g.rows, r)
	}
	for _, e := range edges {
		add(shard.Following, row{key: e.From, other: e.To, t: e.Time})
		add(shard.Follower, row{key: e.To, other: e.From, t: e.Time})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs
		errs []error
	)
	for dbi, m := range byDB {
		if m == nil {
			continue
		}
		groups := make([]*group, 0, len(m))
		for _, g := range m {
			groups = append(groups, g)
		}
		slices.SortFunc(groups, func(a, b *group) int {
			return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.kind, b.kind))
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.writeGroups(ctx, dbi, groups); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("add %d edges: database %s: %w", len(edges), l.DatabaseName(dbi), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writeGroups upserts groups into database dbi in one transaction, trying
// again when MySQL picks it as a deadlock victim (concurrent imports
// writing neighbouring keys can interlock on InnoDB's gap locks).
func (s *SQL) writeGroups(ctx context.Context, dbi int, groups []*group) error {
	for _, g := range groups {
		g.rows = dedupe(g.rows)
	}
	return s.retryDeadlock(ctx, func() error { return s.writeTx(ctx, dbi, groups) })
}

func (s *SQL) writeTx(ctx context.Context, dbi int, groups []*group) error {
	return s.writeTxOn(ctx, dbi, func(ctx context.Context, tx *sql.Tx) error {
		var q []byte
		for _, g := range groups {
			table := s.cfg.Layout.table(s.cfg.Dialect, g.kind, dbi, g.table)
			for rows := g.rows; len(rows) > 0; {
				n := min(len(rows), upsertBatch)
				q = appendUpsert(q[:0], s.cfg.Dialect, table, g.kind, rows[:n])
				qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
				_, err := tx.ExecContext(qctx, string(q))
				cancel()
				if err != nil {
					return fmt.Errorf("upsert %d rows into %s: %w", n, table, err)
				}
				rows = rows[n:]
			}
		}
		return nil
	})
}

// appendUpsert appends the statement writing rows into table, with the
// values in the text. A prepared statement would cost MySQL three round
// trips (prepare, execute, close) for a text used once, and measurably more
// server CPU for hundreds of placeholders; SQLite is as fast either way.
// The values are integers formatted here, so nothing can be injected.
func appendUpsert(q []byte, d Dialect, table string, k shard.Kind, rows []row) []byte {
	key, other := columns(k)
	q = fmt.Appendf(q, "INSERT INTO %s (%s, %s, addtime) VALUES ", table, key, other)
	for i, r := range rows {
		if i > 0 {
			q = append(q, ',')
		}
		q = appendTuple(q, r.key, r.other, uint64(r.t))
	}
	return append(q, onConflict(d, k)...)
}

// appendTuple appends "(v1,v2,...)".
func appendTuple(q []byte, vals ...uint64) []byte {
	q = append(q, '(')
	for i, v := range vals {
		if i > 0 {
			q = append(q, ',')
		}
		q = strconv.AppendUint(q, v, 10)
	}
	return append(q, ')')
}

// dedupe sorts rows by primary key (InnoDB then fills each leaf page in
// turn rather than jumping between them) and keeps the last of rows with the same key, so an edge
// repeated in one batch takes its last time in both dialects.
func dedupe(rows []row) []row {
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.other, b.other))
	})
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && rows[i+1].key == r.key && rows[i+1].other == r.other {
			continue
		}
		out = append(out, r)
	}
	return out
}

// ErrUIDRange is wrapped by errors about a write of a uid above 2^63-1:
// database/sql reads integers as int64, so Load could not read it back.
var ErrUIDRange = errors.New("uid above 2^63-1")

func checkUIDs(from, to uint64) error {
	if from > math.MaxInt64 || to > math.MaxInt64 {
		return fmt.Errorf("edge %d->%d: %w", from, to, ErrUIDRange)
	}
	return nil
}

// retryable reports a MySQL deadlock or lock wait timeout: the transaction
// was rolled back and may simply run again.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Follow implements Writer. The following row, in from's shard, tells
// whether the edge is new; the follower row, in to's shard, gets the same
// time; the change is logged in from's database (journal.go).
//
// Where one server holds both databases (always, for SQLite) all of it is
// one transaction: a crash leaves the edge written or not, never half. On
// two servers it is two transactions joined by an intent (writeAcross).
func (s *SQL) Follow(ctx context.Context, from, to uint64, t uint32) (added bool, err error) {
	if err := checkUIDs(from, to); err != nil {
		return false, fmt.Errorf("follow: %w", err)
	}
	return s.writeEdge(ctx, edgeWrite{from: from, to: to, t: t, add: true})
}

// Unfollow implements Writer: the following row is deleted, and tells
// whether the edge was there, and so is the follower row (even when the
// following row was not there, which repairs a half-written unfollow), in
// the same way as Follow.
func (s *SQL) Unfollow(ctx context.Context, from, to uint64) (removed bool, err error) {
	return s.writeEdge(ctx, edgeWrite{from: from, to: to})
}

// edgeWrite is one FOLLOW (add) or UNFOLLOW.
type edgeWrite struct {
	from, to uint64
	t        uint32
	add      bool
}

func (w edgeWrite) String() string {
	if w.add {
		return fmt.Sprintf("follow %d->%d", w.from, w.to)
	}
	return fmt.Sprintf("unfollow %d->%d", w.from, w.to)
}

func (s *SQL) writeEdge(ctx context.Context, w edgeWrite) (changed bool, err error) {
	if !s.sameServer(w.from, w.to) {
		return s.writeAcross(ctx, w)
	}
	err = s.retryDeadlock(ctx, func() error {
		var err error
		changed, err = s.edgeTx(ctx, w)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: following row in %s, follower row in %s, one transaction: %w",
			w, s.Shard(w.from), s.Shard(w.to), journalHint(err))
	}
	return changed, nil
}

// edgeTx writes both rows of w and logs the change in one transaction.
func (s *SQL) edgeTx(ctx context.Context, w edgeWrite) (changed bool, err error) {
	err = s.inTx(ctx, w.from, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if changed, err = s.followingRow(ctx, tx, w); err != nil {
			return err
		}
		if err := s.writeFollower(ctx, tx, w.from, w.to, int64(w.t), w.add); err != nil {
			return err
		}
		return s.logChange(ctx, tx, w.from, w.to)
	})
	return changed && err == nil, err
}

// followingRow writes w's following row in tx: for a FOLLOW, inserts it if
// absent, else sets its time (two statements that say which happened the
// same way in both dialects, which an upsert's affected-row count does
// not); for an UNFOLLOW, deletes it. changed: the insert or the delete
// took. Concurrent writes of one edge cannot both see changed: one wins.
func (s *SQL) followingRow(ctx context.Context, tx *sql.Tx, w edgeWrite) (changed bool, err error) {
	if !w.add {
		n, err := s.txExec(ctx, tx, opDelete, shard.Following, w.from, w.from, w.to)
		return n == 1, err
	}
	n, err := s.txExec(ctx, tx, opInsert, shard.Following, w.from, w.from, w.to, w.t)
	if err != nil || n == 1 {
		return n == 1, err
	}
	_, err = s.txExec(ctx, tx, opTouch, shard.Following, w.from, w.t, w.from, w.to)
	return false, err
}

// writeAcross writes an edge whose rows are on two servers. The first
// transaction, in from's database, records the edge's intent, writes the
// following row and logs the change: after it the write has happened, and
// what it answers (changed) is decided. Then completeIntent makes the
// follower row agree and clears the intent, retried (a server restarting,
// a dropped connection) rather than undoing the first: an undo could fail
// the same way. If it still fails the error wraps ErrHalfWritten, and the
// intent stays for the sweep to complete; repeating the call also
// converges, since every step is idempotent.
func (s *SQL) writeAcross(ctx context.Context, w edgeWrite) (changed bool, err error) {
	err = s.retryDeadlock(ctx, func() error {
		var err error
		changed, err = s.firstHalf(ctx, w)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: following row in %s: %w", w, s.Shard(w.from), journalHint(err))
	}
	err = s.retry(ctx, func(ctx context.Context) error {
		_, err := s.completeIntent(ctx, w.from, w.to, false)
		return err
	})
	if err != nil {
		did := "written"
		if !w.add {
			did = "deleted"
		}
		return changed, fmt.Errorf("%s: %w: following row %s in %s, follower row in %s failed (the intent left in %s has the sweep complete it): %w",
			w, ErrHalfWritten, did, s.Shard(w.from), s.Shard(w.to), s.Shard(w.from), err)
	}
	return changed, nil
}

// firstHalf is writeAcross's first transaction. The intent is upserted
// first: its row lock is what serialises writers of the edge.
func (s *SQL) firstHalf(ctx context.Context, w edgeWrite) (changed bool, err error) {
	dbF, _ := s.cfg.Layout.Route(w.from)
	err = s.inTx(ctx, w.from, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.txDBExec(ctx, tx, opIntentUpsert, dbF, w.from, w.to, time.Now().Unix()); err != nil {
			return fmt.Errorf("record the intent: %w", err)
		}
		var err error
		if changed, err = s.followingRow(ctx, tx, w); err != nil {
			return err
		}
		return s.logChange(ctx, tx, w.from, w.to)
	})
	return changed && err == nil, err
}

// retryDeadlock runs f up to 3 times while it fails with a MySQL deadlock
// or lock wait timeout (the transaction was rolled back and may simply run
// again): concurrent writers of neighbouring keys can interlock on
// InnoDB's gap locks.
func (s *SQL) retryDeadlock(ctx context.Context, f func() error) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if werr := sleepCtx(ctx, time.Duration(attempt)*50*time.Millisecond); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = f(); !retryable(err) {
			return err
		}
	}
	return err
}

// retry runs f up to 3 times, 50 then 100 ms apart, each run bounded by
// QueryTimeout, and stops early when ctx is done.
func (s *SQL) retry(ctx context.Context, f func(context.Context) error) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if werr := sleepCtx(ctx, time.Duration(attempt)*50*time.Millisecond); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = f(ctx); err == nil {
			return nil
		}
	}
	return fmt.Errorf("3 attempts: %w", err)
}

// exec runs the cached statement op on the table of kind k holding key's
// rows and returns the affected-row count.
func (s *SQL) exec(ctx context.Context, op stmtOp, k shard.Kind, key uint64, args ...any) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	st, err := s.stmt(ctx, op, k, key)
	if err != nil {
		return 0, err
	}
	var res sql.Result
	if res, err = st.ExecContext(ctx, args...); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
