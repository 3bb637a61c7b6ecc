package openhash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPlaceVectors pins version 3's permutation and placement to values
// computed independently with Python's integers (docs/openhash-format.md,
// section 7.2).
func TestPlaceVectors(t *testing.T) {
	for _, v := range []struct {
		uid, seed uint64
		ub        uint
		ng        uint64
		x         uint64
		g1, t, g2 uint64
	}{
		{0, 0, 1, 1, 0, 0, 0, 0},
		{1, 0, 34, 40, 0x66d3e959, 4, 8971183, 5},
		{1234567890, 0, 34, 40, 0x86bd84f3, 5, 141354543, 16},
		{1234567890, 0x0123456789abcdef, 34, 40, 0x3626a4bc6, 33, 453303991, 26},
		{9876543210, 7, 34, 3, 0x4d71267e, 0, 1948891581, 1},
		{18446744073709551615, 42, 64, 400, 0x7ecae4fa1bd58444, 198, 8169125700279978, 244},
		{4294967295, 42, 32, 1, 0x883a94de, 0, 2285540574, 0},
		{255, 5, 8, 35, 0xb1, 24, 1, 29},
	} {
		q := newQuot(v.ub, v.ng, 0, 0)
		if x := q.perm(v.uid, v.seed); x != v.x {
			t.Errorf("perm(%d, %#x, B=%d) = %#x, want %#x", v.uid, v.seed, v.ub, x, v.x)
		}
		if g1, tt, g2 := q.place(v.uid, v.seed, v.ng); g1 != v.g1 || tt != v.t || g2 != v.g2 {
			t.Errorf("place(%d, %#x, B=%d, G=%d) = %d, %d, %d; want %d, %d, %d", v.uid, v.seed, v.ub, v.ng, g1, tt, g2, v.g1, v.t, v.g2)
		}
	}
}

// TestQuotientBijective checks, for every uid of small widths and a sample
// of wide ones, that the permutation inverts and that (group, alt, t)
// decodes back to the uid in either of its groups.
func TestQuotientBijective(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ub := range []uint{1, 2, 7, 8, 9, 12, 33, 34, 63, 64} {
		for _, ng := range []uint64{1, 2, 3, 35, 40, 1 << 12, 1<<32 - 1} {
			q := newQuot(ub, ng, 0, 0)
			if ub <= uint(q.s) {
				continue // no valid header: B must exceed floor(log2 G)
			}
			seed := rng.Uint64()
			seen := map[[2]uint64]uint64{}
			for k := range 4096 {
				uid := uint64(k)
				if ub > 12 {
					uid = rng.Uint64() & q.umask
				} else if uid > q.umask {
					break
				}
				if got := q.unperm(q.perm(uid, seed), seed); got != uid {
					t.Fatalf("B=%d: unperm(perm(%d)) = %d", ub, uid, got)
				}
				g1, tt, g2 := q.place(uid, seed, ng)
				if ng > 1 && g1 == g2 || g1 >= ng || g2 >= ng || !q.validT(tt) {
					t.Fatalf("B=%d G=%d uid %d: groups %d, %d, t %d", ub, ng, uid, g1, g2, tt)
				}
				if prev, dup := seen[[2]uint64{g1, tt}]; dup && prev != uid {
					t.Fatalf("B=%d G=%d: uids %d and %d share group %d and t %d", ub, ng, prev, uid, g1, tt)
				}
				seen[[2]uint64{g1, tt}] = uid
				for alt, g := range []uint64{g1, g2} {
					if ng == 1 && alt == 1 {
						continue
					}
					w := word(tt, uint64(alt))
					if w&^q.remMask != 0 {
						t.Fatalf("B=%d G=%d: word %#x wider than %d bits", ub, ng, w, q.rb)
					}
					if got, _ := q.decode(w, ctrlFull|uint8(tt&0x7f), g, seed, ng); got != uid {
						t.Fatalf("B=%d G=%d: uid %d in group %d (alt %d) decodes to %d", ub, ng, uid, g, alt, got)
					}
				}
			}
		}
	}
}

