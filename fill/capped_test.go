package fill

import (
	"context"
	"testing"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
)

// capEdges gives uid 7 n fans, 100 on, each followed at its own uid.
func capEdges(n uint64) []loader.Edge {
	var edges []loader.Edge
	for f := range n {
		edges = append(edges, loader.Edge{From: 100 + f, To: 7, Time: uint32(100 + f)})
	}
	return edges
}

// total reads key's cached set's count and total.
func total(t *testing.T, e *Engine, key string) (count, tot int, known bool) {
	t.Helper()
	v, ok := e.cfg.Store.Peek([]byte(key))
	if !ok {
		t.Fatalf("%s not cached", key)
	}
	set, err := openhash.Open(v.Value)
	if err != nil {
		t.Fatal(err)
	}
	tot, known = set.Total()
	return set.Count(), tot, known
}

// A capped fan list records the true total at its fill, and FOLLOW and
// UNFOLLOW keep it true whether or not the member is among those cached;
// a RELEDGE that does not say what the write did drops the list.
func TestTruncatedListTotal(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, newSource(t, capEdges(20)), func(c *Config) { c.ListLimit = 5 })
	if err := e.Fill(ctx, keys("7.follower")); err != nil {
		t.Fatal(err)
	}
	check := func(step string, wantCount, wantTotal int) {
		t.Helper()
		count, tot, known := total(t, e, "7.follower")
		if count != wantCount || tot != wantTotal || !known {
			t.Fatalf("%s: count %d, total %d (known %v); want %d, %d", step, count, tot, known, wantCount, wantTotal)
		}
	}
	check("fill", 5, 20)
	for _, s := range []struct {
		step             string
		from             uint64
		add              bool
		count, wantTotal int
	}{
		{"new fan", 500, true, 6, 21},
		{"refollow of an old fan not cached", 100, true, 7, 21}, // the patch caches it; the list does not grow
		{"unfollow of an old fan not cached", 101, false, 7, 20},
		{"unfollow of a cached fan", 500, false, 6, 19},
		{"unfollow of a non-fan", 999, false, 6, 19},
	} {
		if _, err := e.ApplyEdge(ctx, s.from, 7, 1000, s.add); err != nil {
			t.Fatal(err)
		}
		check(s.step, s.count, s.wantTotal)
	}

	// RELEDGE without CHANGED/UNCHANGED: the total cannot be kept.
	e.PatchEdge(e.cfg.Store, 600, 7, 1000, true, EdgeUnknown)
	if _, ok := e.cfg.Store.Peek([]byte("7.follower")); ok {
		t.Fatal("a truncated list with a total was patched by an edge of unknown effect")
	}
	if err := e.Fill(ctx, keys("7.follower")); err != nil {
		t.Fatal(err)
	}
	check("refill", 5, 19)
	e.PatchEdge(e.cfg.Store, 600, 7, 1000, true, EdgeChanged)
	check("RELEDGE CHANGED", 6, 20)

	// A client's own edits move the total by what they changed.
	if _, err := EditSet(e.cfg.Store, []byte("7.follower"), nil, AddMembers([]uint64{700, 701}, nil, 5)); err != nil {
		t.Fatal(err)
	}
	check("client add", 8, 22)
	if _, err := EditSet(e.cfg.Store, []byte("7.follower"), nil, RemoveMembers([]uint64{700, 999})); err != nil {
		t.Fatal(err)
	}
	check("client remove", 7, 21)
}

