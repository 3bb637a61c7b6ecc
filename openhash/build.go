package openhash

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// Options tunes Build. The zero value builds a set with seed 0, no extra
// room and slots as narrow as the uids allow.
type Options struct {
	// Seed is the hash seed recorded in the header. Any value works. With
	// a fixed, known seed, someone who controls which uids go into a set
	// could pick uids that crowd the same groups, making Build enlarge
	// the table and Insert refuse early; a random seed per set prevents
	// that.
	Seed uint64
	// Truncated marks a list cut at load time (e.g. the latest 5000 fans),
	// so readers know a miss is not proof of absence.
	Truncated bool
	// Total is the length of the whole list a truncated set was cut from
	// (SELECT COUNT(*) at load), recorded in the header so counts stay
	// true; 0 records none. Ignored unless Truncated.
	Total uint64
	// Extra is room, in members, for in-place Inserts beyond the input:
	// the table is sized for len(uids)+Extra at the build load factor.
	Extra int
	// MaxUID widens slots so that uids up to MaxUID can be inserted in
	// place later. Slots are always wide enough for the input.
	MaxUID uint64
	// Version is the format to write. 0 (the zero value) and 1 write
	// version 1, or 2 for a truncated set with a total: the fastest to
	// build and to read. 3 writes version 3 (quotiented slots, times
	// packed in the slot word: about 2 bytes a member smaller, about a
	// fifth more CPU per lookup, see docs/capacity.md) or fails when a
	// slot would need more than 64 bits (uids and times both very wide).
	// VersionSmallest writes version 3 where its slots hold the set in
	// fewer bytes than version 1's (nearly always: docs/openhash-format.md,
	// section 7) and version 1 or 2 otherwise.
	Version int
	// Fit sizes the table for Go's allocator, for an array a Go process
	// keeps (the server's own builds): its length ends less than one
	// group under a size class, the one that holds the table at the
	// version's load bound or, in version 3, the class below where the
	// table fits there at a load of at most 0.99; the extra groups are
	// room rather than the allocator's waste (sizing.go). Without Fit the
	// table has the fewest groups the load bound allows, as an array sent
	// elsewhere wants.
	Fit bool
}

// VersionSmallest is the Options.Version that writes whichever of versions
// 1 and 3 is smaller for the set: the choice of an operator who trades CPU
// for memory. It is not a format number, so it can never be mistaken for
// one written in a header.
const VersionSmallest = -1

// A version-1 table is sized so Build fills at most loadNum/loadDen of
// its slots (version 3's bound is in sizing.go).
// 15/16 is what keeps 3000 five-byte uids with times under 11 bytes each,
// and two-choice cuckoo hashing with 8-slot groups handles it easily:
// building sets of 3000 and 10^6 random uids took 0.045 displacements per
// insert, and no walk longer than 31.
const (
	loadNum = 15
	loadDen = 16
)

// maxKicks bounds the cuckoo walk of one insert: far above what the build
// load needs, so a failure means the table is really near full (about 99%
// for large sets), and small enough to bound the cost of a failing Insert.
const maxKicks = 500

// maxAttempts bounds how often Build enlarges the table after a failed
// walk; each attempt adds an eighth, so this is never reached by chance.
const maxAttempts = 40

// groupsFor is the group count version 1 is built with for n members
// (groupsFor3 is version 3's).
func groupsFor(n uint64) uint64 {
	return max(1, (n*loadDen+groupSlots*loadNum-1)/(groupSlots*loadNum))
}

