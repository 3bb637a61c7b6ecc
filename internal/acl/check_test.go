package acl

import (
	"strings"
	"testing"
)

func args(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

// cmdOf finds the command a line runs, as the server's dispatch does.
func cmdOf(t *testing.T, cat *Catalog, a [][]byte) *Command {
	t.Helper()
	name := strings.ToLower(string(a[0]))
	if len(a) > 1 {
		if c := cat.Lookup(name + "|" + strings.ToLower(string(a[1]))); c != nil {
			return c
		}
	}
	c := cat.Lookup(name)
	if c == nil {
		t.Fatalf("no command %s", name)
	}
	return c
}

func TestCheck(t *testing.T) {
	cat := testCatalog(t)
	us := NewUsers(cat, "")
	for _, set := range [][]string{
		{"relsvc", "on", ">pw", "~*", "+@read", "+@relation", "-@write"},
		{"keys", "on", "nopass", "+@all", "%R~r:*", "%W~w:*", "~rw:*"},
		{"chans", "on", "nopass", "+@all", "~*", "&news.*"},
	} {
		if err := us.SetUser(set[0], set[1:]); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		user, line, want string
	}{
		{"relsvc", "RELCHECK 1 2 3", ""},
		{"relsvc", "RELMULTI 1.following 2 3", ""},
		{"relsvc", "HGET 1.following 2", ""},
		{"relsvc", "GET k", ""},
		{"relsvc", "FOLLOW 1 2", "NOPERM this user has no permissions to run the 'follow' command"},
		{"relsvc", "UNFOLLOW 1 2", "NOPERM this user has no permissions to run the 'unfollow' command"},
		{"relsvc", "RELLOAD 1.following x", "NOPERM this user has no permissions to run the 'relload' command"},
		{"relsvc", "FLUSHALL", "NOPERM this user has no permissions to run the 'flushall' command"},
		{"relsvc", "CONFIG GET maxmemory", "NOPERM this user has no permissions to run the 'config|get' command"},
		{"relsvc", "SHUTDOWN", "NOPERM this user has no permissions to run the 'shutdown' command"},
		{"relsvc", "SET k v", "NOPERM this user has no permissions to run the 'set' command"},
		{"keys", "GET r:1", ""},
		{"keys", "GET w:1", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "SET w:1 x", ""},
		{"keys", "SET r:1 x", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "MGET r:1 rw:2 w:3", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "MGET r:1 rw:2", ""},
		{"keys", "APPEND rw:1 x", ""},
		{"keys", "EXISTS w:1", ""}, // no access flag: any matching pattern does
		{"keys", "EXISTS other", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "SET w:1 x GET", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "BITFIELD w:1 GET u8 0", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "BITFIELD w:1 SET u8 0 1", "NOPERM this user has no permissions to access one of the keys used as arguments"},
		{"keys", "BITFIELD r:1 GET u8 0", ""},
		{"keys", "BITFIELD rw:1 SET u8 0 1", ""},
		{"keys", "RELCHECK 1 2", ""}, // no key specs: uids, not keys
		{"default", "FLUSHALL", ""},
		{"chans", "PUBLISH news.1 x", ""},
		{"chans", "PUBLISH other x", "NOPERM this user has no permissions to access one of the channels used as arguments"},
		{"chans", "SUBSCRIBE news.1 news.2", ""},
		{"chans", "SUBSCRIBE news.1 other", "NOPERM this user has no permissions to access one of the channels used as arguments"},
		{"chans", "PSUBSCRIBE news.*", ""},
		{"chans", "PSUBSCRIBE news.1", "NOPERM this user has no permissions to access one of the channels used as arguments"},
		{"chans", "UNSUBSCRIBE other", ""},
		{"chans", "GET k", ""},
	} {
		u := us.Get(c.user)
		a := args(c.line)
		d := u.Check(cmdOf(t, cat, a), a)
		got := ""
		if d.Denied() {
			got = d.Error()
		}
		if got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.user, c.line, got, c.want)
		}
	}
}

func TestCategories(t *testing.T) {
	cat := testCatalog(t)
	rel, ok := cat.InCategory("relation")
	if !ok || len(rel) < 14 {
		t.Fatalf("@relation = %v", rel)
	}
	write, _ := cat.InCategory("write")
	for _, w := range []string{"follow", "unfollow", "relload", "reladd", "reldel"} {
		if !strings.Contains(" "+strings.Join(write, " ")+" ", " "+w+" ") {
			t.Errorf("%s not in @write", w)
		}
	}
	if _, ok := cat.InCategory("nosuch"); ok {
		t.Error("unknown category found")
	}
}

