package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
)

// Regression tests for issue 14's hardening defects that live in the
// server's connection handling. The adversarial suite (adversarial_test.go)
// runs the attacks end to end.

// infoOf reads one INFO field as an integer.
func infoOf(t *testing.T, c *redis.Client, section, name string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	return infoInt(t, info, name)
}

// A 17-byte header announcing a 512 MB bulk must not make the server
// reserve 512 MB (defect 10: 24 such connections held 12.9 GB of heap).
func TestAdversarialBulkHeaders(t *testing.T) {
	p := relcachetest.Start(t)
	c := client(t, p.Addr)
	before := infoOf(t, c, "memory", "go_heap_sys")
	const conns = 8
	for range conns {
		conn, rd := rawConn(t, p.Addr)
		fmt.Fprintf(conn, "PING\r\n*1\r\n$536870912\r\n")
		if line := readLine(t, rd); line != "+PONG" {
			t.Fatalf("PING: %q", line)
		}
	}
	// The server has read every header (each PING came back first); give
	// the reads after them a moment, then look at the heap.
	time.Sleep(200 * time.Millisecond)
	after := infoOf(t, c, "memory", "go_heap_sys")
	if grew := after - before; grew > 64<<20 {
		t.Fatalf("%d connections that each sent a 512 MB bulk header grew the heap by %d MB", conns, grew>>20)
	}
}

