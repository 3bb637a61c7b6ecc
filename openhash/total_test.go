package openhash

import (
	"bytes"
	"testing"
)

// A truncated set carries the length of the whole list (format version 2);
// Build, Grow, Insert and Delete keep it, and sets without one stay version
// 1 byte for byte.
func TestTotal(t *testing.T) {
	uids := []uint64{1, 2, 3}
	times := []uint32{10, 20, 30}

	full, err := Build(nil, uids, times, Options{Seed: 7, Total: 99, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if full[offVersion] != version {
		t.Fatalf("a complete set was written as version %d", full[offVersion])
	}
	s, _ := Open(full)
	if n, known := s.Total(); !known || n != 3 {
		t.Fatalf("complete set: Total = %d, %v; want its count 3", n, known)
	}

	noTotal, _ := Build(nil, uids, times, Options{Seed: 7, Truncated: true, Version: 1})
	if noTotal[offVersion] != version {
		t.Fatalf("a truncated set without a total was written as version %d", noTotal[offVersion])
	}
	s, _ = Open(noTotal)
	if _, known := s.Total(); known {
		t.Fatal("a truncated set without a total claims to know it")
	}

	capped, err := Build(nil, uids, times, Options{Seed: 7, Truncated: true, Total: 20000, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if capped[offVersion] != versionTotal {
		t.Fatalf("a truncated set with a total was written as version %d", capped[offVersion])
	}
	if err := Check(capped); err != nil {
		t.Fatal(err)
	}
	s, _ = Open(capped)
	if n, known := s.Total(); !known || n != 20000 {
		t.Fatalf("Total = %d, %v; want 20000", n, known)
	}
	if back := mustSetTotal(t, bytes.Clone(capped), 0); !bytes.Equal(back, noTotal) {
		t.Fatal("SetTotal(0) did not give back the version-1 set")
	}

	if _, err := Insert(capped, 4, 40); err != nil {
		t.Fatal(err)
	}
	if _, err := Delete(capped, 1); err != nil {
		t.Fatal(err)
	}
	grown, err := Grow(nil, capped, 100, Member{UID: 5, Time: 50})
	if err != nil {
		t.Fatal(err)
	}
	s, _ = Open(grown)
	if n, known := s.Total(); !known || n != 20000 || !s.Truncated() {
		t.Fatalf("after Insert, Delete and Grow: Total = %d, %v, truncated %v; want 20000", n, known, s.Truncated())
	}

	// The total never reads below the members the set holds.
	small := mustSetTotal(t, bytes.Clone(grown), 2)
	s, _ = Open(small)
	if n, _ := s.Total(); n != s.Count() {
		t.Fatalf("Total = %d below the count %d", n, s.Count())
	}
	if err := SetTotal(full, 5); err == nil {
		t.Fatal("SetTotal on a complete set succeeded")
	}
}

func mustSetTotal(t *testing.T, b []byte, n uint64) []byte {
	t.Helper()
	if err := SetTotal(b, n); err != nil {
		t.Fatal(err)
	}
	return b
}
