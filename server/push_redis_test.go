package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestPushScenariosAgainstRedis runs the scripts in testdata/push — client
// tracking and pub/sub, over several connections — against a real
// redis-server and against relcache, and holds every byte each connection
// receives to Redis's: replies, invalidation pushes, pub/sub messages, and
// their order.
//
// A script line "N> COMMAND args" sends a command on connection N (opened
// on first use); "$idN" in it stands for connection N's client id. "N?>"
// sends it without comparing that connection's bytes for this step (a
// reply whose content is the server's own, like HELLO's). "close N" closes
// connection N and waits until the server has let it go.
//
// After each step every connection is synchronized: the stepping one first
// gets its reply (at least one message), then each connection is sent
// PING with a token and read up to its answer, so everything a step caused
// (a push to another connection, a self-invalidation after the reply) is
// collected before the next step, in the order it arrived. Connections in
// MULTI are not synchronized (their PING would be queued); their bytes are
// collected at their EXEC. Client ids differ between the servers: both are
// first taken past 200 so that an id cannot be mistaken for an ordinary
// integer, and each is written as $idN before comparing.
func TestPushScenariosAgainstRedis(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "push", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no push scenarios: %v", err)
	}
	redisAddr := relcachetest.StartRedis(t)
	p := relcachetest.Start(t)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			steps := parsePushScript(t, f)
			want := runPushScript(t, redisAddr, steps)
			got := runPushScript(t, p.Addr, steps)
			for i := range steps {
				if got[i] != want[i] {
					t.Errorf("%s:%d %s\n relcache: %q\n redis:    %q", f, steps[i].line, steps[i].text, got[i], want[i])
				}
			}
		})
	}
}

type pushStep struct {
	line    int
	text    string
	conn    int
	args    []string
	close   bool
	unCheck bool // don't compare the stepping connection's bytes
}

func parsePushScript(t *testing.T, path string) []pushStep {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []pushStep
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		st := pushStep{line: n, text: line}
		if rest, ok := strings.CutPrefix(line, "close "); ok {
			st.close = true
			st.conn, err = strconv.Atoi(rest)
		} else {
			head, cmd, ok := strings.Cut(line, ">")
			if !ok {
				t.Fatalf("%s:%d: want \"N> COMMAND\" or \"close N\"", path, n)
			}
			head, st.unCheck = strings.CutSuffix(head, "?")
			st.conn, err = strconv.Atoi(head)
			st.args = strings.Fields(cmd)
		}
		if err != nil || st.conn < 0 || st.conn > 9 {
			t.Fatalf("%s:%d: bad connection number", path, n)
		}
		steps = append(steps, st)
	}
	return steps
}

// pushConn is one connection of a script run.
type pushConn struct {
	conn   net.Conn
	vr     *resp.ValueReader
	id     int64
	inTx   bool
	closed bool
}

// runPushScript runs steps on a server and returns, per step, what every
// connection received, normalized.
func runPushScript(t *testing.T, addr string, steps []pushStep) []string {
	t.Helper()
	ctl := dialPush(t, addr)
	for ctl.id < 200 { // take ids past small integers (see the test's doc)
		c := dialPush(t, addr)
		c.conn.Close()
		ctl.id = c.id
	}
	conns := map[int]*pushConn{}
	get := func(n int) *pushConn {
		if conns[n] == nil {
			conns[n] = dialPush(t, addr)
		}
		return conns[n]
	}
	// Open every connection a script names first, so that ids are known.
	for _, st := range steps {
		get(st.conn)
	}
	out := make([]string, len(steps))
	token := 0
	for i, st := range steps {
		c := conns[st.conn]
		var b strings.Builder
		if st.close {
			c.conn.Close()
			c.closed = true
			waitGone(t, ctl, c.id)
		} else {
			argv := make([][]byte, len(st.args))
			for j, a := range st.args {
				if n, ok := strings.CutPrefix(a, "$id"); ok {
					k, _ := strconv.Atoi(n)
					a = strconv.FormatInt(get(k).id, 10)
				}
				argv[j] = []byte(a)
			}
			name := strings.ToUpper(st.args[0])
			// In MULTI (and for MULTI itself) a PING would be queued: read
			// the one reply.
			one := name == "MULTI" || (c.inTx && name != "EXEC" && name != "DISCARD")
			mine := c.send(t, argv, one, &token)
			switch {
			case name == "MULTI" && mine == "+OK\r\n":
				c.inTx = true
			case name == "EXEC" || name == "DISCARD":
				c.inTx = false
			}
			if !st.unCheck {
				fmt.Fprintf(&b, "%d:%s", st.conn, mine)
			}
		}
		for n := range 10 {
			o := conns[n]
			if o == nil || n == st.conn || o.closed || o.inTx {
				continue
			}
			if got := o.sync(t, &token); got != "" {
				fmt.Fprintf(&b, " %d:%s", n, got)
			}
		}
		s := b.String()
		for n, o := range conns {
			s = strings.ReplaceAll(s, ":"+strconv.FormatInt(o.id, 10)+"\r\n", ":$id"+strconv.Itoa(n)+"\r\n")
		}
		out[i] = s
	}
	return out
}

func dialPush(t *testing.T, addr string) *pushConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &pushConn{conn: conn, vr: resp.NewValueReader(conn)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	conn.Write(resp.AppendCommand(nil, []byte("CLIENT"), []byte("ID")))
	v, err := c.vr.Next()
	if err != nil || v.Type != ':' {
		t.Fatalf("CLIENT ID: %v %v", v, err)
	}
	c.id = v.Int
	return c
}

// send sends one command and returns the bytes it brought: in MULTI its one
// reply; otherwise its first message, then everything up to a PING sent
// after it (sent only once the first came back, so that the server has
// finished the command, and whatever it sends when it has, first).
func (c *pushConn) send(t *testing.T, argv [][]byte, one bool, token *int) string {
	t.Helper()
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(resp.AppendCommand(nil, argv...)); err != nil {
		t.Fatal(err)
	}
	_, raw, err := c.vr.NextRaw()
	if err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	if one {
		return string(raw)
	}
	return string(raw) + c.sync(t, token)
}

// sync sends PING with a fresh token and returns what came before its
// answer: a bulk string, or ["pong", token] on a RESP2 connection with
// subscriptions.
func (c *pushConn) sync(t *testing.T, token *int) string {
	t.Helper()
	*token++
	tok := "sync-" + strconv.Itoa(*token)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(resp.AppendCommand(nil, []byte("PING"), []byte(tok))); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for {
		v, raw, err := c.vr.NextRaw()
		if err != nil {
			t.Fatalf("waiting for PING %s: %v (after %q)", tok, err, b.Bytes())
		}
		if string(v.Str) == tok || (v.Type == '*' && len(v.Elems) == 2 && string(v.Elems[1].Str) == tok) {
			return b.String()
		}
		b.Write(raw)
	}
}

// waitGone waits until the server no longer lists client id.
func waitGone(t *testing.T, ctl *pushConn, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctl.conn.SetDeadline(time.Now().Add(30 * time.Second))
		ctl.conn.Write(resp.AppendCommand(nil, []byte("CLIENT"), []byte("LIST"), []byte("ID"), []byte(strconv.FormatInt(id, 10))))
		v, err := ctl.vr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Str) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("client %d still listed 30s after its connection closed", id)
}
