package proxyfront

import (
	"errors"
	"testing"
)

// TestFriendlierTOMLError pins the go-toml texts the translation matches
// (as go-toml v2.2.3 writes them, "toml: " trimmed) and what each becomes;
// testdata/config/*.err pins them end to end from real files.
func TestFriendlierTOMLError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cannot decode TOML integer into struct field proxyfront.Config.Listen of type string",
			"listen: want a string, not a TOML integer"},
		{"cannot decode TOML string into struct field proxyfront.Pool.AutoEject of type *bool",
			"auto_eject: want true or false, not a TOML string"},
		{"cannot decode TOML string into struct field proxyfront.Pool.Servers of type []string",
			"servers: want an array of strings, not a TOML string"},
		{"cannot decode TOML string into struct field proxyfront.Config.DBs of type uint64",
			"dbs: want an integer, not a TOML string"},
		{"cannot decode TOML string into struct field proxyfront.Config.ProtoMaxBulkLen of type int64",
			"proto_max_bulk_len: want an integer, not a TOML string"},
		{"cannot decode TOML integer into struct field proxyfront.Pool.Timeout of type proxyfront.Duration",
			`timeout: want a duration string such as "2s", not a TOML integer`},
		{"cannot decode TOML string into struct field proxyfront.Config.Pools of type []proxyfront.Pool",
			"pool: want [[pool]] tables, not a TOML string"},
		{"negative number -1 does not fit in an uint64", "dbs: want an integer >= 1, not -1"},
		{"cannot store a table in a slice", "a table where an array belongs (pools are written [[pool]], with two brackets)"},
		// Anything else passes through.
		{"key listen is already defined", "key listen is already defined"},
		{"cannot decode TOML integer into a Go value of type string", "cannot decode TOML integer into a Go value of type string"},
	} {
		if got := friendlierTOMLError(tc.in); got != tc.want {
			t.Errorf("friendlierTOMLError(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// An error go-toml gives without a position still names the file.
func TestConfigDecodeErrorWithoutPosition(t *testing.T) {
	err := configDecodeError("p.toml", errors.New("toml: negative number -3 does not fit in an uint64"))
	if want := "p.toml: dbs: want an integer >= 1, not -3"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestSuggestKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"lisen", "listen"},
		{"server_conections", "server_connections"},
		{"listen", "listen"},
		{"x", ""},          // every key is further than "x" is long
		{"completely", ""}, // nothing within two edits
	} {
		if got := suggestKey(tc.in, append(append([]string{}, configKeys...), poolKeys...)); got != tc.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
