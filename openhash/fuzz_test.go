package openhash

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSeeds are valid sets of every shape, for both fuzz targets' corpora.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(uids []uint64, times []uint32, opt Options) {
		// Each shape in version 1 (or 2) and in version 3.
		for _, v := range []int{1, 3} {
			opt.Version = v
			b, err := Build(nil, uids, times, opt)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	for _, g := range goldens {
		add(g.uids, g.times, g.opt)
	}
	add(nil, nil, Options{})
	add(nil, []uint32{}, Options{Extra: 20, MaxUID: 1 << 63})
	add([]uint64{0}, []uint32{9}, Options{Seed: 1})
	many := make([]uint64, 40)
	for i := range many {
		many[i] = uint64(i) * 0x9e3779b97f4a7c15 >> 20
	}
	add(many, nil, Options{Seed: 7})
	add(many, nil, Options{Seed: 7, MaxUID: 1<<64 - 1}) // version 3 with 64 uid bits
	spread := make([]uint32, len(many))
	for i := range spread {
		spread[i] = 1_600_000_000 + uint32(i)*2_500_000 // times over three years
	}
	add(many, spread, Options{Seed: 10})
	add(many, spread, Options{Seed: 11, Fit: true})
	add(many, make([]uint32, len(many)), Options{Seed: 8, Truncated: true})
	add(many, make([]uint32, len(many)), Options{Seed: 9, Truncated: true, Total: 1 << 40}) // version 2
	return seeds
}

