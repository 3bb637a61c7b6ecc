package persistence

import (
	"fmt"
	"maps"
	"testing"

	"github.com/relcache/relcache/openhash"
)

// v1SnapshotLists are the lists in testdata/snapshot-format-v1.bin, a
// snapshot written by the code before format version 3 (commit 0b79210):
// ten-digit and narrow uids, with and without times, one truncated set with
// a total (version 2).
func v1SnapshotLists() []v1List {
	var out []v1List
	for _, n := range []int{0, 5, 300} {
		for _, withTimes := range []bool{false, true} {
			l := v1List{key: fmt.Sprintf("%d.following:%v", n, withTimes)}
			for i := range n {
				l.uids = append(l.uids, 1_000_000_000+uint64(i)*29_999_999)
				if withTimes {
					l.times = append(l.times, 1_600_000_000+uint32(i)*86_400)
				}
			}
			if withTimes && l.times == nil {
				l.times = []uint32{}
			}
			out = append(out, l)
		}
	}
	capped := v1List{key: "fans:capped", truncated: true, total: 20_000}
	for i := range 50 {
		capped.uids = append(capped.uids, uint64(1000+i))
		capped.times = append(capped.times, uint32(1_700_000_000+i))
	}
	return append(out, capped)
}

type v1List struct {
	key       string
	uids      []uint64
	times     []uint32
	truncated bool
	total     uint64
}

// TestSnapshotOfFormatV1Loads reads a snapshot written before format
// version 3 existed (its relation sets are versions 1 and 2): every set
// loads, passes Check, holds its list exactly, and takes an edit.
func TestSnapshotOfFormatV1Loads(t *testing.T) {
	lists := map[string]v1List{}
	for _, l := range v1SnapshotLists() {
		lists[l.key] = l
	}
	seen := 0
	_, err := ReadFile("testdata/snapshot-format-v1.bin", func(r Record) error {
		l, ok := lists[string(r.Key)]
		if !ok {
			return fmt.Errorf("unexpected key %q", r.Key)
		}
		seen++
		if v := r.Value[4]; v != 1 && v != 2 {
			return fmt.Errorf("%s: format version %d, want 1 or 2", r.Key, v)
		}
		if err := openhash.Check(r.Value); err != nil {
			return fmt.Errorf("%s: %w", r.Key, err)
		}
		s, _ := openhash.Open(r.Value)
		want := map[uint64]uint32{}
		for i, u := range l.uids {
			want[u] = 0
			if l.times != nil {
				want[u] = l.times[i]
			}
		}
		got := map[uint64]uint32{}
		s.Range(func(u uint64, tm uint32) bool { got[u] = tm; return true })
		if !maps.Equal(got, want) || s.HasTimes() != (l.times != nil) || s.Truncated() != l.truncated {
			return fmt.Errorf("%s: members %v, want %v", r.Key, got, want)
		}
		if total, known := s.Total(); l.truncated && (!known || uint64(total) != l.total) {
			return fmt.Errorf("%s: total %d, %v; want %d", r.Key, total, known, l.total)
		}
		// An edit of an old set (RELADD's Grow) keeps everything.
		g, err := openhash.Grow(nil, r.Value, 1, openhash.Member{UID: 42, Time: 7})
		if err != nil {
			return fmt.Errorf("%s: grow: %w", r.Key, err)
		}
		sg, _ := openhash.Open(g)
		if sg.Count() != len(want)+1 || !sg.Contains(42) {
			return fmt.Errorf("%s: grown set has %d members", r.Key, sg.Count())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(lists) {
		t.Fatalf("%d records, want %d", seen, len(lists))
	}
}
