package openhash

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Layout constants. docs/openhash-format.md is the authority; these must
// match it.
const (
	headerSize = 32
	version    = 1
	// versionTotal is a version-1 set whose reserved bytes hold the true
	// length of a truncated list (section 1.1 of the format). Writers use
	// it only for such sets, so every other set stays byte-identical with
	// version 1 and readers of version 1 keep reading it.
	versionTotal = 2
	groupSlots   = 8 // slots per group; the control word is one uint64

	flagTimes     = 1 << 0
	flagTruncated = 1 << 1
	knownFlags    = flagTimes | flagTruncated

	ctrlEmpty = 0x00
	ctrlFull  = 0x80 // ORed with the 7 low hash bits

	timeSize = 4

	lsb = 0x0101010101010101
	msb = 0x8080808080808080

	// maxGroups keeps the group count in the header's uint32.
	maxGroups = 1<<32 - 1
)

// Header field offsets.
const (
	offMagic    = 0
	offVersion  = 4
	offFlags    = 5
	offWidth    = 6
	offSlots    = 7
	offGroups   = 8
	offCount    = 12
	offSeed     = 16
	offReserved = 24
	offTotal    = offReserved // version 2
)

// magic starts every set. 0x8F cannot start a UTF-8 sequence, so text values
// never begin with it.
var magic = [4]byte{0x8f, 'R', 'H', 'S'}

var (
	// ErrInvalid is wrapped by every error about a malformed buffer.
	ErrInvalid = errors.New("openhash: invalid set")
	// ErrFull means an in-place Insert cannot place the member: the table
	// is at capacity, the cuckoo walk found no free slot, or the uid is
	// wider than the set's slots. Grow the set and insert again.
	ErrFull = errors.New("openhash: set is full")
)

// hash is the seeded mixer every reader must reproduce bit for bit:
//
//	M(a, b) = high64(a*b) XOR low64(a*b)   (full 128-bit product)
//	hash    = M(M(uid XOR seed, k1), k2)
//
// Each round is one widening multiply folded onto itself, the mixing step
// of wyhash; two rounds spread every input bit over the whole output, which
// both candidate groups and the tag need. It replaced the MurmurHash3
// finalizer (two multiplies and three shift-xors), which measured about
// 10% slower in the batch lookup loop, where the hash is a third of the
// instructions.
func hash(uid, seed uint64) uint64 {
	hi, lo := bits.Mul64(uid^seed, hashK1)
	hi, lo = bits.Mul64(hi^lo, hashK2)
	return hi ^ lo
}

// The hash multipliers: odd, with bits spread over all bytes (the golden
// ratio and SplitMix64's first multiplier).
const (
	hashK1 = 0x9e3779b97f4a7c15
	hashK2 = 0xbf58476d1ce4e5b9
)

// groupsOf maps a hash to its two candidate groups with multiply-shift range
// reduction: g1 is floor(h*n / 2^64) and g2 reduces the fractional part of
// that product the same way, so both are uniform for any n and cost one
// multiply each. g1 may equal g2; the uid then has one candidate group.
func groupsOf(h, n uint64) (g1, g2 uint64) {
	g1, frac := bits.Mul64(h, n)
	g2, _ = bits.Mul64(frac, n)
	return g1, g2
}

// tagOf is the control byte of a full slot holding a uid with hash h.
func tagOf(h uint64) uint8 { return ctrlFull | uint8(h&0x7f) }

// widthFor is the smallest slot width, in bytes, that holds x.
func widthFor(x uint64) int { return max(1, (bits.Len64(x)+7)/8) }

// groupBytes is the size of one group: eight slots, then the control word.
func groupBytes(width int) int { return groupSlots*width + groupSlots }

// sizeFor is the total length of a set with the given layout, in uint64 so a
// hostile header cannot overflow it.
func sizeFor(ngroups uint64, width int, times bool) uint64 {
	n := headerSize + ngroups*uint64(groupBytes(width))
	if times {
		n += ngroups * groupSlots * timeSize
	}
	return n
}

// IsSet reports whether buf starts with the openhash magic, so a SET handler
// can tell relation-set payloads from ordinary strings before validating
// them. It says nothing about the rest of buf; call Validate or Open.
func IsSet(buf []byte) bool {
	return len(buf) >= len(magic) && [4]byte(buf[:4]) == magic
}

// Validate checks everything memory safety depends on, in time independent
// of the table size: magic, version, flags, slot width, group size, reserved
// bytes, count within capacity, and that len(buf) is exactly what the header
// implies. It does not look at the table; Check does.
func Validate(buf []byte) error {
	_, err := Open(buf)
	return err
}

