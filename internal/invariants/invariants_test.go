package invariants

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// Enabled follows the build tag, which the test binary's build info
// records.
func TestEnabledFollowsTheTag(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info in this binary")
	}
	tagged := false
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			tagged = slices.Contains(strings.Split(s.Value, ","), "invariants")
		}
	}
	if Enabled != tagged {
		t.Fatalf("Enabled = %v in a build whose tags include invariants: %v", Enabled, tagged)
	}
}
