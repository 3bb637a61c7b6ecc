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
