package openhash

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestHashVectors pins the hash, tag and group functions to the test
// vectors in docs/openhash-format.md, which were computed independently
// with Python's arbitrary-precision integers.
func TestHashVectors(t *testing.T) {
	for _, v := range []struct {
		uid, seed, hash uint64
		tag             uint8
		ngroups, g1, g2 uint64
	}{
		{0, 0, 0x0000000000000000, 0x80, 400, 0, 0},
		{1, 0, 0xa035e2cc637f5704, 0x84, 400, 250, 131},
		{1234567890, 0, 0xe434c4c52ef9193c, 0xbc, 400, 356, 228},
		{1234567890, 0x0123456789abcdef, 0x32cc5ca234484e05, 0x85, 400, 79, 148},
		{18446744073709551615, 42, 0x3e5fdc3c2a84cf27, 0xa7, 400, 97, 184},
		{1234567890, 0, 0xe434c4c52ef9193c, 0xbc, 1, 0, 0},
		{9876543210, 7, 0x593ea8ad77f57f7c, 0xfc, 3, 1, 0},
		{9876543210, 7, 0x593ea8ad77f57f7c, 0xfc, 4294967295, 1497278637, 515299022},
		{4294967296, 0x0123456789abcdef, 0x8f952a88e9e96540, 0xc0, 2, 1, 0},
	} {
		h := hash(v.uid, v.seed)
		g1, g2 := groupsOf(h, v.ngroups)
		if h != v.hash || tagOf(h) != v.tag || g1 != v.g1 || g2 != v.g2 {
			t.Errorf("uid %d seed %#x groups %d: hash %#016x tag %#02x g1 %d g2 %d; want %#016x %#02x %d %d",
				v.uid, v.seed, v.ngroups, h, tagOf(h), g1, g2, v.hash, v.tag, v.g1, v.g2)
		}
	}
}

// golden sets: small, with fixed seeds, covering both slot layouts the
// server will see and the truncated flag.
var goldens = []struct {
	file  string
	uids  []uint64
	times []uint32
	opt   Options
}{
	{
		file: "uids-w4.hex",
		uids: []uint64{1, 2, 3, 255, 256, 65536, 4294967295},
		opt:  Options{Seed: 42, Version: 1},
	},
	{
		file:  "times-w5-truncated.hex",
		uids:  []uint64{1000000001, 1234567890, 2000000000, 3141592653, 4294967296, 9876543210, 5000000000, 7777777777, 1000000001, 8000000008, 6000000006, 2500000002},
		times: []uint32{1300000000, 1400000000, 1500000000, 1600000000, 1700000000, 1750000000, 1760000000, 1770000000, 1780000000, 1790000000, 1600000000, 1234567890},
		opt:   Options{Seed: 0x0123456789abcdef, Truncated: true, Version: 1},
	},
	{
		file: "v3-uids-10digit.hex",
		uids: []uint64{1000000001, 1234567890, 2000000000, 3141592653, 4294967296, 9876543210, 5000000000, 7777777777, 8000000008, 6000000006, 2500000002},
		opt:  Options{Seed: 42, Version: 3},
	},
	{
		file:  "v3-times-truncated.hex",
		uids:  []uint64{1000000001, 1234567890, 2000000000, 3141592653, 4294967296, 9876543210, 5000000000, 7777777777, 1000000001, 8000000008, 6000000006, 2500000002},
		times: []uint32{1700000000, 1700003600, 1700086400, 1701000000, 1702000000, 1703000000, 1704000000, 1705000000, 1706000000, 1707000000, 1708000000, 1709000000},
		opt:   Options{Seed: 0x0123456789abcdef, Truncated: true, Total: 5000, Version: 3},
	},
}