// TestV3Ranges: a version-3 set refuses, with ErrFull and unchanged bytes,
// a uid wider than its uid bits and a time outside its range, for a new
// member and for an existing one; Grow then takes them and keeps version
// 3; and times come back exactly at both ends of the range.
func TestV3Ranges(t *testing.T) {
	uids := []uint64{1_000_000_001, 9_999_999_999, 5_000_000_000}
	times := []uint32{1_600_000_000, 1_600_000_000 + 1<<20 - 1, 1_650_000}
	buf, err := Build(nil, uids, times, Options{Seed: 9, Extra: 30, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	if buf[offVersion] != version3 {
		t.Fatalf("Build wrote version %d, want 3", buf[offVersion])
	}
	s, _ := Open(buf)
	for i, u := range uids {
		if got, ok := s.Time(u); !ok || got != times[i] {
			t.Fatalf("Time(%d) = %d, %v; want %d", u, got, ok, times[i])
		}
	}
	lo, hi := s.q.tbase, uint32(uint64(s.q.tbase)+s.q.tmask)
	for _, c := range []struct {
		uid uint64
		t   uint32
		msg string
	}{
		{1 << 34, lo, "uid bits"},
		{uids[0], lo - 1, "outside the set's range"},
		{uids[1], hi + 1, "outside the set's range"},
		{42, hi + 1, "outside the set's range"},
	} {
		before := bytes.Clone(buf)
		_, err := Insert(buf, c.uid, c.t)
		if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), c.msg) {
			t.Fatalf("Insert(%d, %d) = %v, want ErrFull saying %q", c.uid, c.t, err, c.msg)
		}
		if !bytes.Equal(buf, before) {
			t.Fatalf("a refused Insert(%d, %d) changed the set", c.uid, c.t)
		}
		g, err := Grow(nil, buf, 1, Member{c.uid, c.t})
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(g); err != nil {
			t.Fatal(err)
		}
		sg, _ := Open(g)
		if got, ok := sg.Time(c.uid); !ok || got != c.t || g[offVersion] != version3 {
			t.Fatalf("after Grow: Time(%d) = %d, %v, version %d; want %d in version 3", c.uid, got, ok, g[offVersion], c.t)
		}
	}
	// Both ends of the range insert in place.
	for _, tm := range []uint32{lo, hi} {
		if _, err := Insert(buf, 77, tm); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Time(77); got != tm {
			t.Fatalf("Time(77) = %d, want %d", got, tm)
		}
	}
	// A set without times ignores the time it is given.
	nt, _ := Build(nil, uids, nil, Options{Seed: 1, Extra: 4, Version: 3})
	if _, err := Insert(nt, 5, 123456); err != nil {
		t.Fatal(err)
	}
	if err := Check(nt); err != nil {
		t.Fatal(err)
	}
}

