package openhash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// TestFormatError pins, for each rule a buffer can break, the *FormatError
// the checks return: its rule, field and reason, and the text of Error,
// which snapshot errors and logs carry as is.
func TestFormatError(t *testing.T) {
	// One member, uid 5 with time 7, in a table of several groups so a
	// member can also be put where it does not belong.
	good, err := Build(nil, []uint64{5}, []uint32{7}, Options{Seed: 1, Extra: 20, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	h := hash(5, s.seed)
	g1, g2 := groupsOf(h, s.ng)
	var home, away uint64 // where uid 5 is, and a group it may not be in
	var slot int
	for g := uint64(0); g < s.ng; g++ {
		for i := 0; i < groupSlots; i++ {
			if uint8(s.ctrlOf(s.group(g))>>(8*i)) != ctrlEmpty {
				home, slot = g, i
			}
		}
		if g != g1 && g != g2 {
			away = g
		}
	}
	if s.ng < 3 || away == g1 || away == g2 {
		t.Fatalf("%d groups: need one outside %d and %d", s.ng, g1, g2)
	}
	free := (slot + 1) % groupSlots // an empty slot of home
	off := func(g uint64, i int) int { return headerSize + int(g)*s.gbytes + i*s.width }
	ctrl := func(g uint64, i int) int { return headerSize + int(g)*s.gbytes + groupSlots*s.width + i }
	timeAt := func(g uint64, i int) int { return len(good) - len(s.times) + (int(g)*groupSlots+i)*timeSize }
	size := len(good)

	for _, c := range []struct {
		name   string
		mutate func([]byte) []byte
		check  func([]byte) error
		rule   int
		field  string
		reason string
	}{
		{"short", func([]byte) []byte { return nil }, Validate,
			1, "length", "0 bytes is shorter than the 32-byte header"},
		{"magic", func(b []byte) []byte { b[0] = 'R'; return b }, Validate,
			1, "magic", "bad magic 52 52 48 53"},
		{"version", func(b []byte) []byte { b[offVersion] = 4; return b }, Validate,
			1, "version", "unsupported version 4"},
		{"flags", func(b []byte) []byte { b[offFlags] |= 0x84; return b }, Validate,
			1, "flags", "unknown flags 0x84"},
		{"width", func(b []byte) []byte { b[offWidth] = 9; return b }, Validate,
			1, "width", "slot width 9 not in 1..8"},
		{"slots", func(b []byte) []byte { b[offSlots] = 16; return b }, Validate,
			1, "slots", "16 slots per group, want 8"},
		{"groups", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offGroups:], 0); return b }, Validate,
			1, "groups", "zero groups"},
		{"count", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offCount:], uint32(s.ng*8+1)); return b }, Validate,
			1, "count", fmt.Sprintf("count %d exceeds capacity %d", s.ng*8+1, s.ng*8)},
		{"reserved", func(b []byte) []byte { b[offReserved+1] = 1; return b }, Validate,
			1, "reserved", "reserved header bytes are 0x100, want 0"},
		{"length", func(b []byte) []byte { return append(b, 0) }, Validate,
			1, "length", fmt.Sprintf("length %d, header implies %d", size+1, size)},
		{"control byte", func(b []byte) []byte { b[ctrl(home, free)] = 0x05; return b }, Check,
			2, "", fmt.Sprintf("group %d slot %d: control byte 0x05 is neither empty nor full", home, free)},
		{"control byte, by CheckControl", func(b []byte) []byte { b[ctrl(home, free)] = 0x05; return b }, CheckControl,
			2, "", fmt.Sprintf("group %d slot %d: control byte 0x05 is neither empty nor full", home, free)},
		{"tag", func(b []byte) []byte { b[ctrl(home, slot)] ^= 1; return b }, Check,
			3, "", fmt.Sprintf("group %d slot %d: uid 5 has tag %#02x, control byte is %#02x", home, slot, tagOf(h), tagOf(h)^1)},
		{"placement", func(b []byte) []byte {
			copy(b[off(away, 0):off(away, 1)], b[off(home, slot):])
			b[ctrl(away, 0)] = b[ctrl(home, slot)]
			clear(b[off(home, slot):off(home, slot+1)])
			b[ctrl(home, slot)] = ctrlEmpty
			binary.LittleEndian.PutUint32(b[timeAt(away, 0):], 7)
			binary.LittleEndian.PutUint32(b[timeAt(home, slot):], 0)
			return b
		}, Check,
			3, "", fmt.Sprintf("group %d slot 0: uid 5 belongs in group %d or %d", away, g1, g2)},
		{"duplicate", func(b []byte) []byte {
			copy(b[off(home, free):off(home, free+1)], b[off(home, slot):])
			b[ctrl(home, free)] = b[ctrl(home, slot)]
			binary.LittleEndian.PutUint32(b[offCount:], 2)
			return b
		}, Check,
			4, "", "uid 5 appears 2 times"},
		{"empty slot uid", func(b []byte) []byte { b[off(home, free)] = 0xab; return b }, Check,
			5, "", fmt.Sprintf("group %d slot %d: empty slot has uid bytes ab", home, free)},
		{"empty slot time", func(b []byte) []byte { b[timeAt(home, free)] = 3; return b }, Check,
			5, "", fmt.Sprintf("group %d slot %d: empty slot has time 3", home, free)},
		{"header count", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offCount:], 2); return b }, Check,
			6, "count", "header count 2, table holds 1"},
		{"header count, by CheckControl", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offCount:], 0); return b }, CheckControl,
			6, "count", "header count 0, table holds 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.check(c.mutate(bytes.Clone(good)))
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is no *FormatError", err, err)
			}
			if fe.Rule != c.rule || fe.Field != c.field || fe.Reason != c.reason {
				t.Errorf("got rule %d field %q reason %q\nwant rule %d field %q reason %q", fe.Rule, fe.Field, fe.Reason, c.rule, c.field, c.reason)
			}
			if want := "openhash: " + c.reason + ": openhash: invalid set"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Error("does not wrap ErrInvalid")
			}
		})
	}
}

// TestFormatErrorWrapped: the edits that open a buffer first wrap its
// *FormatError with what they were doing, so errors.As still finds it.
func TestFormatErrorWrapped(t *testing.T) {
	bad := make([]byte, headerSize)
	for name, err := range map[string]error{
		"Insert": func() error { _, err := Insert(bad, 1, 0); return err }(),
		"Delete": func() error { _, err := Delete(bad, 1); return err }(),
		"Grow":   func() error { _, err := Grow(nil, bad, 1); return err }(),
	} {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Field != "magic" {
			t.Errorf("%s: %v: want a wrapped *FormatError about the magic", name, err)
		}
	}
}
