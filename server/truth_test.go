package server

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/loader"
)

// TestRelWhoAgreesWithRelCheck is issue 17's contradiction: with a source
// holding neither edge, lists loaded by RELLOAD say 1 follows 2 and 2
// follows 3, so RELCHECK 2 3 answers 1 (from 2's following set, the truth)
// and RELWHO 1 3 must list 2, not answer from 3's fan list, filled from
// the source, which does not know of the edge.
func TestRelWhoAgreesWithRelCheck(t *testing.T) {
	s := fillServer(t, firstOf(sqliteSource(t, nil)), nil)
	c := newTestClient(s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELLOAD", "1.following", "2"}, ":1\r\n"},
		{[]string{"RELLOAD", "2.following", "3"}, ":1\r\n"},
		{[]string{"RELCHECK", "2", "3"}, ":1\r\n"},
		{[]string{"RELWHO", "1", "3"}, "*1\r\n$1\r\n2\r\n"},
	} {
		if got := do(s, c, tc.args...); got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestListsAgreeWithRelCheck is the model behind "which list answers":
// random graphs whose lists reach the cache three ways — filled from the
// source, loaded by RELLOAD (disagreeing with the source on purpose, and
// some fan lists loaded with junk), and patched by FOLLOW/UNFOLLOW — then,
// for every pair, RELWHO and RELCOMMON list exactly the users RELCHECK says
// follow, and RELCHECK's bit 1 is the model's truth: the follower's own
// following list as the cache holds it. Without a source the lists not
// loaded are unknown, and the listings omit them.
func TestListsAgreeWithRelCheck(t *testing.T) {
	for _, withSource := range []bool{true, false} {
		t.Run(map[bool]string{true: "source", false: "pure"}[withSource], func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				listsAgree(t, seed, withSource)
			}
		})
	}
}

