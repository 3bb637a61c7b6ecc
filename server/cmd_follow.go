package server

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// FOLLOW a b [time] and UNFOLLOW a b: writes through to the source of
// record, then to the cache.
//
// The source writes both rows (following in a's shard, follower in b's).
// Then the cached a.following and b.follower are patched in place, only if
// cached (XX: a cache must not invent a one-member list that looks
// complete). Three things keep the cache equal to the database:
//   - writes to one edge are serialised (striped locks), so the order in
//     which they reach the database is the order they reach the cache;
//   - a write bumps both keys' fill generations before patching, so a fill
//     whose query may predate it does not store its list (fill.go);
//   - a write that fails, or half-succeeds (one row written, as
//     loader.ErrHalfWritten reports after its retries), drops both cached
//     lists: whatever the database now holds is what the next read loads.

func cmdFollow(c *client, args [][]byte)   { c.followWrite(args, true) }
func cmdUnfollow(c *client, args [][]byte) { c.followWrite(args, false) }

func (c *client) followWrite(args [][]byte, add bool) {
	name := "follow"
	if !add {
		name = "unfollow"
	}
	if (add && len(args) > 4) || (!add && len(args) != 3) {
		c.err("ERR wrong number of arguments for '" + name + "' command")
		return
	}
	f := c.srv.fill
	if f == nil || f.w == nil {
		c.err("ERR " + name + " needs a source of record to write to (serve with --source sqlite or mysql)")
		return
	}
	a, ok1 := parseUID(args[1])
	b, ok2 := parseUID(args[2])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return
	}
	if a == b {
		c.err("ERR a user cannot follow itself")
		return
	}
	for _, u := range []uint64{a, b} {
		if err := f.src.CheckUID(u); err != nil {
			c.err(refusal(err).Error())
			return
		}
	}
	t := uint32(c.srv.store.Now() / 1000)
	if len(args) == 4 {
		var ok bool
		if t, ok = parseTime(args[3]); !ok {
			c.err(errRelTime)
			return
		}
	}
	changed, err := c.srv.followEdge(a, b, t, add)
	if err != nil {
		c.err("ERR " + oneLine(err.Error()))
		return
	}
	c.boolean(changed)
}

// followEdge writes (or removes) the edge a→b in the source and the cache;
// changed reports whether the edge was new (removed).
func (s *Server) followEdge(a, b uint64, t uint32, add bool) (changed bool, err error) {
	f := s.fill
	mu := f.edgeLock(a, b)
	mu.Lock()
	defer mu.Unlock()
	f.writing.RLock()
	defer f.writing.RUnlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.LoadTimeout)
	defer cancel()
	if add {
		changed, err = f.w.Follow(ctx, a, b, t)
	} else {
		changed, err = f.w.Unfollow(ctx, a, b)
	}
	if err != nil {
		s.dropEdgeLists(a, b)
		return false, err
	}
	s.patchEdge(s.store, a, b, t, add)
	return changed, nil
}

// patchEdge applies the edge a→b (added at time t, or removed) to the cached
// a.following and b.follower, only where cached. It bumps both keys' fill
// generations first, so a fill whose query predates the write does not
// store its list.
func (s *Server) patchEdge(st *store.Store, a, b uint64, t uint32, add bool) (patched int) {
	aKey, _ := s.keys.Append(nil, a, shard.Following)
	bKey, _ := s.keys.Append(nil, b, shard.Follower)
	if f := s.fill; f != nil {
		f.gen(aKey).Add(1)
		f.gen(bKey).Add(1)
	}
	patch := func(key []byte, member uint64) {
		edit := removeMembers([]uint64{member})
		if add {
			edit = addMembers([]uint64{member}, []uint32{t}, t)
		}
		_, err := s.mutateRelSet(st, key, nil, edit)
		switch {
		case err == nil:
			patched++
		case !errors.Is(err, errNotCached):
			// A list that cannot take the patch must not stay stale.
			s.log.Warn("follow: dropping a cached list that could not be patched",
				zap.ByteString("key", key), zap.Error(err))
			st.Delete(key)
		}
	}
	patch(aKey, b)
	patch(bKey, a)
	return patched
}

// RELEDGE ADD a b time | RELEDGE DEL a b: the cache half of FOLLOW and
// UNFOLLOW, for a node that does not own the write. A sharding proxy sends
// FOLLOW to a's node, which writes the source of record; b.follower lives on
// b's node, which gets RELEDGE; with replicated pools, every other copy gets
// it too. It patches whichever of a.following and b.follower this node has
// cached (XX) and replies how many it patched; it never writes the source.
func cmdRelEdge(c *client, args [][]byte) {
	add := eqFold(args[1], "ADD")
	if !add && !eqFold(args[1], "DEL") {
		c.err(errSyntax)
		return
	}
	if (add && len(args) != 5) || (!add && len(args) != 4) {
		c.err("ERR wrong number of arguments for 'reledge' command")
		return
	}
	a, ok1 := parseUID(args[2])
	b, ok2 := parseUID(args[3])
	if !ok1 || !ok2 {
		c.err(errRelMember)
		return
	}
	var t uint32
	if add {
		var ok bool
		if t, ok = parseTime(args[4]); !ok {
			c.err(errRelTime)
			return
		}
	}
	c.integer(int64(c.srv.patchEdge(c.db(), a, b, t, add)))
}