// FuzzValidate feeds arbitrary bytes to Validate and then to every call that
// reads or edits a set. None may panic on a buffer Validate accepts, edits
// must keep a buffer valid, and on a buffer Check accepts the answers must
// agree with each other.
func FuzzValidate(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b, uint64(1))
		f.Add(b[:len(b)-1], uint64(0))
		f.Add(append(bytes.Clone(b), 0), uint64(1<<40))
		c := bytes.Clone(b)
		c[len(c)-1] ^= 0xff // a control byte or a time
		f.Add(c, uint64(2))
	}
	f.Add([]byte{}, uint64(0))
	f.Add(magic[:], uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, probe uint64) {
		IsSet(data)
		err := Validate(data)
		s, openErr := Open(data)
		if (err == nil) != (openErr == nil) {
			t.Fatalf("Validate %v but Open %v", err, openErr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate error %v does not wrap ErrInvalid", err)
			}
			if Check(data) == nil {
				t.Fatal("Check accepts what Validate rejects")
			}
			if _, err := Insert(data, probe, 1); err == nil {
				t.Fatal("Insert into an invalid buffer succeeded")
			}
			if _, err := Delete(data, probe); err == nil {
				t.Fatal("Delete from an invalid buffer succeeded")
			}
			if _, err := Grow(nil, data, 1, Member{probe, 1}); err == nil {
				t.Fatal("Grow of an invalid buffer succeeded")
			}
			return
		}
		checkErr := Check(data)
		consistent := checkErr == nil
		if checkErr != nil && !errors.Is(checkErr, ErrInvalid) {
			t.Fatalf("Check error %v does not wrap ErrInvalid", checkErr)
		}
		ctrlErr := CheckControl(data)
		counted := ctrlErr == nil
		switch {
		case ctrlErr != nil && !errors.Is(ctrlErr, ErrInvalid):
			t.Fatalf("CheckControl error %v does not wrap ErrInvalid", ctrlErr)
		case consistent && !counted:
			t.Fatalf("Check accepts what CheckControl rejects: %v", ctrlErr)
		}

		// Reads: all must terminate without a panic; on a consistent
		// table they must agree.
		n, members := 0, []uint64{probe}
		s.Range(func(uid uint64, tm uint32) bool {
			n++
			members = append(members, uid)
			if consistent {
				if got, ok := s.Time(uid); !ok || got != tm {
					t.Fatalf("Range yields %d with time %d, Time says %d, %v", uid, tm, got, ok)
				}
			}
			return true
		})
		if n > s.Capacity() {
			t.Fatalf("Range yielded %d members from %d slots", n, s.Capacity())
		}
		if counted && n != s.Count() {
			t.Fatalf("CheckControl passed, Range yielded %d members, Count is %d", n, s.Count())
		}
		res := s.ContainsBatch(nil, members)
		for i, u := range members {
			c := s.Contains(u)
			if res[i] != c {
				t.Fatalf("uid %d: ContainsBatch %v, Contains %v", u, res[i], c)
			}
			if consistent && i > 0 && !c {
				t.Fatalf("member %d not found", u)
			}
			s.Time(u)
		}
		if bt := s.AppendByTime(nil); len(bt) != n {
			t.Fatalf("AppendByTime gave %d members, Range %d", len(bt), n)
		}

		// Edits, on copies: the layout must stay valid, and a
		// consistent table must stay consistent.
		ins := bytes.Clone(data)
		before := s.Contains(probe)
		added, err := Insert(ins, probe, 7)
		if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Insert: %v", err)
		}
		if err := Validate(ins); err != nil {
			t.Fatalf("Insert broke the header: %v", err)
		}
		// What a server took with CheckControl stays counted through its
		// edits, and a refused Insert changes nothing.
		switch {
		case counted && err == nil && CheckControl(ins) != nil:
			t.Fatalf("Insert broke the count of a counted table: %v", CheckControl(ins))
		case counted && err != nil && !bytes.Equal(ins, data):
			t.Fatalf("a refused Insert (%v) changed a counted table", err)
		}
		if consistent {
			if err := Check(ins); err != nil {
				t.Fatalf("Insert broke a consistent table: %v", err)
			}
			si, _ := Open(ins)
			if err == nil && (!si.Contains(probe) || added == before) {
				t.Fatalf("Insert(%d) = %v, nil; member before %v, after %v", probe, added, before, si.Contains(probe))
			}
		}
		// Each Delete works on its own copy; a few members are enough
		// and keep large inputs from going quadratic.
		for _, u := range members[:min(len(members), 16)] {
			del := bytes.Clone(data)
			ok, err := Delete(del, u)
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Delete: %v", err)
			}
			if err := Validate(del); err != nil {
				t.Fatalf("Delete broke the header: %v", err)
			}
			if counted && CheckControl(del) != nil {
				t.Fatalf("Delete(%d) broke the count of a counted table: %v", u, CheckControl(del))
			}
			if consistent {
				if err != nil {
					t.Fatalf("Delete(%d) from a consistent table: %v", u, err)
				}
				if err := Check(del); err != nil {
					t.Fatalf("Delete broke a consistent table: %v", err)
				}
				sd, _ := Open(del)
				if ok != s.Contains(u) || sd.Contains(u) {
					t.Fatalf("Delete(%d) = %v; member before %v, after %v", u, ok, s.Contains(u), sd.Contains(u))
				}
			}
		}

		// Grow rebuilds from what Range yields, so its output is always
		// consistent, whatever the input table held, and it holds the
		// added member.
		g, err := Grow(nil, data, 1, Member{probe, 7})
		if err != nil {
			t.Fatalf("Grow: %v", err)
		}
		if err := Check(g); err != nil {
			t.Fatalf("Grow output fails Check: %v", err)
		}
		sg, _ := Open(g)
		for _, u := range members {
			if !sg.Contains(u) {
				t.Fatalf("Grow lost %d", u)
			}
		}
	})
}

