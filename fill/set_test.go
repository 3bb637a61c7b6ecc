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
		{name: "absent, created", create: EmptySet(true), edit: AddMembers([]uint64{1, 2}, []uint32{10, 20}, 0),
			want: "map[1:10 2:20]", count: 2, writes: 1},
		{name: "created without times", create: EmptySet(false), edit: AddMembers([]uint64{1}, nil, 5),
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
