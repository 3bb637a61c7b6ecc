package server

import (
	"errors"
	"fmt"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// Relation sets in the keyspace: what every REL* and compatibility command
// shares: parsing uids, times and LIMIT, verifying a set a client sends, and
// looking a set up (a cold list is noted for dispatch to fill). The reads
// are in relset_read.go, the writes in relset_write.go.
//
// Concurrency: a stored relation set is never modified. Readers probe the
// bytes they got from the store after releasing the shard lock. A change
// (RELADD, RELDEL, HSET, SADD, FOLLOW's patch) copies the set, edits the copy
// outside any lock, and swaps it in only if the key still holds the version
// it copied (fill.EditSet over store.Edit's compare-and-swap on the value's
// backing array); if a concurrent writer got there first, it starts again
// from the new version. So a RELCHECK never waits for a writer and never
// sees a half-edited array, and a big edit never holds a shard lock.

const (
	errRelMember = resp.ErrRelMember
	errRelTime   = resp.ErrRelTime
)

// parseUID reads an unsigned decimal: digits only, no sign. Leading zeros
// are allowed, because redis-benchmark's __rand_int__ sends zero-padded
// numbers ("000000001234") and a load test should be able to hit real keys.
func parseUID(b []byte) (uint64, bool) { return resp.ParseUint(b) }

func parseTime(b []byte) (uint32, bool) {
	u, ok := parseUID(b)
	if !ok || u > 1<<32-1 {
		return 0, false
	}
	return uint32(u), true
}

// parseUIDs fills c.uids from args; on bad input it replies and reports
// false.
func (c *client) parseUIDs(args [][]byte) bool {
	if len(args) > c.srv.cfg.RelMaxBatch {
		c.errTooManyUIDs(len(args))
		return false
	}
	if u, ok := c.rd.Uints(args); ok {
		// Read while the reader framed them (uidBatchCommand).
		c.uids = append(c.uids[:0], u...)
		return true
	}
	uids, ok := resp.AppendUints(c.uids[:0], args)
	c.uids = uids
	if !ok {
		c.err(errRelMember)
	}
	return ok
}

// parseMembers fills c.uids (and c.times when withTimes) from uid [time]
// arguments.
func (c *client) parseMembers(args [][]byte, withTimes bool) bool {
	c.times = c.times[:0]
	if !withTimes {
		return c.parseUIDs(args)
	}
	if len(args)%2 != 0 {
		c.err(errSyntax)
		return false
	}
	if len(args)/2 > c.srv.cfg.RelMaxBatch {
		c.err(fmt.Sprintf("ERR too many uids in one command (%d, the limit is rel-max-batch %d)", len(args)/2, c.srv.cfg.RelMaxBatch))
		return false
	}
	c.uids = c.uids[:0]
	for i := 0; i < len(args); i += 2 {
		u, ok := parseUID(args[i])
		if !ok {
			c.err(errRelMember)
			return false
		}
		t, ok := parseTime(args[i+1])
		if !ok {
			c.err(errRelTime)
			return false
		}
		c.uids = append(c.uids, u)
		c.times = append(c.times, t)
	}
	return true
}

// verifyRelSet checks a relation set arriving from a client, as deep as
// RelVerify says, and reports whether the full check is still owed.
//
// "header" is openhash.CheckControl, not just the header: every reply
// that lists a set must be able to trust its count, and counting the full
// control bytes is one word per group against Check's hash per member. What
// CheckControl leaves unproven (members outside their groups, a uid twice)
// can make this key's answers wrong, never a reply's framing; the snapshot
// writer runs the full check before such a set reaches a file (persist.go).
func (s *Server) verifyRelSet(v []byte) (unchecked bool, err error) {
	unchecked = s.cfg.RelVerify == CheckHeader
	if unchecked {
		err = openhash.CheckControl(v)
	} else {
		err = openhash.Check(v)
	}
	if err != nil {
		var fe *openhash.FormatError
		if errors.As(err, &fe) {
			// The client needs what is wrong, not which package found it.
			return false, fmt.Errorf("invalid relation set: %s", fe.Reason)
		}
		return false, fmt.Errorf("invalid relation set: %w", err)
	}
	return unchecked, nil
}

// lookupRelSet looks key up as a relation set: errWrongTypeKind for a key of
// another kind.
func (s *Server) lookupRelSet(st *store.Store, key []byte) (set openhash.Set, found bool, err error) {
	set, _, found, err = s.lookupRelBytes(st, key)
	return set, found, err
}

// lookupRelBytes is lookupRelSet that also returns the stored bytes, whose
// identity tells a cache built from them (the Z* view's orders) whether
// the key still holds that version.
func (s *Server) lookupRelBytes(st *store.Store, key []byte) (set openhash.Set, buf []byte, found bool, err error) {
	e, found := st.Get(key)
	if !found {
		return openhash.Set{}, nil, false, nil
	}
	if e.Kind != store.KindRelSet {
		return openhash.Set{}, nil, true, errWrongTypeKind
	}
	set, err = openhash.Open(e.Value)
	if err != nil {
		// Stored sets were validated on the way in; this is a bug.
		return openhash.Set{}, nil, true, fmt.Errorf("stored relation set is corrupt: %w", err)
	}
	return set, e.Value, true, nil
}

// relSet is lookupRelSet for a handler: on an error it replies (WRONGTYPE,
// or the error) and reports ok false.
func (c *client) relSet(key []byte) (set openhash.Set, found, ok bool) {
	set, found, err := c.lookupRel(key)
	if err != nil {
		c.replyErr(err)
		return set, found, false
	}
	if !found {
		c.noteMiss(key)
	}
	return set, found, true
}

// replyErr replies an error from the relation-set helpers.
func (c *client) replyErr(err error) {
	if errors.Is(err, errWrongTypeKind) {
		c.err(errWrongType)
		return
	}
	c.err("ERR " + err.Error())
}

// errWrongTypeKind is the error of a relation-set helper for a key that
// holds another kind of value.
var errWrongTypeKind = fill.ErrWrongKind

// pairArgs reads "CMD a b [LIMIT n]" (RELWHO, RELCOMMON), replying on bad
// input; limit is -1 without LIMIT.
func (c *client) pairArgs(args [][]byte) (a, b uint64, limit int, ok bool) {
	a, ok1 := parseUID(args[1])
	b, ok2 := parseUID(args[2])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return 0, 0, 0, false
	}
	limit, ok = c.parseLimit(args[3:])
	return a, b, limit, ok
}

// parseLimit reads an optional "LIMIT n" at args[i:]; n must be positive.
func (c *client) parseLimit(args [][]byte) (limit int, ok bool) {
	switch len(args) {
	case 0:
		return -1, true
	case 2:
		if eqFold(args[0], "LIMIT") {
			n, isInt := parseInt(args[1])
			if !isInt || n < 1 {
				c.err("ERR LIMIT must be a positive integer")
				return 0, false
			}
			return int(min(n, 1<<31)), true
		}
	}
	c.err(errSyntax)
	return 0, false
}

// errTooManyUIDs refuses a command carrying n uids, over rel-max-batch.
func (c *client) errTooManyUIDs(n int) {
	c.err(fmt.Sprintf("ERR too many uids in one command (%d, the limit is rel-max-batch %d)", n, c.srv.cfg.RelMaxBatch))
}