func listsAgree(t *testing.T, seed uint64, withSource bool) {
	const n = 40
	rng := rand.New(rand.NewPCG(seed, 17))
	randomList := func(u uint64) map[uint64]uint32 {
		l := map[uint64]uint32{}
		for range rng.IntN(12) {
			if v := 1 + rng.Uint64N(n); v != u {
				l[v] = 1000 + uint32(rng.IntN(50)) // few times: ties too
			}
		}
		return l
	}
	// truth[u] is u's following list as the cache answers it; nil while
	// not cached in a pure cache.
	truth := map[uint64]map[uint64]uint32{}
	var edges []loader.Edge
	for u := uint64(1); u <= n; u++ {
		l := randomList(u)
		for v, tm := range l {
			edges = append(edges, loader.Edge{From: u, To: v, Time: tm})
		}
		if withSource {
			truth[u] = l
		}
	}
	var s *Server
	if withSource {
		s = fillServer(t, firstOf(sqliteSource(t, edges)), nil)
	} else {
		s = newTestServer(t)
	}
	c := newTestClient(s)
	must := func(want string, args ...string) {
		t.Helper()
		if got := do(s, c, args...); want != "" && got != want {
			t.Fatalf("%v = %q, want %q", args, got, want)
		}
	}
	// Fill some fan lists first, so FOLLOW patches them and RELLOAD then
	// makes them stale.
	for u := uint64(1); u <= n; u += 3 {
		must("", "RELCARD", uidKey(u, "follower"))
	}
	for u := uint64(1); u <= n; u++ {
		switch rng.IntN(3) {
		case 0: // a client's list, which the source does not know
			l := randomList(u)
			truth[u] = l
			cmd := []string{"RELLOAD", uidKey(u, "following"), "TIMES"}
			for v, tm := range l {
				cmd = append(cmd, strconv.FormatUint(v, 10), strconv.FormatUint(uint64(tm), 10))
			}
			must(":"+strconv.Itoa(len(l))+"\r\n", cmd...)
		case 1: // a junk fan list, an index that lies
			cmd := []string{"RELLOAD", uidKey(u, "follower")}
			for v := range randomList(u) {
				cmd = append(cmd, strconv.FormatUint(v, 10))
			}
			must("", cmd...)
		}
	}
	if withSource {
		for range 3 * n {
			a, b := 1+rng.Uint64N(n), 1+rng.Uint64N(n)
			if a == b {
				continue
			}
			if rng.IntN(3) == 0 {
				must("", "UNFOLLOW", u64s(a), u64s(b))
				delete(truth[a], b)
				continue
			}
			tm := 2000 + uint32(rng.IntN(50))
			must("", "FOLLOW", u64s(a), u64s(b), strconv.FormatUint(uint64(tm), 10))
			truth[a][b] = tm
		}
	}
	check := func(a, b uint64) int64 {
		got := do(s, c, "RELCHECK", u64s(a), u64s(b))
		code, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(got, ":"), "\r\n"), 10, 64)
		if err != nil {
			t.Fatalf("RELCHECK %d %d = %q", a, b, got)
		}
		want := int64(-1)
		if truth[a] != nil && truth[b] != nil {
			want = 0
			if _, ok := truth[a][b]; ok {
				want |= 1
			}
			if _, ok := truth[b][a]; ok {
				want |= 2
			}
		}
		if code != want {
			t.Fatalf("seed %d: RELCHECK %d %d = %d, want %d (the following lists' answer)", seed, a, b, code, want)
		}
		return code
	}
	// follows is what a listing must say: m's following list as the cache
	// holds it has x. RELCHECK m x agrees whenever it knows (check proves
	// it matches the same lists), and says -1 when x's own list is not
	// known either, which no listing contradicts.
	follows := func(m, x uint64) bool {
		check(m, x)
		_, ok := truth[m][x]
		return ok
	}
	checkBifollow(t, s, c, truth, n)
	for a := uint64(1); a <= n; a++ {
		members := parseUIDArray(t, do(s, c, "RELMEMBERS", uidKey(a, "following")))
		for x := uint64(1); x <= n; x++ {
			var want []uint64
			for _, m := range members {
				if m != x && follows(m, x) {
					want = append(want, m)
				}
			}
			who := do(s, c, "RELWHO", u64s(a), u64s(x))
			if members == nil {
				if who != "*-1\r\n" {
					t.Fatalf("seed %d: RELWHO %d %d of an uncached list = %q", seed, a, x, who)
				}
				continue
			}
			if got := parseUIDArray(t, who); !slices.Equal(got, want) {
				t.Fatalf("seed %d: RELWHO %d %d = %v, want %v (from RELCHECK m %d)", seed, a, x, got, want, x)
			}
			common := do(s, c, "RELCOMMON", u64s(a), u64s(x))
			xMembers := parseUIDArray(t, do(s, c, "RELMEMBERS", uidKey(x, "following")))
			if xMembers == nil || x == a {
				continue
			}
			var wantCommon []uint64
			for _, m := range members {
				if m != x && follows(a, m) && follows(x, m) {
					wantCommon = append(wantCommon, m)
				}
			}
			got := parseUIDArray(t, common)
			slices.Sort(got)
			slices.Sort(wantCommon)
			if !slices.Equal(got, wantCommon) {
				t.Fatalf("seed %d: RELCOMMON %d %d = %v, want %v", seed, a, x, got, wantCommon)
			}
		}
	}
}

