package main

import "testing"

func TestParseLogFormat(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{"auto", "auto", ""},
		{"console", "console", ""},
		{"json", "json", ""},
		{"JSON", "", `want auto, console or json, got "JSON"`},
		{"", "", `want auto, console or json, got ""`},
	} {
		f, err := parseLogFormat(c.in)
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("parseLogFormat(%q) = %v, %v; want error %q", c.in, f, err, c.err)
		case c.err == "" && (err != nil || f.String() != c.want):
			t.Errorf("parseLogFormat(%q) = %v, %v; want %s", c.in, f, err, c.want)
		}
	}
}
