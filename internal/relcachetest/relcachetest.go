// Package relcachetest starts the real relcache binary for integration
// tests: built once per test process from this module's source, run on
// random ports, stopped with SIGTERM when the test ends.
//
// Every helper that starts a process (Binary, and so Start, StartFailing,
// StartProxy and ProxyReload; StartRedis; StartMariaDB) skips its test
// under go test -short, which is how make unit runs the unit tests alone,
// in seconds.
package relcachetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// SkipIfShort skips t under go test -short, which runs no test that
// starts a process; what names the process, for the skip message.
func SkipIfShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: this test starts %s", what)
	}
}

// binaryEnv hands the built binary's path to the test processes this one
// starts (fuzz workers, re-executed tests), so they do not build it again: a
// fuzz worker still building when -fuzztime runs out is killed.
func binaryEnv() string {
	if RaceEnabled {
		return "RELCACHETEST_BINARY_RACE"
	}
	return "RELCACHETEST_BINARY"
}

// Binary builds cmd/relcache (once per test process tree) and returns its
// path. It skips the test under -short.
func Binary(t testing.TB) string {
	t.Helper()
	SkipIfShort(t, "the relcache binary")
	buildOnce.Do(func() {
		if p := os.Getenv(binaryEnv()); p != "" {
			if _, err := os.Stat(p); err == nil {
				binPath = p
				return
			}
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "relcache-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "relcache")
		args := []string{"build", "-o", binPath}
		if RaceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/relcache")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/relcache: %w\n%s", err, out)
			return
		}
		os.Setenv(binaryEnv(), binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is a running relcache server.
type Proc struct {
	Addr      string // RESP address, host:port
	AdminAddr string // admin HTTP address, or "-"
	TLSAddr   string // TLS address (tls-port), or "-" or "" when off
	HTTPAddr  string // a proxy's HTTP/JSON entry, or "-" (or "" for a node)
	cmd       *exec.Cmd
	logs      *syncBuffer
	done      chan struct{}
	exitErr   error
	killed    bool
}

// Start runs `relcache serve` on random ports with args appended and waits
// until it listens. The server is stopped when the test ends; a server that
// exits non-zero on that stop fails the test. Unless args name a --source,
// the server runs as a pure cache (--source none), so a miss stays a miss;
// tests of lazy fill pass their source.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	full := []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--log-format", "json", "--dir", t.TempDir()}
	if !slices.ContainsFunc(args, func(a string) bool { return a == "--source" || strings.HasPrefix(a, "--source=") }) {
		full = append(full, "--source", "none")
	}
	full = append(append(full, envIOModel()...), args...)
	return startLogged(t, "relcache", "relcache listening", full)
}

// envIOModel passes RELCACHE_TEST_IO_MODEL on as --io-model, so a
// package's integration tests can run again under the event loop:
// RELCACHE_TEST_IO_MODEL=eventloop go test ./server/. A test's own
// --io-model, after it, wins.
func envIOModel() []string {
	if m := os.Getenv("RELCACHE_TEST_IO_MODEL"); m != "" {
		return []string{"--io-model", m}
	}
	return nil
}

// StartTLS is Start with --tls-port on a free port: tls-port 0 means no
// TLS (as in Redis), so the port is picked here, and picked again when
// another process took it before the server bound it.
func StartTLS(t testing.TB, args ...string) *Proc {
	t.Helper()
	var err error
	for range 5 {
		full := []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
			"--log-format", "json", "--dir", t.TempDir(), "--source", "none",
			"--tls-port", strconv.Itoa(FreePort(t))}
		full = append(full, envIOModel()...)
		var p *Proc
		if p, err = tryStart(t, "relcache", "relcache listening", nil, append(full, args...)); err == nil {
			return p
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatal(err)
	return nil
}

// Stop sends SIGTERM and waits for the process; it returns an error if the
// process does not exit cleanly (status 0) within 15 seconds. Stopping a
// process that already exited reports how it exited.
func (p *Proc) Stop() error {
	select {
	case <-p.done:
		if p.killed {
			return nil
		}
		return p.exitErr
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("relcache did not exit within 15s of SIGTERM")
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Proc) Kill() {
	p.killed = true
	p.cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to exit on its own (after SHUTDOWN, say).
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr
	case <-time.After(timeout):
		return fmt.Errorf("relcache still running after %v", timeout)
	}
}

// StartFailing runs `relcache serve` with args (on random ports, like
// Start) for a test that expects it to refuse to start: it returns
// everything the process printed and its exit error. Starting to listen fails
// the test.
func StartFailing(t testing.TB, args ...string) (output string, exitErr error) {
	t.Helper()
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--log-format", "json", "--source", "none"}, args...)
	cmd := command(Binary(t), full...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if strings.Contains(out.String(), "relcache listening") {
			t.Fatalf("relcache started listening:\n%s", out.String())
		}
		return out.String(), err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("relcache neither failed nor exited within 30s:\n%s", out.String())
	}
	return "", nil
}

// PID is the server's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Logs returns what the server logged so far.
func (p *Proc) Logs() string { return p.logs.String() }

// HasLog reports whether a log line contains s.
func (p *Proc) HasLog(s string) bool { return strings.Contains(p.logs.String(), s) }

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
