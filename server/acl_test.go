package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/redisdiff"
	"github.com/relcache/relcache/internal/relcachetest"
)

const relsvcRules = relcachetest.RelsvcRules

// aclClient is a go-redis client of the server, as user (default: the
// default user).
func aclClient(t *testing.T, addr, user, pass string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: pass, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

func do(t *testing.T, c *redis.Client, args ...any) (any, error) {
	t.Helper()
	return c.Do(context.Background(), args...).Result()
}

func mustDo(t *testing.T, c *redis.Client, args ...any) any {
	t.Helper()
	v, err := do(t, c, args...)
	if err != nil && err != redis.Nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func setUser(t *testing.T, c *redis.Client, name, rules string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name}
	for _, r := range strings.Fields(rules) {
		args = append(args, r)
	}
	mustDo(t, c, args...)
}

// relsvcRefusals are what a read-only relation service must not run.
var relsvcRefusals = []struct {
	args []string
	want string
}{
	{[]string{"FOLLOW", "1", "2"}, "NOPERM this user has no permissions to run the 'follow' command"},
	{[]string{"FLUSHALL"}, "NOPERM this user has no permissions to run the 'flushall' command"},
	{[]string{"CONFIG", "GET", "maxmemory"}, "NOPERM this user has no permissions to run the 'config|get' command"},
	{[]string{"CONFIG", "SET", "requirepass", "x"}, "NOPERM this user has no permissions to run the 'config|set' command"},
	{[]string{"SHUTDOWN"}, "NOPERM this user has no permissions to run the 'shutdown' command"},
}

// TestACLReadOnlyRelationUser: a relsvc user can read relations and
// hashes but not write, flush, configure or stop the server, through
// go-redis and redis-cli; the refusals and a wrong password are in ACL LOG.
func TestACLReadOnlyRelationUser(t *testing.T) {
	p := relcachetest.Start(t)
	admin := aclClient(t, p.Addr, "", "")
	setUser(t, admin, "relsvc", relsvcRules)
	for _, args := range relcachetest.RelsvcSetup {
		mustDo(t, admin, args...)
	}

	svc := aclClient(t, p.Addr, "relsvc", "pw")
	mustDo(t, svc, "HLEN", "1.following")
	if v := mustDo(t, admin, "CLIENT", "LIST"); !strings.Contains(v.(string), " user=relsvc ") {
		t.Fatalf("CLIENT LIST does not show relsvc:\n%v", v)
	}
	// As in Redis, ACL WHOAMI is @slow only, and relsvc has no @slow.
	if _, err := do(t, svc, "ACL", "WHOAMI"); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("relsvc ACL WHOAMI: %v", err)
	}
	for _, c := range relcachetest.RelsvcReads {
		got, err := do(t, svc, c.Args...)
		if err != nil && err != redis.Nil {
			t.Errorf("relsvc %v: %v", c.Args, err)
		} else if s := fmt.Sprint(got); s != c.Want {
			t.Errorf("relsvc %v = %s, want %s", c.Args, s, c.Want)
		}
	}
	for _, r := range relsvcRefusals {
		args := make([]any, len(r.args))
		for i, a := range r.args {
			args[i] = a
		}
		if _, err := do(t, svc, args...); err == nil || err.Error() != r.want {
			t.Errorf("relsvc %v: %v, want %q", r.args, err, r.want)
		}
	}

	// redis-cli, the same user.
	cases := []relcachetest.CLICase{{Args: []string{"RELCHECK", "1", "2"}, Want: "3"}}
	for _, r := range relsvcRefusals {
		cases = append(cases, relcachetest.CLICase{Args: r.args, Want: r.want})
	}
	relcachetest.CLIExpect(t, p.Addr, "relsvc", "pw", cases...)

	// A wrong password: WRONGPASS, and ACL LOG says who tried.
	bad := aclClient(t, p.Addr, "relsvc", "nope")
	if _, err := do(t, bad, "PING"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
	log := mustDo(t, admin, "ACL", "LOG").([]any)
	var reasons []string
	for _, e := range log {
		m := e.(map[any]any)
		reasons = append(reasons, m["reason"].(string)+":"+m["object"].(string)+":"+m["username"].(string))
	}
	all := strings.Join(reasons, " ")
	for _, want := range []string{"auth:", "command:flushall:relsvc", "command:follow:relsvc", "command:config|get:relsvc", "command:shutdown:relsvc"} {
		if !strings.Contains(all, want) {
			t.Errorf("ACL LOG has no %q: %s", want, all)
		}
	}
	if v := mustDo(t, admin, "PING"); v != "PONG" {
		t.Fatal("server stopped")
	}
}

// TestACLTransaction: a refused command inside MULTI aborts the
// transaction, as Redis checks at queue time; rules changed after queueing
// are checked again at EXEC.
func TestACLTransaction(t *testing.T) {
	p := relcachetest.Start(t)
	admin := aclClient(t, p.Addr, "", "")
	setUser(t, admin, "tx", "on >pw ~* +@all")
	c := aclClient(t, p.Addr, "tx", "pw")
	ctx := context.Background()
	conn := c.Conn()
	defer conn.Close()
	send := func(args ...any) *redis.Cmd {
		cmd := redis.NewCmd(ctx, args...)
		_ = conn.Process(ctx, cmd)
		return cmd
	}
	mustOK := func(args ...any) {
		t.Helper()
		if err := send(args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	mustOK("MULTI")
	mustOK("GET", "a")
	mustOK("SET", "k", "v")
	setUser(t, admin, "tx", "-set")
	res, err := send("EXEC").Slice()
	if err != nil || len(res) != 2 {
		t.Fatalf("EXEC: %v %v", res, err)
	}
	if e, ok := res[1].(error); !ok || !strings.HasPrefix(e.Error(), "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call.") {
		t.Fatalf("EXEC's SET: %v", res[1])
	}
	if v, _ := do(t, admin, "EXISTS", "k"); v != int64(0) {
		t.Fatal("the refused SET ran")
	}
	mustOK("MULTI")
	if err := send("SET", "k", "v").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("queued SET: %v", err)
	}
	if err := send("EXEC").Err(); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("EXEC after a refusal: %v", err)
	}
}

// TestACLFile: ACL SAVE writes the aclfile, a restart loads it, a save
// that cannot complete leaves the old file whole, and a bad file stops the
// start naming its line.
func TestACLFile(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir)
	admin := aclClient(t, p.Addr, "", "")
	setUser(t, admin, "relsvc", relsvcRules)
	mustDo(t, admin, "ACL", "SAVE")
	want := mustDo(t, admin, "ACL", "LIST")
	file := filepath.Join(dir, "users.acl")
	saved, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(saved), "user relsvc on #") {
		t.Fatalf("aclfile: %q %v", saved, err)
	}

	// Atomic: with the temporary file's name taken by a directory the save
	// fails, and the file keeps its old users.
	setUser(t, admin, "other", "on nopass")
	if err := os.Mkdir(file+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := do(t, admin, "ACL", "SAVE"); err == nil {
		t.Fatal("ACL SAVE over a directory succeeded")
	}
	if now, _ := os.ReadFile(file); string(now) != string(saved) {
		t.Fatalf("a failed save changed the aclfile:\n%s", now)
	}
	os.Remove(file + ".tmp")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	p2 := relcachetest.Start(t, "--dir", dir)
	admin2 := aclClient(t, p2.Addr, "", "")
	if got := mustDo(t, admin2, "ACL", "LIST"); strings.Join(toStrings(got), "\n") != strings.Join(toStrings(want), "\n") {
		t.Fatalf("after restart ACL LIST = %v, want %v", got, want)
	}
	svc := aclClient(t, p2.Addr, "relsvc", "pw")
	if _, err := do(t, svc, "FLUSHALL"); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("relsvc FLUSHALL after restart: %v", err)
	}
	if err := p2.Stop(); err != nil {
		t.Fatal(err)
	}

	// A bad file stops the start, naming the line.
	if err := os.WriteFile(file, []byte("user a on >x\nuser b on nosuchrule\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(relcachetest.Binary(t), "serve", "--addr", "127.0.0.1:0", "--admin-addr", "-",
		"--source", "none", "--dir", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), file+":2: Syntax error.") {
		t.Fatalf("start with a bad aclfile: %v\n%s", err, out)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestACLRedisDifferential runs the same ACL commands, AUTHs and refused
// commands on relcache and on redis-server and compares the reply bytes.
func TestACLRedisDifferential(t *testing.T) {
	redisAddr := relcachetest.StartRedis(t)
	p := relcachetest.Start(t, "--aclfile", "-") // as redis-server without one
	run := redisdiff.Runner{Redis: redisAddr, Relcache: p.Addr}
	var steps []redisdiff.Step
	add := func(conn int, line string) {
		steps = append(steps, redisdiff.Step{Conn: conn, Args: strings.Fields(line)})
	}
	for _, l := range []string{
		"ACL SETUSER relsvc on >pw ~* +@read -@write", "ACL GETUSER relsvc", "ACL GETUSER nosuch",
		"ACL SETUSER bad on foo", "ACL GETUSER bad", "ACL SETUSER ro on >p %R~r* %W~w* +@all", "ACL LIST", "ACL USERS",
		"ACL DELUSER default", "ACL DRYRUN ro SET r1 x", "ACL DRYRUN ro GET r1", "ACL DRYRUN ro nosuchcmd",
		"ACL DRYRUN nobody GET x", "ACL DRYRUN ro GET", "ACL CAT nosuch", "ACL GENPASS 0", "ACL GENPASS 4097",
		"ACL LOG x", "ACL LOG 1 2", "ACL WHOAMI", "ACL HELP", "ACL NOSUCH", "ACL SETUSER", "AUTH x",
		"AUTH default anything", "ACL SAVE", "ACL LOAD",
	} {
		add(0, l)
	}
	for _, l := range []string{
		"AUTH ro wrong", "AUTH nobody x", "AUTH ro p", "ACL WHOAMI", "GET r1", "SET r1 x", "SET w1 x", "GET w1",
		"SET w1 x GET", "MGET r1 w1", "EXISTS w1", "MULTI", "GET r1", "SET r1 x", "EXEC", "AUTH relsvc pw", "SET a b",
		"FLUSHALL", "CONFIG GET maxmemory", "GET r1",
	} {
		add(1, l)
	}
	// Pub/Sub channels: a channel must match a pattern, a PSUBSCRIBE
	// pattern equal one.
	add(0, "ACL SETUSER ps on >p +@all ~* resetchannels &news.* &exact")
	add(0, "ACL DRYRUN ps PUBLISH other x")
	add(0, "ACL DRYRUN ps PUBLISH news.1 x")
	for _, l := range []string{"AUTH ps p", "PUBLISH news.1 x", "PUBLISH other x", "SUBSCRIBE news.1 other",
		"PSUBSCRIBE news.x", "MULTI", "PUBLISH other x", "EXEC", "PSUBSCRIBE news.*"} {
		add(2, l)
	}
	add(0, "ACL GETUSER ps")
	add(0, "ACL DELUSER ro relsvc nosuch")
	// requirepass is the default user's password.
	add(0, "ACL SETUSER default >other")
	add(0, "CONFIG SET requirepass secret")
	add(0, "ACL GETUSER default")
	for _, l := range []string{"GET x", "AUTH other", "AUTH secret", "GET x", "AUTH default secret", "ACL WHOAMI"} {
		add(3, l)
	}
	steps = append(steps, redisdiff.Step{Args: []string{"CONFIG", "SET", "requirepass", ""}})
	add(0, "ACL LIST")
	add(0, "ACL LOG RESET")
	add(0, "ACL LOG")
	res, err := run.Run(steps)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Divergence; d != nil {
		t.Fatal(d)
	}
}

// TestACLLogAgainstRedis: the same refusals and failed AUTHs on relcache
// and redis-server leave the same ACL LOG, but for age-seconds and
// client-info (which describe the process): entries, order, counts
// (refusals alike within 60 s are grouped) and fields.
func TestACLLogAgainstRedis(t *testing.T) {
	logOf := func(addr string) []string {
		admin := aclClient(t, addr, "", "")
		setUser(t, admin, "ro", "on >p ~r* resetchannels &news +@all -flushall")
		ro := aclClient(t, addr, "ro", "p")
		for _, args := range [][]any{{"FLUSHALL"}, {"GET", "x"}, {"FLUSHALL"}, {"SET", "y", "1"}, {"PUBLISH", "other", "m"},
			{"MULTI"}, {"GET", "z"}, {"DISCARD"}, {"AUTH", "ro", "wrong"}, {"AUTH", "nobody", "x"}, {"AUTH", "ro", "wrong"}} {
			_, _ = do(t, ro, args...)
		}
		entries := mustDo(t, admin, "ACL", "LOG").([]any)
		var out []string
		for _, e := range entries {
			m := e.(map[any]any)
			out = append(out, fmt.Sprintf("count=%v reason=%v context=%v object=%v username=%v fields=%d",
				m["count"], m["reason"], m["context"], m["object"], m["username"], len(m)))
		}
		mustDo(t, admin, "ACL", "LOG", "RESET")
		return out
	}
	want := logOf(relcachetest.StartRedis(t))
	got := logOf(relcachetest.Start(t).Addr)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ACL LOG:\n%s\nredis-server's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d entries alike", len(want))
}
