package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// runBinary runs a program to completion, with a deadline so a server that
// unexpectedly starts does not hang the test.
func runBinary(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		return string(out), nil // still running after 10s: it started
	}
	return string(out), err
}

func lookTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (Debian package redis-tools)", n)
		}
	}
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestRedisCLI drives the server with the real redis-cli: single commands,
// a --pipe bulk load of 10,000 commands and INFO.
func TestRedisCLI(t *testing.T) {
	lookTools(t, "redis-cli")
	p := relcachetest.Start(t)
	h, port := hostPort(t, p.Addr)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("redis-cli", append([]string{"-h", h, "-p", port}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := cli("", "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := cli("", "SET", "greeting", "hello world"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := cli("", "GET", "greeting"); got != "hello world" {
		t.Fatalf("GET = %q", got)
	}

	var pipe bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&pipe, "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\nval:%d\r\n",
			len(fmt.Sprint("key:", i)), i, len(fmt.Sprint("val:", i)), i)
	}
	out := cli(pipe.String(), "--pipe")
	if !strings.Contains(out, "errors: 0, replies: 10000") {
		t.Fatalf("redis-cli --pipe: %s", out)
	}
	if got := cli("", "DBSIZE"); got != "10001" {
		t.Fatalf("DBSIZE after --pipe = %q", got)
	}
	info := cli("", "INFO")
	if !strings.Contains(info, "db0:keys=10001,expires=0") || !strings.Contains(info, "redis_version:") {
		t.Fatalf("INFO:\n%s", info)
	}
	// --scan uses SCAN with a cursor until 0.
	if keys := strings.Split(cli("", "--scan", "--pattern", "key:99*"), "\n"); len(keys) != 111 {
		t.Fatalf("redis-cli --scan found %d keys, want 111", len(keys))
	}
}

// TestRedisBenchmark runs redis-benchmark against the server and fails on
// any error reply; it measures nothing (numbers live in docs/benchmarks.md).
func TestRedisBenchmark(t *testing.T) {
	lookTools(t, "redis-benchmark")
	p := relcachetest.Start(t)
	h, port := hostPort(t, p.Addr)
	cmd := exec.Command("redis-benchmark", "-h", h, "-p", port,
		"-t", "ping,set,get,incr,mset", "-n", "20000", "-q")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	// redis-benchmark stops at the first error reply, so every test having
	// its "requests per second" summary means none got an error.
	s := string(out)
	for _, test := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"} {
		if !strings.Contains(s, test+": ") || !strings.Contains(s[strings.LastIndex(s, test+": "):], "requests per second") {
			t.Errorf("redis-benchmark has no result for %s:\n%s", test, s)
		}
	}
	if strings.Contains(strings.ToLower(s), "error") || strings.Contains(s, "WARNING") {
		t.Fatalf("redis-benchmark saw errors or warnings:\n%s", s)
	}
}

// TestRedisCLITranscripts runs the scripts marked "!redis-cli" through the
// real redis-cli, one process per command with the arguments as argv, and
// compares its output (--no-raw, as on a terminal) with the transcript.
// Commands marked ">>" (unordered replies) are run but not compared.
func TestRedisCLITranscripts(t *testing.T) {
	lookTools(t, "redis-cli")
	for _, f := range scripts(t) {
		sc := parseScript(t, f)
		if !sc.redisCLI {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			p := relcachetest.Start(t, sc.flags...)
			h, port := hostPort(t, p.Addr)
			for _, b := range sc.blocks {
				if b.args == nil {
					continue
				}
				out, err := exec.Command("redis-cli", append([]string{"-h", h, "-p", port, "--no-raw"}, b.args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s: redis-cli: %v\n%s", b.cmd, err, out)
				}
				if strings.HasPrefix(b.cmd, ">> ") {
					continue
				}
				got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
				if !matchLines(b.want, got) {
					t.Errorf("%s\n got: %s\nwant: %s", b.cmd, strings.Join(got, "\n      "), strings.Join(b.want, "\n      "))
				}
			}
		})
	}
}
