package server

import (
	"math/rand/v2"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
)

// Bi-follow lists (issue 17): U.bifollow is the users U follows who follow
// U back. It is computed when read, never stored: from U's following list,
// and each member m's following list for U, the lists RELCHECK U m reads,
// so it cannot disagree with RELCHECK however those lists arrived (fill,
// RELLOAD, FOLLOW). A stored copy would have to be rebuilt on every change
// to any of those lists, which arrive from clients too; the measurements
// behind the choice are in docs/benchmarks.md, "Bi-follow lists".
//
// The computed list is handed to the reader as an ordinary relation set,
// so every read command on relation keys reads it. Its time is the later
// of the two follow times (when the mutual follow began), which orders
// RELMEMBERS newest mutual follow first. It is marked truncated when some
// member cannot be answered for (U's list is truncated, or a member's list
// is not cached without a source, or truncated without U): a miss in it is
// then unknown, as in any truncated set.

// isBifollowKey reports whether key names a bi-follow list.
func (c *client) isBifollowKey(key []byte) bool {
	_, kind, ok := c.srv.keys.Parse(key)
	return ok && kind == shard.Bifollow
}

// bifollowScratch is the computation's reusable scratch.
type bifollowScratch struct {
	key   []byte
	uids  []uint64
	times []uint32
}

// bifollowSet computes u's bi-follow list. found is false when u's own
// following list is not cached (it is noted for a fill, as is every
// member's list that is not cached, so with a source the command runs again
// with all of them). The set's bytes are new: the reader may keep them.
func (c *client) bifollowSet(u uint64) (set openhash.Set, found bool, err error) {
	b := &c.bifollow
	b.key, _ = c.srv.keys.Append(b.key[:0], u, shard.Following)
	uSet, found, err := c.lookupRel(b.key)
	if err != nil || !found {
		if err == nil {
			c.noteMiss(b.key)
		}
		return openhash.Set{}, false, err
	}
	b.uids, b.times = b.uids[:0], b.times[:0]
	truncated := uSet.Truncated()
	uSet.Range(func(m uint64, t uint32) bool {
		back, follows, known := c.memberFollows(m, u)
		switch {
		case follows:
			b.uids = append(b.uids, m)
			b.times = append(b.times, max(t, back))
		case !known:
			truncated = true
		}
		return true
	})
	// Always with times: a list without them reads as time 0, so the
	// other side's time stands, and a proxy, which sees only times, builds
	// the same list.
	buf, err := openhash.Build(nil, b.uids, nonNil(b.times), openhash.Options{Seed: rand.Uint64(), Truncated: truncated, Version: c.srv.setVersion(), Fit: true})
	if err != nil {
		return openhash.Set{}, false, err
	}
	set, err = openhash.Open(buf)
	return set, true, err
}

// bifollowWrite is the refusal of a write command that names a bi-follow
// key, "" when it names none. Nothing is ever stored under such a name: a
// stored value would stand in for the computed list and could contradict
// the following lists.
//
// DEL and UNLINK may name one: removing can store nothing, and it is how a
// key stored under such a name before the name was taken is removed.
func (c *client) bifollowWrite(cmd *command, args [][]byte) string {
	if cmd.name == "del" || cmd.name == "unlink" {
		return ""
	}
	keys, _ := cmd.keysOf(c.keyScratch[:0], args)
	msg := ""
	if key := c.srv.bifollowKey(keys); key != nil {
		msg = "ERR " + string(key) + " is a bi-follow list, computed from following lists when read: it cannot be written"
	}
	clear(keys)
	c.keyScratch = keys[:0]
	return msg
}

// bifollowKey returns the first of keys that names a bi-follow list, or
// nil.
func (s *Server) bifollowKey(keys [][]byte) []byte {
	for _, key := range keys {
		if _, kind, ok := s.keys.Parse(key); ok && kind == shard.Bifollow {
			return key
		}
	}
	return nil
}