// Build appends to dst a set holding uids, with times[i] as the follow time
// of uids[i] when times is non-nil, and returns the extended slice. A nil
// times builds a set without times. When a uid repeats, the set holds it
// once with its last time. Every uid, including 0, is a valid member.
//
// The output depends only on the arguments, so equal inputs give equal
// bytes.
func Build(dst []byte, uids []uint64, times []uint32, opt Options) ([]byte, error) {
	if times != nil && len(times) != len(uids) {
		return dst, fmt.Errorf("openhash: build: %d times for %d uids", len(times), len(uids))
	}
	maxUID := opt.MaxUID
	for _, u := range uids {
		maxUID |= u // same bit length as the maximum, without a compare
	}
	n, err := planned(len(uids), opt.Extra)
	if err != nil {
		return dst, err
	}
	var flags uint8
	if times != nil {
		flags |= flagTimes
	}
	if opt.Truncated {
		flags |= flagTruncated
	}
	l := layout{width: widthFor(maxUID), flags: flags, seed: opt.Seed, maxUID: maxUID}
	if opt.Truncated {
		l.total = opt.Total
	}
	if len(times) > 0 {
		l.tmin, l.tmax = math.MaxUint32, 0
		for _, t := range times {
			l.tmin, l.tmax = min(l.tmin, t), max(l.tmax, t)
		}
	}
	if err := l.choose(opt.Version, n, opt.Fit); err != nil {
		return dst, fmt.Errorf("openhash: build: %w", err)
	}
	for {
		out, s, err := l.next(dst)
		if err != nil {
			return dst, err
		}
		if err = s.fill(uids, times); err == nil {
			built("build", out, len(dst))
			return out, nil
		}
		l.failed = err
	}
}

// planned is the member count a table is sized for.
func planned(n, extra int) (uint64, error) {
	if extra < 0 {
		return 0, fmt.Errorf("openhash: negative extra room %d", extra)
	}
	total := uint64(n) + uint64(extra)
	if total > math.MaxUint32 {
		return 0, fmt.Errorf("openhash: %d members exceed the format's limit of %d", total, uint64(math.MaxUint32))
	}
	return total, nil
}

// layout plans the tables Build and Grow try: the first sized by groups,
// and, in the unlikely event a cuckoo walk fails, larger ones.
type layout struct {
	ng       uint64
	width    int // version 1's slot width
	flags    uint8
	seed     uint64
	total    uint64 // the header's total (truncated sets only)
	attempts int
	failed   error // why the last attempt failed

	v3         bool   // write version 3
	maxUID     uint64 // version 3: the uid bits are its bit length
	tmin, tmax uint32 // version 3 with times: the range the offsets cover
}

// choose settles the format for version (Options.Version), and the first
// table's group count for n planned members (groups): version 3 where it
// is asked for, or, for VersionSmallest, where its table is no larger than
// version 1's (with fit, no larger an allocation). Version 3's slot width
// can only shrink as groups are added, so the choice holds for the larger
// tables a failed build tries.
func (l *layout) choose(version int, n uint64, fit bool) error {
	_, _, ok := plan3(l.maxUID, l.flags&flagTimes != 0, l.tmin, l.tmax, groupsFor3(n))
	switch version {
	case 0, 1:
		l.groups(n, fit)
		return nil
	case 3:
		if !ok {
			return fmt.Errorf("version 3 cannot hold uids up to %d with times over [%d, %d] in 64-bit slots", l.maxUID, l.tmin, l.tmax)
		}
		l.v3 = true
		l.groups(n, fit)
		return nil
	case VersionSmallest:
		l.groups(n, fit)
		if !ok {
			return nil
		}
		ng1, size1 := l.ng, l.tableSize(l.ng)
		l.v3 = true
		l.groups(n, fit)
		size3 := l.tableSize(l.ng)
		if fit {
			size1, size3 = allocSize(size1), allocSize(size3)
		}
		if size3 > size1 {
			l.v3, l.ng = false, ng1
		}
		return nil
	}
	return fmt.Errorf("format version %d: want 0 or 1 (version 1), 3, or VersionSmallest (%d)", version, VersionSmallest)
}

// next appends an empty table to dst and returns the extended slice and a
// view of the new table.
func (l *layout) next(dst []byte) ([]byte, Set, error) {
	if l.failed != nil {
		if l.attempts == maxAttempts {
			return dst, Set{}, fmt.Errorf("openhash: build: no placement after %d enlargements: %w", l.attempts, l.failed)
		}
		l.ng += l.ng/8 + 1
		l.failed = nil
	}
	l.attempts++
	if l.ng > maxGroups {
		return dst, Set{}, fmt.Errorf("openhash: %d groups exceed the format's limit: %w", l.ng, ErrFull)
	}
	size := sizeFor(l.ng, l.width, l.flags&flagTimes != 0)
	var q quot
	width := l.width
	if l.v3 {
		q, width, _ = plan3(l.maxUID, l.flags&flagTimes != 0, l.tmin, l.tmax, l.ng)
		size = headerSize3 + l.ng*uint64(groupBytes(width))
	}
	if size > math.MaxInt-uint64(len(dst)) {
		return dst, Set{}, fmt.Errorf("openhash: a %d-byte set does not fit in memory: %w", size, ErrFull)
	}
	start := len(dst)
	out := slices.Grow(dst, int(size))[:start+int(size)]
	v := out[start:]
	clear(v)
	copy(v, magic[:])
	v[offVersion] = version
	if l.v3 {
		v[offVersion] = version3
		q.writeHeader3(v)
	}
	v[offFlags] = l.flags
	v[offWidth] = uint8(width)
	v[offSlots] = groupSlots
	binary.LittleEndian.PutUint32(v[offGroups:], uint32(l.ng))
	binary.LittleEndian.PutUint64(v[offSeed:], l.seed)
	writeTotal(v, l.total)
	s, err := Open(v)
	if err != nil {
		return dst, Set{}, fmt.Errorf("openhash: build: own header rejected (a bug): %w", err)
	}
	return out, s, nil
}

