package loader

import (
	"context"
	"testing"
)

// TestOpenSourceKinds pins the words Open takes for a source and its
// refusal of any other, which every tool reports with its own prefix.
func TestOpenSourceKinds(t *testing.T) {
	for _, c := range []struct {
		kind SourceKind
		err  string // "" opens nothing, without error
	}{
		{SourceNone, ""},
		{SourceSQLite, "sqlite source: no file path"}, // reached the SQLite branch
		{"", "sqlite source: no file path"},           // the embedded default
		{"postgres", `source "postgres": want sqlite, mysql or none`},
		{"SQLite", `source "SQLite": want sqlite, mysql or none`},
	} {
		src, err := Open(context.Background(), Config{Kind: c.kind}, false)
		switch {
		case c.err == "" && (src != nil || err != nil):
			t.Errorf("Open(%q) = %v, %v; want nil, nil", c.kind, src, err)
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("Open(%q): %v, want %q", c.kind, err, c.err)
		}
	}
}