// Resolve asks the source about uids a truncated list lacks, in one query,
// and Known serves the answers only for the set they were asked for and
// until a write touches the key.
func TestResolveTruncatedMisses(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, newSource(t, capEdges(20)), func(c *Config) { c.ListLimit = 5 })
	if err := e.Fill(ctx, keys("7.follower")); err != nil {
		t.Fatal(err)
	}
	known := func(uid uint64) (uint32, bool, bool) {
		v, _ := e.cfg.Store.Peek([]byte("7.follower"))
		set, err := openhash.Open(v.Value)
		if err != nil {
			t.Fatal(err)
		}
		return e.Known([]byte("7.follower"), &set, uid)
	}
	if _, _, ok := known(100); ok {
		t.Fatal("an answer before Resolve asked")
	}
	if err := e.Resolve(ctx, []byte("7.follower"), []uint64{100, 101, 999}); err != nil {
		t.Fatal(err)
	}
	var st Stats
	e.ReadStats(&st)
	if st.Lookups != 1 || st.LookedUp != 3 {
		t.Fatalf("%d lookups of %d uids; want one query for 3", st.Lookups, st.LookedUp)
	}
	for _, c := range []struct {
		uid    uint64
		t      uint32
		member bool
	}{{100, 100, true}, {101, 101, true}, {999, 0, false}} {
		tm, member, ok := known(c.uid)
		if !ok || member != c.member || tm != c.t {
			t.Fatalf("Known(%d) = %d, %v, %v; want %d, %v", c.uid, tm, member, ok, c.t, c.member)
		}
	}
	// A uid the source cannot hold is a non-member, not a refusal.
	if err := e.Resolve(ctx, []byte("7.follower"), []uint64{1 << 63}); err != nil {
		t.Fatal(err)
	}
	if _, member, ok := known(1 << 63); !ok || member {
		t.Fatalf("Known(2^63) = %v, %v; want a known non-member", member, ok)
	}
	// UNFOLLOW of an old fan the set does not hold leaves its bytes as
	// they were; the generation retires the answers.
	if _, err := e.ApplyEdge(ctx, 100, 7, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := known(100); ok {
		t.Fatal("an answer survived a write to its key")
	}
	if err := e.Resolve(ctx, []byte("7.follower"), []uint64{100}); err != nil {
		t.Fatal(err)
	}
	if _, member, ok := known(100); !ok || member {
		t.Fatalf("after UNFOLLOW: Known(100) = %v, %v; want a known non-member", member, ok)
	}
	// A new version of the set (a refill, a copy-on-write edit) does not
	// take the old one's answers.
	e.cfg.Store.Delete([]byte("7.follower"))
	if err := e.Fill(ctx, keys("7.follower")); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := known(101); ok {
		t.Fatal("a refilled set took the answers asked for the one before")
	}
}

// An UNFOLLOW that lands between Resolve's query and its keeping the
// answer must retire the answer, never let Known serve the "member" the
// query saw: by the set's new bytes when the UNFOLLOW moved its total, by
// the key's generation when it left the bytes as they were (a truncated
// set that records no total, and does not hold the old fan).
func TestResolveDiscardsAnAnswerOlderThanAWrite(t *testing.T) {
	for _, withTotal := range []bool{true, false} {
		ctx := context.Background()
		src := newSource(t, capEdges(20))
		e := newEngine(t, src, func(c *Config) { c.ListLimit = 5 })
		if err := e.Fill(ctx, keys("7.follower")); err != nil {
			t.Fatal(err)
		}
		if !withTotal {
			if _, err := EditSet(e.cfg.Store, []byte("7.follower"), nil, func(buf []byte) ([]byte, int, error) {
				return buf, 0, openhash.SetTotal(buf, 0)
			}); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := e.cfg.Store.Peek([]byte("7.follower"))
		hook := func() {
			if _, err := e.ApplyEdge(ctx, 100, 7, 0, false); err != nil {
				t.Error(err)
			}
		}
		src.AfterLookup.Store(&hook)
		if err := e.Resolve(ctx, []byte("7.follower"), []uint64{100}); err != nil {
			t.Fatal(err)
		}
		v, _ := e.cfg.Store.Peek([]byte("7.follower"))
		if sameBytes := &v.Value[0] == &before.Value[0]; sameBytes == withTotal {
			t.Fatalf("with total %v: the UNFOLLOW left the set's buffer the same: %v", withTotal, sameBytes)
		}
		set, err := openhash.Open(v.Value)
		if err != nil {
			t.Fatal(err)
		}
		if tm, member, ok := e.Known([]byte("7.follower"), &set, 100); ok {
			t.Fatalf("with total %v: Known(100) = %d, %v after an UNFOLLOW that raced its query; want no answer", withTotal, tm, member)
		}
	}
}