// checkBifollow: every user's bi-follow list is the users RELCHECK says
// follow each other with it, newest mutual follow first, and readers of
// relation keys read it as a relation set.
func checkBifollow(t *testing.T, s *Server, c *client, truth map[uint64]map[uint64]uint32, n uint64) {
	t.Helper()
	for u := uint64(1); u <= n; u++ {
		key := uidKey(u, "bifollow")
		got := do(s, c, "RELMEMBERS", key, "WITHTIMES")
		if truth[u] == nil {
			if got != "*-1\r\n" {
				t.Fatalf("RELMEMBERS %s of an uncached user = %q", key, got)
			}
			continue
		}
		type mutual struct {
			uid uint64
			t   uint32
		}
		var want []mutual
		unknown := false
		for m, tm := range truth[u] {
			switch back, ok := truth[m][u]; {
			case truth[m] == nil:
				unknown = true
			case ok:
				want = append(want, mutual{m, max(tm, back)})
			}
		}
		slices.SortFunc(want, func(a, b mutual) int {
			if a.t != b.t {
				return int(b.t) - int(a.t)
			}
			return int(a.uid) - int(b.uid)
		})
		wantReply := "*" + strconv.Itoa(2*len(want)) + "\r\n"
		for _, m := range want {
			for _, v := range []string{u64s(m.uid), u64s(uint64(m.t))} {
				wantReply += "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
			}
			if code := do(s, c, "RELCHECK", u64s(u), u64s(m.uid)); code != ":3\r\n" {
				t.Fatalf("%d in %s but RELCHECK %d %d = %q", m.uid, key, u, m.uid, code)
			}
		}
		if got != wantReply {
			t.Fatalf("RELMEMBERS %s WITHTIMES = %q, want %q", key, got, wantReply)
		}
		// Its length is known only when every member could be answered
		// for: otherwise RELCARD is nil and HLEN the TRUNCATED error, as for
		// any truncated list without a recorded total, never a count that
		// may be short.
		wantCard, wantHLen := ":"+strconv.Itoa(len(want))+"\r\n", ":"+strconv.Itoa(len(want))+"\r\n"
		if unknown {
			wantCard, wantHLen = "$-1\r\n", "-"+errTruncatedCount+"\r\n"
		}
		if card := do(s, c, "RELCARD", key); card != wantCard {
			t.Fatalf("RELCARD %s = %q, want %q", key, card, wantCard)
		}
		if hlen := do(s, c, "HLEN", key); hlen != wantHLen {
			t.Fatalf("HLEN %s = %q, want %q", key, hlen, wantHLen)
		}
		// A member that is not one answers 0 in a list that knows all its
		// members, -1 (unknown) in one that does not.
		wantMiss := ":0\r\n"
		if unknown {
			wantMiss = ":-1\r\n"
		}
		if miss := do(s, c, "RELMULTI", key, "0"); miss != "*1\r\n"+wantMiss {
			t.Fatalf("RELMULTI %s 0 = %q, want %q", key, miss, wantMiss)
		}
	}
}

func u64s(u uint64) string { return strconv.FormatUint(u, 10) }

func uidKey(u uint64, kind string) string { return u64s(u) + "." + kind }

// parseUIDArray reads a reply of decimal bulk strings; nil for a nil array.
func parseUIDArray(t *testing.T, reply string) []uint64 {
	t.Helper()
	if reply == "*-1\r\n" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
	count, err := strconv.Atoi(strings.TrimPrefix(lines[0], "*"))
	if err != nil || !strings.HasPrefix(lines[0], "*") || len(lines) != 1+2*count {
		t.Fatalf("not an array of uids: %q", reply)
	}
	out := []uint64{}
	for i := 2; i < len(lines); i += 2 {
		u, err := strconv.ParseUint(lines[i], 10, 64)
		if err != nil {
			t.Fatalf("not an array of uids: %q", reply)
		}
		out = append(out, u)
	}
	return out
}

