//go:build linux

package server_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestRedisCLIHints types commands into an interactive redis-cli, in a
// terminal of its own, and reads the argument hint it shows after each:
// redis-cli builds them from COMMAND DOCS at start, so a command whose
// documentation lacks arguments shows none (issue 15: none did). The hints
// are redis-cli's rendering of each command's argument tree.
func TestRedisCLIHints(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (Debian package redis-tools)")
	}
	p := relcachetest.Start(t)
	failOnPanicLog(t, p)
	_, port, _ := strings.Cut(p.Addr, ":")
	for _, c := range []struct{ typed, hint string }{
		{"relmulti ", "key [BITS] [SINCE since] [UNTIL until] uid [uid ...]|BIN packed"},
		{"relcheck ", "a [SINCE since] [UNTIL until] [BATCH] b [b ...]|BIN packed"},
		{"reledge ", "ADD a b time|DEL a b [CHANGED|UNCHANGED]"},
		{"relload ", "key [TIMES] [TRUNCATED] [uid [time] [uid [time] ...]] [TRUNCATED]"},
		{"reladd k ", "[XX] [TIMES] uid [time] [uid [time] ...]"},
		{"relmembers ", "key [WITHTIMES] [SINCE since] [UNTIL until] [BEFORE time uid] [LIMIT count]"},
		{"follow ", "a b [time]"},
		{"client setinfo ", "lib-name libname|lib-ver libver"},
		{"client proxy ", "ON|OFF"},
		{"get ", "key"},
		{"set k v ", "[NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"},
	} {
		if got := cliHint(t, cli, port, c.typed); got != c.hint {
			t.Errorf("redis-cli hint after %q: %q, want %q", c.typed, got, c.hint)
		}
	}
}

// cliHint starts redis-cli on a new terminal, types typed a character at
// a time and returns the last hint it drew (redis-cli draws hints in dark
// grey: ESC[0;90;49m ... ESC[0m), waiting up to 5 s for one.
func cliHint(t *testing.T, cli, port, typed string) string {
	t.Helper()
	master, slave := openPTY(t, 24, 250)
	cmd := exec.Command(cli, "-p", port)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
	}()
	// A reader goroutine hands over what the terminal shows, answering
	// linenoise's cursor position queries (ESC[6n) as a terminal would;
	// it ends when the terminal is closed.
	chunks := make(chan []byte, 64)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 4096)
			n, err := master.Read(buf)
			if bytes.Contains(buf[:n], []byte("\x1b[6n")) {
				master.Write([]byte("\x1b[1;1R"))
			}
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var out []byte
	read := func(d time.Duration, until func() bool) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		for !until() {
			select {
			case b, ok := <-chunks:
				if !ok {
					return
				}
				out = append(out, b...)
			case <-timer.C:
				return
			}
		}
	}
	read(5*time.Second, func() bool { return bytes.Contains(out, []byte("> ")) })
	for i := range typed {
		master.Write([]byte(typed[i : i+1]))
		read(20*time.Millisecond, func() bool { return false })
	}
	const on, off = "\x1b[0;90;49m", "\x1b[0m"
	hint := func() (string, bool) {
		j := bytes.LastIndex(out, []byte(typed))
		if j < 0 { // not echoed yet: a loaded machine is slow to redraw
			return "", false
		}
		tail := out[j:]
		i := bytes.LastIndex(tail, []byte(on))
		if i < 0 {
			return "", false
		}
		h, _, ok := strings.Cut(string(tail[i+len(on):]), off)
		return h, ok
	}
	read(5*time.Second, func() bool { _, ok := hint(); return ok })
	h, _ := hint()
	return h
}

// openPTY opens a pseudo-terminal of the given size.
func openPTY(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n uint32
	var unlock int32
	ioctl := func(req uintptr, arg unsafe.Pointer) {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), req, uintptr(arg)); e != 0 {
			t.Fatalf("ioctl %#x: %v", req, e)
		}
	}
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	ws := struct{ rows, cols, x, y uint16 }{rows, cols, 0, 0}
	ioctl(syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m, s
}
