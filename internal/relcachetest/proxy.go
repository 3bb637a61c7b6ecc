package relcachetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// StartProxy runs `relcache proxy --config configPath` with args appended
// (JSON logs, so the test can read the addresses it bound) and waits until
// it logs "relcache proxy listening". Addr and AdminAddr are what the proxy
// reports, so the config may ask for port 0. The proxy is stopped with
// SIGTERM when the test ends and must exit 0.
func StartProxy(t testing.TB, configPath string, args ...string) *Proc {
	t.Helper()
	full := []string{"proxy", "--config", configPath, "--log-format", "json"}
	// RELCACHE_TEST_PROXY_IO_MODEL runs a package's proxy tests again
	// under another io_model: RELCACHE_TEST_PROXY_IO_MODEL=eventloop go
	// test ./proxyfront/. A test's own --io-model, after it, wins.
	if m := os.Getenv("RELCACHE_TEST_PROXY_IO_MODEL"); m != "" {
		full = append(full, "--io-model", m)
	}
	full = append(full, args...)
	return startLogged(t, "relcache proxy", "relcache proxy listening", full)
}

// Limited runs the binary under `prlimit --nofile=N:N` (util-linux), so
// the process starts with soft and hard open-files limits of nofile: how a
// test sees relcache fit maxclients to a low limit. It skips the test
// without prlimit.
func Limited(t testing.TB, nofile int) []string {
	t.Helper()
	pl, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit not installed (Debian package util-linux)")
	}
	return []string{pl, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"}
}

// StartUnder is Start (wrapper nil) or StartProxy (a "proxy" first
// argument) run under wrapper, such as Limited's.
func StartUnder(t testing.TB, wrapper []string, args ...string) *Proc {
	t.Helper()
	what, ready, full := "relcache", "relcache listening", args
	if len(args) > 0 && args[0] == "proxy" {
		what, ready = "relcache proxy", "relcache proxy listening"
		full = append(slices.Clone(args), "--log-format", "json")
	} else {
		full = append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
			"--log-format", "json", "--dir", t.TempDir(), "--source", "none"}, append(envIOModel(), args...)...)
	}
	p, err := tryStart(t, what, ready, wrapper, full)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startWait bounds a start. A -race build starts in ~50 ms; CI once saw a
// proxy log its ready line just after 30 s on a machine loaded by parallel
// test packages, so the bound is generous: it only decides when a start
// that hangs is reported.
const startWait = 90 * time.Second

// startLogged runs the binary with args, copies its stderr into the Proc's
// log, and waits for the JSON log line whose msg is ready, taking the
// addresses from its addr, admin_addr and http_addr fields. It is Start's
// machinery for the other long-running subcommands.
func startLogged(t testing.TB, what, ready string, args []string) *Proc {
	t.Helper()
	p, err := tryStart(t, what, ready, nil, args)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryStart is startLogged, returning as an error a process that exited
// before it listened (so a caller may retry a port another test took).
// A wrapper, when given, is the command the binary runs under (prlimit).
func tryStart(t testing.TB, what, ready string, wrapper, args []string) (*Proc, error) {
	t.Helper()
	var cmd *exec.Cmd
	if len(wrapper) == 0 {
		cmd = command(Binary(t), args...)
	} else {
		cmd = command(wrapper[0], slices.Concat(wrapper[1:], []string{Binary(t)}, args)...)
	}
	p := &Proc{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Whatever goes to stdout is kept with the logs.
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	addrs := make(chan [4]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			p.logs.Write(append(line, '\n'))
			if sent {
				continue
			}
			var rec struct {
				Msg   string `json:"msg"`
				Addr  string `json:"addr"`
				Admin string `json:"admin_addr"`
				TLS   string `json:"tls_addr"`
				HTTP  string `json:"http_addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == ready {
				addrs <- [4]string{rec.Addr, rec.Admin, rec.TLS, rec.HTTP}
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		p.exitErr = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addrs:
		p.Addr, p.AdminAddr, p.TLSAddr, p.HTTPAddr = a[0], a[1], a[2], a[3]
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", what, p.exitErr, p.logs.String())
	case <-time.After(startWait):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not log %q within %v\n%s", what, ready, startWait, p.logs.String())
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("%s stop: %v\n%s", what, err, p.logs.String())
		}
	})
	return p, nil
}

// Signal sends sig to the running process (SIGHUP makes a proxy reload its
// config file).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitLog waits until a log line contains s, and reports whether one did
// within timeout.
func (p *Proc) WaitLog(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		if p.HasLog(s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// ProxyReload runs `relcache proxy reload --admin admin` and returns its
// combined output and exit error (nil for status 0). It fails the test if
// the command does not finish within 30 seconds.
func ProxyReload(t testing.TB, admin string) (output string, err error) {
	t.Helper()
	cmd := command(Binary(t), "proxy", "reload", "--admin", admin)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return strings.TrimSpace(out.String()), err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("relcache proxy reload --admin %s did not finish within 30s:\n%s", admin, out.String())
	}
	return "", nil
}
