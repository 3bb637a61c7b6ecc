package relcachetest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
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
	full := append([]string{"proxy", "--config", configPath, "--log-format", "json"}, args...)
	return startLogged(t, "relcache proxy", "relcache proxy listening", full)
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
	p := &Proc{cmd: command(Binary(t), args...), logs: &syncBuffer{}, done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Whatever goes to stdout is kept with the logs.
	p.cmd.Stdout = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	addrs := make(chan [3]string, 1)
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
				HTTP  string `json:"http_addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == ready {
				addrs <- [3]string{rec.Addr, rec.Admin, rec.HTTP}
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
		p.Addr, p.AdminAddr, p.HTTPAddr = a[0], a[1], a[2]
	case <-p.done:
		t.Fatalf("%s exited before listening: %v\n%s", what, p.exitErr, p.logs.String())
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
	return p
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
