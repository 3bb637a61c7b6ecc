package relcachetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MySQL source's driver
)

// MariaDB is a throwaway mariadbd for tests of the MySQL source: its own
// datadir under t.TempDir(), a random port on 127.0.0.1, root without a
// password. When RELCACHE_TEST_MYSQL_DSN is set, it is that server instead,
// and the tests that stop or pause it skip.
type MariaDB struct {
	t        testing.TB
	dsn      string
	external bool
	bin      string
	args     []string
	errLog   string
	db       *sql.DB // for Selects

	mu   sync.Mutex // guards cmd, done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// mariadbFlags trade durability for a start in well under a second and
// fast bulk writes: these servers live for one test. Commits still reach
// the OS before they return, so a killed server (Stop) keeps them.
var mariadbFlags = []string{
	"--skip-log-bin",
	"--skip-name-resolve",
	"--performance-schema=OFF",
	"--innodb-buffer-pool-size=1G",
	"--innodb-log-file-size=256M",
	"--innodb-flush-log-at-trx-commit=2",
	"--innodb-doublewrite=0",
	"--innodb-flush-method=nosync",
	"--innodb-max-dirty-pages-pct=90",
	"--max-connections=500",
}

// StartMariaDB runs mariadbd on a fresh datadir and waits until it takes
// queries; it is killed when the test ends. It skips the test when mariadbd
// is not installed (Debian package mariadb-server), and under -short, even
// with RELCACHE_TEST_MYSQL_DSN naming a server to use instead.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	SkipIfShort(t, "mariadbd")
	if dsn := os.Getenv("RELCACHE_TEST_MYSQL_DSN"); dsn != "" {
		m := &MariaDB{t: t, dsn: dsn, external: true}
		m.open()
		if err := m.ping(10 * time.Second); err != nil {
			t.Fatalf("RELCACHE_TEST_MYSQL_DSN %q: %v", dsn, err)
		}
		return m
	}
	bin := lookSbin("mariadbd")
	install := lookSbin("mariadb-install-db")
	if bin == "" || install == "" {
		t.Skip("mariadbd not found: install Debian package mariadb-server")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var user []string
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told to.
		user = []string{"--user=root"}
	}
	// Its own tmpdir: a starting mariadbd removes the "#sql" temporary
	// files it finds in its tmpdir, and in a shared /tmp those are another
	// test's install in progress ("Error on delete of '/tmp/#sql-temptable…'").
	args := append([]string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + dir,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, user...)
	out, err := exec.Command(install, append(args, mariadbFlags...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := FreePort(t)
	m := &MariaDB{
		t:      t,
		dsn:    fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port),
		bin:    bin,
		errLog: filepath.Join(dir, "error.log"),
	}
	m.args = append([]string{"--no-defaults", "--datadir=" + data,
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--tmpdir=" + dir, "--log-error=" + m.errLog}, user...)
	m.args = append(m.args, mariadbFlags...)
	m.open()
	t.Cleanup(func() {
		m.kill()
		m.db.Close()
	})
	m.start()
	return m
}

// lookSbin finds a server binary on PATH or in /usr/sbin, which a
// non-root PATH often lacks.
func lookSbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// DSN is the server's go-sql-driver/mysql data source name, without a
// database: "root@tcp(127.0.0.1:PORT)/".
func (m *MariaDB) DSN() string { return m.dsn }

// Stop kills the server (SIGKILL, as a crashed shard dies) and waits for it
// to exit; the port refuses connections until Restart.
func (m *MariaDB) Stop() {
	m.t.Helper()
	m.mustOwn("Stop")
	m.kill()
}

// Restart starts the server again on the same datadir and port (stopping it
// first if it runs) and waits until it takes queries.
func (m *MariaDB) Restart() {
	m.t.Helper()
	m.mustOwn("Restart")
	m.kill()
	m.start()
}

// Pause freezes the server with SIGSTOP: connections stay open and queries
// hang, as with a host that drops packets. Resume undoes it; a paused server
// is still killed when the test ends.
func (m *MariaDB) Pause() {
	m.t.Helper()
	m.mustOwn("Pause")
	pid := m.signal(syscall.SIGSTOP)
	// The signal stops the server's threads one by one; a query sent
	// before the last one stops could still be answered.
	for deadline := time.Now().Add(5 * time.Second); pid > 0 && !allStopped(pid); {
		if time.Now().After(deadline) {
			m.t.Fatalf("mariadbd %d: threads not stopped 5s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of process pid is stopped
// (state T in /proc), or false when /proc cannot tell.
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			return false
		}
		_, rest, _ := strings.Cut(string(b), ") ")
		if !strings.HasPrefix(rest, "T") && !strings.HasPrefix(rest, "t") {
			return false
		}
	}
	return true
}

// Resume continues a paused server.
func (m *MariaDB) Resume() {
	m.t.Helper()
	m.mustOwn("Resume")
	m.signal(syscall.SIGCONT)
}

// Selects is the server's SELECT count (Com_select), for tests that count
// the queries a cache sends. The count is server-wide.
func (m *MariaDB) Selects() int64 {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name string
	var n int64
	if err := m.db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &n); err != nil {
		m.t.Fatalf("mariadb Com_select: %v", err)
	}
	return n
}

func (m *MariaDB) mustOwn(what string) {
	m.t.Helper()
	if m.external {
		m.t.Skipf("%s needs a server of the test's own; RELCACHE_TEST_MYSQL_DSN is set", what)
	}
}

func (m *MariaDB) open() {
	db, err := sql.Open("mysql", m.dsn)
	if err != nil {
		m.t.Fatalf("mariadb dsn %q: %v", m.dsn, err)
	}
	db.SetMaxIdleConns(1)
	m.db = db
}

func (m *MariaDB) start() {
	m.t.Helper()
	cmd := command(m.bin, m.args...)
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mariadbd: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := m.ping(time.Second)
		if err == nil {
			return
		}
		select {
		case <-done:
			m.t.Fatalf("mariadbd exited before taking queries\n%s", m.logTail())
		default:
		}
		if time.Now().After(deadline) {
			m.kill()
			m.t.Fatalf("mariadbd did not take queries within 30s: %v\n%s", err, m.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *MariaDB) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return m.db.PingContext(ctx)
}

// signal sends sig to the server, if it runs, and returns its pid (0 if
// not).
func (m *MariaDB) signal(sig syscall.Signal) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	m.cmd.Process.Signal(sig)
	return m.cmd.Process.Pid
}

// kill ends the server, if it runs, and waits for it.
func (m *MariaDB) kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

func (m *MariaDB) logTail() string {
	b, _ := os.ReadFile(m.errLog)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// CPU is the processor time the server has used (user and system), read
// from /proc: with other work on the machine, server CPU per operation is a
// steadier benchmark figure than wall time. It is 0 where /proc is
// missing, and for a server RELCACHE_TEST_MYSQL_DSN names.
func (m *MariaDB) CPU() time.Duration {
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if cmd == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second on Linux).
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