// Grow appends to dst a copy of the set in buf rebuilt with the members in
// add inserted (an existing uid gets the added time), and room for at least
// extra more members at the build load factor, and returns the extended
// slice. Slots are made wide enough for every member and never narrower
// than in buf. The copy keeps the seed, the flags and the total.
//
// Pass the member an Insert refused in add: Grow enlarges the table until
// every member fits, as Build does, whereas an Insert after a Grow without
// it could, in a small set, be refused again. A caller wanting amortized
// growth passes an extra proportional to the count (count/8, say).
//
// From a corrupt buf Grow keeps one copy of each uid Range yields, so its
// output always passes Check. dst must not overlap buf.
func Grow(dst, buf []byte, extra int, add ...Member) ([]byte, error) {
	return grow(dst, buf, extra, false, add)
}

// GrowFit is Grow with the new table sized as Options.Fit sizes Build's,
// for a set the caller keeps in its own heap.
func GrowFit(dst, buf []byte, extra int, add ...Member) ([]byte, error) {
	return grow(dst, buf, extra, true, add)
}

func grow(dst, buf []byte, extra int, fit bool, add []Member) ([]byte, error) {
	src, err := Open(buf)
	if err != nil {
		return dst, fmt.Errorf("openhash: grow: %w", err)
	}
	if overlaps(dst, buf) {
		return dst, errors.New("openhash: grow: dst overlaps buf")
	}
	maxUID := src.mask
	if src.q.ub != 0 {
		maxUID = src.q.umask // the slots hold words, not uids
	}
	members := 0
	src.Range(func(uid uint64, _ uint32) bool {
		maxUID |= uid
		members++
		return true
	})
	for _, m := range add {
		maxUID |= m.UID
	}
	n, err := planned(members+len(add), extra)
	if err != nil {
		return dst, fmt.Errorf("openhash: grow: %w", err)
	}
	l := layout{width: widthFor(maxUID), flags: src.flags, seed: src.seed, maxUID: maxUID}
	if total, known := src.Total(); known && src.Truncated() {
		l.total = uint64(total)
	}
	if src.q.ub != 0 {
		l.growRange3(&src, add, n)
	}
	l.groups(n, fit)
	for {
		out, s, err := l.next(dst)
		if err != nil {
			return dst, fmt.Errorf("openhash: grow: %w", err)
		}
		src.Range(func(uid uint64, t uint32) bool {
			_, err = s.insert(uid, t)
			return err == nil
		})
		for _, m := range add {
			if err != nil {
				break
			}
			_, err = s.insert(m.UID, m.Time)
		}
		if err == nil {
			built("grow", out, len(dst))
			return out, nil
		}
		l.failed = err
	}
}

// growRange3 makes a Grow of a version-3 set write version 3 again where
// it can (version 1 where a slot would pass 64 bits), with uid bits and a
// time range no smaller than the source's: those cover what was inserted
// in place, and keeping them makes every Grow at least double the room it
// adds to.
func (l *layout) growRange3(src *Set, add []Member, n uint64) {
	l.maxUID |= src.q.umask
	if src.HasTimes() {
		l.tmin = src.q.tbase
		l.tmax = uint32(min(uint64(src.q.tbase)+src.q.tmask, math.MaxUint32))
		for _, m := range add {
			l.tmin, l.tmax = min(l.tmin, m.Time), max(l.tmax, m.Time)
		}
	}
	_, _, l.v3 = plan3(l.maxUID, src.HasTimes(), l.tmin, l.tmax, groupsFor3(n))
}

