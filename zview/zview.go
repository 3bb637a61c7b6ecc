// Package zview is the sorted-set view of relation sets: a set read as a
// Redis sorted set whose members are the uids' decimal strings and whose
// scores are the follow times. Order ranks a set's members as Redis ranks a
// sorted set's (ascending score, ties by the member's bytes), and Cache
// keeps one Order per set so that paging a big set does not sort it on
// every read.
//
// An Order is a permutation of the set's slots, 4 bytes a member, valid for
// exactly the bytes it was built from: stored sets are never modified (a
// write swaps in a new copy), so the cache checks that the key still holds
// the same backing array and rebuilds when it does not. A write therefore
// drops the order without the write path doing anything.
//
// The entry holds the bytes strongly, which pins a rewritten set's old
// version until the entry is replaced or evicted, and the budget charges
// for it. A weak reference (package weak compares references by object,
// so a freed array's address reused by a new set would not match) would
// lift the pin; it is not used because weak.Make aborts the process on a
// pointer outside the Go heap, and nothing here proves every stored set
// lives on the heap.
package zview

import (
	"math"
	"sort"

	"github.com/relcache/relcache/openhash"
)

// Order is a set's members in sorted-set order.
type Order struct {
	set   openhash.Set
	slots []uint32
}

// NewOrder ranks set's members, appending the permutation to dst (which
// the Order then uses).
func NewOrder(set openhash.Set, dst []uint32) Order {
	o, _ := newOrder(set, dst, nil)
	return o
}

// newOrder is NewOrder with the sort's scratch, returned grown.
func newOrder(set openhash.Set, dst []uint32, keys []uint64) (Order, []uint64) {
	slots, keys := set.AppendScoreOrder(dst[:0], keys)
	return Order{set: set, slots: slots}, keys
}

// Len is the number of members.
func (o *Order) Len() int { return len(o.slots) }

// At returns the member of rank r (0 is the lowest score).
func (o *Order) At(r int) (uid uint64, t uint32) { return o.set.At(o.slots[r]) }

// Slots is the permutation, for a caller that keeps it (Cache).
func (o *Order) Slots() []uint32 { return o.slots }

// Rank returns uid's rank, ok false when it is not a member. A binary
// search on (time, decimal bytes), no walk.
func (o *Order) Rank(uid uint64) (r int, ok bool) {
	t, ok := o.set.Time(uid)
	if !ok {
		return 0, false
	}
	r = sort.Search(len(o.slots), func(i int) bool {
		u, ti := o.At(i)
		return ti > t || ti == t && openhash.CompareDecimal(u, uid) >= 0
	})
	return r, true
}

// Bound is one end of a score range as ZRANGEBYSCORE takes it: a value,
// exclusive when written with "(".
type Bound struct {
	V    float64
	Excl bool
}

// Unbounded are -inf and +inf.
var (
	MinusInf = Bound{V: math.Inf(-1)}
	PlusInf  = Bound{V: math.Inf(1)}
)

// admitsFromBelow reports whether score t is not below the lower bound b.
func (b Bound) admitsFromBelow(t uint32) bool {
	if b.Excl {
		return float64(t) > b.V
	}
	return float64(t) >= b.V
}

// ScoreRange returns the ranks [lo, hi) of the members whose scores lie in
// [lower, upper] (either end exclusive as its Bound says).
func (o *Order) ScoreRange(lower, upper Bound) (lo, hi int) {
	lo = sort.Search(len(o.slots), func(i int) bool {
		_, t := o.At(i)
		return lower.admitsFromBelow(t)
	})
	hi = sort.Search(len(o.slots), func(i int) bool {
		_, t := o.At(i)
		if upper.Excl {
			return float64(t) >= upper.V
		}
		return float64(t) > upper.V
	})
	return lo, max(lo, hi)
}
