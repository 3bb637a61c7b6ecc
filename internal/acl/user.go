package acl

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// User is one user's rules, immutable once built: a change builds a new
// User from a copy (SetUser), so a connection checking against the old one
// never sees half a change.
type User struct {
	name      string
	on        bool
	nopass    bool
	sanitize  string     // "", "sanitize-payload" or "skip-sanitize-payload"
	passwords [][32]byte // SHA-256 of each password, in the order added
	// allowed has bit id set for each command id allowed. future is
	// Redis's reserved bit: set by +@all, cleared only by -@all, it says
	// whether the description starts from +@all or -@all.
	allowed     []uint64
	future      bool
	allKeys     bool
	keys        []keyPattern
	allChannels bool
	channels    []string
	// open: every command, key and channel; the server's fast path skips
	// the check for such a user.
	open bool
	cat  *Catalog
}

type keyPattern struct {
	pattern string
	pat     []byte // pattern, for matching without a conversion
	perm    int
}

// Name is the user's name.
func (u *User) Name() string { return u.name }

// Enabled reports whether the user is "on" (may authenticate).
func (u *User) Enabled() bool { return u.on }

// NoPass reports whether the user takes any password.
func (u *User) NoPass() bool { return u.nopass }

// Open reports whether the user may run every command on every key and
// channel: the check has nothing to refuse.
func (u *User) Open() bool { return u.open }

func newUser(cat *Catalog, name string) *User {
	return &User{name: name, cat: cat, allowed: make([]uint64, (len(cat.all)+63)/64)}
}

// clone is a deep copy for SetUser to edit.
func (u *User) clone() *User {
	v := *u
	v.passwords = slices.Clone(u.passwords)
	v.allowed = slices.Clone(u.allowed)
	v.keys = slices.Clone(u.keys)
	v.channels = slices.Clone(u.channels)
	return &v
}

// RuleError is a rule that could not be applied, with Redis's reason.
type RuleError struct {
	Rule   string
	Reason string
}

func (e *RuleError) Error() string { return e.Reason }

// reason is one of Redis's reasons for refusing a rule, in its words
// (capitalized, as Redis writes them).
type reason string

func (r reason) Error() string { return string(r) }

