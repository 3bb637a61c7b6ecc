package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/relcache/relcache/openhash"
)

// TestParseWords pins each word setting's words and its refusal of any
// other, in the words a start has always printed.
func TestParseWords(t *testing.T) {
	relVerify := func(s string) result { v, err := ParseRelVerify(s); return res(v, err) }
	snapshotVerify := func(s string) result { v, err := ParseSnapshotVerify(s); return res(v, err) }
	onCorrupt := func(s string) result { v, err := ParseOnCorrupt(s); return res(v, err) }
	setFormat := func(s string) result { v, err := ParseRelSetFormat(s); return res(v, err) }
	for _, c := range []struct {
		parse func(string) result
		in    string
		want  result
	}{
		{relVerify, "full", result{value: "full"}},
		{relVerify, "header", result{value: "header"}},
		{relVerify, "FULL", result{err: `rel-verify must be full or header, got "FULL"`}},
		{relVerify, "", result{err: `rel-verify must be full or header, got ""`}},
		{snapshotVerify, "header", result{value: "header"}},
		{snapshotVerify, "full", result{value: "full"}},
		{snapshotVerify, "shallow", result{err: `snapshot-verify must be header or full, got "shallow"`}},
		{onCorrupt, "fail", result{value: "fail"}},
		{onCorrupt, "skip", result{value: "skip"}},
		{onCorrupt, " skip", result{err: `snapshot-on-corrupt must be fail or skip, got " skip"`}},
		{setFormat, "fast", result{value: "fast"}},
		{setFormat, "compact", result{value: "compact"}},
		{setFormat, "small", result{err: `rel-set-format must be fast or compact, got "small"`}},
	} {
		if got := c.parse(c.in); got != c.want {
			t.Errorf("parse %q = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// result is what a Parse returned: the value's String, or the error's text.
type result struct{ value, err string }

func res(v fmt.Stringer, err error) result {
	if err != nil {
		return result{err: err.Error()}
	}
	return result{value: v.String()}
}

// TestConfigWordDefaults: zero word settings take their defaults, and a
// value no Parse returns is refused in the Parse's words.
func TestConfigWordDefaults(t *testing.T) {
	var c Config
	if err := c.fill(); err != nil {
		t.Fatal(err)
	}
	if c.RelVerify != CheckFull || c.SnapshotVerify != CheckHeader || c.SnapshotOnCorrupt != OnCorruptFail {
		t.Errorf("defaults: rel-verify %v, snapshot-verify %v, snapshot-on-corrupt %v", c.RelVerify, c.SnapshotVerify, c.SnapshotOnCorrupt)
	}
	if c.RelSetFormat != FormatFast || c.RelSetFormat.Version() != 0 || FormatCompact.Version() != openhash.VersionSmallest {
		t.Errorf("rel-set-format default %v (Options.Version %d), compact's %d", c.RelSetFormat, c.RelSetFormat.Version(), FormatCompact.Version())
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{RelVerify: 7}, `rel-verify must be full or header, got "SetCheck(7)"`},
		{Config{SnapshotVerify: 7}, `snapshot-verify must be header or full, got "SetCheck(7)"`},
		{Config{SnapshotOnCorrupt: 7}, `snapshot-on-corrupt must be fail or skip, got "OnCorrupt(7)"`},
		{Config{RelSetFormat: 7}, `rel-set-format must be fast or compact, got "SetFormat(7)"`},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want %q", err, c.want)
		}
	}
}