// TestGolden guards the format against accidental change: sets built with
// fixed inputs must match testdata byte for byte. Run with -update after a
// deliberate change (which also needs a new format version).
func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			buf, err := Build(nil, g.uids, g.times, g.opt)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, []byte(hexDump(g.uids, g.times, g.opt, buf)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := parseHex(string(text))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !bytes.Equal(buf, want) {
				t.Fatalf("Build output differs from %s:\ngot\n%s", path, hex.Dump(buf))
			}
			// The checked-in bytes read back as the inputs say.
			s, err := Open(want)
			if err != nil {
				t.Fatal(err)
			}
			ref := refOf(g.uids, g.times)
			if s.Count() != len(ref) || s.Truncated() != g.opt.Truncated || s.HasTimes() != (g.times != nil) {
				t.Fatalf("header: count %d truncated %v times %v", s.Count(), s.Truncated(), s.HasTimes())
			}
			for u, tm := range ref {
				if got, ok := s.Time(u); !ok || got != tm {
					t.Errorf("Time(%d) = %d, %v; want %d", u, got, ok, tm)
				}
			}
		})
	}
}

// hexDump writes a golden file: comment lines, then 16 bytes per line.
func hexDump(uids []uint64, times []uint32, opt Options, buf []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# openhash golden set, checked by TestGolden (go test -run TestGolden -update rewrites it).\n")
	fmt.Fprintf(&b, "# uids  %v\n", uids)
	if times != nil {
		fmt.Fprintf(&b, "# times %v\n", times)
	}
	fmt.Fprintf(&b, "# seed %#x, truncated %v, %d bytes\n", opt.Seed, opt.Truncated, len(buf))
	if opt.Version == 3 {
		fmt.Fprintf(&b, "# format version 3, total %d\n", opt.Total)
	}
	for off := 0; off < len(buf); off += 16 {
		fmt.Fprintf(&b, "%s\n", hex.EncodeToString(buf[off:min(off+16, len(buf))]))
	}
	return b.String()
}

func parseHex(text string) ([]byte, error) {
	var digits strings.Builder
	for line := range strings.Lines(text) {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digits.WriteString(strings.ReplaceAll(line, " ", ""))
	}
	return hex.DecodeString(digits.String())
}

func TestIsSet(t *testing.T) {
	buf, _ := Build(nil, []uint64{1}, nil, Options{})
	for _, c := range []struct {
		in   []byte
		want bool
	}{
		{buf, true},
		{buf[:4], true}, // the magic alone; Validate rejects it
		{buf[:3], false},
		{nil, false},
		{[]byte("RHS1 plain text"), false},
		{[]byte{0x8f, 'R', 'H', 's'}, false},
	} {
		if got := IsSet(c.in); got != c.want {
			t.Errorf("IsSet(% x) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestValidate corrupts the header of a good set one field at a time.
func TestValidate(t *testing.T) {
	good, err := Build(nil, []uint64{10, 20, 30}, []uint32{1, 2, 3}, Options{Seed: 5, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		mutate func([]byte) []byte
		want   string
	}{
		{"empty", func([]byte) []byte { return nil }, "shorter than"},
		{"header only", func(b []byte) []byte { return b[:headerSize] }, "length"},
		{"magic", func(b []byte) []byte { b[0] = 'R'; return b }, "bad magic"},
		{"version", func(b []byte) []byte { b[offVersion] = 4; return b }, "version 4"},
		{"version 2 untruncated", func(b []byte) []byte { b[offVersion] = 2; b[offReserved] = 9; return b }, "truncated flag"},
		{"flags", func(b []byte) []byte { b[offFlags] |= 0x80; return b }, "unknown flags"},
		{"times flag dropped", func(b []byte) []byte { b[offFlags] &^= flagTimes; return b }, "length"},
		{"width 0", func(b []byte) []byte { b[offWidth] = 0; return b }, "width 0"},
		{"width 9", func(b []byte) []byte { b[offWidth] = 9; return b }, "width 9"},
		{"width 2", func(b []byte) []byte { b[offWidth] = 2; return b }, "length"},
		{"slots", func(b []byte) []byte { b[offSlots] = 16; return b }, "slots per group"},
		{"zero groups", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offGroups:], 0); return b }, "zero groups"},
		{"huge groups", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offGroups:], ^uint32(0)); return b }, "length"},
		{"count over capacity", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offCount:], 9); return b }, "exceeds capacity"},
		{"reserved", func(b []byte) []byte { b[31] = 1; return b }, "reserved"},
		{"one byte short", func(b []byte) []byte { return b[:len(b)-1] }, "length"},
		{"one byte long", func(b []byte) []byte { return append(b, 0) }, "length"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(bytes.Clone(good))
			err := Validate(b)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, c.want)
			}
			if _, err := Insert(b, 1, 1); !errors.Is(err, ErrInvalid) {
				t.Errorf("Insert = %v, want ErrInvalid", err)
			}
			if _, err := Delete(b, 10); !errors.Is(err, ErrInvalid) {
				t.Errorf("Delete = %v, want ErrInvalid", err)
			}
			if _, err := Grow(nil, b, 1); !errors.Is(err, ErrInvalid) {
				t.Errorf("Grow = %v, want ErrInvalid", err)
			}
		})
	}
}

