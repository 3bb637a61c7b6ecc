package loader

import (
	"context"
	"fmt"

	"github.com/relcache/relcache/shard"
)

// Repair: find, and fix, edges whose two rows disagree.
//
// Each table is read in primary-key order, a page at a time (keyset
// pagination: each page is one short index range scan, so no query runs
// for the length of the table and an interrupted run costs nothing to
// redo). The rows of a page are grouped by the table that holds their
// other row, and each group is checked with one query that names hundreds
// of keys (WHERE (key, other) IN (...)), never one query per row.
//
// The following row wins: it is written first, in the transaction that
// decides what FOLLOW/UNFOLLOW answered, so it is what the client was told.
// A fix (FixEdge) makes the follower row agree with it: writes a missing
// follower row, corrects its time, or deletes a follower row whose
// following row is gone.

// ProblemKind is how an edge's two rows disagree.
type ProblemKind uint8

const (
	// FollowerMissing: a following row without its follower row.
	FollowerMissing ProblemKind = iota
	// FollowingMissing: a follower row without its following row.
	FollowingMissing
	// TimeDiffers: both rows, with different times.
	TimeDiffers
)

func (k ProblemKind) String() string {
	switch k {
	case FollowerMissing:
		return "follower row missing"
	case FollowingMissing:
		return "following row missing"
	}
	return "times differ"
}

// Problem is one one-sided edge.
type Problem struct {
	From, To uint64
	Kind     ProblemKind
	// The rows' times, where there is the row.
	FollowingTime, FollowerTime int64
}

func (p Problem) String() string {
	switch p.Kind {
	case FollowerMissing:
		return fmt.Sprintf("%d->%d: %s (following row time %d)", p.From, p.To, p.Kind, p.FollowingTime)
	case FollowingMissing:
		return fmt.Sprintf("%d->%d: %s (follower row time %d)", p.From, p.To, p.Kind, p.FollowerTime)
	}
	return fmt.Sprintf("%d->%d: %s (following row %d, follower row %d)", p.From, p.To, p.Kind, p.FollowingTime, p.FollowerTime)
}

// RepairOptions tune Repair.
type RepairOptions struct {
	// DryRun finds and reports, and changes nothing.
	DryRun bool
	// Batch is how many rows one IN query checks. Default 500: a few kB
	// of SQL, and enough keys that the round trip is not what costs.
	Batch int
	// Page is how many rows one page query reads. Default 5000.
	Page int
	// Found, if set, is called for each one-sided edge, before it is
	// fixed.
	Found func(Problem)
	// Progress, if set, is called after each page with the rows read so
	// far, of both kinds, and the table being read.
	Progress func(rows int64, table string)
}

// RepairStats is what Repair found and did.
type RepairStats struct {
	FollowingRows, FollowerRows                    int64 // rows read
	FollowerMissing, FollowingMissing, TimeDiffers int64
	// Fixed is the edges whose follower row a fix changed: fewer than
	// found when a concurrent write settled an edge first; 0 on a dry run.
	Fixed int64
}

// OneSided is the edges found with rows that disagree.
func (r RepairStats) OneSided() int64 {
	return r.FollowerMissing + r.FollowingMissing + r.TimeDiffers
}

// Repair reads every following row and checks its follower row, then
// every follower row and checks its following row, and fixes each edge
// whose rows disagree unless opts.DryRun. Edges being written while it
// runs may show as one-sided for a moment; a fix re-reads both rows under
// the edge's lock, so it never undoes such a write.
func (s *SQL) Repair(ctx context.Context, opts RepairOptions) (RepairStats, error) {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Page <= 0 {
		opts.Page = 5000
	}
	r := repairer{s: s, opts: opts}
	for _, k := range []shard.Kind{shard.Following, shard.Follower} {
		for dbi := range s.dbs {
			for t := range s.cfg.Layout.Tables {
				if err := r.table(ctx, k, dbi, t); err != nil {
					return r.stats, err
				}
			}
		}
	}
	return r.stats, nil
}

