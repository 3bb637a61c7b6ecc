package proxyfront

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/cmdmeta"
)

// readUsers: users lines and an aclfile, the default user from password
// unless one of them defines it, and every bad line named.
func TestReadUsers(t *testing.T) {
	metas, err := cmdmeta.Load()
	if err != nil {
		t.Fatal(err)
	}
	cat := acl.NewCatalog(metas)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "more.acl"), []byte("user b on nopass +@read\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Path: filepath.Join(dir, "proxy.toml"), Password: "pw",
		Users: []string{"user a on >x ~* +@all"}, ACLFile: "more.acl"}
	users, err := readUsers(cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, u := range users {
		lines = append(lines, u.Describe())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{"user a on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~* resetchannels +@all",
		"user b on nopass resetchannels -@all +@read", "user default on #"} {
		if !strings.Contains(got, want) {
			t.Errorf("users:\n%s\nlack %q", got, want)
		}
	}

	cfg.Users = append(cfg.Users, "user c on nosuchrule", "user default on nopass +@all ~*")
	if _, err := readUsers(cat, cfg); err == nil || !strings.Contains(err.Error(), "users:2: Syntax error.") {
		t.Errorf("bad users line: %v", err)
	}
	cfg.Users = []string{"user b on"}
	if _, err := readUsers(cat, cfg); err == nil || !strings.Contains(err.Error(), `user "b" is defined twice`) {
		t.Errorf("a user in both: %v", err)
	}
	cfg.Users, cfg.ACLFile = []string{"user default on nopass ~* +@read"}, ""
	users, err = readUsers(cat, cfg)
	if err != nil || len(users) != 1 || users[0].Describe() != "user default on nopass ~* resetchannels -@all +@read" {
		t.Errorf("a configured default user: %v %v", users, err)
	}

	// The memcache entry's clients run as the default user without AUTH:
	// a default user with a password (from users, not only password) would
	// be bypassed, so the config is refused; a nopass one with narrowed
	// rules is taken.
	cfg.MemcacheListen = "127.0.0.1:0"
	if _, err := readUsers(cat, cfg); err != nil {
		t.Errorf("memcache with a nopass default user: %v", err)
	}
	cfg.Users = []string{"user default on >secret ~* +@all"}
	if _, err := readUsers(cat, cfg); err == nil || !strings.Contains(err.Error(), "memcache_listen needs a default user without a password") {
		t.Errorf("memcache with a default user that has a password: %v", err)
	}
}
