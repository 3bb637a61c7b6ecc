package openhash

import "math/bits"

// Sizing: how many groups the first table of a Build or Grow gets.
//
// Version 1 is built at most loadNum/loadDen (15/16) full, version 3 at
// most maxLoad3Num/maxLoad3Den (97/100): TestBuildLoad builds 2000
// random lists of 1 to 10,000 ten-digit uids at loads 0.90 to 0.99 and
// finds version 3's two distinct candidate groups take 1 list in 2000 at
// 0.97 that needs a second attempt (Build enlarges the table by an eighth),
// 2 at 0.98 and 9 at 0.99. A lookup reads at most two groups at any load,
// so the bound costs no probe; version 1 keeps 15/16, the speed format's
// load since it was written, so its bytes and its times stay as they were.
//
// With Options.Fit the table's length is chosen for Go's allocator, which
// hands out a pointer-free allocation in the smallest size class that
// holds it (68 classes up to 32 KiB; whole 8 KiB pages above): the table
// takes the class below the one that holds it at the version's load bound
// where it fits there within a higher bound (version 3: 0.99, fitMin),
// and then as many groups as its class holds, so the bytes between the
// table's end and its class's become slack that shortens cuckoo walks and
// leaves room for in-place inserts instead of waste.
// The group count may be any integer (multiply-shift range reduction,
// docs/openhash-format.md sections 2 and 7.2), so the table can end
// within one group's bytes of any class.
const (
	maxLoad3Num = 97
	maxLoad3Den = 100
)

// groupsFor3 is the group count version 3 is built with for n members.
func groupsFor3(n uint64) uint64 {
	return max(1, (n*maxLoad3Den+groupSlots*maxLoad3Num-1)/(groupSlots*maxLoad3Num))
}

// sizeClasses are the Go runtime's size classes (go1.27,
// internal/runtime/gc/sizeclasses.go), without class 0.
// TestAllocSize checks allocSize against the running runtime, so a
// toolchain that changes them fails it instead of wasting bytes unseen.
var sizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

const (
	maxSmallSize = 32768
	allocPage    = 8192
)

// allocSize is the number of bytes Go's allocator sets aside for a
// pointer-free allocation of n bytes: what a []byte of length n made by
// make or append (a value's copy in the server) costs the heap.
func allocSize(n uint64) uint64 {
	if n <= maxSmallSize {
		for _, c := range sizeClasses {
			if uint64(c) >= n {
				return uint64(c)
			}
		}
	}
	return (n + allocPage - 1) &^ (allocPage - 1)
}

// tableSize is the length of a table of ng groups in the layout's format.
func (l *layout) tableSize(ng uint64) uint64 {
	times := l.flags&flagTimes != 0
	if !l.v3 {
		return sizeFor(ng, l.width, times)
	}
	_, w, _ := plan3(l.maxUID, times, l.tmin, l.tmax, ng)
	return headerSize3 + ng*uint64(groupBytes(w))
}

// groups sets the group count of the layout's first table for n planned
// members, its format chosen: the version's load bound, and with fit the
// most groups the size class of that table holds, or, where a table
// within the fit bound (fitMin) fits the class below, the most that one
// holds.
func (l *layout) groups(n uint64, fit bool) {
	lo := groupsFor(n)
	if l.v3 {
		lo = groupsFor3(n)
	}
	l.ng = lo
	if !fit {
		return
	}
	class := allocSize(l.tableSize(lo))
	if l.v3 {
		// A version-3 slot narrows by a byte when the group count
		// passes a power of two (one more bit of the uid is implied
		// by the group), so the power of two above lo may fit a
		// smaller class than lo itself.
		if p := uint64(1) << bits.Len64(lo-1); p > lo && p <= maxGroups {
			class = min(class, allocSize(l.tableSize(p)))
		}
	}
	if least := l.fitMin(n); least < lo {
		if g := l.mostGroups(least, classBelow(class)); g != 0 {
			l.ng = g
			return
		}
	}
	l.ng = max(lo, l.mostGroups(lo, class))
}

// fitMin is the fewest groups a fitted table of n members may have: a
// load of at most maxFit3Num/maxFit3Den in version 3, whose bound the
// fit may pass where that saves a size class (TestBuildLoad: 9 random
// lists in 2000 need a second attempt at 0.99, against 1 at 0.97), and
// version 1's build load in version 1, whose load stays where its speed
// was measured.
func (l *layout) fitMin(n uint64) uint64 {
	if !l.v3 {
		return groupsFor(n)
	}
	return max(1, (n*maxFit3Den+groupSlots*maxFit3Num-1)/(groupSlots*maxFit3Num))
}

const (
	maxFit3Num = 99
	maxFit3Den = 100
)

// classBelow is the largest allocation size under class (an allocSize),
// 0 when there is none.
func classBelow(class uint64) uint64 {
	if class > maxSmallSize {
		return max(class-allocPage, maxSmallSize)
	}
	below := uint64(0)
	for _, c := range sizeClasses {
		if uint64(c) >= class {
			break
		}
		below = uint64(c)
	}
	return below
}

// mostGroups is the largest group count from lo up (at most maxGroups)
// whose table is at most size bytes long, or 0 when none is. Version 3's
// slot width is constant between powers of two of the group count and
// shrinks from one to the next, so the table's length is linear within
// each such range: one division per range.
func (l *layout) mostGroups(lo, size uint64) uint64 {
	best := uint64(0)
	hdr := uint64(headerSize)
	if l.v3 {
		hdr = headerSize3
	}
	if size <= hdr {
		return best
	}
	// No group is smaller than groupBytes(1), so no table of more than
	// this many groups fits.
	limit := min((size-hdr)/uint64(groupBytes(1)), maxGroups)
	for from := lo; from <= limit; {
		to := limit // the last group count of from's power-of-two range
		if l.v3 {
			to = min(limit, uint64(1)<<bits.Len64(from)-1)
		}
		per := (l.tableSize(from) - hdr) / from
		if g := min(to, (size-hdr)/per); g >= from {
			best = g
		}
		from = to + 1
	}
	return best
}
