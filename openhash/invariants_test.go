package openhash

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/relcache/relcache/internal/invariants"
)

// panics runs fn and returns what it panicked with, nil if it did not.
func panics(fn func()) (v any) {
	defer func() { v = recover() }()
	fn()
	return nil
}

// invariantsSets are a set that passes Check and one that fails it but
// passes CheckControl (an empty slot with a time), the kind a server may
// hold and still write to.
func invariantsSets(t *testing.T) (good, corrupt []byte) {
	t.Helper()
	uids := []uint64{11, 22, 33, 44, 55}
	good, err := Build(nil, uids, []uint32{1, 2, 3, 4, 5}, Options{Seed: 7, Extra: 20, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	corrupt = append([]byte(nil), good...)
	s, _ := Open(corrupt)
	for slot := 0; slot < s.Capacity(); slot++ {
		g, i := uint64(slot/groupSlots), slot%groupSlots
		if uint8(s.ctrlOf(s.group(g))>>(8*i)) == ctrlEmpty {
			binary.LittleEndian.PutUint32(s.times[slot*timeSize:], 9)
			break
		}
	}
	if Check(corrupt) == nil || CheckControl(corrupt) != nil {
		t.Fatalf("corrupt set: Check %v, CheckControl %v; want only Check to fail", Check(corrupt), CheckControl(corrupt))
	}
	return good, corrupt
}

func TestMustCheck(t *testing.T) {
	good, corrupt := invariantsSets(t)
	if v := panics(func() { mustCheck("insert", good) }); v != nil {
		t.Fatalf("mustCheck of a good set panicked: %v", v)
	}
	v := panics(func() { mustCheck("insert", corrupt) })
	err, _ := v.(error)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("mustCheck of a corrupt set panicked with %v, want an error wrapping ErrInvalid", v)
	}
}

// The gates: a check runs only in a build with the invariants tag, and an
// in-place mutation is held to Check only when its set passed Check
// before.
func TestInvariantGates(t *testing.T) {
	good, corrupt := invariantsSets(t)
	if got := precheck(good); bool(got) != invariants.Enabled {
		t.Errorf("precheck(good) = %v, want %v", got, invariants.Enabled)
	}
	if got := precheck(corrupt); got {
		t.Errorf("precheck(corrupt) = true")
	}
	for _, tc := range []struct {
		name string
		fn   func()
		want bool // panics in a build with the tag
	}{
		{"after, consistent before, consistent now", func() { consistency(true).after("insert", good) }, false},
		{"after, consistent before, corrupt now", func() { consistency(true).after("delete", corrupt) }, true},
		{"after, corrupt before", func() { consistency(false).after("insert", corrupt) }, false},
		{"built, good", func() { built("build", append([]byte("prefix"), good...), 6) }, false},
		{"built, corrupt", func() { built("grow", append([]byte("prefix"), corrupt...), 6) }, true},
	} {
		want := tc.want && invariants.Enabled
		if got := panics(tc.fn) != nil; got != want {
			t.Errorf("%s: panicked %v, want %v (invariants.Enabled %v)", tc.name, got, want, invariants.Enabled)
		}
	}
}

// A set that was inconsistent before an Insert or Delete is not held to
// Check after it, so writing to a set taken with only CheckControl never
// panics, with or without the tag.
func TestMutatingACorruptSetDoesNotPanic(t *testing.T) {
	_, corrupt := invariantsSets(t)
	if v := panics(func() {
		if _, err := Insert(corrupt, 66, 6); err != nil {
			t.Error(err)
		}
		if _, err := Delete(corrupt, 11); err != nil {
			t.Error(err)
		}
	}); v != nil {
		t.Fatalf("a write to a corrupt set panicked: %v", v)
	}
}
