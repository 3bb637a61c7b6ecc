package server

import (
	"fmt"
	"strings"

	"github.com/relcache/relcache/openhash"
)

// Settings with a fixed set of words are typed here, parsed once when the
// configuration is read (cmd/relcache's settings call the Parse functions),
// so the server switches on values and never compares text. The zero value
// of each is "unset": Config takes the setting's default.

// SetCheck is how deeply a relation set is checked on its way into the
// keyspace: by SET (rel-verify) or from a snapshot (snapshot-verify).
type SetCheck uint8

const (
	// CheckFull walks the whole table (openhash.Check: tags, placement,
	// duplicates, count), in time linear in its size.
	CheckFull SetCheck = iota + 1
	// CheckHeader checks the header and the count of full control bytes
	// (openhash.CheckControl, one word per 8 slots); the next snapshot
	// runs the full check on each set taken this way.
	CheckHeader
)

func (c SetCheck) String() string {
	switch c {
	case CheckFull:
		return "full"
	case CheckHeader:
		return "header"
	}
	return fmt.Sprintf("SetCheck(%d)", uint8(c))
}

func (c SetCheck) valid() bool { return c == CheckFull || c == CheckHeader }

// ParseRelVerify reads rel-verify's value: full or header.
func ParseRelVerify(s string) (SetCheck, error) {
	return parseWord("rel-verify", s, CheckFull, CheckHeader)
}

// ParseSnapshotVerify reads snapshot-verify's value: header or full.
func ParseSnapshotVerify(s string) (SetCheck, error) {
	return parseWord("snapshot-verify", s, CheckHeader, CheckFull)
}

// OnCorrupt is what a start does with a corrupt snapshot
// (snapshot-on-corrupt).
type OnCorrupt uint8

const (
	// OnCorruptFail refuses to start, naming the file and offset.
	OnCorruptFail OnCorrupt = iota + 1
	// OnCorruptSkip starts empty and renames the file aside.
	OnCorruptSkip
)

func (o OnCorrupt) String() string {
	switch o {
	case OnCorruptFail:
		return "fail"
	case OnCorruptSkip:
		return "skip"
	}
	return fmt.Sprintf("OnCorrupt(%d)", uint8(o))
}

func (o OnCorrupt) valid() bool { return o == OnCorruptFail || o == OnCorruptSkip }

// ParseOnCorrupt reads snapshot-on-corrupt's value: fail or skip.
func ParseOnCorrupt(s string) (OnCorrupt, error) {
	return parseWord("snapshot-on-corrupt", s, OnCorruptFail, OnCorruptSkip)
}

// parseWord reads s as one of a setting's words. The match is exact, as
// it always was for these settings (Redis's own enums fold case; these
// are relcache's). The error lists the words in the order given, the
// default first.
func parseWord[T interface {
	~uint8
	fmt.Stringer
}](setting, s string, words ...T) (T, error) {
	names := make([]string, len(words))
	for i, w := range words {
		if s == w.String() {
			return w, nil
		}
		names[i] = w.String()
	}
	return 0, fmt.Errorf("%s must be %s, got %q", setting, strings.Join(names, " or "), s)
}

// SetFormat is the openhash format the server writes the relation sets it
// builds in (rel-set-format): by RELLOAD, by a fill from the source, for a
// key a write creates, and for a computed bi-follow list. Sets already
// stored keep theirs; a grown set keeps its family.
type SetFormat uint8

const (
	// FormatFast writes format version 1 (2 for a truncated list with a
	// total): the fastest to read and to build.
	FormatFast SetFormat = iota + 1
	// FormatCompact writes version 3 where it is smaller (nearly always):
	// about 2 bytes a member fewer for some 6-8% more CPU per RELCHECK and
	// RELMULTI and 5-23% more per build (docs/capacity.md, "Format v3").
	FormatCompact
)

func (f SetFormat) String() string {
	switch f {
	case FormatFast:
		return "fast"
	case FormatCompact:
		return "compact"
	}
	return fmt.Sprintf("SetFormat(%d)", uint8(f))
}

func (f SetFormat) valid() bool { return f == FormatFast || f == FormatCompact }

// Version is the openhash.Options.Version that writes f.
func (f SetFormat) Version() int {
	if f == FormatCompact {
		return openhash.VersionSmallest
	}
	return 0
}

// ParseRelSetFormat reads rel-set-format's value: fast or compact.
func ParseRelSetFormat(s string) (SetFormat, error) {
	return parseWord("rel-set-format", s, FormatFast, FormatCompact)
}