// Insert adds uid with follow time t to the set in buf, in place, or updates
// the time of an existing member; t is ignored in a set without times. It
// reports whether uid was added. It returns an error wrapping ErrFull when
// the set must Grow first, and one wrapping ErrInvalid when buf fails
// Validate. ErrFull comes when every slot is taken, when uid is wider than
// the slots, or when the cuckoo walk finds no free slot: in large sets at
// about 99% load, in small ones (tens of members) occasionally earlier. A
// refused Insert leaves a consistent set (one that passes Check) unchanged.
func Insert(buf []byte, uid uint64, t uint32) (added bool, err error) {
	s, err := Open(buf)
	if err != nil {
		return false, fmt.Errorf("openhash: insert %d: %w", uid, err)
	}
	c := precheck(buf)
	added, err = s.insert(uid, t)
	c.after("insert", buf)
	return added, err
}

// Delete removes uid from the set in buf, in place, and reports whether it
// was a member. The slot becomes empty; no tombstone is needed because
// lookups never probe past a uid's two groups.
func Delete(buf []byte, uid uint64) (deleted bool, err error) {
	s, err := Open(buf)
	if err != nil {
		return false, fmt.Errorf("openhash: delete %d: %w", uid, err)
	}
	g, i, ok := s.find(uid)
	if !ok {
		return false, nil
	}
	n := s.Count()
	if n == 0 {
		return false, fmt.Errorf("openhash: delete %d: member found but count is 0: %w", uid, ErrInvalid)
	}
	c := precheck(buf)
	s.put(g, i, 0, 0, ctrlEmpty)
	s.setCount(n - 1)
	c.after("delete", buf)
	return true, nil
}

func (s *Set) insert(uid uint64, t uint32) (added bool, err error) {
	n := s.Count()
	before := n
	r := s.insertFast(uid, t, n < s.Capacity() && n < math.MaxUint32)
	if ok, err := s.insertCounted(r, uid, t, &n); !ok {
		return false, err
	}
	s.setCount(n)
	return n > before, nil
}

// insertCounted finishes an insert after the fast path: it runs the cuckoo
// walk when both groups are full, and counts a new member in *n. It reports
// whether uid is now stored.
func (s *Set) insertCounted(r insertResult, uid uint64, t uint32, n *int) (bool, error) {
	switch r {
	case updated:
		return true, nil
	case placed:
		*n++
		return true, nil
	case bothFull:
		if s.kick(uid, t) {
			*n++
			return true, nil
		}
		return false, fmt.Errorf("openhash: insert %d: no free slot within %d displacements: %w", uid, maxKicks, ErrFull)
	case noRoom:
		return false, fmt.Errorf("openhash: insert %d: %d members fill the set: %w", uid, *n, ErrFull)
	case timeOut:
		return false, fmt.Errorf("openhash: insert %d: time %d outside the set's range [%d, %d]: %w", uid, t, s.q.tbase, uint64(s.q.tbase)+s.q.tmask, ErrFull)
	default: // tooWide
		if s.q.ub != 0 {
			return false, fmt.Errorf("openhash: insert %d: needs %d uid bits, set has %d: %w", uid, bits.Len64(uid), s.q.ub, ErrFull)
		}
		return false, fmt.Errorf("openhash: insert %d: needs %d-byte slots, set has %d: %w", uid, widthFor(uid), s.width, ErrFull)
	}
}

// kick places a uid whose two groups are both full by displacing members to
// their other group, as cuckoo hashing does, for at most maxKicks steps. A
// failed walk is undone, leaving the table as it was.
//
// The undo needs no log. Step k writes the carried member into slot i_k of
// group g_k and carries off the member that was there; i_k comes from a
// counter-based generator, so it can be recomputed for any k, and g_k is
// the other candidate group of the member carried off at step k (in a
// consistent table every member sits in one of its two groups). Walking k
// back down with the same swaps restores every slot. A member found outside
// both its groups (possible only in a corrupt table) ends the walk there, so
// the undo holds for any table: a refused insert changes nothing.
func (s *Set) kick(uid uint64, t uint32) bool {
	if s.q.ub != 0 && s.ng > 1 {
		return s.kick3(uid, t)
	}
	return s.kickMembers(uid, t)
}

