package store

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// entry is how the keyspace keeps an Entry: 24 bytes, one size class,
// where the Entry itself with an LRU clock took 48 (issue 20 item 1: a
// cached user is a key, an entry and a map slot, and the entry was the
// largest of the three).
//
//   - The value is its first byte's address and a 32-bit length and
//     capacity (16 bytes for a 24-byte slice header). A value of 4 GiB or
//     more, which only a raised proto-max-bulk-len allows, is boxed
//     instead: ptr then points to a heap-allocated slice header.
//   - ExpireAt is kept only by keys that have one: such a key's entry is
//     the first field of a ventry, 32 bytes, and the volatile flag says so.
//     Giving a key a TTL, or taking it away, allocates the other shape and
//     puts it in the map; every other overwrite is in place, as before.
//   - Kind, Unchecked and Enc are a byte each, beside the LRU clock.
//   - The key is in the same allocation, after the entry (or after the
//     ventry): keyed and vkeyed in a few sizes, each the largest key its
//     size class holds, up to 104 bytes; a longer key is a string there
//     (flagLongKey). So a 20-byte key and its entry are 48 bytes, where a
//     key string and an entry were 24 + 24: no gain alone, but the shard's
//     index needs no key string of its own (index.go).
//
// The fields other than atime are written only under the shard's write
// lock and read under its read lock; atime is atomic because a read
// records the access under the read lock.
type entry struct {
	ptr   unsafe.Pointer // the value's first byte, or its boxed header (flagBig)
	n, c  uint32         // the value's length and capacity (0 when boxed)
	atime atomic.Uint32  // the last access in Unix seconds
	kind  Kind
	enc   Enc
	flags uint8
	klen  uint8 // the key's length when it is inline (not flagLongKey)
}

// ventry is the entry of a key with a TTL.
type ventry struct {
	entry
	expireAt int64 // absolute expiry in Unix ms, never 0
}

const (
	flagUnchecked = 1 << iota // Entry.Unchecked
	flagVolatile              // the entry is the first field of a ventry
	flagBig                   // ptr holds a *[]byte: the value's length or capacity needs 64 bits
	flagLongKey               // the key is a string after the entry, not its bytes
)

// keyed and vkeyed are an entry and a ventry with their key after them:
// K is a byte array sized to fill a size class, or a string.
type keyed[K any] struct {
	entry
	key K
}

type vkeyed[K any] struct {
	ventry
	key K
}

// The key's offset in a keyed and a vkeyed allocation.
const (
	keyOff  = unsafe.Sizeof(entry{})
	vkeyOff = unsafe.Sizeof(ventry{})
)

func alloc[K any](volatile bool) *entry {
	if volatile {
		return &new(vkeyed[K]).entry
	}
	return &new(keyed[K]).entry
}

// allocKeyed allocates the entry of a key of n bytes in the smallest size
// class that holds the key inline (32 to 128 bytes), and reports whether
// it does; past 104 bytes (96 with a TTL) the key is a string after it.
func allocKeyed(n int, volatile bool) (*entry, bool) {
	if volatile {
		switch {
		case n <= 16:
			return alloc[[16]byte](true), true // 48 bytes
		case n <= 32:
			return alloc[[32]byte](true), true // 64
		case n <= 48:
			return alloc[[48]byte](true), true // 80
		case n <= 64:
			return alloc[[64]byte](true), true // 96
		case n <= 96:
			return alloc[[96]byte](true), true // 128
		}
		return alloc[string](true), false
	}
	switch {
	case n <= 8:
		return alloc[[8]byte](false), true // 32 bytes
	case n <= 24:
		return alloc[[24]byte](false), true // 48
	case n <= 40:
		return alloc[[40]byte](false), true // 64
	case n <= 56:
		return alloc[[56]byte](false), true // 80
	case n <= 72:
		return alloc[[72]byte](false), true // 96
	case n <= 104:
		return alloc[[104]byte](false), true // 128
	}
	return alloc[string](false), false
}