// slotOf finds where uid sits, for the corruption tests.
func slotOf(t *testing.T, buf []byte, uid uint64) (g uint64, i int) {
	t.Helper()
	s, err := Open(buf)
	if err != nil {
		t.Fatal(err)
	}
	g, i, ok := s.find(uid)
	if !ok {
		t.Fatalf("%d not found", uid)
	}
	return g, i
}

// TestCheck corrupts the table of a good set in every way Check looks
// for; Validate, which does not read the table, accepts all of them.
func TestCheck(t *testing.T) {
	uids := make([]uint64, 200)
	times := make([]uint32, len(uids))
	for i := range uids {
		uids[i] = 1_000_000_000 + uint64(i)*7919
		times[i] = uint32(i)
	}
	good, err := Build(nil, uids, times, Options{Seed: 99, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(good); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(good)
	gb := s.gbytes
	ctrlOff := func(g uint64, i int) int { return headerSize + int(g)*gb + 8*s.width + i }
	slotOff := func(g uint64, i int) int { return headerSize + int(g)*gb + i*s.width }
	timeOff := func(g uint64, i int) int { return len(good) - len(s.times) + (int(g)*8+i)*4 }
	emptySlot := func(b []byte) (uint64, int) {
		for g := uint64(0); g < s.ng; g++ {
			for i := 0; i < 8; i++ {
				if b[ctrlOff(g, i)] == ctrlEmpty {
					return g, i
				}
			}
		}
		t.Fatal("no empty slot")
		return 0, 0
	}
	if err := CheckControl(good); err != nil {
		t.Fatal(err)
	}
	// control is what CheckControl says of each corruption: the control
	// words' faults it finds, the others it leaves to Check.
	for _, c := range []struct {
		name    string
		mutate  func(b []byte)
		want    string
		control string
	}{
		{"invalid control byte", func(b []byte) {
			g, i := emptySlot(b)
			b[ctrlOff(g, i)] = 0x05
		}, "neither empty nor full", "neither empty nor full"},
		{"wrong tag", func(b []byte) {
			g, i := slotOf(t, b, uids[3])
			b[ctrlOff(g, i)] ^= 0x01
		}, "has tag", ""},
		{"uid in empty slot", func(b []byte) {
			g, i := emptySlot(b)
			b[slotOff(g, i)] = 1
		}, "empty slot has uid bytes", ""},
		{"time in empty slot", func(b []byte) {
			g, i := emptySlot(b)
			b[timeOff(g, i)] = 1
		}, "empty slot has time", ""},
		{"count too high", func(b []byte) {
			binary.LittleEndian.PutUint32(b[offCount:], uint32(len(uids)+1))
		}, "header count", "header count 201, table holds 200"},
		{"count too low", func(b []byte) {
			binary.LittleEndian.PutUint32(b[offCount:], uint32(len(uids)-1))
		}, "header count", "header count 199, table holds 200"},
		{"member in a foreign group", func(b []byte) {
			// Move uids[5] to an empty slot outside both its groups.
			src, si := slotOf(t, b, uids[5])
			g1, g2 := groupsOf(hash(uids[5], 99), s.ng)
			for g := uint64(0); g < s.ng; g++ {
				if g == g1 || g == g2 {
					continue
				}
				for i := 0; i < 8; i++ {
					if b[ctrlOff(g, i)] == ctrlEmpty {
						copy(b[slotOff(g, i):slotOff(g, i)+s.width], b[slotOff(src, si):])
						b[ctrlOff(g, i)] = b[ctrlOff(src, si)]
						clear(b[slotOff(src, si) : slotOff(src, si)+s.width])
						b[ctrlOff(src, si)] = ctrlEmpty
						b[timeOff(src, si)] = 0
						return
					}
				}
			}
			t.Fatal("no foreign empty slot")
		}, "belongs in group", ""},
		{"duplicate", func(b []byte) {
			// Copy a member into a free slot of one of its groups.
			for _, u := range uids {
				g1, g2 := groupsOf(hash(u, 99), s.ng)
				src, si := slotOf(t, b, u)
				for _, g := range []uint64{g1, g2} {
					for i := 0; i < 8; i++ {
						if b[ctrlOff(g, i)] == ctrlEmpty {
							copy(b[slotOff(g, i):slotOff(g, i)+s.width], b[slotOff(src, si):])
							b[ctrlOff(g, i)] = b[ctrlOff(src, si)]
							binary.LittleEndian.PutUint32(b[offCount:], uint32(len(uids)+1))
							return
						}
					}
				}
			}
			t.Fatal("every member's groups are full")
		}, "appears 2 times", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(good)
			c.mutate(b)
			if err := Validate(b); err != nil {
				t.Fatalf("Validate = %v; the corruption is in the table", err)
			}
			err := Check(b)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want ErrInvalid mentioning %q", err, c.want)
			}
			err = CheckControl(b)
			switch {
			case c.control == "" && err != nil:
				t.Fatalf("CheckControl = %v, want nil", err)
			case c.control != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.control)):
				t.Fatalf("CheckControl = %v, want ErrInvalid mentioning %q", err, c.control)
			}
		})
	}
}

