package glob

import (
	"strings"
	"testing"
)

// globRef is a plain recursive matcher for the same grammar, the oracle for
// FuzzGlob (only run on short inputs: it is exponential).
func globRef(p, s []byte) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globRef(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return len(s) > 0 && globRef(p[1:], s[1:])
	case '[':
		if len(s) == 0 {
			return false
		}
		ok, next := matchClass(p, 0, s[0])
		return ok && globRef(p[next:], s[1:])
	case '\\':
		if len(p) >= 2 {
			return len(s) > 0 && s[0] == p[1] && globRef(p[2:], s[1:])
		}
	}
	return len(s) > 0 && s[0] == p[0] && globRef(p[1:], s[1:])
}

func FuzzGlob(f *testing.F) {
	for _, c := range [][2]string{
		{"user:*", "user:1"}, {"h?llo", "hello"}, {"h[ae]llo", "hallo"}, {"h[^e]llo", "hello"},
		{"h[a-b]llo", "hbllo"}, {"\\*", "*"}, {"*a*a*a*b", "aaaaaaaaaaaaaaaa"}, {"[", "["}, {"a\\", "a\\"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 12 || len(s) > 16 {
			return
		}
		if got, want := Match([]byte(p), s), globRef([]byte(p), []byte(s)); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", p, s, got, want)
		}
	})
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"a*", "a", true}, {"a*b", "ab", true},
		{"a*b", "axxb", true}, {"a*b", "axxc", false}, {"?", "", false}, {"[abc]", "b", true},
		{"[a-c]", "d", false}, {"[c-a]", "b", true}, {"[^a]", "a", false}, {"\\?", "?", true},
		{"\\?", "a", false}, {"user:[0-9]*", "user:1x", true}, {"*a*a*a*a*a*b", strings.Repeat("a", 40), false},
	} {
		if got := Match([]byte(tc.p), tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