// keyArea is where e's key is: after the entry, or after the ventry.
func (e *entry) keyArea() unsafe.Pointer {
	if e.flags&flagVolatile != 0 {
		return unsafe.Add(unsafe.Pointer(e), vkeyOff)
	}
	return unsafe.Add(unsafe.Pointer(e), keyOff)
}

// key is e's key. The string shares the entry's memory (its bytes never
// change), so whoever keeps it keeps the entry, and through it the value
// the entry held, alive: clone it to keep it past the shard's lock.
func (e *entry) key() string {
	if e.flags&flagLongKey != 0 {
		return *(*string)(e.keyArea())
	}
	return unsafe.String((*byte)(e.keyArea()), int(e.klen))
}

// inlineCap is the largest capacity kept in the entry's 32-bit fields; a
// variable only so that a test can box small values.
var inlineCap uint64 = math.MaxUint32

// newEntry makes the stored form of key and v, in one allocation: a
// ventry when v has a TTL.
func newEntry(key []byte, v Entry) *entry {
	e, inline := allocKeyed(len(key), v.ExpireAt != 0)
	if v.ExpireAt != 0 {
		e.flags = flagVolatile
		(*ventry)(unsafe.Pointer(e)).expireAt = v.ExpireAt
	}
	if inline {
		e.klen = uint8(len(key))
		copy(unsafe.Slice((*byte)(e.keyArea()), len(key)), key)
	} else {
		e.flags |= flagLongKey
		*(*string)(e.keyArea()) = string(key)
	}
	e.setValue(v)
	return e
}

// fits reports whether v can overwrite e in place: both have a TTL or
// neither does.
func (e *entry) fits(v Entry) bool { return (e.flags&flagVolatile != 0) == (v.ExpireAt != 0) }

// set overwrites e with v, which must fit.
func (e *entry) set(v Entry) {
	if e.flags&flagVolatile != 0 {
		(*ventry)(unsafe.Pointer(e)).expireAt = v.ExpireAt
	}
	e.setValue(v)
}

// setValue writes everything of v but its TTL.
func (e *entry) setValue(v Entry) {
	e.kind, e.enc = v.Kind, v.Enc
	e.flags &= flagVolatile | flagLongKey
	if v.Unchecked {
		e.flags |= flagUnchecked
	}
	if uint64(cap(v.Value)) > inlineCap {
		box := v.Value
		e.ptr, e.n, e.c = unsafe.Pointer(&box), 0, 0
		e.flags |= flagBig
		return
	}
	e.ptr, e.n, e.c = unsafe.Pointer(unsafe.SliceData(v.Value)), uint32(len(v.Value)), uint32(cap(v.Value))
}

// expireAt is the key's absolute expiry in Unix ms, 0 for none.
func (e *entry) expireAt() int64 {
	if e.flags&flagVolatile == 0 {
		return 0
	}
	// The entry is the first field of a ventry (flagVolatile says so), so
	// its address is the ventry's.
	return (*ventry)(unsafe.Pointer(e)).expireAt
}

// value is the stored slice, as it was given: the same backing array,
// length and capacity (nil stays nil, empty stays empty).
func (e *entry) value() []byte {
	if e.flags&flagBig != 0 {
		return *(*[]byte)(e.ptr)
	}
	return unsafe.Slice((*byte)(e.ptr), e.c)[:e.n]
}

// get is e as callers see it.
func (e *entry) get() Entry {
	return Entry{
		Kind:      e.kind,
		Unchecked: e.flags&flagUnchecked != 0,
		Enc:       e.enc,
		Value:     e.value(),
		ExpireAt:  e.expireAt(),
	}
}

// size is the key's accounted memory, entrySize of what get returns,
// without making it.
func (e *entry) size(keyLen int) int64 {
	c := int(e.c)
	if e.flags&flagBig != 0 {
		c = cap(*(*[]byte)(e.ptr))
	}
	return accounted(keyLen, c, e.flags&flagVolatile != 0)
}