// TestRefusedInsertChangesNothingInACorruptTable: in a table where one
// member sits outside both its groups (a table a server took with
// CheckControl only), an Insert whose cuckoo walk carries that member and
// fails must leave every byte as it was. The undo used to send such a
// member back to its "other group", which it does not have, and swap the
// wrong slots.
func TestRefusedInsertChangesNothingInACorruptTable(t *testing.T) {
	const seed = 5
	buf, err := Build(nil, nil, nil, Options{Seed: seed, Extra: 20, MaxUID: 1 << 30, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Open(buf)
	if s.ng != 3 {
		t.Fatalf("%d groups, want 3", s.ng)
	}
	// Fill groups 0 and 1 with members whose groups are both among them,
	// so no walk can reach group 2 and every walk fails; one member whose
	// groups are both 0 goes to group 1.
	within := func(u uint64) (g1, g2 uint64, ok bool) {
		g1, g2 = groupsOf(hash(u, seed), s.ng)
		return g1, g2, g1 < 2 && g2 < 2
	}
	stray := uint64(0)
	for u := uint64(1); stray == 0; u++ {
		if g1, g2, _ := within(u); g1 == 0 && g2 == 0 {
			stray = u
			s.putFree(1, u, 0, tagOf(hash(u, seed)))
		}
	}
	n := 1
	for u := stray + 1; n < 16; u++ {
		g1, g2, ok := within(u)
		if !ok {
			continue
		}
		if s.putFree(g1, u, 0, tagOf(hash(u, seed))) || s.putFree(g2, u, 0, tagOf(hash(u, seed))) {
			n++
		}
	}
	s.setCount(n)
	if err := CheckControl(buf); err != nil {
		t.Fatal(err)
	}
	if err := Check(buf); err == nil || !strings.Contains(err.Error(), "belongs in group") {
		t.Fatalf("Check = %v, want the stray member found", err)
	}
	walks := 0
	for u := uint64(1 << 20); walks < 50; u++ {
		if _, _, ok := within(u); !ok {
			continue
		}
		before := bytes.Clone(buf)
		_, err := Insert(buf, u, 0)
		if err == nil || !strings.Contains(err.Error(), "displacements") {
			t.Fatalf("Insert(%d) = %v, want a failed walk", u, err)
		}
		walks++
		if !bytes.Equal(buf, before) {
			t.Fatalf("a refused Insert(%d) changed the table; CheckControl now says %v", u, CheckControl(buf))
		}
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build(nil, []uint64{1, 2}, []uint32{1}, Options{}); err == nil {
		t.Error("Build with 1 time for 2 uids succeeded")
	}
	if _, err := Build(nil, []uint64{1}, nil, Options{Extra: -1}); err == nil {
		t.Error("Build with negative Extra succeeded")
	}
	if _, err := Build(nil, nil, nil, Options{Extra: 1 << 33}); err == nil {
		t.Error("Build beyond the uint32 count succeeded")
	}
	// A failed Build leaves dst alone.
	dst := []byte("keep")
	if out, err := Build(dst, []uint64{1}, []uint32{}, Options{}); err == nil || string(out) != "keep" {
		t.Errorf("Build = %q, %v; want dst back and an error", out, err)
	}
}

// TestBuildAppends checks the append contract and determinism.
func TestBuildAppends(t *testing.T) {
	uids := []uint64{5, 1 << 33, 7, 5, 0}
	times := []uint32{1, 2, 3, 4, 5}
	a, err := Build([]byte("prefix"), uids, times, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if string(a[:6]) != "prefix" {
		t.Fatalf("prefix lost: %q", a[:6])
	}
	b, _ := Build(nil, uids, times, Options{Seed: 3})
	if !bytes.Equal(a[6:], b) {
		t.Fatal("equal inputs gave different bytes")
	}
	s, _ := Open(b)
	// uid 0 is an ordinary member; duplicates keep the last time.
	if tm, ok := s.Time(0); !ok || tm != 5 {
		t.Errorf("Time(0) = %d, %v", tm, ok)
	}
	if tm, ok := s.Time(5); !ok || tm != 4 {
		t.Errorf("Time(5) = %d, %v; want the last time, 4", tm, ok)
	}
	if s.Count() != 4 || uidBitsOf(&s) < 34 {
		t.Errorf("Count %d, uid bits %d, want 4 and at least 34", s.Count(), uidBitsOf(&s))
	}
}

// TestWiden: a uid wider than the slots is refused with ErrFull, and Grow
// with that member widens the slots. Grow keeps flags, seed and width.
func TestWiden(t *testing.T) {
	buf, err := Build(nil, []uint64{1, 2, 3}, []uint32{7, 8, 9}, Options{Seed: 11, Truncated: true, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	big := uint64(1) << 40
	if _, err := Insert(buf, big, 1); !errors.Is(err, ErrFull) {
		t.Fatalf("Insert of a 6-byte uid into 1-byte slots = %v, want ErrFull", err)
	}
	if err := Check(buf); err != nil {
		t.Fatal(err)
	}
	grown, err := Grow(nil, buf, 1, Member{big, 10})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Open(grown)
	if tm, ok := s.Time(big); !ok || tm != 10 {
		t.Fatalf("Time(%d) after Grow = %d, %v", big, tm, ok)
	}
	if s.Width() != 6 || !s.Truncated() || !s.HasTimes() || s.Seed() != 11 || s.Count() != 4 {
		t.Fatalf("grown: width %d truncated %v times %v seed %d count %d", s.Width(), s.Truncated(), s.HasTimes(), s.Seed(), s.Count())
	}
	// Grow promised room for one more.
	if added, err := Insert(grown, 4, 4); !added || err != nil {
		t.Fatalf("Insert after Grow = %v, %v", added, err)
	}
	// An added member that exists gets the added time.
	g2, _ := Grow(nil, grown, 0, Member{2, 99})
	if s, _ := Open(g2); s.Count() != 5 {
		t.Fatalf("Grow re-adding a member: count %d, want 5", s.Count())
	} else if tm, _ := s.Time(2); tm != 99 {
		t.Fatalf("Grow re-adding a member: time %d, want 99", tm)
	}
	// Deleting the wide uid and growing again keeps the width.
	if ok, _ := Delete(grown, big); !ok {
		t.Fatal("Delete failed")
	}
	again, _ := Grow(nil, grown, 0)
	if s, _ := Open(again); s.Width() != 6 {
		t.Fatalf("Grow narrowed the slots to %d", s.Width())
	}
}

// TestFillToCapacity fills sets until Insert refuses: the cuckoo walk must
// reach the build load, and a walk that fails must leave the table as it
// was. The sets are small so that both the capacity limit and a failed walk
// (in the 2000-member one, near 99% load) are reached.
func TestFillToCapacity(t *testing.T) {
	walkFailed := false
	for _, extra := range []int{0, 8, 15, 100, 2000} {
		buf, err := Build(nil, nil, []uint32{}, Options{Extra: extra, Seed: uint64(extra), MaxUID: 1 << 40, Version: 1})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := Open(buf)
		ref := map[uint64]uint32{}
		for u := uint64(1); len(ref) < s.Capacity(); u++ {
			before := bytes.Clone(buf)
			_, err := Insert(buf, u, uint32(u))
			if errors.Is(err, ErrFull) {
				// A failed cuckoo walk is undone byte for byte.
				if !bytes.Equal(buf, before) {
					t.Fatalf("a refused insert changed the set: %v", err)
				}
				walkFailed = walkFailed || strings.Contains(err.Error(), "displacements")
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ref[u] = uint32(u)
		}
		if len(ref) < s.Capacity()*loadNum/loadDen {
			t.Errorf("extra %d: ErrFull at %d of %d slots", extra, len(ref), s.Capacity())
		}
		if len(ref) == s.Capacity() {
			if _, err := Insert(buf, 1<<20, 0); !errors.Is(err, ErrFull) {
				t.Errorf("insert into a full table: %v", err)
			}
		}
		verify(t, buf, ref, rand.New(rand.NewPCG(1, 2)), true)
	}
	if !walkFailed {
		t.Error("no insert exercised a failed cuckoo walk and its undo")
	}
}

// TestNoAllocs holds the hot path to zero allocations per call.
func TestNoAllocs(t *testing.T) {
	uids := make([]uint64, 3000)
	for i := range uids {
		uids[i] = 1_000_000_000 + uint64(i)*2654435761%9_000_000_000
	}
	buf, _ := Build(nil, uids, make([]uint32, len(uids)), Options{Seed: 1, Version: 1})
	out := make([]bool, 0, 500)
	members := make([]Member, 0, len(uids))
	dst := make([]byte, 0, len(buf))
	for name, f := range map[string]func(){
		"Open+ContainsBatch": func() {
			s, _ := Open(buf)
			out = s.ContainsBatch(out[:0], uids[:500])
		},
		"Contains+Time": func() {
			s, _ := Open(buf)
			s.Contains(uids[7])
			s.Time(uids[8])
		},
		"Range": func() {
			s, _ := Open(buf)
			n := 0
			s.Range(func(uint64, uint32) bool { n++; return true })
		},
		"AppendByTime": func() {
			s, _ := Open(buf)
			members = s.AppendByTime(members[:0])
		},
		"Insert+Delete": func() {
			Insert(buf, 42, 1)
			Delete(buf, 42)
		},
		"Build":        func() { dst, _ = Build(dst[:0], uids, nil, Options{}) },
		"Check":        func() { Check(buf) },
		"CheckControl": func() { CheckControl(buf) },
	} {
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

// TestZeroSet: a Set not made by Open reads as empty instead of panicking.
func TestZeroSet(t *testing.T) {
	var s Set
	if s.Count() != 0 || s.Capacity() != 0 || s.Contains(0) || s.HasTimes() || s.Truncated() {
		t.Fatal("zero Set is not empty")
	}
	if _, ok := s.Time(1); ok {
		t.Fatal("zero Set has a time")
	}
	if got := s.ContainsBatch([]bool{true}, []uint64{0, 1}); len(got) != 3 || got[1] || got[2] {
		t.Fatalf("ContainsBatch = %v", got)
	}
	s.Range(func(uint64, uint32) bool { t.Fatal("zero Set yields a member"); return false })
	if m := s.AppendByTime(nil); len(m) != 0 {
		t.Fatalf("AppendByTime = %v", m)
	}
}

func TestGrowOverlap(t *testing.T) {
	buf, _ := Build(make([]byte, 0, 4096), []uint64{1, 2, 3}, nil, Options{})
	if _, err := Grow(buf[:0], buf, 1); err == nil {
		t.Fatal("Grow into its own buffer succeeded")
	}
	if err := Check(buf); err != nil {
		t.Fatalf("refused Grow damaged the source: %v", err)
	}
	if _, err := Grow(buf[len(buf):], buf, 1); err != nil {
		t.Fatalf("Grow into the spare capacity after buf: %v", err)
	}
}
