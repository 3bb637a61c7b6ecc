package fill

import (
	"bytes"
	"errors"
	"math/rand/v2"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// Relation sets are edited copy-on-write: a stored set is never modified
// (readers probe the bytes they got from the store after releasing the
// shard lock), so an edit copies the set, changes the copy outside any
// lock, and swaps it in only if the key still holds the version it copied
// (store.Edit). So a RELCHECK never waits for a writer and never sees a
// half-edited array, and a big edit never holds a shard lock. FOLLOW's
// patches, RELADD/RELDEL and the hash and set commands on relation sets all
// edit this way.

// SetEdit is one change to a private copy of a set: it edits buf in place
// (or returns a new buffer, when it had to grow) and reports the count the
// command replies (members added, removed). Whether anything is written
// depends on the bytes, not that count: a time update changes no count.
type SetEdit func(buf []byte) (out []byte, count int, err error)

var (
	// ErrNotCached is EditSet's error for an absent key it was not allowed
	// to create.
	ErrNotCached = errors.New("not cached")
	// ErrWrongKind is EditSet's error for a key holding another kind of
	// value.
	ErrWrongKind = errors.New("wrong kind")
)

// EditSet applies edit to key's relation set in st (the store or a view of
// it) by copy-on-write, and returns edit's count. When the key is absent,
// newSet (if not nil) gives the empty set to start from; otherwise
// ErrNotCached. A key of another kind gives ErrWrongKind. An edit that
// leaves the bytes as they were writes nothing.
func EditSet(st *store.Store, key []byte, newSet func() ([]byte, error), edit SetEdit) (count int, err error) {
	st.Edit(key, func(cur store.Entry, ok bool) (store.Entry, bool) {
		var base []byte
		switch {
		case ok && cur.Kind != store.KindRelSet:
			count, err = 0, ErrWrongKind
			return cur, false
		case ok:
			base = cur.Value
		case newSet == nil:
			count, err = 0, ErrNotCached
			return cur, false
		default:
			if base, err = newSet(); err != nil {
				count = 0
				return cur, false
			}
		}
		var out []byte
		out, count, err = edit(append([]byte(nil), base...))
		// An edit of an unchecked set is unchecked too (store.Edit keeps
		// the mark): Insert and Delete keep its count right, not its
		// placement.
		return store.Entry{Kind: store.KindRelSet, Value: out}, err == nil && (!ok || !bytes.Equal(out, base))
	})
	return count, err
}

// AddMembers is the edit of RELADD, HSET, SADD and FOLLOW: insert uids[i]
// (with times[i] when times is not nil, else now for a set with times),
// growing the set when it is full. The count is of new members. A
// truncated set's total grows by that count: a client adding members says
// they are new to the list (FOLLOW's patch knows better, PatchEdge).
func AddMembers(uids []uint64, times []uint32, now uint32) SetEdit {
	return func(buf []byte) (out []byte, added int, err error) {
		defer keepTotal(&out, &added, &err, 1)
		for i, u := range uids {
			t := now
			if times != nil {
				t = times[i]
			}
			ok, err := openhash.Insert(buf, u, t)
			if errors.Is(err, openhash.ErrFull) {
				// Full when u needs a new slot, or (format version 3)
				// when u or its time is outside the ranges the set's
				// slots cover, for a member too: Grow adds or updates it
				// while rebuilding, with room for a quarter more so a run
				// of RELADDs grows the array O(log n) times.
				set, _ := openhash.Open(buf)
				was := set.Contains(u)
				buf, err = openhash.GrowFit(nil, buf, max(8, set.Count()/4), openhash.Member{UID: u, Time: t})
				ok = err == nil && !was
			}
			if err != nil {
				return nil, 0, err
			}
			if ok {
				added++
			}
		}
		return buf, added, nil
	}
}

// RemoveMembers is the edit of RELDEL, HDEL, SREM and UNFOLLOW. The count
// is of members that were there; a truncated set's total shrinks by it.
func RemoveMembers(uids []uint64) SetEdit {
	return func(buf []byte) (out []byte, removed int, err error) {
		defer keepTotal(&out, &removed, &err, -1)
		for _, u := range uids {
			ok, err := openhash.Delete(buf, u)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				removed++
			}
		}
		return buf, removed, nil
	}
}

// keepTotal moves the total of a truncated set by sign*count after an edit
// made out (deferred, so every return of the edit passes here).
func keepTotal(out *[]byte, count *int, err *error, sign int) {
	if *err == nil && *count != 0 {
		*err = openhash.AddTotal(*out, sign**count)
	}
}

// EmptySet returns a constructor of an empty set, with or without times,
// in format version (openhash.Options.Version), for EditSet to create an
// absent key from.
func EmptySet(withTimes bool, version int) func() ([]byte, error) {
	if version == openhash.VersionSmallest {
		// Empty, version 1 is smaller (its header is), but the set is
		// made to be added to and a grown set keeps its family: version
		// 3 is the one that is smaller once it holds members.
		version = 3
	}
	return func() ([]byte, error) {
		var times []uint32
		if withTimes {
			times = []uint32{}
		}
		return openhash.Build(nil, nil, times, openhash.Options{Seed: rand.Uint64(), Version: version, Fit: true})
	}
}
