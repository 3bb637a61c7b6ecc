package graphgen

import (
	"errors"
	"slices"
	"testing"
)

func TestGraph(t *testing.T) {
	g := New(1, 1_000_000_000, 2000, 300)
	if len(g.Following) != 2000 {
		t.Fatalf("%d users", len(g.Following))
	}
	mean := float64(g.Relations()) / 2000
	if mean < 200 || mean > 400 {
		t.Fatalf("mean follows %.1f, want about 300", mean)
	}
	for i, fs := range g.Following {
		seen := map[uint64]bool{}
		for _, v := range fs {
			if v == g.UID(i) || seen[v] || v < g.Base || v >= g.Base+2000 {
				t.Fatalf("user %d: bad follow %d", i, v)
			}
			seen[v] = true
		}
		if len(g.Times[i]) != len(fs) {
			t.Fatalf("user %d: %d times for %d follows", i, len(g.Times[i]), len(fs))
		}
	}
	if again := New(1, 1_000_000_000, 2000, 300); again.Relations() != g.Relations() {
		t.Fatal("same seed, different graph")
	}
}

// TestEachUser checks that the streamed graph is New's, and that an error
// from the callback stops the walk and comes back.
func TestEachUser(t *testing.T) {
	g := New(7, 0, 500, 30)
	n := 0
	err := EachUser(7, 0, 500, 30, func(u int, following []uint64, times []uint32) error {
		if !slices.Equal(following, g.Following[u]) || !slices.Equal(times, g.Times[u]) {
			t.Fatalf("user %d: EachUser and New differ", u)
		}
		n++
		return nil
	})
	if err != nil || n != 500 {
		t.Fatalf("EachUser walked %d users, err %v; want 500, nil", n, err)
	}
	stop := errors.New("stop")
	n = 0
	err = EachUser(7, 0, 500, 30, func(int, []uint64, []uint32) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("EachUser after an error: %d calls, err %v; want 1, the error", n, err)
	}
}

// TestSpreadIDs checks that spread uids are ten digits wide, reach past
// 2^32, invert exactly, and name the same graph as the plain ones.
func TestSpreadIDs(t *testing.T) {
	sp := IDs{Spread: true}
	seen := map[uint64]bool{}
	wide := 0
	for _, i := range []uint64{0, 1, 2, 3, 999, 1 << 20, 1 << 32, MaxSpreadUsers - 2, MaxSpreadUsers - 1} {
		u := sp.UID(i)
		if u < 1_000_000_000 || u >= 10_000_000_000 || seen[u] {
			t.Fatalf("spread uid of user %d is %d: want a new ten-digit uid", i, u)
		}
		seen[u] = true
		if back, ok := sp.Index(u); !ok || back != i {
			t.Fatalf("Index(UID(%d) = %d) = %d, %v", i, u, back, ok)
		}
	}
	seen = map[uint64]bool{}
	for i := range uint64(100_000) {
		u := sp.UID(i)
		if seen[u] {
			t.Fatalf("user %d: uid %d repeats", i, u)
		}
		seen[u] = true
		if u >= 1<<32 {
			wide++
		}
	}
	// 10^10 - 2^32 of the 9*10^9 ten-digit uids are at least 2^32.
	if wide < 55_000 || wide > 70_000 {
		t.Errorf("%d of 100000 spread uids are >= 2^32, want about 63%%", wide)
	}
	for _, u := range []uint64{999_999_999, 10_000_000_000} {
		if _, ok := sp.Index(u); ok {
			t.Errorf("Index(%d) found a user", u)
		}
	}
	plain := New(3, 0, 400, 20)
	spread := NewIDs(3, sp, 400, 20)
	for u := range plain.Following {
		if spread.UID(u) != sp.UID(uint64(u)) || !slices.Equal(plain.Times[u], spread.Times[u]) {
			t.Fatalf("user %d: spread graph differs in uid or times", u)
		}
		for j, v := range spread.Following[u] {
			if i, ok := sp.Index(v); !ok || i != plain.Following[u][j] {
				t.Fatalf("user %d follow %d: spread %d is user %d, plain follows %d", u, j, v, i, plain.Following[u][j])
			}
		}
	}
}
