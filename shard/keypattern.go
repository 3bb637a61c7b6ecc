// Package shard holds the pure functions that route relation data, the one
// vocabulary the server, the loader and the proxy route with, so they agree
// by construction: which of a user's two lists a key holds (Kind); how the
// lists are named as keys, and parsed back (KeyPattern); which database and
// table of the source of record hold a uid's rows (SourceTable, the
// loader's layout); and which server of a pool holds a key (twemproxy's
// hashes and distributions, the proxy's placement).
package shard

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind says which of a user's relation lists a key names.
type Kind uint8

const (
	// Following is the list of uids the user follows.
	Following Kind = iota
	// Follower is the list of the user's fans.
	Follower
	// Bifollow is the list of users the user follows who follow back. It
	// is never stored or loaded: a node computes it from following lists
	// when it is read, so it cannot disagree with them.
	Bifollow
)

// String names the kind as the default key pattern and the source's tables
// do: "following", "follower" or "bifollow".
func (k Kind) String() string {
	switch k {
	case Follower:
		return "follower"
	case Bifollow:
		return "bifollow"
	}
	return "following"
}

// KeyOptions complete a key pattern.
type KeyOptions struct {
	// FollowingName, FollowerName and BifollowName replace {kind}.
	// Defaults "following", "follower" and "bifollow", so the default
	// pattern gives Weibo's "42.following".
	FollowingName, FollowerName, BifollowName string
	// DBs is the number of databases {db} is taken modulo: {db} = uid % DBs.
	// Default 1.
	DBs uint64
}

// DefaultKeyPattern names user U's lists "U.following" and "U.follower".
const DefaultKeyPattern = "{uid}.{kind}"

// KeyPattern turns (uid, kind) into a key and back. A pattern is literal text
// with placeholders: {uid} (required, once), {kind} (at most once) and {db}
// (at most once). Examples: "{uid}.{kind}" → "42.following";
// "{db}-{uid}" → "10-42" with DBs 32. A pattern without {kind} names
// following lists only.
type KeyPattern struct {
	pattern string
	parts   []part
	names   [3]string // by Kind
	dbs     uint64
	hasKind bool
}

type partKind uint8

const (
	literal partKind = iota
	uidPart
	kindPart
	dbPart
)

type part struct {
	kind partKind
	text string // for literal
}

// ErrNoKind is returned by Key for a follower or bifollow key when the
// pattern has no {kind}: the pattern names following lists only.
var ErrNoKind = errors.New("key pattern has no {kind}: it names following lists only")

// ParseKeyPattern checks a pattern and returns it ready for use.
func ParseKeyPattern(pattern string, opt KeyOptions) (*KeyPattern, error) {
	if opt.FollowingName == "" {
		opt.FollowingName = "following"
	}
	if opt.FollowerName == "" {
		opt.FollowerName = "follower"
	}
	if opt.BifollowName == "" {
		opt.BifollowName = "bifollow"
	}
	if opt.DBs == 0 {
		opt.DBs = 1
	}
	if opt.FollowingName == opt.FollowerName {
		return nil, fmt.Errorf("key pattern: following and follower names are both %q", opt.FollowingName)
	}
	if opt.BifollowName == opt.FollowingName || opt.BifollowName == opt.FollowerName {
		return nil, fmt.Errorf("key pattern: the bifollow name %q is also another list's name", opt.BifollowName)
	}
	p := &KeyPattern{pattern: pattern, names: [3]string{opt.FollowingName, opt.FollowerName, opt.BifollowName}, dbs: opt.DBs}
	seen := map[partKind]bool{}
	rest := pattern
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			p.parts = append(p.parts, part{kind: literal, text: rest})
			break
		}
		if i > 0 {
			p.parts = append(p.parts, part{kind: literal, text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("key pattern %q: unclosed {", pattern)
		}
		var k partKind
		switch name := rest[i+1 : i+j]; name {
		case "uid":
			k = uidPart
		case "kind":
			k = kindPart
		case "db":
			k = dbPart
		default:
			return nil, fmt.Errorf("key pattern %q: unknown placeholder {%s} (want {uid}, {kind} or {db})", pattern, name)
		}
		if seen[k] {
			return nil, fmt.Errorf("key pattern %q: placeholder %s appears twice", pattern, rest[i:i+j+1])
		}
		seen[k] = true
		if n := len(p.parts); n > 0 && p.parts[n-1].kind != literal {
			// "{uid}{kind}" could not be split back reliably.
			return nil, fmt.Errorf("key pattern %q: placeholders must be separated by literal text", pattern)
		}
		p.parts = append(p.parts, part{kind: k})
		rest = rest[i+j+1:]
	}
	if !seen[uidPart] {
		return nil, fmt.Errorf("key pattern %q: {uid} is required", pattern)
	}
	for i, pt := range p.parts {
		// A number followed by text that starts with a digit is ambiguous.
		if pt.kind == literal && i > 0 && p.parts[i-1].kind != kindPart && pt.text[0] >= '0' && pt.text[0] <= '9' {
			return nil, fmt.Errorf("key pattern %q: text after a number may not start with a digit", pattern)
		}
	}
	p.hasKind = seen[kindPart]
	return p, nil
}

