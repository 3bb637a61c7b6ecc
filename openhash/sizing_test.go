package openhash

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAllocSize checks the size-class table against the running runtime:
// a []byte grown from nil to n bytes gets the whole block the allocator
// set aside for it as its capacity.
func TestAllocSize(t *testing.T) {
	check := func(n uint64) {
		if got, want := allocSize(n), uint64(cap(slices.Grow([]byte(nil), int(n)))); got != want {
			t.Fatalf("allocSize(%d) = %d, the runtime allocates %d", n, got, want)
		}
	}
	for n := uint64(1); n <= maxSmallSize+allocPage+1; n++ {
		check(n)
	}
	for _, n := range []uint64{1 << 20, 1<<20 + 1, 3<<20 - 1, 100_000_000} {
		check(n)
	}
}

// sizingCase is one kind of list the sizing is checked on.
type sizingCase struct {
	version int
	times   bool
	maxUID  uint64
}

func (c sizingCase) String() string {
	return fmt.Sprintf("v%d/times=%v/uid-bits=%d", c.version, c.times, bits.Len64(c.maxUID))
}

// groupSize is the bytes one group of l's table at ng groups takes.
func (l *layout) groupSize(ng uint64) uint64 {
	hdr := uint64(headerSize)
	if l.v3 {
		hdr = headerSize3
	}
	return (l.tableSize(ng) - hdr) / ng
}

var sizingCases = []sizingCase{
	{1, false, 1_000_999_999}, {1, true, 1_000_999_999}, {1, true, 9_999_999_999},
	{3, false, 1_000_999_999}, {3, true, 1_000_999_999}, {3, false, 9_999_999_999}, {3, true, 9_999_999_999},
}

// plan is Build's layout for n members of c, fitted or not.
func (c sizingCase) plan(t *testing.T, n uint64, fit bool) layout {
	l := layout{width: widthFor(c.maxUID), maxUID: c.maxUID}
	if c.times {
		l.flags = flagTimes
		l.tmin, l.tmax = 1_600_000_000, 1_700_000_000
	}
	if err := l.choose(c.version, n, fit); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFitSizing checks the fitted sizing for every list size from 1 to
// 100,000 members: the load stays within the version's bound, the table
// ends less than one group under its size class, and that class is never
// larger than the one the unfitted table needs (or the class of the
// power of two above it, where version 3's slot narrows).
func TestFitSizing(t *testing.T) {
	for _, c := range sizingCases {
		t.Run(c.String(), func(t *testing.T) {
			var saved, unfitted uint64
			for n := uint64(1); n <= 100_000; n++ {
				l := c.plan(t, n, true)
				u := c.plan(t, n, false)
				if l.v3 != (c.version == 3) {
					t.Fatalf("%d members: version 3 = %v", n, l.v3)
				}
				lo := groupsFor(n)
				if l.v3 {
					lo = groupsFor3(n)
				}
				if l.ng < l.fitMin(n) || u.ng != lo {
					t.Fatalf("%d members: %d groups fitted, %d unfitted, want at least %d (the fit bound) and %d (the load bound)", n, l.ng, u.ng, l.fitMin(n), lo)
				}
				size, class := l.tableSize(l.ng), allocSize(l.tableSize(l.ng))
				if per := l.groupSize(l.ng); class-size >= per {
					t.Fatalf("%d members, %d groups: %d bytes end %d under their class %d, a group is %d", n, l.ng, size, class-size, class, per)
				}
				if uc := allocSize(u.tableSize(u.ng)); class > uc {
					t.Fatalf("%d members: fitted to class %d, unfitted in %d", n, class, uc)
				}
				saved += allocSize(u.tableSize(u.ng)) - class
				unfitted += allocSize(u.tableSize(u.ng))
			}
			t.Logf("allocated bytes saved over 1..100000 members: %.2f%%", 100*float64(saved)/float64(unfitted))
		})
	}
}

// TestFitBuild builds fitted sets of every size from 1 to 3000 members
// (and, without -short, every 997th size up to 100,000) and checks each:
// Build succeeds, the set holds every member and passes Check, and its
// length is the planned table's, so it ends within a group of its size
// class (a Build that needed a larger table is counted: it must be rare).
func TestFitBuild(t *testing.T) {
	sizes := make([]int, 0, 4100)
	for n := 1; n <= 3000; n++ {
		sizes = append(sizes, n)
	}
	if !testing.Short() {
		for n := 3001; n <= 100_000; n += 997 {
			sizes = append(sizes, n)
		}
	}
	for _, c := range sizingCases {
		t.Run(c.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.version), c.maxUID))
			retried := 0
			for _, n := range sizes {
				uids := make([]uint64, n)
				var times []uint32
				if c.times {
					times = make([]uint32, n)
				}
				for i := range uids {
					uids[i] = c.maxUID - rng.Uint64N(c.maxUID/2)
					if c.times {
						times[i] = 1_600_000_000 + rng.Uint32N(100_000_001)
					}
				}
				uids[0] = c.maxUID // the planned width
				if c.times {
					times[0], times[n-1] = 1_600_000_000, 1_700_000_000 // the planned range
				}
				buf, err := Build(nil, uids, times, Options{Seed: rng.Uint64(), Version: c.version, Fit: true})
				if err != nil {
					t.Fatalf("%d members: %v", n, err)
				}
				s, err := Open(buf)
				if err != nil {
					t.Fatal(err)
				}
				if n <= 3000 {
					if err := Check(buf); err != nil {
						t.Fatalf("%d members: %v", n, err)
					}
				}
				for _, u := range uids {
					if !s.Contains(u) {
						t.Fatalf("%d members: %d missing", n, u)
					}
				}
				l := c.plan(t, uint64(s.Count()), true)
				if uint64(len(buf)) != l.tableSize(l.ng) {
					retried++
				}
			}
			t.Logf("%d of %d sizes needed a larger table than planned", retried, len(sizes))
			if retried*200 > len(sizes) {
				t.Errorf("%d of %d fitted builds needed a larger table than planned", retried, len(sizes))
			}
		})
	}
}

// TestGrowFit checks that GrowFit keeps a set's family and sizes the new
// table as a fitted Build of the same members and room would.
func TestGrowFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, version := range []int{1, 3} {
		uids, times := randomList(rng, 500)
		buf, err := Build(nil, uids, times, Options{Seed: 9, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		grown, err := GrowFit(nil, buf, 125, Member{UID: 1234567890, Time: 1_650_000_000})
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(grown); err != nil {
			t.Fatal(err)
		}
		s, _ := Open(grown)
		if (s.q.ub != 0) != (version == 3) || s.Count() != 501 {
			t.Fatalf("version %d grew into v3 = %v with %d members", version, s.q.ub != 0, s.Count())
		}
		size, ng := uint64(len(grown)), uint64(s.Capacity()/groupSlots)
		l := layout{v3: version == 3, width: s.width, flags: flagTimes, maxUID: s.q.umask, tmin: s.q.tbase, tmax: s.q.tbase + uint32(s.q.tmask)}
		if class := allocSize(size); class-size >= l.groupSize(ng) {
			t.Errorf("version %d: GrowFit's %d bytes end %d under their class %d", version, size, class-size, class)
		}
		num, den := loadNum, loadDen
		if version == 3 {
			num, den = maxLoad3Num, maxLoad3Den
		}
		if s.Capacity()*num/den < 501+125 {
			t.Errorf("version %d: capacity %d for 501 members and 125 more", version, s.Capacity())
		}
	}
}