// Set is a read view of a validated set. It holds the parsed header and
// subslices of the buffer, and costs no allocation to make. The zero Set
// reads as an empty set.
type Set struct {
	hdr    []byte // the header, read again for the count so in-place edits show
	groups []byte // ngroups groups of gbytes
	times  []byte // ngroups*8 uint32s, nil when the set has no times
	seed   uint64
	mask   uint64 // the uid bits a slot holds
	ng     uint64 // group count, >= 1
	gbytes int
	width  int
	flags  uint8
	q      quot // version 3 only; q.ub == 0 in versions 1 and 2
}

// Open validates buf as Validate does and returns a view of it. The view
// aliases buf.
func Open(buf []byte) (Set, error) {
	if len(buf) < headerSize {
		return Set{}, headerError("length", "%d bytes is shorter than the %d-byte header", len(buf), headerSize)
	}
	if [4]byte(buf[:4]) != magic {
		return Set{}, headerError("magic", "bad magic % x", buf[:4])
	}
	v := buf[offVersion]
	if v == version3 {
		var s Set
		if err := s.open3(buf); err != nil {
			return Set{}, err
		}
		return s, nil
	}
	if v != version && v != versionTotal {
		return Set{}, headerError("version", "unsupported version %d", v)
	}
	flags, width, ng, err := openShared(buf)
	if err != nil {
		return Set{}, err
	}
	if v == versionTotal && flags&flagTruncated == 0 {
		return Set{}, headerError("flags", "version 2 (a total) without the truncated flag")
	}
	switch r := binary.LittleEndian.Uint64(buf[offReserved:]); {
	case v == version && r != 0:
		return Set{}, headerError("reserved", "reserved header bytes are %#x, want 0", r)
	case v == versionTotal && r == 0:
		return Set{}, headerError("total", "version 2 with a total of 0")
	}
	times := flags&flagTimes != 0
	if want := sizeFor(ng, width, times); uint64(len(buf)) != want {
		return Set{}, headerError("length", "length %d, header implies %d", len(buf), want)
	}
	gb := groupBytes(width)
	end := headerSize + int(ng)*gb // fits: len(buf) matched it
	s := newSet(buf, headerSize, end, flags, width, ng)
	if times {
		s.times = buf[end:]
	}
	return s, nil
}

// newSet is the view of a set whose header (hsize bytes) Open checked and
// whose groups end at end.
func newSet(buf []byte, hsize, end int, flags uint8, width int, ng uint64) Set {
	var s Set
	s.initView(buf, hsize, end, flags, width, ng)
	return s
}

// initView is newSet in place, field by field (see open3).
func (s *Set) initView(buf []byte, hsize, end int, flags uint8, width int, ng uint64) {
	s.hdr, s.groups, s.times = buf[:hsize:hsize], buf[hsize:end:end], nil
	s.seed = binary.LittleEndian.Uint64(buf[offSeed:])
	s.mask = ^uint64(0) >> (64 - 8*width)
	s.ng, s.gbytes, s.width, s.flags = ng, groupBytes(width), width, flags
}

// openShared checks the header fields every version has alike: flags,
// slot width, slots per group, group count and count.
func openShared(buf []byte) (flags uint8, width int, ng uint64, err error) {
	flags = buf[offFlags]
	if flags&^knownFlags != 0 {
		return 0, 0, 0, headerError("flags", "unknown flags %#02x", flags&^knownFlags)
	}
	width = int(buf[offWidth])
	if width < 1 || width > 8 {
		return 0, 0, 0, headerError("width", "slot width %d not in 1..8", width)
	}
	if s := buf[offSlots]; s != groupSlots {
		return 0, 0, 0, headerError("slots", "%d slots per group, want %d", s, groupSlots)
	}
	ng = uint64(binary.LittleEndian.Uint32(buf[offGroups:]))
	if ng == 0 {
		return 0, 0, 0, headerError("groups", "zero groups")
	}
	if count := uint64(binary.LittleEndian.Uint32(buf[offCount:])); count > ng*groupSlots {
		return 0, 0, 0, headerError("count", "count %d exceeds capacity %d", count, ng*groupSlots)
	}
	return flags, width, ng, nil
}

// Count is the number of members, as recorded in the header.
func (s *Set) Count() int {
	if s.hdr == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint32(s.hdr[offCount:]))
}

