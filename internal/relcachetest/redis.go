package relcachetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedis runs a stock redis-server on a random port, for tests that check
// relcache against the reference. It skips the test when redis-server is not
// installed (Debian package redis-server), and under -short.
func StartRedis(t testing.TB, args ...string) string {
	t.Helper()
	SkipIfShort(t, "redis-server")
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (Debian package redis-server)")
	}
	// The port is free when chosen, not necessarily when redis-server binds
	// it: a parallel test may take it in between. A server that exits, or
	// a listener that is not this server (its INFO names another pid), is
	// retried on a fresh port.
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		full := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", t.TempDir(), "--daemonize", "no", "--loglevel", "warning"}, args...)
		cmd := command(bin, full...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() { cmd.Process.Kill(); <-exited }
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err := waitRedis(addr, cmd.Process.Pid, exited, 10*time.Second)
		if err == nil {
			t.Cleanup(stop)
			return addr
		}
		stop()
		if attempt == 3 {
			t.Fatalf("redis-server on %s: %v\n%s", addr, err, out.String())
		}
	}
}

// waitRedis waits until addr answers as the redis-server of pid.
func waitRedis(addr string, pid int, exited <-chan struct{}, d time.Duration) error {
	want := fmt.Sprintf("process_id:%d\r\n", pid)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			return errors.New("exited")
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Write([]byte("INFO server\r\n"))
		var info []byte
		if err == nil {
			info, err = readBulk(bufio.NewReader(c))
		}
		c.Close()
		if errors.Is(err, errNoAuth) {
			// A password was asked for (--requirepass): INFO cannot tell
			// whose server it is, but a redis-server that could not bind
			// has exited by now.
			time.Sleep(100 * time.Millisecond)
			select {
			case <-exited:
				return errors.New("exited")
			default:
				return nil
			}
		}
		if err != nil {
			continue // loading, or not up yet
		}
		if !bytes.Contains(info, []byte(want)) {
			return errors.New("another process listens there")
		}
		return nil
	}
	return errors.New("did not listen")
}

var errNoAuth = errors.New("NOAUTH")

// readBulk reads one bulk string reply.
func readBulk(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(line, "-NOAUTH") {
		return nil, errNoAuth
	}
	if len(line) < 3 || line[0] != '$' {
		return nil, fmt.Errorf("reply %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("reply %q", line)
	}
	b := make([]byte, n+2)
	_, err = io.ReadFull(r, b)
	return b[:n], err
}

// FreePort returns a TCP port that was free a moment ago. Only for servers
// that cannot listen on port 0 and report it; relcache itself can.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(fmt.Errorf("find a free port: %w", err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// RedisCLITLS is the path of a redis-cli built with TLS (--tls), or skips
// the test saying which package provides one.
func RedisCLITLS(t testing.TB) string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (Debian package redis-tools)")
	}
	if out, _ := exec.Command(cli, "--help").CombinedOutput(); !strings.Contains(string(out), "--tls") {
		t.Skip("this redis-cli is built without TLS (Debian's redis-tools has it)")
	}
	return cli
}
