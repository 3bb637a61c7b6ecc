package store

import "hash/maphash"

// index is a shard's table from keys to entries, in place of a Go
// map[string]*entry (issue 20 item 1): a slot is an entry pointer and a
// one-byte tag, 9 bytes where the map's was 24 and a control byte, and the
// key is not a string of its own but lives in its entry's allocation
// (entry.key), so a cached user costs one allocation instead of two.
//
// It is open addressing with linear probing over a power-of-two table
// that doubles past 4/5 full (so 40-80% full), keyed by the same hash
// that picks the shard: the shard takes the low bits, a slot's home is
// the high 32 bits, and its tag bits 24-30, so a probe looks at an entry
// (and compares the whole key: equal hashes are not equal keys) only when
// 7 more bits agree. Removal shifts the following entries of the run back
// instead of leaving tombstones, so a lookup never walks over dead slots
// and the table needs no cleaning.
//
// The hash is seeded per keyspace (hash/maphash, as Go's own maps seed
// theirs): clients choose the keys, and with a hash they could compute,
// keys made to share a home would turn every probe of a shard into a walk
// over all of them (hash flooding: one client slowing every other's reads
// quadratically). An unseeded xxhash was used here first.
//
// Like the map it replaces, it is guarded by its shard's lock.
type index struct {
	tags  []uint8  // 0: empty; else tagOf of the entry's hash
	slots []*entry // nil where tags is 0
	n     int      // entries held
	seed  maphash.Seed
}

// newIndex is an empty index hashing with seed, the keyspace's.
func newIndex(seed maphash.Seed) index { return index{seed: seed} }

// minIndex is a table's first size: 256 shards of 8 slots cost 18 KiB.
const minIndex = 8

func tagOf(h uint64) uint8 { return uint8(h>>24) | 0x80 }

func (x *index) home(h uint64) int { return int(h>>32) & (len(x.slots) - 1) }

// find returns the slot of key (whose hash is h) and its entry, or the
// empty slot where it would go and nil.
func (x *index) find(h uint64, key []byte) (int, *entry) {
	if len(x.slots) == 0 {
		x.tags, x.slots = make([]uint8, minIndex), make([]*entry, minIndex)
	}
	mask, tag := len(x.slots)-1, tagOf(h)
	for i := x.home(h); ; i = (i + 1) & mask {
		switch x.tags[i] {
		case 0:
			return i, nil
		case tag:
			if e := x.slots[i]; e.key() == string(key) {
				return i, e
			}
		}
	}
}

// get is key's entry, or nil.
func (x *index) get(h uint64, key []byte) *entry {
	if len(x.slots) == 0 {
		return nil
	}
	_, e := x.find(h, key)
	return e
}

// insert puts e, whose key (hash h) must not be in x, into the empty slot
// at i that find returned, growing the table if that made it too full.
func (x *index) insert(i int, h uint64, e *entry) {
	x.tags[i], x.slots[i] = tagOf(h), e
	x.n++
	if x.n*5 > len(x.slots)*4 {
		x.resize(2 * len(x.slots))
	}
}

// resize rehashes every entry into a table of n slots.
func (x *index) resize(n int) {
	old := x.slots
	x.tags, x.slots = make([]uint8, n), make([]*entry, n)
	mask := n - 1
	for _, e := range old {
		if e == nil {
			continue
		}
		h := x.hashString(e.key())
		i := x.home(h)
		for x.tags[i] != 0 {
			i = (i + 1) & mask
		}
		x.tags[i], x.slots[i] = tagOf(h), e
	}
}

// remove empties slot i and moves the entries after it in its run back
// toward their homes, so every entry stays reachable from its home
// without tombstones.
func (x *index) remove(i int) {
	mask := len(x.slots) - 1
	for j := (i + 1) & mask; x.tags[j] != 0; j = (j + 1) & mask {
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j]: then it would move before its home.
		k := x.home(x.hashString(x.slots[j].key()))
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			x.tags[i], x.slots[i] = x.tags[j], x.slots[j]
			i = j
		}
	}
	x.tags[i], x.slots[i] = 0, nil
	x.n--
}

// random is an entry from a random place in the table, or nil when it is
// empty: the first entry at or after a random slot, as a Go map's
// iteration starts at a random slot.
func (x *index) random(r int) *entry {
	if x.n == 0 {
		return nil
	}
	mask := len(x.slots) - 1
	for i := r & mask; ; i = (i + 1) & mask {
		if e := x.slots[i]; e != nil {
			return e
		}
	}
}

// hash is key's hash under the index's seed, the same hash that picks its
// shard (Store.hash).
func (x *index) hash(key []byte) uint64 { return maphash.Bytes(x.seed, key) }

// hashString is hash of a key held as a string.
func (x *index) hashString(key string) uint64 { return maphash.String(x.seed, key) }

// lookup is key's entry, as a map lookup would give it.
func (x *index) lookup(key []byte) (*entry, bool) {
	e := x.get(x.hash(key), key)
	return e, e != nil
}

// add puts e under key, which must not be in x.
func (x *index) add(key []byte, e *entry) {
	h := x.hash(key)
	i, _ := x.find(h, key)
	x.insert(i, h, e)
}

// replace puts e in the place of the entry under key, which must be in x.
func (x *index) replace(key []byte, e *entry) {
	i, _ := x.find(x.hash(key), key)
	x.slots[i] = e
}

// slotOf is the slot that holds e, whose key is key, or -1.
func (x *index) slotOf(key string, e *entry) int {
	if len(x.slots) == 0 {
		return -1
	}
	mask := len(x.slots) - 1
	for i := x.home(x.hashString(key)); x.tags[i] != 0; i = (i + 1) & mask {
		if x.slots[i] == e {
			return i
		}
	}
	return -1
}

// drop removes e, whose key is key, if it is in x.
func (x *index) drop(key string, e *entry) {
	if i := x.slotOf(key, e); i >= 0 {
		x.remove(i)
	}
}