// TestBifollowKeys: a bi-follow key reads like any relation set and
// refuses every write, in a transaction too.
func TestBifollowKeys(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	refusal := "-ERR 1.bifollow is a bi-follow list, computed from following lists when read: it cannot be written\r\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELMEMBERS", "1.bifollow"}, "*-1\r\n"}, // 1.following not cached
		{[]string{"RELLOAD", "1.following", "TIMES", "2", "10", "3", "20", "4", "30"}, ":3\r\n"},
		{[]string{"RELLOAD", "2.following", "TIMES", "1", "40"}, ":1\r\n"},
		{[]string{"RELLOAD", "3.following", "TIMES", "1", "5"}, ":1\r\n"},
		{[]string{"RELLOAD", "4.following", "TIMES", "5", "5"}, ":1\r\n"},
		{[]string{"RELMEMBERS", "1.bifollow", "WITHTIMES"}, "*4\r\n$1\r\n2\r\n$2\r\n40\r\n$1\r\n3\r\n$2\r\n20\r\n"},
		{[]string{"HGETALL", "1.bifollow"}, ""}, // order is the table's: checked below
		{[]string{"HGET", "1.bifollow", "3"}, "$2\r\n20\r\n"},
		{[]string{"SISMEMBER", "1.bifollow", "4"}, ":0\r\n"},
		{[]string{"SCARD", "1.bifollow"}, ":2\r\n"},
		{[]string{"RELCARD", "2.bifollow"}, ":1\r\n"},
		{[]string{"RELCARD", "4.bifollow"}, "$-1\r\n"}, // 5's list is not cached: unknown, not 0
		{[]string{"RELINFO", "1.bifollow"}, "*-1\r\n"}, // not stored: nothing to describe
		{[]string{"EXISTS", "1.bifollow"}, ":0\r\n"},
		{[]string{"SET", "1.bifollow", "x"}, refusal},
		{[]string{"HSET", "1.bifollow", "9", "1"}, refusal},
		{[]string{"RELLOAD", "1.bifollow", "9"}, refusal},
		{[]string{"RELADD", "1.bifollow", "9"}, refusal},
		{[]string{"DEL", "x", "1.bifollow"}, ":0\r\n"}, // removing stores nothing
		{[]string{"RENAME", "2.following", "1.bifollow"}, refusal},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SREM", "1.bifollow", "2"}, "-ERR 1.bifollow is a bi-follow list, computed from following lists when read: it cannot be written\r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{[]string{"RELMEMBERS", "1.bifollow"}, "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"},
		// The lists it is computed from change; it follows.
		{[]string{"RELDEL", "2.following", "1"}, ":1\r\n"},
		{[]string{"RELMEMBERS", "1.bifollow"}, "*1\r\n$1\r\n3\r\n"},
	} {
		got := do(s, c, tc.args...)
		if tc.want == "" {
			if got != "*4\r\n$1\r\n2\r\n$2\r\n40\r\n$1\r\n3\r\n$2\r\n20\r\n" && got != "*4\r\n$1\r\n3\r\n$2\r\n20\r\n$1\r\n2\r\n$2\r\n40\r\n" {
				t.Fatalf("%v = %q", tc.args, got)
			}
			continue
		}
		if got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestRelFollowsWithTimes: the pair form the proxy assembles bi-follow
// lists with.
func TestRelFollowsWithTimes(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELLOAD", "2.following", "TIMES", "1", "40"}, ":1\r\n"},
		{[]string{"RELLOAD", "3.following", "TRUNCATED", "5"}, ":1\r\n"},
		{[]string{"SET", "4.following", "x"}, "+OK\r\n"},
		{[]string{"RELFOLLOWS", "1", "WITHTIMES", "2", "3", "9", "4"}, "*8\r\n:1\r\n:40\r\n:-1\r\n:0\r\n:-1\r\n:0\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:0\r\n"},
		{[]string{"RELFOLLOWS", "1", "2", "3"}, "*2\r\n:1\r\n:-1\r\n"},
		{[]string{"RELFOLLOWS", "1", "withtimes"}, "-ERR wrong number of arguments for 'relfollows' command\r\n"},
		{[]string{"RELFOLLOWS", "1", "WITHTIMES", "x"}, "-ERR relation members must be unsigned 64-bit integers\r\n"},
	} {
		if got := do(s, c, tc.args...); got != tc.want {
			t.Fatalf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestBifollowInTransaction: inside EXEC, which holds the shards of the
// keys its commands name, a bi-follow read still reads the following lists
// it is computed from, wherever their shards are.
func TestBifollowInTransaction(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	for i := 2; i < 60; i++ {
		do(s, c, "RELLOAD", uidKey(uint64(i), "following"), "1")
	}
	args := []string{"RELLOAD", "1.following"}
	for i := 2; i < 60; i++ {
		args = append(args, strconv.Itoa(i))
	}
	do(s, c, args...)
	want := do(s, c, "RELCARD", "1.bifollow")
	if want != ":58\r\n" {
		t.Fatalf("RELCARD 1.bifollow = %q", want)
	}
	for _, tc := range []struct{ cmd, want string }{{"MULTI", "+OK\r\n"}, {"RELCARD", "+QUEUED\r\n"}, {"EXEC", "*1\r\n" + want}} {
		cmd := []string{tc.cmd}
		if tc.cmd == "RELCARD" {
			cmd = append(cmd, "1.bifollow")
		}
		if got := do(s, c, cmd...); got != tc.want {
			t.Fatalf("%v = %q, want %q", cmd, got, tc.want)
		}
	}
}