// FuzzOps runs operation sequences decoded from the fuzz input against a
// map, checking the set after every step.
//
// Input: byte 0 picks times on/off and the uid range; then each op is one
// byte (op kind in the low 2 bits, uid offset in the rest) followed by a
// byte of uid offset and a byte of time.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 2, 2, 1, 1, 3})
	f.Add([]byte{1, 4, 0, 9, 8, 0, 9, 5, 0, 0, 3, 0, 0})
	f.Add(bytes.Repeat([]byte{2, 0, 1, 4, 7, 2, 8, 9, 3}, 40))
	f.Add(bytes.Repeat([]byte{7, 0x10, 0x20, 5, 0x31, 0x20, 6}, 60))
	// Found by this target: wide uids crowding a two-group set, which an
	// Insert after a Grow without the member could not place.
	f.Add([]byte("\x1d\xd8B08708808Y0Xy0070x800Z07%00"))
	f.Add([]byte("\x5d\xd8B08708808Y0Xy0070x800Z07%00")) // the same on version 1
	f.Add(bytes.Repeat([]byte{0x41, 4, 0, 9, 8, 0, 9, 5, 0, 0, 3, 0, 0}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode := data[0]
		// Check after every op makes a run quadratic in its length; a
		// thousand ops cover sets well past the first groups.
		data = data[1:min(len(data), 1+3*1000)]
		withTimes := mode&1 != 0
		// Uids come from a small window so ops collide; the window's
		// base sets the slot width, and op kind 3 can jump above it.
		base := []uint64{0, 1_000_000_000, 1 << 40, 1<<64 - 1<<16}[mode>>1&3]
		var times []uint32
		if withTimes {
			times = []uint32{}
		}
		// Bit 6 picks the format: version 3, whose time range and uid
		// bits refuse inserts a Grow then widens, or version 1.
		version := 3 - 2*int(mode>>6&1)
		// Bit 3 sizes every table for the allocator, as the server does.
		fit := mode&8 != 0
		grow := Grow
		if fit {
			grow = GrowFit
		}
		buf, err := Build(nil, nil, times, Options{Seed: uint64(mode), Truncated: mode&0x80 != 0, Version: version, Fit: fit})
		if err != nil {
			t.Fatal(err)
		}
		ref := map[uint64]uint32{}
		for len(data) >= 3 {
			op, hi, tm := data[0], data[1], uint32(data[2])*1000
			data = data[3:]
			uid := base + uint64(op>>2)<<8 | uint64(hi)
			if !withTimes {
				tm = 0
			}
			switch op & 3 {
			case 0, 3: // insert; kind 3 goes above the window
				if op&3 == 3 {
					uid = base ^ 1<<(8*(uint64(hi)%8)+7)
				}
				_, was := ref[uid]
				added, err := Insert(buf, uid, tm)
				if errors.Is(err, ErrFull) {
					// Grow with the refused member always succeeds.
					s, _ := Open(buf)
					if buf, err = grow(nil, buf, 1+s.Count()/8, Member{uid, tm}); err != nil {
						t.Fatal(err)
					}
					added = !was
				}
				if err != nil {
					t.Fatal(err)
				}
				if added == was {
					t.Fatalf("Insert(%d) added %v, was a member %v", uid, added, was)
				}
				ref[uid] = tm
			case 1:
				_, was := ref[uid]
				ok, err := Delete(buf, uid)
				if err != nil || ok != was {
					t.Fatalf("Delete(%d) = %v, %v; member: %v", uid, ok, err, was)
				}
				delete(ref, uid)
			case 2:
				if buf, err = grow(nil, buf, int(hi%16)); err != nil {
					t.Fatal(err)
				}
			}
			if err := Check(buf); err != nil {
				t.Fatalf("after op %d on %d: %v", op&3, uid, err)
			}
			s, _ := Open(buf)
			if s.Count() != len(ref) {
				t.Fatalf("Count %d, want %d", s.Count(), len(ref))
			}
			got, ok := s.Time(uid)
			if want, in := ref[uid]; ok != in || got != want {
				t.Fatalf("Time(%d) = %d, %v; want %d, %v", uid, got, ok, want, in)
			}
		}
		s, _ := Open(buf)
		if s.HasTimes() != withTimes || s.Truncated() != (mode&0x80 != 0) {
			t.Fatalf("flags changed: times %v truncated %v", s.HasTimes(), s.Truncated())
		}
		s.Range(func(uid uint64, tm uint32) bool {
			if want, ok := ref[uid]; !ok || want != tm {
				t.Fatalf("Range yields %d at %d; ref has %d, %v", uid, tm, want, ok)
			}
			return true
		})
	})
}