// kickMembers is kick moving decoded members: version 1's walk, and
// version 3's reference (TestKick3) and its one-group case.
func (s *Set) kickMembers(uid uint64, t uint32) bool {
	h := hash(uid, s.seed)
	g1, g2 := s.cands(uid)
	// Seeded by the uid and the table seed, so equal inputs give equal
	// bytes.
	rng := uid ^ s.seed
	slotAt := func(k int) int { return int(hash(rng+uint64(k+1)*0x9e3779b97f4a7c15, 0) & (groupSlots - 1)) }
	g := g1
	if hash(rng, 0)&1 != 0 {
		g = g2
	}
	tag := tagOf(h)
	k := 0
	for ; k < maxKicks; k++ {
		uid, t, tag = s.swap(g, slotAt(k), uid, t, tag)
		// uid is now the displaced member; send it to its other group.
		a, b := s.cands(uid)
		if a != g && b != g {
			// It sat in neither of its groups: a corrupt table (one a
			// server took with only CheckControl). The undo finds each
			// member's origin as its other group, which this one does not
			// have, so put it back now and undo the steps before it.
			uid, t, tag = s.swap(g, slotAt(k), uid, t, tag)
			break
		}
		if a == g {
			a = b
		}
		if s.putFree(a, uid, t, tag) {
			return true
		}
		g = a
	}
	for k--; k >= 0; k-- {
		// g is where the carried member was headed; it came from its
		// other group.
		a, b := s.cands(uid)
		if a == g {
			a = b
		}
		g = a
		uid, t, tag = s.swap(g, slotAt(k), uid, t, tag)
	}
	return false
}

// putFree stores a member in the first free slot of group g, if any.
func (s *Set) putFree(g, uid uint64, t uint32, tag uint8) bool {
	m := matchFree(s.ctrlOf(s.group(g)))
	if m == 0 {
		return false
	}
	s.put(g, bits.TrailingZeros64(m)>>3, uid, t, tag)
	return true
}

// swap stores a member in slot i of group g and returns the member that
// was there, with its control byte. The slot must be full.
func (s *Set) swap(g uint64, i int, uid uint64, t uint32, tag uint8) (uint64, uint32, uint8) {
	old, oldT := s.member(g, i)
	oldTag := s.group(g)[groupSlots*s.width+i]
	s.put(g, i, uid, t, tag)
	return old, oldT, oldTag
}

// cands is a uid's two candidate groups (equal when it has one).
func (s *Set) cands(uid uint64) (g1, g2 uint64) {
	if s.q.ub != 0 {
		g1, _, g2 = s.q.place(uid, s.seed, s.ng)
		if s.ng == 1 {
			g2 = g1
		}
		return g1, g2
	}
	return groupsOf(hash(uid, s.seed), s.ng)
}

// put writes slot i of group g. The uid goes in with a read-modify-write
// of the same eight bytes uidAt reads, which leaves the neighbouring slots'
// bytes as they were.
//
// In a version-3 set ctrl only says empty or full: the slot word and the
// tag are computed from uid, t and whether g is uid's first group.
func (s *Set) put(g uint64, i int, uid uint64, t uint32, ctrl uint8) {
	if s.q.ub != 0 {
		if ctrl == ctrlEmpty {
			s.putWord(g, i, 0, ctrlEmpty)
			return
		}
		g1, qt, _ := s.q.place(uid, s.seed, s.ng)
		w := word(qt, b2u(g != g1))
		if s.HasTimes() {
			w |= uint64(t-s.q.tbase) << s.q.rb
		}
		s.putWord(g, i, w, ctrlFull|uint8(qt&0x7f))
		return
	}
	grp := s.group(g)
	p := grp[i*s.width:]
	binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)&^s.mask|uid)
	grp[groupSlots*s.width+i] = ctrl
	s.putTime(g, i, t)
}

func (s *Set) putTime(g uint64, i int, t uint32) {
	if s.times != nil {
		binary.LittleEndian.PutUint32(s.times[(int(g)*groupSlots+i)*timeSize:], t)
	}
}

// overlaps reports whether appending to dst could write over buf.
func overlaps(dst, buf []byte) bool {
	if cap(dst) == len(dst) || len(buf) == 0 {
		return false
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return d+uintptr(len(dst)) < b+uintptr(len(buf)) && b < d+uintptr(cap(dst))
}
