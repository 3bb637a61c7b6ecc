package fill

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// FOLLOW a b and UNFOLLOW a b write through to the source of record, then
// to the cache.
//
// The source writes both rows (following in a's shard, follower in b's).
// Then the cached a.following and b.follower are patched in place, only if
// cached (a cache must not invent a one-member list that looks complete).
// Three things keep the cache equal to the database:
//   - writes to one edge are serialised (striped locks), so the order in
//     which they reach the database is the order they reach the cache;
//   - a write bumps both keys' fill generations before patching, so a fill
//     whose query may predate it does not store its list (fill.go);
//   - a write that fails, or half-succeeds (one row written, as
//     loader.ErrHalfWritten reports after its retries), drops both cached
//     lists: whatever the database now holds is what the next read loads.

// ErrNoWriter is ApplyEdge's error for a source that takes no writes (or
// no source).
var ErrNoWriter = errors.New("the source of record takes no writes")

// edgeLock is the lock serialising writes to the edge a->b.
func (e *Engine) edgeLock(a, b uint64) *sync.Mutex {
	return &e.edges[(a*0x9E3779B97F4A7C15^b)%edgeStripes]
}

// ApplyEdge writes (add) or removes the edge a->b, followed since t, in the
// source and then in the cached lists; changed reports whether the edge was
// new (removed). The source write is bounded by LoadTimeout. On an error
// both cached lists are dropped.
func (e *Engine) ApplyEdge(ctx context.Context, a, b uint64, t uint32, add bool) (changed bool, err error) {
	if e.w == nil {
		return false, ErrNoWriter
	}
	mu := e.edgeLock(a, b)
	mu.Lock()
	defer mu.Unlock()
	e.writing.RLock()
	defer e.writing.RUnlock()

	ctx, cancel := context.WithTimeout(ctx, e.cfg.LoadTimeout)
	defer cancel()
	if add {
		changed, err = e.w.Follow(ctx, a, b, t)
	} else {
		changed, err = e.w.Unfollow(ctx, a, b)
	}
	if err != nil {
		e.DropEdge(a, b)
		return false, err
	}
	change := EdgeUnchanged
	if changed {
		change = EdgeChanged
	}
	e.PatchEdge(e.cfg.Store, a, b, t, add, change)
	return changed, nil
}

// EdgeChange is what a source write did to its edge: the true totals of
// truncated lists (openhash format version 2) move by it, not by what the
// patch finds in the cached part of the list, which may lack the member.
type EdgeChange int8

const (
	// EdgeUnknown: the writer did not say (RELEDGE without NEW or OLD). A
	// truncated list with a total is dropped rather than patched, to be
	// filled again with a true count.
	EdgeUnknown EdgeChange = iota
	// EdgeChanged: FOLLOW added a new edge, UNFOLLOW removed one.
	EdgeChanged
	// EdgeUnchanged: FOLLOW found the edge (its time changed), UNFOLLOW
	// found none.
	EdgeUnchanged
)

// errTotalUnknown is a patch's error for a truncated list whose total the
// write cannot keep true.
var errTotalUnknown = errors.New("the write did not say whether the edge was new")

// edgeEdit is the patch of one list for the edge: the member added (at t)
// or removed, and the list's total moved as change says.
func edgeEdit(member uint64, t uint32, add bool, change EdgeChange) SetEdit {
	inner, delta := RemoveMembers([]uint64{member}), -1
	if add {
		inner, delta = AddMembers([]uint64{member}, []uint32{t}, t), 1
	}
	if change != EdgeChanged {
		delta = 0
	}
	return func(buf []byte) ([]byte, int, error) {
		set, err := openhash.Open(buf)
		if err != nil {
			return nil, 0, err
		}
		before, known := set.Total()
		if !set.Truncated() || !known {
			return inner(buf)
		}
		if change == EdgeUnknown {
			return nil, 0, errTotalUnknown
		}
		out, n, err := inner(buf)
		if err != nil {
			return nil, 0, err
		}
		return out, n, openhash.SetTotal(out, uint64(max(before+delta, 1)))
	}
}

// PatchEdge applies the edge a->b (added at time t, or removed) to the
// cached a.following and b.follower in st (the store or a view of it), only
// where cached, and returns how many it patched. It bumps both keys' fill
// generations first, so a fill whose query predates the write does not
// store its list. It never writes the source: it is also the cache half of
// a FOLLOW whose source write another node made (RELEDGE).
//
// change is what the source write did, which a truncated list's total
// follows; EdgeUnknown drops such a list instead.
func (e *Engine) PatchEdge(st *store.Store, a, b uint64, t uint32, add bool, change EdgeChange) (patched int) {
	aKey, _ := e.cfg.Keys.Append(nil, a, shard.Following)
	bKey, _ := e.cfg.Keys.Append(nil, b, shard.Follower)
	e.gen(aKey).Add(1)
	e.gen(bKey).Add(1)
	patch := func(key []byte, member uint64) {
		_, err := EditSet(st, key, nil, edgeEdit(member, t, add, change))
		switch {
		case err == nil:
			patched++
		case errors.Is(err, errTotalUnknown):
			st.Delete(key)
		case !errors.Is(err, ErrNotCached):
			// A list that cannot take the patch must not stay stale.
			e.cfg.Log.Warn("follow: dropping a cached list that could not be patched",
				zap.ByteString("key", key), zap.Error(err))
			st.Delete(key)
		}
	}
	patch(aKey, b)
	patch(bKey, a)
	return patched
}

// DropEdge drops the cached a.following and b.follower, bumping their fill
// generations first so that a fill whose query predates the drop does not
// store its (possibly stale) list after it. It returns how many were
// cached.
func (e *Engine) DropEdge(a, b uint64) (dropped int64) {
	aKey, _ := e.cfg.Keys.Append(nil, a, shard.Following)
	bKey, _ := e.cfg.Keys.Append(nil, b, shard.Follower)
	for _, key := range [][]byte{aKey, bKey} {
		e.gen(key).Add(1)
		if e.cfg.Store.Delete(key) {
			dropped++
		}
	}
	return dropped
}
