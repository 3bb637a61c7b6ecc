package acl

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/cmdmeta"
	"github.com/relcache/relcache/internal/relcachetest"
)

var update = flag.Bool("update", false, "rewrite testdata/setuser.golden from a redis-server")

func testCatalog(t testing.TB) *Catalog {
	t.Helper()
	metas, err := cmdmeta.Load()
	if err != nil {
		t.Fatal(err)
	}
	return NewCatalog(metas)
}

// setUserCases are testdata/setuser.txt's lines: a user name, then rules.
func setUserCases(t *testing.T) [][]string {
	f, err := os.Open("testdata/setuser.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Split(l, " "))
		}
	}
	return out
}

// transcript is what a case shows: the reply, then the user as ACL LIST
// and ACL GETUSER's keys and channels describe it. Single-command rules
// are sorted: Redis lists them in its hash table's order.
func transcript(line []string, reply string, list, keys, channels string, exists bool) string {
	s := "> " + strings.Join(line, " ") + "\n" + reply + "\n"
	if !exists {
		return s + "(no user)\n"
	}
	return s + canonList(list) + "\nkeys: " + keys + "\nchannels: " + channels + "\n"
}

func canonList(l string) string {
	f := strings.Split(l, " ")
	i := slices.IndexFunc(f, func(s string) bool { return s == "+@all" || s == "-@all" })
	if i < 0 {
		return l
	}
	j := i + 1
	for j < len(f) && (strings.HasPrefix(f[j], "+@") || strings.HasPrefix(f[j], "-@")) {
		j++
	}
	slices.Sort(f[j:])
	return strings.Join(f, " ")
}

// ours runs the cases on a Users, replying as the server does.
func ours(t *testing.T, cases [][]string) string {
	us := NewUsers(testCatalog(t), "")
	var b strings.Builder
	for _, c := range cases {
		reply := "OK"
		if err := us.SetUser(c[0], c[1:]); err != nil {
			reply = "ERR " + SetUserError(err)
		}
		u := us.Get(c[0])
		if u == nil {
			b.WriteString(transcript(c, reply, "", "", "", false))
			continue
		}
		b.WriteString(transcript(c, reply, u.Describe(), u.KeyRules(), u.ChannelRules(), true))
	}
	return b.String()
}

// theirs runs the cases on a redis-server.
func theirs(t *testing.T, cases [][]string) string {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: relcachetest.StartRedis(t), Protocol: 2})
	defer rdb.Close()
	var b strings.Builder
	for _, c := range cases {
		args := []any{"acl", "setuser"}
		for _, a := range c {
			args = append(args, a)
		}
		reply := "OK"
		if err := rdb.Do(ctx, args...).Err(); err != nil {
			reply = err.Error()
		}
		list, err := rdb.Do(ctx, "acl", "list").StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		line := ""
		for _, l := range list {
			if strings.HasPrefix(l, "user "+c[0]+" ") {
				line = l
			}
		}
		if line == "" {
			b.WriteString(transcript(c, reply, "", "", "", false))
			continue
		}
		m, err := rdb.Do(ctx, "acl", "getuser", c[0]).Slice()
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		for i := 0; i+1 < len(m); i += 2 {
			if s, ok := m[i+1].(string); ok {
				fields[m[i].(string)] = s
			}
		}
		b.WriteString(transcript(c, reply, line, fields["keys"], fields["channels"], true))
	}
	return b.String()
}

// TestSetUserGolden holds ACL SETUSER's replies and the ACL LIST and ACL
// GETUSER descriptions to what redis-server 7.0.15 says for the same
// sequence: against testdata/setuser.golden always, and live when
// redis-server is installed.
func TestSetUserGolden(t *testing.T) {
	cases := setUserCases(t)
	got := ours(t, cases)
	if *update {
		live := theirs(t, cases)
		if err := os.WriteFile("testdata/setuser.golden", []byte(live), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/setuser.golden")
	if err != nil {
		t.Fatal(err)
	}
	diffTranscripts(t, "setuser.golden", string(want), got)
	if !testing.Short() && !*update {
		diffTranscripts(t, "live redis-server", theirs(t, cases), got)
	}
}

func diffTranscripts(t *testing.T, what, want, got string) {
	t.Helper()
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			t.Errorf("against %s, line %d:\nwant %q\ngot  %q", what, i+1, wl, gl)
			return
		}
	}
}

func ExampleUsers_SetUser() {
	metas, _ := cmdmeta.Load()
	us := NewUsers(NewCatalog(metas), "")
	err := us.SetUser("relsvc", []string{"on", ">pw", "~*", "+@read", "+@relation", "-@write"})
	fmt.Println(err, us.Get("relsvc").CommandRules())
	// Output: <nil> -@all +@read
}