// String returns the pattern as given.
func (p *KeyPattern) String() string { return p.pattern }

// HasKind reports whether the pattern names fan lists too.
func (p *KeyPattern) HasKind() bool { return p.hasKind }

// Append appends the key of uid's list of kind k to dst, without allocating
// when dst has room.
func (p *KeyPattern) Append(dst []byte, uid uint64, k Kind) ([]byte, error) {
	if k != Following && !p.hasKind {
		return dst, ErrNoKind
	}
	for _, pt := range p.parts {
		switch pt.kind {
		case literal:
			dst = append(dst, pt.text...)
		case uidPart:
			dst = strconv.AppendUint(dst, uid, 10)
		case kindPart:
			dst = append(dst, p.names[k]...)
		case dbPart:
			dst = strconv.AppendUint(dst, uid%p.dbs, 10)
		}
	}
	return dst, nil
}

// Parse extracts the uid and kind from a key made by the pattern. It reports
// false for a key the pattern cannot have made, including one whose {db} does
// not match its uid.
func (p *KeyPattern) Parse(key []byte) (uid uint64, k Kind, ok bool) {
	var db uint64
	haveDB := false
	rest := key
	for _, pt := range p.parts {
		switch pt.kind {
		case literal:
			if !hasPrefix(rest, pt.text) {
				return 0, 0, false
			}
			rest = rest[len(pt.text):]
		case uidPart, dbPart:
			n := 0
			for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
				n++
			}
			v, ok := parseUID(rest[:n])
			if !ok || (n > 1 && rest[0] == '0') {
				return 0, 0, false
			}
			if pt.kind == uidPart {
				uid = v
			} else {
				db, haveDB = v, true
			}
			rest = rest[n:]
		case kindPart:
			// The longest name that fits, so "follow"/"follower" split
			// right.
			found := false
			for kk, name := range p.names {
				if hasPrefix(rest, name) && (!found || len(name) > len(p.names[k])) {
					k, found = Kind(kk), true
				}
			}
			if !found {
				return 0, 0, false
			}
			rest = rest[len(p.names[k]):]
		}
	}
	if len(rest) != 0 || (haveDB && db != uid%p.dbs) {
		return 0, 0, false
	}
	return uid, k, true
}

// parseUID reads a run of digits as a uint64, false when it is empty
// or overflows. Unlike strconv.ParseUint it builds no error, so Parse of a
// key the pattern did not make (every write command's keys are parsed)
// allocates nothing.
func parseUID(digits []byte) (v uint64, ok bool) {
	if len(digits) == 0 {
		return 0, false
	}
	for _, d := range digits {
		next := v*10 + uint64(d-'0')
		if v > (1<<64-1)/10 || next < v*10 {
			return 0, false
		}
		v = next
	}
	return v, true
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }
