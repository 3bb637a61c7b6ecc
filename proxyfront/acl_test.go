package proxyfront_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestProxyACL: the proxy's own users. A read-only relation service can
// RELCHECK, RELMULTI and HGET through the proxy but gets NOPERM, from the
// proxy, for FOLLOW, FLUSHALL, CONFIG and SHUTDOWN, with go-redis and
// redis-cli; the nodes are reached with the pool's user and password
// (AUTH user pass), which the nodes' aclfile defines.
func TestProxyACL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.acl"), []byte("user proxy on >proxypw ~* +@all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The nodes' default user is off: only the pool's user gets in.
	cl := startCluster(t, 2, "node", "--aclfile", filepath.Join(dir, "users.acl"), "--requirepass", "unused")
	conf := onePool(cl)
	conf.Extra = `users = ["` + relcachetest.RelsvcLine + `", "user admin on >adminpw ~* +@all"]` + "\n"
	conf.Pools[0].User, conf.Pools[0].Password = "proxy", "proxypw"
	// Without a password the default user would let anyone in with every
	// permission, as in Redis.
	conf.Password = "frontpw"
	px, path := startProxy(t, conf)

	ctx := context.Background()
	client := func(user, pass string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: px.Addr, Username: user, Password: pass, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, Protocol: 2})
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin := client("admin", "adminpw")
	for _, args := range relcachetest.RelsvcSetup {
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("admin %v: %v", args, err)
		}
	}
	svc := client("relsvc", "pw")
	for _, c := range relcachetest.RelsvcReads {
		got, err := svc.Do(ctx, c.Args...).Result()
		if err != nil {
			t.Errorf("relsvc %v: %v", c.Args, err)
		} else if s := fmt.Sprint(got); s != c.Want {
			t.Errorf("relsvc %v = %s, want %s", c.Args, s, c.Want)
		}
	}
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"FOLLOW", "1", "2"}, "NOPERM this user has no permissions to run the 'follow' command"},
		{[]string{"FLUSHALL"}, "NOPERM this user has no permissions to run the 'flushall' command"},
		{[]string{"SET", "k", "v"}, "NOPERM this user has no permissions to run the 'set' command"},
	}
	for _, r := range refusals {
		args := make([]any, len(r.args))
		for i, a := range r.args {
			args[i] = a
		}
		if err := svc.Do(ctx, args...).Err(); err == nil || err.Error() != r.want {
			t.Errorf("relsvc %v: %v, want %q", r.args, err, r.want)
		}
	}
	// CONFIG and SHUTDOWN: the proxy refuses them to everyone; relsvc
	// hears NOPERM first, as its permissions are checked before routing.
	for _, name := range []string{"config", "shutdown"} {
		args := []any{name}
		if name == "config" {
			args = append(args, "get", "maxmemory")
		}
		err := svc.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "NOPERM this user has no permissions to run the '"+name) {
			t.Errorf("relsvc %v: %v, want NOPERM", args, err)
		}
	}
	if err := client("relsvc", "wrong").Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: %v", err)
	}
	if err := client("", "").Do(ctx, "GET", "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("no AUTH: %v", err)
	}

	// A reload that drops relsvc and narrows admin applies to the
	// connections already authenticated as them.
	conf.Extra = `users = ["user admin on >adminpw ~* +@all -flushall"]` + "\n"
	conf.write(t, path)
	if out, err := relcachetest.ProxyReload(t, px.AdminAddr); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	if err := svc.Do(ctx, "RELCHECK", "1", "2").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Errorf("relsvc after the reload dropped it: %v", err)
	}
	if err := admin.Do(ctx, "FLUSHALL").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Errorf("admin FLUSHALL after the reload: %v", err)
	}
	if err := admin.Do(ctx, "GET", "k").Err(); err != nil && err != redis.Nil {
		t.Errorf("admin GET after the reload: %v", err)
	}
	// Put relsvc back for redis-cli.
	conf.Extra = `users = ["` + relcachetest.RelsvcLine + `"]` + "\n"
	conf.write(t, path)
	if out, err := relcachetest.ProxyReload(t, px.AdminAddr); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}

	cases := []relcachetest.CLICase{{Args: []string{"RELCHECK", "1", "2"}, Want: "3"}, {Args: []string{"SHUTDOWN"}, Want: "NOPERM"}}
	for _, r := range refusals {
		cases = append(cases, relcachetest.CLICase{Args: r.args, Want: r.want})
	}
	relcachetest.CLIExpect(t, px.Addr, "relsvc", "pw", cases...)
}

// TestHTTPUsers: the HTTP/JSON entry authenticates against the proxy's
// users (basic auth; a bearer token is the default user's password) and
// checks what they run as a RESP client's commands are checked: the
// read-only relsvc user reads relations and gets 403 NOPERM for FOLLOW.
func TestHTTPUsers(t *testing.T) {
	cl := startCluster(t, 2, "node")
	conf := onePool(cl)
	conf.Password = "frontpw"
	conf.Extra = `users = ["` + relcachetest.RelsvcLine + `"]` + "\n[http]\nlisten = \"127.0.0.1:0\"\n"
	px, _ := startProxy(t, conf)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: px.Addr, Password: "frontpw", DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	for _, args := range relcachetest.RelsvcSetup {
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	do := func(method, path, body string, auth func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+px.HTTPAddr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != nil {
			auth(req)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	for _, tc := range []struct {
		method, path, body string
		auth               func(*http.Request)
		code               int
		want               string
	}{
		{"GET", "/v1/relation?a=1&b=2", "", basic("relsvc", "pw"), 200, `{"relations":[3]}`},
		{"POST", "/v1/follow", `{"a":1,"b":4}`, basic("relsvc", "pw"), 403, `{"error":"NOPERM this user has no permissions to run the 'follow' command"}`},
		{"GET", "/v1/relation?a=1&b=2", "", basic("relsvc", "wrong"), 401, `{"error":"WRONGPASS invalid username-password pair or user is disabled."}`},
		{"GET", "/v1/relation?a=1&b=2", "", nil, 401, `{"error":"NOAUTH Authentication required."}`},
		{"GET", "/v1/relation?a=1&b=2", "", bearer("frontpw"), 200, `{"relations":[3]}`},
		{"GET", "/v1/relation?a=1&b=2", "", basic("", "frontpw"), 200, `{"relations":[3]}`},
	} {
		if code, got := do(tc.method, tc.path, tc.body, tc.auth); code != tc.code || got != tc.want {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, code, got, tc.code, tc.want)
		}
	}
}
