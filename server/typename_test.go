package server

import (
	"strings"
	"testing"

	"github.com/relcache/relcache/store"
)

// TestTypeName pins the word TYPE replies and SCAN TYPE matches for every
// kind the store names, so that a kind added to the store cannot reach
// clients without a Redis type.
func TestTypeName(t *testing.T) {
	want := map[store.Kind]string{
		store.KindString: "string",
		store.KindRelSet: "hash", // it answers the hash commands
	}
	for i := range 256 {
		k := store.Kind(i)
		if strings.HasPrefix(k.String(), "Kind(") {
			if got := typeName(k); got != "none" {
				t.Errorf("typeName(%v) = %q for a kind the store does not have, want none", k, got)
			}
			continue
		}
		w, ok := want[k]
		if !ok {
			t.Errorf("store kind %v has no TYPE word in this test", k)
			continue
		}
		if got := typeName(k); got != w {
			t.Errorf("typeName(%v) = %q, want %q", k, got, w)
		}
	}
}
