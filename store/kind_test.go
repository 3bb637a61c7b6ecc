package store

import "testing"

// TestKindString pins the store's names for its kinds: snapshots' tools
// print them (relcache snapshot inspect), so a new kind needs one here.
func TestKindString(t *testing.T) {
	for _, c := range []struct {
		k    Kind
		want string
	}{
		{KindString, "string"},
		{KindRelSet, "relset"},
		{0, "Kind(0)"},
		{KindRelSet + 1, "Kind(3)"},
	} {
		if got := c.k.String(); got != c.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(c.k), got, c.want)
		}
	}
}
