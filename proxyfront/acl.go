package proxyfront

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/cmdmeta"
	"github.com/relcache/relcache/internal/safefile"
)

// The proxy's own users (internal/acl, the same rules as the nodes'):
// clients AUTH against them, and a command a client's user may not run is
// refused here, before it is routed. The nodes see the pools' credentials
// (Pool.User, Pool.Password), not the clients'.

// initUsers builds the users from cfg and binds the command table to the
// catalog the rules name commands by.
func (p *Proxy) initUsers(cfg *Config) error {
	metas, err := cmdmeta.Load()
	if err != nil {
		return err
	}
	cat := acl.NewCatalog(metas)
	users, err := readUsers(cat, cfg)
	if err != nil {
		return err
	}
	p.users = acl.NewUsers(cat, cfg.Password)
	p.users.Replace(users)
	for name, cmd := range p.cmds {
		cmd.acl = cat.Lookup(name) // nil for the names only the proxy refuses
	}
	return nil
}

// readUsers reads cfg's users: the users lines, then the aclfile's, with
// the default user made from password (as requirepass) unless one of them
// defines it.
func readUsers(cat *acl.Catalog, cfg *Config) ([]*acl.User, error) {
	var all []*acl.User
	if len(cfg.Users) > 0 {
		us, err := acl.ParseFile(cat, "users", []byte(strings.Join(cfg.Users, "\n")))
		if err != nil {
			return nil, fmt.Errorf("users (the entry is the line number): %w", err)
		}
		all = append(all, us...)
	}
	if cfg.ACLFile != "" {
		path := cfg.ACLFile
		if !filepath.IsAbs(path) && cfg.Path != "" {
			path = filepath.Join(filepath.Dir(cfg.Path), path)
		}
		f, err := safefile.OpenRegular(path)
		if err != nil {
			return nil, fmt.Errorf("aclfile: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("aclfile: %w", err)
		}
		us, err := acl.ParseFile(cat, path, data)
		if err != nil {
			return nil, fmt.Errorf("aclfile: %w", err)
		}
		all = append(all, us...)
	}
	seen := map[string]bool{}
	for _, u := range all {
		if seen[u.Name()] {
			return nil, fmt.Errorf("user %q is defined twice (users and aclfile)", u.Name())
		}
		seen[u.Name()] = true
	}
	if !seen["default"] {
		all = append(all, acl.DefaultUser(cat, cfg.Password))
	}
	if cfg.MemcacheListen != "" {
		for _, u := range all {
			if u.Name() == "default" && !(u.NoPass() && u.Enabled()) {
				// The memcache entry's clients run as the default user,
				// unauthenticated (the text protocol has no AUTH): a
				// default user that asks for a password would be bypassed.
				return nil, errors.New("memcache_listen needs a default user without a password: memcached's text protocol has no authentication, so its clients run as the default user (narrow its commands and keys instead)")
			}
		}
	}
	return all, nil
}

// permitted checks the client's user may run cmd with args; a refusal is
// answered (NOPERM, Redis's words) and dooms an open transaction. A user
// with every permission costs an atomic load.
func (c *client) permitted(cmd *command, args [][]byte) bool {
	u := c.user.User()
	if u.Open() || cmd.noAuth || cmd.acl == nil {
		return true
	}
	if d := u.Check(cmd.acl.Resolve(args), args); d.Denied() {
		c.fail(cmd.name, d.Error())
		c.flagTx()
		return false
	}
	return true
}

// AUTH [username] password, against the proxy's users.
func cmdAuth(c *client, _ *topology, args [][]byte) {
	if len(args) > 3 {
		c.fail("auth", "ERR syntax error")
		return
	}
	users := c.p.users
	name, pass := "default", args[1]
	if len(args) == 3 {
		name, pass = string(args[1]), args[2]
	} else if users.Default().User().NoPass() {
		c.fail("auth", "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	h := users.Authenticate(name, pass)
	if h == nil {
		c.fail("auth", "WRONGPASS invalid username-password pair or user is disabled.")
		return
	}
	c.user, c.authed = h, true
	c.reply([]byte("+OK\r\n"))
}
