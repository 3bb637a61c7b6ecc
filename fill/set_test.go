package fill

import (
	"errors"
	"fmt"
	"testing"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

func TestEditSet(t *testing.T) {
	withTimes := func(uids []uint64, times []uint32) *store.Entry {
		v, err := openhash.Build(nil, uids, times, openhash.Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		return &store.Entry{Kind: store.KindRelSet, Value: v}
	}
	for _, tc := range []struct {
		name   string
		before *store.Entry // nil: absent
		create func() ([]byte, error)
		edit   SetEdit
		// want: the members after ("absent" when there is no key),
		// count and err EditSet's result, writes the changes stored.
		want    string
		count   int
		err     error
		writes  int64
		wantTTL bool
	}{
		{name: "absent, not created", edit: AddMembers([]uint64{1}, nil, 5), want: "absent", err: ErrNotCached},
		{name: "absent, created", create: EmptySet(true, 0), edit: AddMembers([]uint64{1, 2}, []uint32{10, 20}, 0),
			want: "map[1:10 2:20]", count: 2, writes: 1},
		{name: "created without times", create: EmptySet(false, 0), edit: AddMembers([]uint64{1}, nil, 5),
			want: "map[1:0]", count: 1, writes: 1},
		{name: "another kind", before: &store.Entry{Kind: store.KindString, Value: []byte("x")},
			edit: AddMembers([]uint64{1}, nil, 5), want: "another kind", err: ErrWrongKind},
		{name: "add a member, keeping the TTL", before: withTimes([]uint64{1}, []uint32{10}),
			edit: AddMembers([]uint64{2}, []uint32{20}, 0), want: "map[1:10 2:20]", count: 1, writes: 1, wantTTL: true},
		{name: "a member already there at its time writes nothing", before: withTimes([]uint64{1}, []uint32{10}),
			edit: AddMembers([]uint64{1}, []uint32{10}, 0), want: "map[1:10]", wantTTL: true},
		{name: "a new time is a write but no new member", before: withTimes([]uint64{1}, []uint32{10}),
			edit: AddMembers([]uint64{1}, []uint32{11}, 0), want: "map[1:11]", writes: 1, wantTTL: true},
		{name: "remove", before: withTimes([]uint64{1, 2}, []uint32{10, 20}),
			edit: RemoveMembers([]uint64{2, 3}), want: "map[1:10]", count: 1, writes: 1, wantTTL: true},
		{name: "remove nothing writes nothing", before: withTimes([]uint64{1}, []uint32{10}),
			edit: RemoveMembers([]uint64{3}), want: "map[1:10]", wantTTL: true},
		{name: "a full set grows", before: withTimes(nil, []uint32{}),
			edit: AddMembers(seq(1, 40), nil, 7), want: fmt.Sprint(timed(seq(1, 40), 7)), count: 40, writes: 1, wantTTL: true},
		{name: "an edit's error writes nothing", before: withTimes([]uint64{1}, []uint32{10}),
			edit: func([]byte) ([]byte, int, error) { return nil, 0, errBoom }, want: "map[1:10]", err: errBoom, wantTTL: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := store.New(store.Config{Shards: 4})
			if err != nil {
				t.Fatal(err)
			}
			key := []byte("k")
			const ttl = 9_999_999_999_999
			if tc.before != nil {
				b := *tc.before
				b.ExpireAt = ttl
				st.Set(key, b)
			}
			changes := st.Changes()
			count, err := EditSet(st, key, tc.create, tc.edit)
			if count != tc.count || !errors.Is(err, tc.err) {
				t.Fatalf("EditSet = %d, %v; want %d, %v", count, err, tc.count, tc.err)
			}
			if n := st.Changes() - changes; n != tc.writes {
				t.Fatalf("%d writes, want %d", n, tc.writes)
			}
			got := "absent"
			if e, ok := st.Peek(key); ok && e.Kind != store.KindRelSet {
				got = "another kind"
			} else if ok {
				set, err := openhash.Open(e.Value)
				if err != nil {
					t.Fatal(err)
				}
				m := map[uint64]uint32{}
				set.Range(func(u uint64, tm uint32) bool { m[u] = tm; return true })
				got = fmt.Sprint(m)
				if (e.ExpireAt == ttl) != tc.wantTTL {
					t.Fatalf("expires at %d; want the TTL kept: %v", e.ExpireAt, tc.wantTTL)
				}
			}
			if got != tc.want {
				t.Fatalf("key holds %s, want %s", got, tc.want)
			}
		})
	}
}

var errBoom = errors.New("boom")

func seq(from, n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = from + uint64(i)
	}
	return out
}

func timed(uids []uint64, t uint32) map[uint64]uint32 {
	m := map[uint64]uint32{}
	for _, u := range uids {
		m[u] = t
	}
	return m
}

// TestEmptySetVersion: an absent key created under the compact format
// (VersionSmallest) is version 3 and stays so as ten-digit members with
// times are added, while the default creates and grows version 1. An empty
// set is smaller in version 1, so "smallest" alone would have made every
// created set version 1 for good: a grown set keeps its family.
func TestEmptySetVersion(t *testing.T) {
	for _, c := range []struct {
		version int
		want    byte
	}{{0, 1}, {openhash.VersionSmallest, 3}, {3, 3}} {
		for _, withTimes := range []bool{false, true} {
			buf, err := EmptySet(withTimes, c.version)()
			if err != nil {
				t.Fatal(err)
			}
			uids := make([]uint64, 100)
			var times []uint32
			for i := range uids {
				uids[i] = 1_000_000_000 + uint64(i)*97_000_003
				if withTimes {
					times = append(times, 1_700_000_000+uint32(i)*86_400)
				}
			}
			out, n, err := AddMembers(uids, times, 1_600_000_000)(buf)
			if err != nil || n != len(uids) {
				t.Fatalf("version %d: AddMembers = %d, %v", c.version, n, err)
			}
			if buf[4] != c.want || out[4] != c.want {
				t.Errorf("version %d, times %v: created version %d, grown %d; want %d", c.version, withTimes, buf[4], out[4], c.want)
			}
			s, err := openhash.Open(out)
			if err != nil || s.Count() != len(uids) || !s.Contains(uids[99]) {
				t.Fatalf("version %d: %v, count %d", c.version, err, s.Count())
			}
			if withTimes {
				if tm, _ := s.Time(uids[99]); tm != times[99] {
					t.Fatalf("version %d: time %d, want %d", c.version, tm, times[99])
				}
			}
		}
	}
}
