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
	kind  Kind
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
	add := func(k Kind, r row) {
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
		add(Following, row{key: e.From, other: e.To, t: e.Time})
		add(Follower, row{key: e.To, other: e.From, t: e.Time})
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
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			if werr := sleepCtx(ctx, time.Duration(attempt)*50*time.Millisecond); werr != nil {
				return errors.Join(err, werr)
			}
		}
		if err = s.writeTx(ctx, dbi, groups); !retryable(err) {
			return err
		}
	}
	return err
}

func (s *SQL) writeTx(ctx context.Context, dbi int, groups []*group) error {
	tx, err := s.dbs[dbi].BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
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
	return tx.Commit()
}

// appendUpsert appends the statement writing rows into table, with the
// values in the text. A prepared statement would cost MySQL three round
// trips (prepare, execute, close) for a text used once, and measurably more
// server CPU for hundreds of placeholders; SQLite is as fast either way.
// The values are integers formatted here, so nothing can be injected.
func appendUpsert(q []byte, d Dialect, table string, k Kind, rows []row) []byte {
	key, other := k.columns()
	q = fmt.Appendf(q, "INSERT INTO %s (%s, %s, addtime) VALUES ", table, key, other)
	for i, r := range rows {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, '(')
		q = strconv.AppendUint(q, r.key, 10)
		q = append(q, ',')
		q = strconv.AppendUint(q, r.other, 10)
		q = append(q, ',')
		q = strconv.AppendUint(q, uint64(r.t), 10)
		q = append(q, ')')
	}
	return append(q, onConflict(d, k)...)
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

// Follow implements Writer. The following row goes first, in from's shard,
// and tells whether the edge is new; then the follower row, in to's shard.
//
// The two rows live in different databases, often on different servers, so
// there is no transaction around both. When the second write fails, Follow
// retries it (a server restarting, a dropped connection) rather than undo
// the first: an undo can fail the same way, while the retried upsert is
// idempotent, and so is the whole call, which a caller that gets
// ErrHalfWritten can repeat to converge. The half-written error names both
// databases, and added still reports what the following row said.
func (s *SQL) Follow(ctx context.Context, from, to uint64, t uint32) (added bool, err error) {
	if err := checkUIDs(from, to); err != nil {
		return false, fmt.Errorf("follow: %w", err)
	}
	added, err = s.followRow(ctx, from, to, t)
	if err != nil {
		return false, fmt.Errorf("follow %d->%d: following row in %s: %w", from, to, s.Shard(from), err)
	}
	err = s.retry(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, opUpsert, Follower, to, to, from, t)
		return err
	})
	if err != nil {
		return added, fmt.Errorf("follow %d->%d: %w: following row written in %s, follower row in %s failed: %w",
			from, to, ErrHalfWritten, s.Shard(from), s.Shard(to), err)
	}
	return added, nil
}

// followRow inserts the following row if absent, else sets its time: two
// statements that say which happened the same way in both dialects (an
// upsert's affected-row count does not). A concurrent Follow of the same
// edge cannot make both callers see added: one insert wins.
func (s *SQL) followRow(ctx context.Context, from, to uint64, t uint32) (added bool, err error) {
	n, err := s.exec(ctx, opInsert, Following, from, from, to, t)
	if err != nil || n == 1 {
		return n == 1, err
	}
	_, err = s.exec(ctx, opTouch, Following, from, t, from, to)
	return false, err
}

// Unfollow implements Writer: the following row is deleted first, and tells
// whether the edge was there, then the follower row, retried as in Follow
// (and deleted even when the following row was not there, which repairs a
// half-written unfollow).
func (s *SQL) Unfollow(ctx context.Context, from, to uint64) (removed bool, err error) {
	n, err := s.exec(ctx, opDelete, Following, from, from, to)
	if err != nil {
		return false, fmt.Errorf("unfollow %d->%d: following row in %s: %w", from, to, s.Shard(from), err)
	}
	err = s.retry(ctx, func(ctx context.Context) error {
		_, err := s.exec(ctx, opDelete, Follower, to, to, from)
		return err
	})
	if err != nil {
		return n == 1, fmt.Errorf("unfollow %d->%d: %w: following row deleted in %s, follower row in %s failed: %w",
			from, to, ErrHalfWritten, s.Shard(from), s.Shard(to), err)
	}
	return n == 1, nil
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
func (s *SQL) exec(ctx context.Context, op stmtOp, k Kind, key uint64, args ...any) (int64, error) {
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
