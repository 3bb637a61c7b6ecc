package shard

import (
	"testing"
)

func TestKeyPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		opt     KeyOptions
		uid     uint64
		kind    Kind
		key     string // "" means Append must fail with ErrNoKind
	}{
		{DefaultKeyPattern, KeyOptions{}, 42, Following, "42.following"},
		{DefaultKeyPattern, KeyOptions{}, 42, Follower, "42.follower"},
		{"{uid}.{kind}", KeyOptions{FollowingName: "fo", FollowerName: "fa"}, 7, Follower, "7.fa"},
		{"{db}-{uid}", KeyOptions{DBs: 32}, 1000000042, Following, "10-1000000042"},
		{"{db}-{uid}", KeyOptions{DBs: 32}, 1, Follower, ""},
		{"rel:{kind}:{uid}", KeyOptions{}, 18446744073709551615, Following, "rel:following:18446744073709551615"},
		{"u{uid}_{kind}_{db}", KeyOptions{DBs: 4}, 5, Follower, "u5_follower_1"},
		{"{uid}.{kind}", KeyOptions{FollowingName: "follow", FollowerName: "follower"}, 3, Follower, "3.follower"},
		{"{uid}.{kind}", KeyOptions{FollowingName: "follow", FollowerName: "follower"}, 3, Following, "3.follow"},
		{DefaultKeyPattern, KeyOptions{}, 42, Bifollow, "42.bifollow"},
		{"{db}-{uid}", KeyOptions{DBs: 32}, 1, Bifollow, ""},
		{"{uid}.{kind}", KeyOptions{FollowingName: "f", FollowerName: "fa", BifollowName: "fan"}, 3, Bifollow, "3.fan"},
		{"{uid}.{kind}", KeyOptions{FollowingName: "f", FollowerName: "fa", BifollowName: "fan"}, 3, Follower, "3.fa"},
	} {
		p, err := ParseKeyPattern(tc.pattern, tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		key, err := p.Append(nil, tc.uid, tc.kind)
		if tc.key == "" {
			if err != ErrNoKind {
				t.Errorf("%s kind %d: err %v, want ErrNoKind", tc.pattern, tc.kind, err)
			}
			continue
		}
		if err != nil || string(key) != tc.key {
			t.Errorf("%s: Append(%d, %d) = %q, %v; want %q", tc.pattern, tc.uid, tc.kind, key, err, tc.key)
		}
		uid, kind, ok := p.Parse(key)
		if !ok || uid != tc.uid || kind != tc.kind {
			t.Errorf("%s: Parse(%q) = %d, %d, %v", tc.pattern, key, uid, kind, ok)
		}
	}
}

func TestKeyPatternRejects(t *testing.T) {
	for _, pat := range []string{"", "{kind}", "{uid}{kind}", "{uid}.{uid}", "{uid", "{user}.{kind}", "{uid}1{kind}", "{db}{uid}"} {
		if _, err := ParseKeyPattern(pat, KeyOptions{}); err == nil {
			t.Errorf("pattern %q accepted", pat)
		}
	}
	if _, err := ParseKeyPattern("{uid}", KeyOptions{FollowingName: "x", FollowerName: "x"}); err == nil {
		t.Error("equal kind names accepted")
	}
	if _, err := ParseKeyPattern("{uid}", KeyOptions{BifollowName: "follower"}); err == nil {
		t.Error("a bifollow name equal to the follower name accepted")
	}
	p, _ := ParseKeyPattern("{db}-{uid}", KeyOptions{DBs: 32})
	for _, key := range []string{"11-1000000042", "10-", "-42", "10-042", "10-42x", "x10-42", "10-99999999999999999999"} {
		if _, _, ok := p.Parse([]byte(key)); ok {
			t.Errorf("Parse(%q) accepted", key)
		}
	}
}

func TestKeyPatternAppendDoesNotAllocate(t *testing.T) {
	p, _ := ParseKeyPattern(DefaultKeyPattern, KeyOptions{})
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf, _ = p.Append(buf[:0], 1234567890, Follower) }); n != 0 {
		t.Fatalf("Append allocates %v times", n)
	}
}

func FuzzKeyPattern(f *testing.F) {
	f.Add("{uid}.{kind}", []byte("42.following"), uint64(42), uint8(32))
	f.Add("{db}-{uid}", []byte("10-1000000042"), uint64(7), uint8(0))
	f.Fuzz(func(t *testing.T, pattern string, key []byte, uid uint64, dbs uint8) {
		p, err := ParseKeyPattern(pattern, KeyOptions{DBs: uint64(dbs)})
		if err != nil {
			return
		}
		p.Parse(key) // must not panic
		for _, k := range []Kind{Following, Follower} {
			b, err := p.Append(nil, uid, k)
			if err != nil {
				continue
			}
			got, gk, ok := p.Parse(b)
			if !ok || got != uid || gk != k {
				t.Fatalf("pattern %q: Parse(Append(%d, %d) = %q) = %d, %d, %v", pattern, uid, k, b, got, gk, ok)
			}
		}
	})
}

// TestKeyPatternParseDoesNotAllocate: the server parses the keys of every
// write command (to refuse bi-follow keys), so a key the pattern did not
// make, the common case, must cost no allocation.
func TestKeyPatternParseDoesNotAllocate(t *testing.T) {
	p, _ := ParseKeyPattern(DefaultKeyPattern, KeyOptions{})
	for _, key := range [][]byte{[]byte("key:000123"), []byte("42.following"), []byte("99999999999999999999999.following"), []byte("42.x")} {
		if n := testing.AllocsPerRun(100, func() { p.Parse(key) }); n != 0 {
			t.Errorf("Parse(%q) allocates %v times", key, n)
		}
	}
}
