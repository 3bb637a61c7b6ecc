// Package acl is Redis 6+'s access control model for relcache: users with
// passwords (kept as SHA-256 only), the commands and categories they may
// run and the key patterns they may read or write, parsed from Redis's rule
// syntax (ACL SETUSER, aclfile lines) and described back as Redis 7.0
// describes them (ACL GETUSER, ACL LIST), so a rule set reads the same on
// relcache as on redis-server.
//
// The package knows commands only through a Catalog built from
// internal/cmdmeta, the metadata the server dispatches by and the proxy
// routes by: a command's categories and the read/write flags of its key
// specs are the ones COMMAND INFO reports. Users are immutable once built;
// a Handle is what a connection holds, and a change to a user (SETUSER,
// DELUSER, LOAD) swaps the Handle's user, so it applies to every
// connection authenticated as that user at its next command, as in Redis.
//
// Not modelled: selectors ("(...)" rules) and first-argument rules
// ("+select|0"); a rule change does not close subscriptions made before it.
package acl

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"github.com/relcache/relcache/internal/cmdmeta"
)

// Key permissions, as Redis's ACL_READ_PERMISSION and ACL_WRITE_PERMISSION.
const (
	permRead  = 1
	permWrite = 2
	permAll   = permRead | permWrite
)

// Command is what the ACL knows of one command or subcommand.
type Command struct {
	id     int
	name   string // "get", "client|kill"
	cats   uint64 // bit i: category i of the catalog
	keys   []keySpec
	chans  chanArgs // which arguments are Pub/Sub channels
	subs   []*Command
	subBy  map[string]*Command // subs by their own lower-case name ("get")
	parent *Command
}

// Name is the command's name as Redis reports it ("config|get").
func (c *Command) Name() string { return c.name }

// keySpec is a cmdmeta key spec reduced to what a check needs: where the
// keys are, and the permission each key needs.
type keySpec struct {
	index, lastKey, step int
	perm                 int
	// variable: the permission depends on the arguments (variable_flags;
	// SET and BITFIELD), computed by variablePerm.
	variable bool
}

// Catalog is every command the ACL can allow or deny, with ids for the
// users' bitmaps, and the category names.
type Catalog struct {
	byName     map[string]*Command // "get", "client|kill"
	all        []*Command          // by id
	categories []string            // without '@', ACL CAT's order
}

// NewCatalog builds the catalog from the commands' metadata.
func NewCatalog(metas map[string]*cmdmeta.Command) *Catalog {
	cat := &Catalog{byName: make(map[string]*Command, len(metas)), categories: cmdmeta.ACLCategories()}
	names := make([]string, 0, len(metas))
	for n := range metas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := metas[n]
		c := &Command{id: len(cat.all), name: n}
		for _, ca := range m.ACLCategoriesForInfo() {
			if i := slices.Index(cat.categories, ca[1:]); i >= 0 {
				c.cats |= 1 << i
			}
		}
		for _, ks := range m.KeySpecs {
			c.keys = append(c.keys, keySpec{index: ks.BeginSearch.Spec.Index, lastKey: ks.FindKeys.Spec.LastKey,
				step: ks.FindKeys.Spec.KeyStep, perm: keyPerm(ks.Flags), variable: slices.Contains(ks.Flags, "variable_flags")})
		}
		c.chans = channelArgs[n]
		cat.all = append(cat.all, c)
		cat.byName[n] = c
	}
	for _, c := range cat.all {
		if p, _, ok := strings.Cut(c.name, "|"); ok {
			if parent := cat.byName[p]; parent != nil {
				c.parent = parent
				parent.subs = append(parent.subs, c)
				if parent.subBy == nil {
					parent.subBy = map[string]*Command{}
				}
				parent.subBy[c.name[len(p)+1:]] = c
			}
		}
	}
	return cat
}

// keyPerm is the permission a key spec's logical flags need, as Redis's
// ACLSelectorCheckKey derives it: access reads, insert, delete and update
// write; a key with none of them (EXISTS, TYPE, TTL) needs neither.
func keyPerm(flags []string) int {
	p := 0
	for _, f := range flags {
		switch f {
		case "access":
			p |= permRead
		case "insert", "delete", "update":
			p |= permWrite
		}
	}
	return p
}

// Lookup finds a command by its lower-case name ("get", "config|get").
func (cat *Catalog) Lookup(name string) *Command { return cat.byName[name] }

// Categories are the category names without '@', in ACL CAT's order.
func (cat *Catalog) Categories() []string { return slices.Clone(cat.categories) }

// category is the index of a category name, or -1.
func (cat *Catalog) category(name string) int {
	for i, c := range cat.categories {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// InCategory lists the commands of a category (ACL CAT name) as Redis
// does: containers by name, subcommands as "container|sub"; ok is false
// for an unknown category.
func (cat *Catalog) InCategory(name string) (names []string, ok bool) {
	i := cat.category(name)
	if i < 0 {
		return nil, false
	}
	for _, c := range cat.all {
		if c.cats&(1<<i) != 0 {
			names = append(names, c.name)
		}
	}
	return names, true
}

// variablePerm is the permission the key of a variable_flags spec needs
// for these arguments, as Redis's getkeys procedures decide it: SET reads
// its key only with GET (setGetKeys); BITFIELD writes unless every
// operation is a GET or OVERFLOW, and reads always (bitfieldGetKeys). An
// unknown command is given every permission.
func variablePerm(name string, args [][]byte) int {
	switch name {
	case "set":
		for _, a := range args[min(3, len(args)):] {
			if cEqFold(a, "get") {
				return permAll
			}
		}
		return permWrite
	case "bitfield":
		for i := 2; i < len(args); i++ {
			rem := len(args) - i - 1
			switch {
			case cEqFold(args[i], "get") && rem >= 2:
				i += 2
			case cEqFold(args[i], "overflow") && rem >= 1:
				i++
			default:
				return permAll
			}
		}
		return permRead
	}
	return permAll
}

// cEqFold compares an argument as Redis's strcasecmp sees it: up to its
// first NUL byte.
func cEqFold(b []byte, s string) bool {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return len(b) == len(s) && strings.EqualFold(string(b), s)
}

// Resolve is the command a command line runs: a container's subcommand
// named by args[1] (case-insensitively), or c itself (for a container,
// when the subcommand is unknown). It allocates nothing.
func (c *Command) Resolve(args [][]byte) *Command {
	if c.subBy == nil || len(args) < 2 || len(args[1]) > 32 {
		return c
	}
	var buf [32]byte
	b := buf[:len(args[1])]
	for i, ch := range args[1] {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b[i] = ch
	}
	if s := c.subBy[string(b)]; s != nil {
		return s
	}
	return c
}

// chanArgs says which arguments of a command are Pub/Sub channels, as
// Redis 7.0's getChannelsFromCommand: PUBLISH's first, every one of
// SUBSCRIBE's, and PSUBSCRIBE's patterns, which a user's channel patterns
// must equal rather than match. UNSUBSCRIBE and PUNSUBSCRIBE are not
// checked, as in Redis.
type chanArgs uint8

const (
	chanNone chanArgs = iota
	chanFirst
	chanAll
	chanAllPatterns
)

var channelArgs = map[string]chanArgs{"publish": chanFirst, "subscribe": chanAll, "psubscribe": chanAllPatterns}
