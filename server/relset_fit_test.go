package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestServerBuiltSetsFitTheirAllocation checks that the sets the server
// builds and keeps (RELLOAD, growth on RELADD) end less than one group
// under the capacity of their allocation, in both rel-set-formats: the
// allocator's rounding of each array up to its size class is groups of the
// table (openhash.Options.Fit), not bytes the store pays for and nothing
// uses.
func TestServerBuiltSetsFitTheirAllocation(t *testing.T) {
	for _, format := range []string{"fast", "compact"} {
		s := newTestServer(t)
		c := newTestClient(s)
		if got := run(s, c, "CONFIG SET rel-set-format "+format); got != "+OK\r\n" {
			t.Fatalf("CONFIG SET rel-set-format %s: %q", format, got)
		}
		slack := func(key string) (int, int) {
			e, ok := c.db().Peek([]byte(key))
			if !ok {
				t.Fatalf("%s: %s not stored", format, key)
			}
			v := e.Value
			group := 8*int(v[6]) + 8
			if v[4] != 3 && v[5]&1 != 0 {
				group += 32 // version 1's times of a group's eight slots
			}
			return cap(v) - len(v), group
		}
		for _, n := range []int{1, 9, 50, 100, 137, 300, 1000, 5000} {
			key := fmt.Sprintf("%d.following", n)
			var b strings.Builder
			b.WriteString("RELLOAD " + key + " TIMES")
			for i := range n {
				fmt.Fprintf(&b, " %d %d", 1_000_000_000+uint64(i)*7919, 1_600_000_000+i*977)
			}
			if got := run(s, c, b.String()); got != ":"+strconv.Itoa(n)+"\r\n" {
				t.Fatalf("%s: RELLOAD of %d: %q", format, n, got)
			}
			if sl, group := slack(key); sl >= group {
				t.Errorf("%s: RELLOAD of %d members: %d bytes of the allocation past the set's end, a group is %d", format, n, sl, group)
			}
			// RELADDs until the set has grown at least once.
			for i := range n/2 + 16 {
				run(s, c, fmt.Sprintf("RELADD %s TIMES %d %d", key, 3_000_000_000+i, 1_700_000_000+i))
			}
			if sl, group := slack(key); sl >= group {
				t.Errorf("%s: %d members grown by RELADD: %d bytes of the allocation past the set's end, a group is %d", format, n, sl, group)
			}
		}
	}
}