// Redis's reasons (ACLSetUserStringError).
const (
	errUnknownName = reason("Unknown command or category name in ACL")
	errRuleSyntax  = reason("Syntax error")
	errAfterAll    = reason("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
	errAfterAllCh  = reason("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
	errNoSuchPass  = reason("The password you are trying to remove from the user does not exist")
	errBadHash     = reason("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
	errSubOfSub    = reason("Allowing first-arg of a subcommand is not supported")
	errFirstArg    = reason("Allowing the first argument of a command is not supported by relcache")
	errSelectors   = reason("Selectors are not supported by relcache")
)

// apply applies one rule to u (a private copy), as Redis's ACLSetUser and
// ACLSetSelector do.
func (u *User) apply(rule string) error {
	low := strings.ToLower(rule)
	switch {
	case rule == "":
		// Redis takes an empty rule as no operation.
	case low == "on":
		u.on = true
	case low == "off":
		u.on = false
	case low == "skip-sanitize-payload", low == "sanitize-payload":
		u.sanitize = low
	case low == "nopass":
		u.nopass = true
		u.passwords = nil
	case low == "resetpass":
		u.nopass = false
		u.passwords = nil
	case low == "reset":
		for _, r := range []string{"resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"} {
			_ = u.apply(r)
		}
	case low == "clearselectors":
	case strings.HasPrefix(rule, ">"), strings.HasPrefix(rule, "#"):
		var h [32]byte
		if rule[0] == '>' {
			h = sha256.Sum256([]byte(rule[1:]))
		} else if !parseHash(&h, rule[1:]) {
			return errBadHash
		}
		if !slices.Contains(u.passwords, h) {
			u.passwords = append(u.passwords, h)
		}
		u.nopass = false
	case strings.HasPrefix(rule, "<"), strings.HasPrefix(rule, "!"):
		var h [32]byte
		if rule[0] == '<' {
			h = sha256.Sum256([]byte(rule[1:]))
		} else if !parseHash(&h, rule[1:]) {
			return errBadHash
		}
		i := slices.Index(u.passwords, h)
		if i < 0 {
			return errNoSuchPass
		}
		u.passwords = slices.Delete(u.passwords, i, i+1)
	case strings.HasPrefix(rule, "("):
		return errSelectors
	default:
		return u.applySelector(rule, low)
	}
	return nil
}

// parseHash reads a "#" rule's hash: exactly 64 lower-case hex digits.
func parseHash(h *[32]byte, s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.Decode(h[:], []byte(s))
	return err == nil
}

// applySelector applies a command, key or channel rule.
func (u *User) applySelector(rule, low string) error {
	switch {
	case low == "allcommands", low == "+@all":
		u.setAll(true)
	case low == "nocommands", low == "-@all":
		u.setAll(false)
	case low == "allkeys", low == "~*":
		u.allKeys, u.keys = true, nil
	case low == "resetkeys":
		u.allKeys, u.keys = false, nil
	case low == "allchannels", low == "&*":
		u.allChannels, u.channels = true, nil
	case low == "resetchannels":
		u.allChannels, u.channels = false, nil
	case rule[0] == '~' || rule[0] == '%':
		return u.addKeyPattern(rule)
	case rule[0] == '&':
		if u.allChannels {
			return errAfterAllCh
		}
		if strings.ContainsAny(rule[1:], " \t\n\v\f\r\x00") {
			return errRuleSyntax
		}
		if !slices.Contains(u.channels, rule[1:]) {
			u.channels = append(u.channels, rule[1:])
		}
	case len(rule) > 1 && (rule[0] == '+' || rule[0] == '-') && rule[1] == '@':
		i := u.cat.category(rule[2:])
		if i < 0 {
			return errUnknownName
		}
		u.setCategory(i, rule[0] == '+')
	case len(rule) > 1 && rule[0] == '+':
		return u.allowCommand(rule[1:])
	case len(rule) > 1 && rule[0] == '-':
		c := u.cat.lookup(rule[1:])
		if c == nil {
			return errUnknownName
		}
		u.change(c, false)
	default:
		return errRuleSyntax
	}
	return nil
}

// allowCommand is "+name" and "+container|sub".
func (u *User) allowCommand(name string) error {
	container, sub, hasSub := cutLast(name, '|')
	if !hasSub {
		c := u.cat.lookup(name)
		if c == nil {
			return errUnknownName
		}
		u.change(c, true)
		return nil
	}
	c := u.cat.lookup(container)
	switch {
	case c == nil:
		return errUnknownName
	case c.parent != nil:
		return errSubOfSub
	case sub == "":
		return errRuleSyntax
	case c.subs == nil:
		return errFirstArg
	}
	s := u.cat.lookup(name)
	if s == nil {
		return errUnknownName
	}
	u.change(s, true)
	return nil
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// lookup finds a command or "container|sub" case-insensitively.
func (cat *Catalog) lookup(name string) *Command { return cat.byName[strings.ToLower(name)] }

// addKeyPattern is "~pattern", "%R~pattern", "%W~pattern", "%RW~pattern".
func (u *User) addKeyPattern(rule string) error {
	if u.allKeys {
		return errAfterAll
	}
	perm, off := permAll, 1
	if rule[0] == '%' {
		perm = 0
	scan:
		for ; off < len(rule); off++ {
			switch ch := rule[off]; {
			case (ch == 'R' || ch == 'r') && perm&permRead == 0:
				perm |= permRead
			case (ch == 'W' || ch == 'w') && perm&permWrite == 0:
				perm |= permWrite
			case ch == '~' && perm != 0:
				off++
				break scan
			default:
				return errRuleSyntax
			}
		}
	}
	pat := rule[off:]
	// Redis takes "%RW~*" as a pattern, not as allkeys, and refuses a
	// pattern it could not write back to an aclfile line.
	if perm == 0 || strings.ContainsAny(pat, " \t\n\v\f\r\x00") {
		return errRuleSyntax
	}
	for i := range u.keys {
		if u.keys[i].pattern == pat {
			u.keys[i].perm |= perm
			return nil
		}
	}
	u.keys = append(u.keys, keyPattern{pattern: pat, pat: []byte(pat), perm: perm})
	return nil
}

// change allows or denies a command, and a container's subcommands with
// it (Redis's ACLChangeSelectorPerm).
func (u *User) change(c *Command, allow bool) {
	u.setBit(c.id, allow)
	for _, s := range c.subs {
		u.setBit(s.id, allow)
	}
}

func (u *User) setBit(id int, allow bool) {
	if allow {
		u.allowed[id/64] |= 1 << (id % 64)
	} else {
		u.allowed[id/64] &^= 1 << (id % 64)
	}
}

func (u *User) setAll(allow bool) {
	for i := range u.allowed {
		u.allowed[i] = 0
	}
	if allow {
		for _, c := range u.cat.all {
			u.setBit(c.id, true)
		}
	}
	u.future = allow
}

// setCategory allows or denies every command of category i, a container
// with its subcommands (Redis's ACLSetSelectorCommandBitsForCategory; the
// catalog lists a container before its subcommands, as Redis visits them).
func (u *User) setCategory(i int, allow bool) {
	for _, c := range u.cat.all {
		if c.cats&(1<<i) != 0 {
			u.change(c, allow)
		}
	}
}

// finish computes what the check's fast path needs.
func (u *User) finish() {
	u.open = u.allKeys && u.allChannels
	for _, c := range u.cat.all {
		if !u.allows(c) {
			u.open = false
		}
	}
}

func (u *User) allows(c *Command) bool { return u.allowed[c.id/64]&(1<<(c.id%64)) != 0 }

// CheckPassword reports whether pass is one of the user's passwords (any
// is when the user is nopass), comparing hashes in constant time and
// against every password, so the time says nothing of which one matched.
func (u *User) CheckPassword(pass []byte) bool {
	if u.nopass {
		return true
	}
	h := sha256.Sum256(pass)
	ok := 0
	for i := range u.passwords {
		ok |= subtle.ConstantTimeCompare(h[:], u.passwords[i][:])
	}
	return ok == 1
}
