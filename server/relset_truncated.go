package server

import (
	"context"

	"github.com/relcache/relcache/openhash"
)

// Truncated relation sets (a celebrity's newest 5000 fans): a member the
// set holds is a member, but a uid it does not hold may be an older one.
// With a source of record, a handler that cannot answer for such a uid
// notes it (noteUnsure), as it notes a missing list, and answers as if
// unknown; dispatch then asks the source about every noted uid, one query
// per list (fill.Engine.Resolve), and runs the handler again, which finds
// the answers with fill.Engine.Known. Without a source, or when the answer
// still is not there on the last run, the REL* commands answer -1
// (unknown) and the Redis-shaped ones (HEXISTS, HGET, SISMEMBER, ...) the
// error below: Redis's replies have no "unknown", and 0 or nil would be a
// wrong answer. docs/commands.md, "Truncated lists", is the user's side.

// errTruncated is the reply of a Redis-shaped command that cannot know a
// member's absence. TRYAGAIN's word is not used: without a source a retry
// gets the same answer.
const errTruncated = "TRUNCATED the relation set holds only part of the list (the newest members) and has no source of record to ask: this answer is unknown; REL* commands answer -1"

// errUnknownMember replies the error of a Redis-shaped command whose
// answer for the truncated set at key is unknown: without a source (or for
// a computed bi-follow list, which the source does not hold)
// errTruncated; with one, the answer was asked for and a write to the list
// retired it before this run could use it, so a retry gets it.
func (c *client) errUnknownMember(key []byte) {
	if c.srv.fill.HasSource() && !c.isBifollowKey(key) {
		c.err("TRYAGAIN the relation set holds only part of the list and changed while the source was asked about a uid it lacks; retry")
		return
	}
	c.err(errTruncated)
}

// errTruncatedCount is HLEN's and SCARD's for a truncated set that records
// no total (one a client loaded truncated, or one older than format
// version 2).
const errTruncatedCount = "TRUNCATED the relation set holds only part of the list and does not record the whole list's length"

// unsureUID is a uid a truncated set does not hold, for dispatch to ask
// the source about; key is in missBuf.
type unsureUID struct {
	key []byte
	uid uint64
}

// noteUnsure records uid as unanswered in the truncated set at key, if a
// source can answer and this is not the last run.
func (c *client) noteUnsure(key []byte, uid uint64) {
	if c.refill || !c.srv.fill.HasSource() || c.isBifollowKey(key) {
		// A bi-follow list is computed, not stored: the source has no row
		// of it to ask about, and its members' lists were asked already.
		return
	}
	start := len(c.missBuf)
	c.missBuf = append(c.missBuf, key...)
	c.unsure = append(c.unsure, unsureUID{key: c.missBuf[start:len(c.missBuf):len(c.missBuf)], uid: uid})
}

// memberTime answers whether uid is in the set stored at key, with its
// follow time: from the set itself, or for a truncated set that lacks it,
// from the source's answer; known is false when there is none yet (then
// noted for dispatch).
func (c *client) memberTime(key []byte, set *openhash.Set, uid uint64) (t uint32, member, known bool) {
	if t, ok := set.Time(uid); ok {
		return t, true, true
	}
	if !set.Truncated() {
		return 0, false, true
	}
	return c.truncatedMiss(key, set, uid)
}

// contains is memberTime without the time, as cheap as Set.Contains on a
// complete set: the hot path of RELCHECK and RELMULTI.
func (c *client) contains(key []byte, set *openhash.Set, uid uint64) (member, known bool) {
	if set.Contains(uid) {
		return true, true
	}
	if !set.Truncated() {
		return false, true
	}
	_, member, known = c.truncatedMiss(key, set, uid)
	return member, known
}

func (c *client) truncatedMiss(key []byte, set *openhash.Set, uid uint64) (t uint32, member, known bool) {
	if t, member, ok := c.srv.fill.Known(key, set, uid); ok {
		return t, member, true
	}
	c.noteUnsure(key, uid)
	return 0, false, false
}

// resolveUnsure asks the source about the noted uids, one Resolve per key
// (the notes of one key are adjacent only by chance, so they are grouped
// here), and forgets them. It returns the first failure.
func (c *client) resolveUnsure() error {
	var firstErr error
	for len(c.unsure) > 0 {
		key := c.unsure[0].key
		c.uids = c.uids[:0]
		rest := c.unsure[:0]
		for _, u := range c.unsure {
			if string(u.key) == string(key) {
				c.uids = append(c.uids, u.uid)
			} else {
				rest = append(rest, u)
			}
		}
		c.unsure = rest
		if err := c.srv.fill.Resolve(context.Background(), key, c.uids); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// relTotal is the length of the whole list set holds all or part of: its
// count, or a truncated set's recorded total; known false for a truncated
// set that records none. RELCARD, HLEN, SCARD (and ZCARD) answer it.
func relTotal(set *openhash.Set) (n int64, known bool) {
	t, known := set.Total()
	return int64(t), known
}