// client-query-buffer-limit closes a client whose unfinished command grows
// past it, with no reply, as Redis does, and counts it.
func TestClientQueryBufferLimit(t *testing.T) {
	p := relcachetest.Start(t, "--client-query-buffer-limit", "1mb")
	c := client(t, p.Addr)
	conn, rd := rawConn(t, p.Addr)
	go func() {
		fmt.Fprintf(conn, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n")
		conn.Write(make([]byte, 3<<20))
	}()
	expectClosed(t, rd)
	if n := infoOf(t, c, "stats", "client_query_buffer_limit_disconnections"); n != 1 {
		t.Fatalf("client_query_buffer_limit_disconnections %d, want 1", n)
	}
	// A command under the limit is served.
	if err := c.Set(context.Background(), "k", strings.Repeat("v", 900<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// CONFIG SET timeout reaches clients already connected (defect 12: with
// timeout 0 a client's read had no deadline, and setting one later left it
// waiting forever).
func TestTimeoutReachesExistingClients(t *testing.T) {
	p := relcachetest.Start(t)
	conn, rd := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "PING\r\n")
	if line := readLine(t, rd); line != "+PONG" {
		t.Fatalf("PING: %q", line)
	}
	time.Sleep(200 * time.Millisecond) // the server is now waiting in its read
	c := client(t, p.Addr)
	if err := c.ConfigSet(context.Background(), "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	expectClosed(t, rd) // rawConn's own deadline is 10s
	t.Logf("closed %v after CONFIG SET timeout 1", time.Since(start).Round(time.Millisecond))

	// And a timeout raised while a client waits does not cut it off at
	// the old one.
	if err := c.ConfigSet(context.Background(), "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	conn2, rd2 := rawConn(t, p.Addr)
	fmt.Fprintf(conn2, "PING\r\n")
	readLine(t, rd2)
	if err := c.ConfigSet(context.Background(), "timeout", "0").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	fmt.Fprintf(conn2, "PING\r\n")
	if line := readLine(t, rd2); line != "+PONG" {
		t.Fatalf("after timeout 0: %q", line)
	}
}

// A client that stops reading its replies is held to the timeout too, even
// when it was set after the client got stuck in a write.
func TestStalledWriterReleasedByTimeout(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	if err := c.Set(ctx, "big", strings.Repeat("x", 4<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	conn, _ := rawConn(t, p.Addr)
	fmt.Fprintf(conn, "CLIENT SETNAME stuck\r\n")
	for range 16 {
		fmt.Fprintf(conn, "GET big\r\n") // 64 MB of replies nobody reads
	}
	waitFor(t, "the stuck client to be listed", func() bool {
		l, _ := c.ClientList(ctx).Result()
		return strings.Contains(l, "name=stuck")
	})
	time.Sleep(300 * time.Millisecond) // let it block in its write
	if err := c.ConfigSet(ctx, "timeout", "1").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stuck client to be closed", func() bool {
		l, _ := c.ClientList(ctx).Result()
		return !strings.Contains(l, "name=stuck")
	})
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A request the source cannot represent is refused before any load and
// counts against no breaker (defect 2: five reads of a uid ≥ 2^63 opened
// the only SQLite shard's breaker, and every cold read then failed).
func TestUnrepresentableUIDIsRefusedNotCounted(t *testing.T) {
	p := relcachetest.Start(t, "--source", "sqlite", "--load-breaker-failures", "2", "--load-breaker-cooldown", "1m")
	ctx := context.Background()
	c := client(t, p.Addr)
	for _, cmd := range [][]any{
		{"HLEN", "9223372036854775808.following"},
		{"RELCARD", "18446744073709551615.follower"},
		{"RELCHECK", "1", "9223372036854775808"},
		{"SISMEMBER", "9223372036854775808.following", "1"},
		{"FOLLOW", "9223372036854775808", "1"},
		{"FOLLOW", "1", "9223372036854775808"},
		{"HLEN", "9223372036854775808.following"},
	} {
		err := c.Do(ctx, cmd...).Err()
		if err == nil || !strings.Contains(err.Error(), "uid above 2^63-1") || strings.Contains(err.Error(), "LOADFAIL") {
			t.Fatalf("%v: %v, want a refusal naming the range", cmd, err)
		}
	}
	// The shard's breaker is closed: a cold read is served.
	if n, err := c.Do(ctx, "RELCARD", "5.following").Int64(); err != nil || n != 0 {
		t.Fatalf("RELCARD 5.following after the refusals: %d, %v", n, err)
	}
	if err := c.Do(ctx, "FOLLOW", "5", "6").Err(); err != nil {
		t.Fatalf("FOLLOW 5 6: %v", err)
	}
}

// A pathological KEYS pattern must not hold a shard's lock while it
// matches (defect 7: KEYS with a 200 KB key and a 60 KB pattern made a SET
// to the same shard wait 17 s). The only key is a long one, so KEYS is
// matching it as soon as it runs. A SET to a key of the same shard, sent
// 200ms into the match, must not wait for the match: under the lock it
// would wait for the rest of it (most of the KEYS time), outside it for
// nothing. The key grows until KEYS runs long enough to tell the two apart.
func TestAdversarialPathologicalKeys(t *testing.T) {
	p := relcachetest.Start(t, "--shards", "256")
	ctx := context.Background()
	c := client(t, p.Addr)
	kc := client(t, p.Addr, func(o *redis.Options) { o.ReadTimeout = 5 * time.Minute })
	// The backtracking matcher tries the 8 KB run of the pattern at every
	// offset of the key: 32 KB × 8 KB is about 2.5 × 10^8 steps.
	pattern := "*" + strings.Repeat("a", 8<<10) + "b"
	for size := 32 << 10; ; size *= 2 {
		if size > 4<<20 {
			t.Fatal("KEYS never ran for 400ms, even over a 4 MB key")
		}
		if err := c.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		long := "k" + strings.Repeat("a", size)
		if err := c.Set(ctx, long, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		var neighbour string
		for i := 0; ; i++ {
			neighbour = fmt.Sprintf("w%d", i)
			if xxhash.Sum64String(neighbour)&255 == xxhash.Sum64String(long)&255 {
				break
			}
		}
		keysDone := make(chan time.Time, 1)
		go func() {
			if err := kc.Keys(ctx, pattern).Err(); err != nil {
				t.Error(err)
			}
			keysDone <- time.Now()
		}()
		// Once KEYS is running it is matching the long key: the shards
		// before it are empty.
		waitFor(t, "KEYS to start", func() bool {
			l, _ := c.ClientList(ctx).Result()
			return strings.Contains(l, "cmd=keys")
		})
		keysStart := time.Now()
		time.Sleep(200 * time.Millisecond)
		setStart := time.Now()
		if err := c.Set(ctx, neighbour, "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		wait := time.Since(setStart)
		keysTook := (<-keysDone).Sub(keysStart)
		if keysTook < 400*time.Millisecond {
			continue // too short to tell: a longer key
		}
		t.Logf("%d-byte key: KEYS ran %v; the SET sent 200ms into it waited %v", size, keysTook, wait)
		if wait > keysTook/4 {
			t.Fatalf("the SET to the long key's shard waited %v of KEYS's %v: KEYS holds the shard's lock while it matches", wait, keysTook)
		}
		return
	}
}

// Two servers on one data directory would share dump.rcs (defect 11: after
// a restart both had the second node's keys); the second refuses to start
// and names the first one's pid.
func TestSecondServerOnOneDirRefused(t *testing.T) {
	dir := t.TempDir()
	first := relcachetest.Start(t, "--dir", dir)
	out, _ := relcachetest.StartFailing(t, "--dir", dir)
	want := fmt.Sprintf("in use by another relcache (pid %d)", first.PID())
	if !strings.Contains(out, want) || !strings.Contains(out, filepath.Join(dir, "relcache.lock")) {
		t.Fatalf("second server's output does not say %q and name the lock file:\n%s", want, out)
	}
	// Once the first stops, the directory is free again.
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	relcachetest.Start(t, "--dir", dir)
}

// A FIFO at dump.rcs used to hang the start silently (defect 12); it is
// refused at once, named.
func TestSnapshotThatIsAFIFORefused(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "dump.rcs"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := relcachetest.StartFailing(t, "--dir", dir)
	if !strings.Contains(out, "is a FIFO") || !strings.Contains(out, "must be a regular file") {
		t.Fatalf("output does not say the snapshot is a FIFO:\n%s", out)
	}
}

// SAVE through a link planted at dump.rcs.tmp used to overwrite the link's
// target, and dump.rcs became the link (defect 8).
func TestSaveIgnoresAPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "dump.rcs.tmp")); err != nil {
		t.Fatal(err)
	}
	p := relcachetest.Start(t, "--dir", dir)
	c := client(t, p.Addr)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("SAVE wrote through the link: the target now holds %d bytes", len(b))
	}
	if fi, err := os.Lstat(filepath.Join(dir, "dump.rcs")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("dump.rcs is %v (%v), want a regular file", fi.Mode(), err)
	}
}

// unwritableDir is a directory this process cannot create files in: a
// read-only mode for an ordinary user; for root, who ignores modes, sysfs,
// which refuses new files to everyone.
func unwritableDir(t *testing.T) string {
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	if _, err := os.Stat("/sys/kernel"); err != nil {
		t.Skipf("running as root without /sys/kernel: no unwritable directory to test with (%v)", err)
	}
	return "/sys/kernel"
}

// An unwritable data directory or SQLite directory used to fail with
// SQLite's "unable to open database file: out of memory (14)" (defect 12);
// the error now names the directory and the permission.
func TestUnwritableDirectoriesNamed(t *testing.T) {
	ro := unwritableDir(t)
	out, _ := relcachetest.StartFailing(t, "--dir", ro, "--source", "sqlite")
	if !strings.Contains(out, "data directory "+ro) || !strings.Contains(out, "permission denied") {
		t.Fatalf("an unwritable --dir: the output does not name it and the permission:\n%s", out)
	}
	out, _ = relcachetest.StartFailing(t, "--dir", t.TempDir(), "--source", "sqlite", "--source-path", filepath.Join(ro, "src.db"))
	if !strings.Contains(out, "SQLite must create files in "+ro) || !strings.Contains(out, "permission denied") {
		t.Fatalf("an unwritable --source-path directory: the output does not name it and the permission:\n%s", out)
	}
}
