package server_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestHelloAndAuthWithPassword runs HELLO and AUTH against a relcache and a
// redis-server that both require a password: where Redis 7.0 and 7.2 agree
// the replies must be Redis's bytes; where 7.2 changed HELLO (the password
// is checked after every option, and nothing applies unless all passed)
// relcache answers as 7.2. An unauthenticated client may not SHUTDOWN the
// server (the command table used to mark it no_auth, as Redis does not).
func TestHelloAndAuthWithPassword(t *testing.T) {
	redisAddr := relcachetest.StartRedis(t, "--requirepass", "s3cret")
	p := relcachetest.Start(t, "--requirepass", "s3cret")
	failOnPanicLog(t, p)
	redis, relc := dialRESP(t, redisAddr), dialRESP(t, p.Addr)
	same := func(args ...any) {
		t.Helper()
		w, g := redis.one(args...).Append(nil), relc.one(args...).Append(nil)
		if !bytes.Equal(w, g) {
			t.Errorf("%v:\nredis:    %q\nrelcache: %q", args, w, g)
		}
	}
	const noauthHello = "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
	relcacheSays := func(want string, args ...any) {
		t.Helper()
		if g := relc.one(args...).Append(nil); string(g) != want {
			t.Errorf("%v: got %q, want %q", args, g, want)
		}
	}
	// Redis 7.2 names the protocol argument in this message; 7.0 did not.
	relcacheSays(noauthHello, "HELLO", "3")
	relcacheSays(noauthHello, "HELLO", "3", "SETNAME", "early")
	same("HELLO", "3", "AUTH", "default", "wrong")
	same("HELLO", "3", "AUTH", "other", "s3cret")
	same("AUTH", "wrong")
	same("AUTH", "default", "wrong")
	same("GET", "k")
	same("SHUTDOWN")
	same("SHUTDOWN", "NOSAVE")
	relcacheSays(noauthHello, "HELLO", "2")
	// Redis 7.2: a bad name is refused before the password is tried, and
	// the last AUTH counts (7.0 answered WRONGPASS for both).
	relcacheSays("-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
		"HELLO", "3", "AUTH", "default", "wrong", "SETNAME", "bad name")
	relcacheSays("-ERR Syntax error in HELLO option 'bogus'\r\n", "HELLO", "3", "AUTH", "default", "s3cret", "bogus")
	relcacheSays("-NOAUTH Authentication required.\r\n", "CLIENT", "GETNAME")
	if v := relc.one("HELLO", "2", "AUTH", "default", "wrong", "AUTH", "default", "s3cret", "SETNAME", "late"); v.Type != '*' || len(v.Elems) != 14 {
		t.Fatalf("HELLO with a good last AUTH: %q", v.Append(nil))
	}
	relcacheSays("$4\r\nlate\r\n", "CLIENT", "GETNAME")
	// Authenticated, both agree again.
	redis.one("AUTH", "s3cret")
	same("CLIENT", "SETNAME", "")
	same("HELLO", "2", "SETNAME", "x", "bogus")
	relcacheSays("$-1\r\n", "CLIENT", "GETNAME") // Redis 7.0 had set the name x
	same("CLIENT", "SETNAME", "y")
	same("HELLO", "2", "SETNAME", "bad name")
	same("CLIENT", "GETNAME")
	same("AUTH", "default", "s3cret")
	same("AUTH", "default", "wrong")
	same("PING")
}

// one sends one command and reads its one reply (do's PING check needs an
// authenticated connection).
func (rc *respConn) one(args ...any) resp.Value {
	rc.t.Helper()
	argv := make([][]byte, len(args))
	for i, a := range args {
		argv[i] = fmt.Append(nil, a)
	}
	rc.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.conn.Write(resp.AppendCommand(nil, argv...)); err != nil {
		rc.t.Fatal(err)
	}
	v, err := rc.vr.Next()
	if err != nil {
		rc.t.Fatalf("%s: reply: %v", argv[0], err)
	}
	return v
}

// TestClientSetInfoFromGoRedis connects a stock go-redis v9 client, which
// announces itself with CLIENT SETINFO (Redis 7.2) on every connection:
// CLIENT INFO and CLIENT LIST show its lib-name and lib-ver, and
// CLIENT LIST's cmd= names the subcommand, as Redis 7 does.
func TestClientSetInfoFromGoRedis(t *testing.T) {
	p := relcachetest.Start(t)
	failOnPanicLog(t, p)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, PoolSize: 1})
	t.Cleanup(func() { c.Close() })
	info, err := c.ClientInfo(ctx).Result()
	wantName := "go-redis(," + strings.ReplaceAll(runtime.Version(), " ", "_") + ")"
	if err != nil || info.LibName != wantName || info.LibVer != redis.Version() || info.LastCmd != "client|info" {
		t.Fatalf("CLIENT INFO = %+v, %v; want lib-name %s lib-ver %s", info, err, wantName, redis.Version())
	}
	list, err := c.ClientList(ctx).Result()
	if err != nil || !strings.Contains(list, " lib-name="+wantName+" lib-ver="+redis.Version()+"\n") {
		t.Fatalf("CLIENT LIST = %q, %v", list, err)
	}
}