// RowEstimate is about how many rows Repair reads: exact for SQLite
// (COUNT), InnoDB's estimate for MySQL.
func (s *SQL) RowEstimate(ctx context.Context) (int64, error) {
	var total int64
	l := s.cfg.Layout
	for dbi, db := range s.dbs {
		if s.cfg.Dialect == MySQL {
			var n int64
			err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(TABLE_ROWS), 0) FROM information_schema.TABLES
 WHERE TABLE_SCHEMA = ? AND (TABLE_NAME LIKE 'following\_%' OR TABLE_NAME LIKE 'follower\_%')`, l.DatabaseName(dbi)).Scan(&n)
			if err != nil {
				return 0, fmt.Errorf("estimate rows of %s: %w", l.DatabaseName(dbi), err)
			}
			total += n
			continue
		}
		for t := range l.Tables {
			for _, k := range []shard.Kind{shard.Following, shard.Follower} {
				var n int64
				table := l.table(s.cfg.Dialect, k, dbi, t)
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
					return 0, fmt.Errorf("count rows of %s: %w", table, err)
				}
				total += n
			}
		}
	}
	return total, nil
}

// repairer is one Repair run.
type repairer struct {
	s     *SQL
	opts  RepairOptions
	stats RepairStats
	rows  int64 // read, both kinds
}

// pending are rows waiting to be checked against one table of the other
// kind.
type pending struct {
	dbi, t int
	rows   []row // key and other as the checked table has them
	times  []int64
}

// table reads table t of kind k in database dbi and checks every row's
// other half.
func (r *repairer) table(ctx context.Context, k shard.Kind, dbi, t int) error {
	s, l := r.s, r.s.cfg.Layout
	table := l.table(s.cfg.Dialect, k, dbi, t)
	other := shard.Follower
	if k == shard.Follower {
		other = shard.Following
	}
	groups := map[int]*pending{} // by the other table's shard
	buffered := 0
	flush := func(p *pending) error {
		if len(p.rows) == 0 {
			return nil
		}
		err := r.check(ctx, k, other, p)
		buffered -= len(p.rows)
		p.rows, p.times = p.rows[:0], p.times[:0]
		return err
	}
	flushAll := func() error {
		for _, p := range groups {
			if err := flush(p); err != nil {
				return err
			}
		}
		return nil
	}
	var after *row
	for {
		page, err := r.page(ctx, k, dbi, table, after)
		if err != nil {
			return err
		}
		for _, pr := range page {
			// The other row is keyed by this row's other uid.
			odb, ot := l.Route(pr.other)
			shard := odb*l.Tables + ot
			p := groups[shard]
			if p == nil {
				p = &pending{dbi: odb, t: ot}
				groups[shard] = p
			}
			p.rows = append(p.rows, row{key: pr.other, other: pr.key})
			p.times = append(p.times, pr.time)
			buffered++
			if len(p.rows) >= r.opts.Batch {
				if err := flush(p); err != nil {
					return err
				}
			}
		}
		if k == shard.Following {
			r.stats.FollowingRows += int64(len(page))
		} else {
			r.stats.FollowerRows += int64(len(page))
		}
		r.rows += int64(len(page))
		// Bound what waits across pages: with many shards, groups
		// fill slowly.
		if buffered >= 50*r.opts.Batch {
			if err := flushAll(); err != nil {
				return err
			}
		}
		if r.opts.Progress != nil {
			r.opts.Progress(r.rows, table)
		}
		if len(page) < r.opts.Page {
			return flushAll()
		}
		last := page[len(page)-1]
		after = &row{key: last.key, other: last.other}
	}
}

// pageRow is one row of a scanned table.
type pageRow struct {
	key, other uint64
	time       int64
}

// page reads the next rows of table (of kind k, in database dbi) in
// primary-key order, after the key after (nil: from the start).
func (r *repairer) page(ctx context.Context, k shard.Kind, dbi int, table string, after *row) ([]pageRow, error) {
	s := r.s
	key, other := columns(k)
	q := fmt.Sprintf("SELECT %s, %s, addtime FROM %s", key, other, table)
	var args []any
	if after != nil {
		// MySQL does not use an index for a row-value comparison (it
		// reads the table from its start); the OR form is one range.
		if s.cfg.Dialect == MySQL {
			q += fmt.Sprintf(" WHERE %s > ? OR (%s = ? AND %s > ?)", key, key, other)
			args = []any{after.key, after.key, after.other}
		} else {
			q += fmt.Sprintf(" WHERE (%s, %s) > (?, ?)", key, other)
			args = []any{after.key, after.other}
		}
	}
	q += fmt.Sprintf(" ORDER BY %s, %s LIMIT %d", key, other, r.opts.Page)
	ctx, cancel := context.WithTimeout(ctx, 10*s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.dbs[dbi].QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	out := make([]pageRow, 0, r.opts.Page)
	var a, b, t intCol
	for rows.Next() {
		if err := rows.Scan(&a, &b, &t); err != nil {
			return nil, fmt.Errorf("read %s: %w: %w", table, ErrBadRow, err)
		}
		if a.null || b.null || t.null || a.n < 0 || b.n < 0 {
			return nil, fmt.Errorf("read %s: %w: %v, %v, addtime %v", table, ErrBadRow, a, b, t)
		}
		out = append(out, pageRow{key: uint64(a.n), other: uint64(b.n), time: t.n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return out, nil
}

// check looks up p's rows in its table of kind other with one query and
// handles each row whose counterpart disagrees. scanned is the kind the
// rows were read from.
func (r *repairer) check(ctx context.Context, scanned, other shard.Kind, p *pending) error {
	s := r.s
	table := s.cfg.Layout.table(s.cfg.Dialect, other, p.dbi, p.t)
	found, err := s.lookup(ctx, other, p.dbi, table, p.rows)
	if err != nil {
		return err
	}
	for i, pr := range p.rows {
		t, ok := found[[2]uint64{pr.key, pr.other}]
		var prob Problem
		switch {
		case scanned == shard.Following && !ok:
			// pr is keyed (to, from): the follower row's key.
			prob = Problem{From: pr.other, To: pr.key, Kind: FollowerMissing, FollowingTime: p.times[i]}
			r.stats.FollowerMissing++
		case scanned == shard.Following && t != p.times[i]:
			prob = Problem{From: pr.other, To: pr.key, Kind: TimeDiffers, FollowingTime: p.times[i], FollowerTime: t}
			r.stats.TimeDiffers++
		case scanned == shard.Follower && !ok:
			// pr is keyed (from, to). Times were compared in the first
			// pass.
			prob = Problem{From: pr.key, To: pr.other, Kind: FollowingMissing, FollowerTime: p.times[i]}
			r.stats.FollowingMissing++
		default:
			continue
		}
		if r.opts.Found != nil {
			r.opts.Found(prob)
		}
		if r.opts.DryRun {
			continue
		}
		changed, err := s.FixEdge(ctx, prob.From, prob.To)
		if err != nil {
			return err
		}
		if changed {
			r.stats.Fixed++
		}
	}
	return nil
}

// lookup reads the rows of table (of kind k, in database dbi) with the
// given keys, in one query: key and other to addtime.
func (s *SQL) lookup(ctx context.Context, k shard.Kind, dbi int, table string, keys []row) (map[[2]uint64]int64, error) {
	key, other := columns(k)
	q := make([]byte, 0, 64+len(keys)*44)
	q = fmt.Appendf(q, "SELECT %s, %s, addtime FROM %s", key, other, table)
	if s.cfg.Dialect == MySQL {
		// Without the hint MariaDB may pick the (key, addtime) index and
		// read a celebrity's whole list for one of its rows.
		q = append(q, " FORCE INDEX (PRIMARY)"...)
	}
	q = fmt.Appendf(q, " WHERE (%s, %s) IN (", key, other)
	if s.cfg.Dialect == SQLite {
		q = append(q, "VALUES "...) // SQLite's form of a list of row values
	}
	for i, r := range keys {
		if i > 0 {
			q = append(q, ',')
		}
		q = appendTuple(q, r.key, r.other)
	}
	q = append(q, ')')
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	rows, err := s.dbs[dbi].QueryContext(ctx, string(q))
	if err != nil {
		return nil, fmt.Errorf("look up %d rows in %s: %w", len(keys), table, err)
	}
	defer rows.Close()
	out := make(map[[2]uint64]int64, len(keys))
	var a, b, t intCol
	for rows.Next() {
		if err := rows.Scan(&a, &b, &t); err != nil {
			return nil, fmt.Errorf("look up rows in %s: %w: %w", table, ErrBadRow, err)
		}
		out[[2]uint64{uint64(a.n), uint64(b.n)}] = t.n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up %d rows in %s: %w", len(keys), table, err)
	}
	return out, nil
}
