package persistence

import (
	"time"

	"github.com/relcache/relcache/store"
)

// Stats describe a snapshot, as `relcache snapshot inspect` prints them.
type Stats struct {
	Header Header
	// FileBytes is the size of the snapshot file.
	FileBytes int64
	ByKind    map[store.Kind]KindStats
	// Expiring counts the keys with an expiry, Expired those whose expiry
	// had passed at the time Inspect was given.
	Expiring uint64
	Expired  uint64
	// ExpiryHist sorts the expiring keys not yet expired by time left, in
	// the buckets of ExpiryBounds.
	ExpiryHist []ExpiryBucket
}

// KindStats totals the keys of one kind.
type KindStats struct {
	Keys       uint64
	KeyBytes   uint64
	ValueBytes uint64
}

// ExpiryBucket counts the keys whose time left is below Below and at or
// above the previous bucket's Below. The last bucket has Below 0 and no
// upper bound.
type ExpiryBucket struct {
	Below time.Duration
	Keys  uint64
}

// ExpiryBounds are the upper bounds of Stats.ExpiryHist's buckets; a last
// bucket holds the rest.
var ExpiryBounds = []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// Inspect reads and verifies the snapshot at path as ReadFile does, and
// describes it, counting expiries against now.
func Inspect(path string, now time.Time) (Stats, error) {
	st := Stats{ByKind: map[store.Kind]KindStats{}}
	st.ExpiryHist = make([]ExpiryBucket, len(ExpiryBounds)+1)
	for i, b := range ExpiryBounds {
		st.ExpiryHist[i].Below = b
	}
	nowMs := now.UnixMilli()
	var byKind [3]KindStats
	h, size, err := readFile(path, ReadOptions{}, func(r Record) error {
		k := &byKind[r.Kind] // Read passes only valid kinds
		k.Keys++
		k.KeyBytes += uint64(len(r.Key))
		k.ValueBytes += uint64(len(r.Value))
		if r.ExpireAt == 0 {
			return nil
		}
		st.Expiring++
		if r.ExpireAt <= nowMs {
			st.Expired++
			return nil
		}
		if r.ExpireAt-nowMs >= int64(ExpiryBounds[len(ExpiryBounds)-1]/time.Millisecond) {
			st.ExpiryHist[len(ExpiryBounds)].Keys++ // also where a Duration would overflow
			return nil
		}
		left := time.Duration(r.ExpireAt-nowMs) * time.Millisecond
		for i, b := range ExpiryBounds {
			if left < b {
				st.ExpiryHist[i].Keys++
				break
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	for k, ks := range byKind {
		if ks.Keys > 0 {
			st.ByKind[store.Kind(k)] = ks
		}
	}
	st.Header, st.FileBytes = h, size
	return st, nil
}