func TestPasswords(t *testing.T) {
	us := NewUsers(testCatalog(t), "secret")
	if us.Authenticate("default", []byte("secret")) == nil || us.Authenticate("default", []byte("x")) != nil {
		t.Fatal("requirepass")
	}
	us.SetDefaultPassword("")
	if us.Authenticate("default", []byte("anything")) == nil {
		t.Fatal("nopass default")
	}
	if err := us.SetUser("u", []string{"on", ">a", ">b"}); err != nil {
		t.Fatal(err)
	}
	for pass, ok := range map[string]bool{"a": true, "b": true, "c": false, "": false} {
		if got := us.Authenticate("u", []byte(pass)) != nil; got != ok {
			t.Errorf("u %q: %v", pass, got)
		}
	}
	_ = us.SetUser("u", []string{"off"})
	if us.Authenticate("u", []byte("a")) != nil || us.Authenticate("nobody", nil) != nil {
		t.Fatal("off user or no user authenticated")
	}
}

func TestSetUserAllOrNothing(t *testing.T) {
	us := NewUsers(testCatalog(t), "")
	if err := us.SetUser("u", []string{"on", "+get", "nosuchrule"}); err == nil {
		t.Fatal("bad rule accepted")
	}
	if us.Get("u") != nil {
		t.Fatal("failed SETUSER created the user")
	}
	_ = us.SetUser("u", []string{"on", "+get"})
	h := us.Handle("u")
	if err := us.SetUser("u", []string{"+set", "~x", "-nosuch"}); err == nil {
		t.Fatal("bad rule accepted")
	}
	if got := h.User().Describe(); got != "user u on resetchannels -@all +get" {
		t.Fatalf("half applied: %s", got)
	}
	gone, err := us.Delete([]string{"u", "nobody"})
	if err != nil || len(gone) != 1 || !h.Gone() {
		t.Fatal(gone, err)
	}
	if _, err := us.Delete([]string{"default"}); err == nil {
		t.Fatal("deleted default")
	}
}

// FuzzRules applies any rules to a user: never a panic, all or nothing,
// and a user that reads back (its ACL LIST line, taken as rules again)
// as the same user.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"on >pw ~* +@read -@write", "%R~a %W~b ~c", "+config|get -config", "#abc", "&a &* &b",
		"reset", "+@all -@slow +client|kill", "%", "%RW~*", "<x", "(+get)", "+get|x"} {
		f.Add(s)
	}
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, s string) {
		rules := strings.Split(s, " ")
		us := NewUsers(cat, "")
		if err := us.SetUser("u", rules); err != nil {
			if us.Get("u") != nil {
				t.Fatal("failed rules created the user")
			}
			return
		}
		u := us.Get("u")
		line := u.Describe()
		f := strings.Split(line, " ")
		v, err := Build(cat, "u", nil, f[2:])
		if err != nil {
			t.Fatalf("%q described as %q, which does not read back: %v", s, line, err)
		}
		if v.Describe() != line {
			t.Fatalf("%q: %q read back as %q", s, line, v.Describe())
		}
	})
}

// FuzzParseFile reads any bytes as an aclfile: never a panic, and either
// users or a *FileError, never both; users written back (ACL SAVE's
// lines) parse to the same lines.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{"user a on >x ~* +@all\nuser b off\n", "user a\nuser a\n", "notuser\n\n  \n", "user a on foo\r\n", "user a\x00b on\n"} {
		f.Add([]byte(s))
	}
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ParseFile(cat, "users.acl", data)
		if err != nil {
			if users != nil {
				t.Fatal("users and an error")
			}
			return
		}
		var b strings.Builder
		for _, u := range users {
			b.WriteString(u.Describe() + "\n")
		}
		again, err := ParseFile(cat, "users.acl", []byte(b.String()))
		if err != nil || len(again) != len(users) {
			t.Fatalf("%q saved as %q reads back as %v, %v", data, b.String(), again, err)
		}
		for i := range again {
			if again[i].Describe() != users[i].Describe() {
				t.Fatalf("%q: %q read back as %q", data, users[i].Describe(), again[i].Describe())
			}
		}
	})
}

// TestHandleSwapRace: connections check against a handle while its user is
// changed and deleted (run with -race): every check sees one whole user.
func TestHandleSwapRace(t *testing.T) {
	cat := testCatalog(t)
	us := NewUsers(cat, "")
	_ = us.SetUser("u", []string{"on", "nopass", "~*", "+get"})
	h := us.Handle("u")
	get, set := cat.Lookup("get"), cat.Lookup("set")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			rule := "+set"
			if i%2 == 1 {
				rule = "-set"
			}
			_ = us.SetUser("u", []string{rule})
		}
		_, _ = us.Delete([]string{"u"})
	}()
	for {
		u := h.User()
		g, s := u.Check(get, args("GET k")), u.Check(set, args("SET k v"))
		if h.Gone() && u.Open() {
			t.Fatal("a deleted user kept permissions")
		}
		if !h.Gone() && g.Denied() {
			t.Fatal("GET refused while the user was only changed")
		}
		_ = s
		select {
		case <-done:
			if d := h.User().Check(get, args("GET k")); !d.Denied() {
				t.Fatal("a deleted user can still GET")
			}
			return
		default:
		}
	}
}