// Total is the length of the whole list: the count of a complete set, the
// total recorded when a truncated one was loaded (never less than the
// count), and known false for a truncated set that records none.
func (s *Set) Total() (n int, known bool) {
	count := s.Count()
	if !s.Truncated() {
		return count, true
	}
	t := binary.LittleEndian.Uint64(s.hdr[offTotal:])
	if t == 0 { // version 1: the reserved bytes are zero
		return 0, false
	}
	return int(max(t, uint64(count))), true
}

// SetTotal records n as the length of the whole list in the truncated set
// in buf, in place; n == 0 records none (the set becomes version 1 again).
// A set that is not truncated has no total to record: its count is it.
func SetTotal(buf []byte, n uint64) error {
	s, err := Open(buf)
	if err != nil {
		return fmt.Errorf("openhash: set total: %w", err)
	}
	if !s.Truncated() {
		if n != 0 {
			return fmt.Errorf("openhash: set total %d of a set that is not truncated: %w", n, ErrInvalid)
		}
		return nil
	}
	writeTotal(buf, n)
	return nil
}

// AddTotal moves the total recorded in the truncated set in buf by delta,
// in place, never below the set's count (nor 1, which would record none);
// a set without a recorded total is left as it is.
func AddTotal(buf []byte, delta int) error {
	s, err := Open(buf)
	if err != nil {
		return fmt.Errorf("openhash: add to total: %w", err)
	}
	t := int64(binary.LittleEndian.Uint64(buf[offTotal:]))
	if !s.Truncated() || t == 0 {
		return nil
	}
	writeTotal(buf, uint64(max(t+int64(delta), int64(s.Count()), 1)))
	return nil
}

// writeTotal writes the total field and the version that goes with it:
// versions 1 and 2 tell a total apart by the version, version 3 by a total
// that is not 0.
func writeTotal(hdr []byte, n uint64) {
	if hdr[offVersion] == version3 {
		binary.LittleEndian.PutUint64(hdr[offTotal:], n)
		return
	}
	hdr[offVersion] = version
	if n != 0 {
		hdr[offVersion] = versionTotal
	}
	binary.LittleEndian.PutUint64(hdr[offTotal:], n)
}

// Identity is the first byte of the buffer the set views: two views of
// one stored set share it, and a set edited copy-on-write gets another, so
// an answer derived from a set can be tied to the exact version it was for.
// nil for the zero Set.
func (s *Set) Identity() *byte {
	if s.hdr == nil {
		return nil
	}
	return &s.hdr[0]
}

// Capacity is the number of slots; Count never exceeds it.
func (s *Set) Capacity() int { return int(s.ng) * groupSlots }

// HasTimes reports whether members carry a follow time.
func (s *Set) HasTimes() bool { return s.flags&flagTimes != 0 }

// Truncated reports whether the list was cut when it was loaded (for
// example, only the latest 5000 fans), so a miss is not proof of absence.
func (s *Set) Truncated() bool { return s.flags&flagTruncated != 0 }

// Width is the slot width in bytes; uids at or above 2^(8*Width) cannot be
// members without a Grow.
func (s *Set) Width() int { return s.width }

// Seed is the hash seed the set was built with.
func (s *Set) Seed() uint64 { return s.seed }

func (s *Set) setCount(n int) { binary.LittleEndian.PutUint32(s.hdr[offCount:], uint32(n)) }

// group returns the bytes of group g (< s.ng).
func (s *Set) group(g uint64) []byte {
	off := int(g) * s.gbytes
	return s.groups[off : off+s.gbytes]
}

// ctrlOf is the control word of a group: byte i belongs to slot i.
func (s *Set) ctrlOf(grp []byte) uint64 {
	return binary.LittleEndian.Uint64(grp[groupSlots*s.width:])
}

// uidAt reads slot i of grp. Every slot is followed by at least eight bytes
// of its group (later slots, then the control word), so one unaligned 8-byte
// load and a mask serve all widths.
func (s *Set) uidAt(grp []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(grp[i*s.width:]) & s.mask
}

// matchTag returns, as one 0x80 bit per byte, the slots of ctrl whose byte
// equals the broadcast tag in tags. A borrow can flag a byte just above a
// true match as well; callers compare the uid anyway. An empty (0x00) byte
// is never flagged because tag^0x00 keeps the high bit set.
func matchTag(ctrl, tags uint64) uint64 {
	v := ctrl ^ tags
	return (v - lsb) &^ v & msb
}

// matchFree returns the slots whose control byte has the high bit clear:
// empty ones, and in a corrupt table, invalid bytes treated as empty.
func matchFree(ctrl uint64) uint64 { return ^ctrl & msb }
