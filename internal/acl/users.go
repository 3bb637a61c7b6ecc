package acl

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Handle is a user as a connection holds it: the user's rules now. SetUser
// swaps them in, so a change applies from every connection's next command.
type Handle struct {
	name string
	u    atomic.Pointer[User]
	gone atomic.Bool // deleted (DELUSER, or absent after LOAD)
}

// User is the user's rules now.
func (h *Handle) User() *User { return h.u.Load() }

// Gone reports whether the user was deleted; its connections are to be
// closed, as Redis closes them.
func (h *Handle) Gone() bool { return h.gone.Load() }

// Name is the user's name.
func (h *Handle) Name() string { return h.name }

// Users is the set of users. The "default" user always exists: it is the
// one a connection starts as.
type Users struct {
	cat *Catalog
	mu  sync.Mutex // guards m
	m   map[string]*Handle
}

// NewUsers starts with the default user alone, as Redis: on, every
// command, key and channel, and the password pass (none: nopass).
func NewUsers(cat *Catalog, pass string) *Users {
	us := &Users{cat: cat, m: map[string]*Handle{}}
	u := DefaultUser(cat, pass)
	h := &Handle{name: u.name}
	h.u.Store(u)
	us.m[u.name] = h
	return us
}

// DefaultUser is Redis's initial default user, with pass as its password
// (requirepass), or nopass when pass is empty.
func DefaultUser(cat *Catalog, pass string) *User {
	u := newUser(cat, "default")
	for _, r := range []string{"+@all", "~*", "&*", "on", "nopass"} {
		_ = u.apply(r)
	}
	if pass != "" {
		_ = u.apply(">" + pass)
	}
	u.finish()
	return u
}

// Catalog is the commands the users' rules name.
func (us *Users) Catalog() *Catalog { return us.cat }

// Handle is the named user's handle, nil when there is none.
func (us *Users) Handle(name string) *Handle {
	us.mu.Lock()
	defer us.mu.Unlock()
	return us.m[name]
}

// Default is the default user's handle.
func (us *Users) Default() *Handle { return us.Handle("default") }

// Get is the named user's rules, nil when there is none.
func (us *Users) Get(name string) *User {
	if h := us.Handle(name); h != nil {
		return h.User()
	}
	return nil
}

// Build applies rules, in order, to a copy of base (a new user with no
// permissions when base is nil): all of them or, on the first that fails,
// none; the error is a *RuleError.
func Build(cat *Catalog, name string, base *User, rules []string) (*User, error) {
	u := newUser(cat, name)
	if base != nil {
		u = base.clone()
	}
	for _, r := range rules {
		if err := u.apply(r); err != nil {
			return nil, &RuleError{Rule: r, Reason: err.Error()}
		}
	}
	u.finish()
	return u, nil
}

// SetUser creates or changes a user by rules (ACL SETUSER): all apply, or
// none; the error is a *RuleError.
func (us *Users) SetUser(name string, rules []string) error {
	us.mu.Lock()
	defer us.mu.Unlock()
	h := us.m[name]
	var base *User
	if h != nil {
		base = h.User()
	}
	u, err := Build(us.cat, name, base, rules)
	if err != nil {
		return err
	}
	if h == nil {
		h = &Handle{name: name}
		us.m[name] = h
	}
	h.u.Store(u)
	return nil
}

// ErrDeleteDefault is Redis's refusal of ACL DELUSER default.
const ErrDeleteDefault = reason("The 'default' user cannot be removed")

// Delete removes the named users (ACL DELUSER) and returns their handles,
// now Gone; refusing "default" removes none.
func (us *Users) Delete(names []string) ([]*Handle, error) {
	if slices.Contains(names, "default") {
		return nil, ErrDeleteDefault
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	var out []*Handle
	for _, n := range names {
		if h := us.m[n]; h != nil {
			h.retire(us.cat)
			delete(us.m, n)
			out = append(out, h)
		}
	}
	return out, nil
}

// List is every user, by name (ACL LIST and ACL USERS order: Redis keeps
// users in a radix tree).
func (us *Users) List() []*User {
	us.mu.Lock()
	defer us.mu.Unlock()
	out := make([]*User, 0, len(us.m))
	for _, h := range us.m {
		out = append(out, h.User())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Authenticate returns the handle of the named user when it is on and pass
// is one of its passwords; nil otherwise.
func (us *Users) Authenticate(name string, pass []byte) *Handle {
	h := us.Handle(name)
	if h == nil {
		return nil
	}
	if u := h.User(); !u.on || !u.CheckPassword(pass) {
		return nil
	}
	return h
}

// SetDefaultPassword is CONFIG SET requirepass, as Redis's
// ACLUpdateDefaultUserPassword: resetpass, then the password, or nopass
// when it is empty.
func (us *Users) SetDefaultPassword(pass string) {
	rule := "nopass"
	if pass != "" {
		rule = ">" + pass
	}
	if err := us.SetUser("default", []string{"resetpass", rule}); err != nil {
		panic("acl: resetting the default user's password: " + err.Error()) // no rule above can fail
	}
}

// Replace puts users in place of every user (ACL LOAD, the aclfile at
// start), keeping the handles of users that remain so their connections
// carry on under the new rules; a default user absent from users keeps
// its rules. It returns the handles of users that are gone.
func (us *Users) Replace(users []*User) []*Handle {
	us.mu.Lock()
	defer us.mu.Unlock()
	next := make(map[string]*Handle, len(users)+1)
	for _, u := range users {
		h := us.m[u.name]
		if h == nil {
			h = &Handle{name: u.name}
		}
		h.u.Store(u)
		next[u.name] = h
	}
	if next["default"] == nil {
		next["default"] = us.m["default"]
	}
	var gone []*Handle
	for n, h := range us.m {
		if next[n] == nil {
			h.retire(us.cat)
			gone = append(gone, h)
		}
	}
	us.m = next
	return gone
}

// ValidName reports whether a user name can be written to an aclfile line:
// Redis refuses spaces and NUL bytes in one.
func ValidName(name string) bool { return !strings.ContainsAny(name, " \t\n\v\f\r\x00") }

// SetUserError is ACL SETUSER's error reply for err (from SetUser), without
// the "ERR " prefix added by the reply: Redis's words, the rule quoted.
func SetUserError(err error) string {
	var re *RuleError
	if errors.As(err, &re) {
		return "Error in ACL SETUSER modifier '" + cleanLine(re.Rule) + "': " + re.Reason
	}
	return err.Error()
}

// cleanLine is a client's text as Redis's addReplyErrorFormat sends it:
// newlines become spaces, so the error stays one line.
func cleanLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// retire marks a deleted user's handle and takes every permission from it,
// so a connection still holding it can run nothing (but AUTH) even before
// it is closed.
func (h *Handle) retire(cat *Catalog) {
	h.gone.Store(true)
	u := newUser(cat, h.name)
	u.finish()
	h.u.Store(u)
}
