package fill

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/store"
)

// SnapshotMarks reads the marks, then waits out the source writes in
// flight, so a write whose change is at or below a mark is in the cache a
// save walks after it.
func TestSnapshotMarksWaitsOutWritesInFlight(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, testEdges)
	src.WriteGate = make(chan struct{})
	e := newEngine(t, src, nil)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := e.ApplyEdge(ctx, 1001, 1004, 5, true); err != nil {
			t.Error(err)
		}
	}()
	for src.InWrite.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	got := make(chan []int64)
	go func() {
		marks, err := e.SnapshotMarks(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- marks
	}()
	select {
	case <-got:
		t.Fatal("SnapshotMarks returned while a write was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(src.WriteGate)
	<-wrote
	if marks := <-got; len(marks) != 1 {
		t.Fatalf("marks %v, want one per database", marks)
	}
	if m, err := newEngine(t, nil, nil).SnapshotMarks(ctx); m != nil || err != nil {
		t.Fatalf("without a journal: %v, %v", m, err)
	}
}

// After a restart from a snapshot, the lists of the edges written after its
// marks are dropped, and only those; DropAllLists drops every relation
// list and nothing else.
func TestDropChangedSinceAndDropAll(t *testing.T) {
	ctx := context.Background()
	src := newSource(t, testEdges)
	e := newEngine(t, src, nil)
	all := []string{"1001.following", "1001.follower", "1002.following", "1002.follower", "1004.following", "1004.follower"}
	if err := e.Fill(ctx, keys(all...)); err != nil {
		t.Fatal(err)
	}
	marks, err := e.SnapshotMarks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplyEdge(ctx, 1002, 1004, 500, true); err != nil {
		t.Fatal(err)
	}
	changes, dropped, err := e.DropChangedSince(ctx, marks)
	if err != nil || changes != 1 || dropped != 2 {
		t.Fatalf("DropChangedSince = %d changes, %d dropped, %v; want 1, 2", changes, dropped, err)
	}
	want := "1001.following 1001.follower 1002.follower 1004.following"
	if got := strings.Join(cached(e, all...), " "); got != want {
		t.Fatalf("cached %s, want %s", got, want)
	}
	e.cfg.Store.Set([]byte("plain"), store.Entry{Kind: store.KindString, Value: []byte("x")})
	if n := e.DropAllLists(); n != 4 {
		t.Fatalf("DropAllLists dropped %d, want 4", n)
	}
	if got := cached(e, append(all, "plain")...); strings.Join(got, " ") != "plain" {
		t.Fatalf("after DropAllLists: %v, want plain only", got)
	}
	var s Stats
	if e.ReadStats(&s); s.ListsDropped != 6 {
		t.Fatalf("lists dropped %d, want 6", s.ListsDropped)
	}
}
