package acl

import (
	"encoding/hex"
	"strings"

	"github.com/relcache/relcache/internal/glob"
)

// Denial says why a command was refused: Reason is ACL LOG's ("command" or
// "key"), Object the command's name or the key. Zero means allowed.
type Denial struct {
	Reason string
	Object string
}

// Denied reports whether the check refused.
func (d Denial) Denied() bool { return d.Reason != "" }

// Error is the NOPERM reply, in Redis 7.0's words.
func (d Denial) Error() string {
	switch d.Reason {
	case "key":
		return "NOPERM this user has no permissions to access one of the keys used as arguments"
	case "channel":
		return "NOPERM this user has no permissions to access one of the channels used as arguments"
	}
	return "NOPERM this user has no permissions to run the '" + d.Object + "' command"
}

// Check reports whether the user may run cmd with args (the whole command
// line, name first), as Redis's ACLSelectorCheckCmd: the command's bit,
// then each key against the patterns that grant the permission the key
// spec needs. Nothing is allocated unless it refuses.
func (u *User) Check(cmd *Command, args [][]byte) Denial {
	if u.open {
		return Denial{}
	}
	if !u.allows(cmd) {
		return Denial{Reason: "command", Object: cmd.name}
	}
	if cmd.chans != chanNone && !u.allChannels {
		if d := u.checkChannels(cmd, args); d.Denied() {
			return d
		}
	}
	if u.allKeys {
		return Denial{}
	}
	for _, ks := range cmd.keys {
		last := ks.index + ks.lastKey
		if ks.lastKey < 0 {
			last = len(args) + ks.lastKey
		}
		perm := ks.perm
		if ks.variable {
			perm = variablePerm(cmd.name, args)
		}
		for i := ks.index; i <= last && i < len(args); i += ks.step {
			if !u.keyAllowed(args[i], perm) {
				return Denial{Reason: "key", Object: string(args[i])}
			}
		}
	}
	return Denial{}
}

func (u *User) keyAllowed(key []byte, perm int) bool {
	for _, p := range u.keys {
		if p.perm&perm == perm && glob.Match(p.pat, key) {
			return true
		}
	}
	return false
}

// Flags are ACL GETUSER's flags, in Redis's order.
func (u *User) Flags() []string {
	f := []string{"off"}
	if u.on {
		f[0] = "on"
	}
	if u.nopass {
		f = append(f, "nopass")
	}
	if u.sanitize != "" {
		f = append(f, u.sanitize)
	}
	return f
}

// PasswordHashes are the hex SHA-256 of each password, in the order added.
func (u *User) PasswordHashes() []string {
	out := make([]string, len(u.passwords))
	for i, h := range u.passwords {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

// CommandRules is ACL GETUSER's "commands", computed from the user's
// bitmap as Redis 7.0's ACLDescribeSelectorCommandRules does: +@all or
// -@all (whether future commands are allowed), then, greedily, each
// category that brings the description closer than it strays (fewest
// commands wrong, then most right), then the single commands still
// different. Redis lists those in its command table's hash order, which
// changes with every process; relcache lists them by name.
func (u *User) CommandRules() string {
	cat := u.cat
	fake := newUser(cat, "")
	fake.setAll(u.future)
	temp := u.clone()
	additive := !u.future
	rules := []string{"-@all"}
	op := "+@"
	if u.future {
		rules[0] = "+@all"
		op = "-@"
	}
	applied := make([]bool, len(cat.categories))
	for {
		best, mindiff, maxsame := -1, int(^uint(0)>>1), 0
		for j := range cat.categories {
			if applied[j] {
				continue
			}
			on, off := temp.countCategory(j)
			diff, same := on, off
			if additive {
				diff, same = off, on
			}
			if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
				best, mindiff, maxsame = j, diff, same
			}
		}
		if best < 0 {
			break
		}
		fake.setCategory(best, additive)
		temp.setCategory(best, !additive)
		rules = append(rules, op+cat.categories[best])
		applied[best] = true
	}
	for _, c := range cat.all {
		if has, want := fake.allows(c), u.allows(c); has != want {
			sign := "-"
			if want {
				sign = "+"
			}
			rules = append(rules, sign+c.name)
			fake.change(c, want)
		}
	}
	return strings.Join(rules, " ")
}

// countCategory counts the commands of category i the user allows (on)
// and denies (off).
func (u *User) countCategory(i int) (on, off int) {
	for _, c := range u.cat.all {
		if c.cats&(1<<i) != 0 {
			if u.allows(c) {
				on++
			} else {
				off++
			}
		}
	}
	return on, off
}

// KeyRules is ACL GETUSER's "keys": "~*", or each pattern as its rule.
func (u *User) KeyRules() string {
	if u.allKeys {
		return "~*"
	}
	parts := make([]string, len(u.keys))
	for i, p := range u.keys {
		parts[i] = keyRule(p)
	}
	return strings.Join(parts, " ")
}

func keyRule(p keyPattern) string {
	switch p.perm {
	case permRead:
		return "%R~" + p.pattern
	case permWrite:
		return "%W~" + p.pattern
	}
	return "~" + p.pattern
}

// ChannelRules is ACL GETUSER's "channels".
func (u *User) ChannelRules() string {
	if u.allChannels {
		return "&*"
	}
	parts := make([]string, len(u.channels))
	for i, c := range u.channels {
		parts[i] = "&" + c
	}
	return strings.Join(parts, " ")
}

// Describe is the user's ACL LIST line (and aclfile line), as Redis's
// ACLDescribeUser writes it.
func (u *User) Describe() string {
	var b strings.Builder
	b.WriteString("user ")
	b.WriteString(u.name)
	for _, f := range u.Flags() {
		b.WriteString(" " + f)
	}
	for _, h := range u.PasswordHashes() {
		b.WriteString(" #" + h)
	}
	if u.allKeys {
		b.WriteString(" ~*")
	}
	for _, p := range u.keys {
		b.WriteString(" " + keyRule(p))
	}
	if u.allChannels {
		b.WriteString(" &*")
	} else {
		b.WriteString(" resetchannels")
		for _, c := range u.channels {
			b.WriteString(" &" + c)
		}
	}
	b.WriteString(" " + u.CommandRules())
	return b.String()
}

// checkChannels is Redis's ACLCheckChannelAgainstList for each channel
// argument: a channel must match one of the user's patterns, a PSUBSCRIBE
// pattern must equal one.
func (u *User) checkChannels(cmd *Command, args [][]byte) Denial {
	last := len(args) - 1
	if cmd.chans == chanFirst {
		last = min(1, last)
	}
	for _, ch := range args[1 : last+1] {
		ok := false
		for _, p := range u.channels {
			if (cmd.chans == chanAllPatterns && p == string(ch)) || (cmd.chans != chanAllPatterns && glob.Match([]byte(p), ch)) {
				ok = true
				break
			}
		}
		if !ok {
			return Denial{Reason: "channel", Object: string(ch)}
		}
	}
	return Denial{}
}