// TestV3Total: a truncated version-3 set keeps its total through
// SetTotal, AddTotal and Grow, and stays version 3.
func TestV3Total(t *testing.T) {
	buf, err := Build(nil, []uint64{1, 2, 3}, []uint32{5, 6, 7}, Options{Seed: 2, Truncated: true, Total: 100, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Open(buf)
	if n, ok := s.Total(); !ok || n != 100 {
		t.Fatalf("Total = %d, %v", n, ok)
	}
	if err := AddTotal(buf, -98); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Total(); n != 3 || buf[offVersion] != version3 {
		t.Fatalf("after AddTotal: Total %d, version %d; want the count, 3, and version 3", n, buf[offVersion])
	}
	if err := SetTotal(buf, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Total(); ok || buf[offVersion] != version3 || Check(buf) != nil {
		t.Fatalf("SetTotal(0): known %v, version %d", ok, buf[offVersion])
	}
	if err := SetTotal(buf, 9000); err != nil {
		t.Fatal(err)
	}
	g, _ := Grow(nil, buf, 1)
	sg, _ := Open(g)
	if n, ok := sg.Total(); !ok || n != 9000 || g[offVersion] != version3 {
		t.Fatalf("after Grow: Total %d, %v, version %d", n, ok, g[offVersion])
	}
	// Not truncated: no total allowed.
	plain, _ := Build(nil, []uint64{1}, nil, Options{Version: 3})
	binary.LittleEndian.PutUint64(plain[offTotal:], 5)
	if err := Validate(plain); err == nil || !strings.Contains(err.Error(), "without the truncated flag") {
		t.Fatalf("Validate of a total without truncation = %v", err)
	}
}

// TestV3Validate: each header field of version 3 is checked, and Check
// finds each kind of slot corruption.
func TestV3Validate(t *testing.T) {
	uids := []uint64{1_000_000_001, 1_234_567_890, 9_876_543_210, 4_294_967_296}
	// Times 10..45 need 6 bits: the slot word (27 + 6 bits) leaves 7
	// bits of its 5 bytes unused.
	good, err := Build(nil, uids, []uint32{10, 20, 30, 45}, Options{Seed: 5, Extra: 12, Version: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(good); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(good)
	w := s.width
	var g0 uint64
	slot := -1
	for g := range s.ng {
		if m := s.ctrlOf(s.group(g)) & msb; m != 0 && slot < 0 {
			g0, slot = g, bitsTrailing(m)
		}
	}
	off := func(g uint64, i int) int { return headerSize3 + int(g)*s.gbytes + i*w }
	ctrl := func(g uint64, i int) int { return headerSize3 + int(g)*s.gbytes + groupSlots*w + i }
	for _, c := range []struct {
		name   string
		mutate func([]byte) []byte
		check  func([]byte) error
		want   string
	}{
		{"short", func(b []byte) []byte { return b[:36] }, Validate, "version-3 header"},
		{"uid bits 0", func(b []byte) []byte { b[offUIDBits] = 0; return b }, Validate, "uid bits"},
		{"uid bits 65", func(b []byte) []byte { b[offUIDBits] = 65; return b }, Validate, "uid bits"},
		{"uid bits not above log2 G", func(b []byte) []byte { b[offUIDBits] = 1; return b }, Validate, "want more than floor(log2 G)"},
		{"time bits 33", func(b []byte) []byte { b[offTimeBits] = 33; return b }, Validate, "time bits"},
		{"pad", func(b []byte) []byte { b[offPad3+1] = 1; return b }, Validate, "reserved"},
		{"width", func(b []byte) []byte { b[offWidth]++; return b }, Validate, "slot width"},
		{"length", func(b []byte) []byte { return append(b, 0) }, Validate, "length"},
		{"times without the flag", func(b []byte) []byte { b[offFlags] &^= flagTimes; return b }, Validate, "without times"},
		{"bits above the time", func(b []byte) []byte { b[off(g0, slot)+w-1] |= 0x80; return b }, Check, "bits above"},
		{"empty slot bytes", func(b []byte) []byte {
			for i := range groupSlots {
				if b[ctrl(g0, i)] == 0 {
					b[off(g0, i)] = 1
					break
				}
			}
			return b
		}, Check, "empty slot has uid bytes"},
		{"duplicate", func(b []byte) []byte {
			// Copy the member into a free slot of the same group.
			for i := range groupSlots {
				if b[ctrl(g0, i)] == 0 {
					copy(b[off(g0, i):off(g0, i)+w], b[off(g0, slot):off(g0, slot)+w])
					b[ctrl(g0, i)] = b[ctrl(g0, slot)]
					binary.LittleEndian.PutUint32(b[offCount:], uint32(len(uids)+1))
					break
				}
			}
			return b
		}, Check, "appears 2 times"},
	} {
		bad := c.mutate(bytes.Clone(good))
		err := c.check(bad)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", c.name, err, c.want)
		}
	}
}

// TestV3NoRedundancy documents what version 3 gives up: its slots keep
// no bit a uid's placement implies, so a flipped tag or slot bit is
// another valid member, which Check accepts (a snapshot's checksums, not
// the format, catch such damage). What stays detectable is a slot no uid
// can have: the alt bit in a one-group set.
func TestV3NoRedundancy(t *testing.T) {
	buf, _ := Build(nil, []uint64{1_000_000_001, 1_234_567_890}, nil, Options{Seed: 5, Version: 3})
	s, _ := Open(buf)
	if s.ng != 1 {
		t.Fatalf("%d groups, want 1", s.ng)
	}
	flipped := bytes.Clone(buf)
	flipped[headerSize3+groupSlots*s.width+bitsTrailing(s.ctrlOf(s.group(0))&msb)] ^= 1
	if err := Check(flipped); err != nil {
		t.Fatalf("a flipped tag: %v, want another valid member", err)
	}
	alt := bytes.Clone(buf)
	alt[headerSize3+bitsTrailing(s.ctrlOf(s.group(0))&msb)*s.width] ^= 1
	if err := Check(alt); err == nil || !strings.Contains(err.Error(), "not the encoding") {
		t.Fatalf("the alt bit in a one-group set: %v, want a rule 3 error", err)
	}
}

func bitsTrailing(m uint64) int {
	i := 0
	for m&0x80 == 0 {
		m >>= 8
		i++
	}
	return i
}

// TestVersionChoice: the zero Options write version 1 (v3 costs CPU on
// every lookup, so it is opted into, never the default), 3 forces version
// 3, VersionSmallest writes 3 where it is smaller and 1 where it is not,
// and any other value is refused.
func TestVersionChoice(t *testing.T) {
	wide := []uint64{1_000_000_001, 9_999_999_999, 5_000_000_000}
	wideTimes := []uint32{1_600_000_000, 1_600_000_100, 1_600_000_200}
	small := []uint64{1, 2, 3} // one-byte uids without times: v3's longer header is not repaid
	for _, c := range []struct {
		name    string
		uids    []uint64
		times   []uint32
		opt     Options
		version uint8
	}{
		{"zero value", wide, wideTimes, Options{Seed: 1}, version},
		{"zero value, truncated with a total", wide, wideTimes, Options{Seed: 1, Truncated: true, Total: 9}, versionTotal},
		{"1", wide, wideTimes, Options{Seed: 1, Version: 1}, version},
		{"3", wide, wideTimes, Options{Seed: 1, Version: 3}, version3},
		{"3, small", small, nil, Options{Seed: 1, Version: 3}, version3},
		{"smallest", wide, wideTimes, Options{Seed: 1, Version: VersionSmallest}, version3},
		{"smallest, small", small, nil, Options{Seed: 1, Version: VersionSmallest}, version},
	} {
		buf, err := Build(nil, c.uids, c.times, c.opt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if buf[offVersion] != c.version {
			t.Errorf("%s: wrote version %d, want %d", c.name, buf[offVersion], c.version)
		}
	}
	for _, v := range []int{2, 4, -2} {
		if _, err := Build(nil, wide, nil, Options{Version: v}); err == nil {
			t.Errorf("Version %d: no error", v)
		}
	}
}
