package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/openhash"
)

// keyState is what a key looks like from outside: its type, its bytes
// (GET answers both strings and relation sets) and its TTL.
type keyState struct {
	typ  string
	val  string
	pttl time.Duration
}

// dumpKeyspace reads every key of the server through SCAN, TYPE, GET, PTTL.
func dumpKeyspace(t *testing.T, c *redis.Client) map[string]keyState {
	t.Helper()
	ctx := context.Background()
	out := map[string]keyState{}
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		val, err := c.Get(ctx, k).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", k, err)
		}
		pttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = keyState{typ, val, pttl}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func infoField(t *testing.T, c *redis.Client, section, field string) string {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s:\n%s", section, field, info)
	return ""
}

// waitBgsave waits for a running background save to end.
func waitBgsave(t *testing.T, c *redis.Client) {
	t.Helper()
	for infoField(t, c, "persistence", "rdb_bgsave_in_progress") == "1" {
		time.Sleep(5 * time.Millisecond)
	}
}

// relSet builds a relation set of n members, with or without times.
func relSet(t *testing.T, rng *mrand.Rand, n int, withTimes, truncated bool) []byte {
	t.Helper()
	uids := make([]uint64, n)
	var times []uint32
	if withTimes {
		times = make([]uint32, n)
	}
	for i := range uids {
		uids[i] = 1_000_000_000 + uint64(i)*7 + rng.Uint64N(7)
		if withTimes {
			times[i] = 1_600_000_000 + rng.Uint32N(100_000_000)
		}
	}
	// Odd sizes in version 3 (rel-set-format compact), even in version 1.
	version := []int{0, openhash.VersionSmallest}[n%2]
	b, err := openhash.Build(nil, uids, times, openhash.Options{Seed: rng.Uint64(), Truncated: truncated, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotRoundTrip: strings with and without TTLs and relation sets of
// every size survive SAVE and a restart identical, key by key; a key whose
// TTL passes while the server is down is not loaded.
func TestSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	ctx := context.Background()
	c := client(t, p.Addr)
	rng := mrand.New(mrand.NewPCG(1, 1))
	pipe := c.Pipeline()
	for i := range 2000 {
		v := make([]byte, rng.IntN(300))
		rand.Read(v)
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Duration(1+rng.IntN(1000)) * time.Minute
		}
		pipe.Set(ctx, fmt.Sprint("s:", i), v, ttl)
	}
	pipe.Set(ctx, "empty", "", 0)
	for i, n := range []int{0, 1, 2, 10, 100, 300, 3000, 20000} {
		pipe.Set(ctx, fmt.Sprint(1000+i, ".following"), relSet(t, rng, n, true, false), 0)
		pipe.Set(ctx, fmt.Sprint(1000+i, ".follower"), relSet(t, rng, n, i%2 == 0, n > 100), time.Hour)
	}
	pipe.Do(ctx, "RELLOAD", "7.following", "TIMES", 1, 100, 2, 200)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	before := dumpKeyspace(t, c)
	// In the file, expired by the restart: the loader must skip it.
	shortSet := time.Now()
	if err := c.Set(ctx, "short", "gone by the restart", 2*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	last, _ := c.LastSave(ctx).Result()
	if time.Since(time.Unix(last, 0)) > time.Minute {
		t.Fatalf("LASTSAVE %d is not now", last)
	}
	if got := infoField(t, c, "persistence", "rdb_changes_since_last_save"); got != "0" {
		t.Fatalf("changes since save %s", got)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(shortSet.Add(2100 * time.Millisecond))) // let "short" expire while down

	p2 := relcachetest.Start(t, "--dir", dir, "--save", "")
	c2 := client(t, p2.Addr)
	after := dumpKeyspace(t, c2)
	if _, ok := after["short"]; ok {
		t.Error("a key whose TTL passed while down was loaded")
	}
	if got := infoField(t, c2, "persistence", "rdb_last_load_keys_expired"); got != "1" {
		t.Errorf("rdb_last_load_keys_expired %s, want 1", got)
	}
	if len(after) != len(before) {
		t.Fatalf("%d keys after restart, %d before", len(after), len(before))
	}
	for k, b := range before {
		a, ok := after[k]
		switch {
		case !ok:
			t.Fatalf("key %q lost", k)
		case a.typ != b.typ || a.val != b.val:
			t.Fatalf("key %q changed: %s %d bytes -> %s %d bytes", k, b.typ, len(b.val), a.typ, len(a.val))
		case (b.pttl < 0) != (a.pttl < 0) || a.pttl > b.pttl:
			t.Fatalf("key %q TTL %v -> %v", k, b.pttl, a.pttl)
		}
	}
	if got := infoField(t, c2, "persistence", "rdb_last_load_keys_loaded"); got != strconv.Itoa(len(before)) {
		t.Fatalf("rdb_last_load_keys_loaded %s, want %d", got, len(before))
	}
	// Relation commands work on the loaded sets.
	if n, err := c2.Do(ctx, "RELCARD", "1006.following").Int64(); err != nil || n != 3000 {
		t.Fatalf("RELCARD after load: %d, %v", n, err)
	}
}

// TestSnapshotCrashDuringBgsave kills the server (SIGKILL) while a BGSAVE
// is writing: the restart loads the previous snapshot, whole.
func TestSnapshotCrashDuringBgsave(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	ctx := context.Background()
	c := client(t, p.Addr)
	val := func(i int) string { return strings.Repeat(strconv.Itoa(i%10), 1000) + strconv.Itoa(i) }
	pipe := c.Pipeline()
	for i := range 1000 {
		pipe.Set(ctx, fmt.Sprint("first:", i), val(i), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "dump.rcs"))
	if err != nil {
		t.Fatal(err)
	}
	// Enough more data that the next save takes a while: 400 MB.
	big := make([]byte, 1<<20)
	rand.Read(big)
	for i := range 400 {
		if err := c.Set(ctx, fmt.Sprint("big:", i), big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "dump.rcs.tmp")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if fi, err := os.Stat(tmp); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background save never started writing")
		}
	}
	p.Kill()
	if infoBytes, _ := os.ReadFile(filepath.Join(dir, "dump.rcs")); !bytes.Equal(infoBytes, good) {
		t.Fatal("the previous snapshot changed while a save was being written")
	}
	p2 := relcachetest.Start(t, "--dir", dir, "--save", "")
	c2 := client(t, p2.Addr)
	if n, err := c2.DBSize(ctx).Result(); err != nil || n != 1000 {
		t.Fatalf("after the crash: %d keys (%v), want the 1000 of the previous snapshot", n, err)
	}
	for _, i := range []int{0, 1, 500, 999} {
		if v, err := c2.Get(ctx, fmt.Sprint("first:", i)).Result(); err != nil || v != val(i) {
			t.Fatalf("first:%d after the crash: %v", i, err)
		}
	}
}

// TestSnapshotConsistentDuringWrites: relation sets edited by RELADD
// (ten members per command) while a BGSAVE runs come back holding whole
// commands only: every set is a prefix of its additions, in steps of ten.
func TestSnapshotConsistentDuringWrites(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	ctx := context.Background()
	c := client(t, p.Addr)
	const keys = 20
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() { done <- err }()
		for round := 0; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			pipe := c.Pipeline()
			for k := range keys {
				a := []any{"RELADD", fmt.Sprint(k, ".following"), "TIMES"}
				for j := range 10 {
					a = append(a, round*10+j+1, 1_600_000_000+round)
				}
				pipe.Do(ctx, a...)
			}
			if _, err = pipe.Exec(ctx); err != nil {
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond)
	for range 3 {
		if err := c.BgSave(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		waitBgsave(t, c)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := infoField(t, c, "persistence", "rdb_last_bgsave_status"); st != "ok" {
		t.Fatalf("bgsave status %s", st)
	}
	p.Kill() // no final save: the restart sees the last BGSAVE's file
	p2 := relcachetest.Start(t, "--dir", dir, "--save", "")
	c2 := client(t, p2.Addr)
	for k := range keys {
		key := fmt.Sprint(k, ".following")
		n, err := c2.Do(ctx, "RELCARD", key).Int64()
		if err != nil || n == 0 || n%10 != 0 {
			t.Fatalf("%s after restart: %d members (%v), want a positive multiple of 10", key, n, err)
		}
		members, err := c2.Do(ctx, "RELMEMBERS", key).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range members {
			seen[m] = true
		}
		for i := 1; i <= int(n); i++ {
			if !seen[strconv.Itoa(i)] {
				t.Fatalf("%s: %d members but %d missing: not a prefix of the writes", key, n, i)
			}
		}
	}
}

// TestSnapshotSaveFailures: an unwritable directory and a full disk make
// SAVE and BGSAVE fail visibly (reply, INFO, metrics); the server keeps
// serving and the previous snapshot stays as it was.
func TestSnapshotSaveFailures(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	ctx := context.Background()
	c := client(t, p.Addr)
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "dump.rcs")
	good, _ := os.ReadFile(snap)
	tmp := snap + ".tmp"
	for _, tc := range []struct {
		name  string
		setup func() error
		want  string
	}{
		// Root ignores permission bits, so "unwritable" is the temp
		// file's name taken by a directory. (A full disk is
		// TestSnapshotSaveDiskFull's.)
		{"unwritable", func() error { return os.Mkdir(tmp, 0o755) }, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.setup(); err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(tmp)
			c.Set(ctx, "b", tc.name, 0)
			err := c.Save(ctx).Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SAVE: %v, want an error with %q", err, tc.want)
			}
			// The failed save cleaned its temp name up (a symlink is
			// removed, never its target): set the trap again.
			os.RemoveAll(tmp)
			if err := tc.setup(); err != nil {
				t.Fatal(err)
			}
			if err := c.BgSave(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			waitBgsave(t, c)
			if st := infoField(t, c, "persistence", "rdb_last_bgsave_status"); st != "err" {
				t.Fatalf("rdb_last_bgsave_status %s after a failed BGSAVE", st)
			}
			if v, err := c.Get(ctx, "b").Result(); err != nil || v != tc.name {
				t.Fatalf("the server stopped serving: %v", err)
			}
			if now, _ := os.ReadFile(snap); !bytes.Equal(now, good) {
				t.Fatal("a failed save changed the previous snapshot")
			}
		})
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatalf("SAVE once the directory is writable again: %v", err)
	}
	if st := infoField(t, c, "persistence", "rdb_last_bgsave_status"); st != "ok" {
		t.Fatalf("status after a good save: %s", st)
	}
}

// TestSnapshotSaveDiskFull: a real ENOSPC, on a data directory that is a
// 1 MiB tmpfs, fails SAVE and BGSAVE visibly and leaves the previous
// snapshot and no temporary file. (It used to plant a link to /dev/full at
// dump.rcs.tmp, which worked only because SAVE followed links there: issue
// 14, defect 8.)
func TestSnapshotSaveDiskFull(t *testing.T) {
	relcachetest.SkipIfShort(t, "mount, and the relcache binary") // before the mount
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	t.Cleanup(func() { p.Stop() }) // before the unmount
	ctx := context.Background()
	c := client(t, p.Addr)
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "dump.rcs")
	good, _ := os.ReadFile(snap)
	big := make([]byte, 2<<20)
	rand.Read(big) // incompressible, in case the format ever compresses
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("SAVE on a full disk: %v, want ENOSPC", err)
	}
	if err := c.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitBgsave(t, c)
	if st := infoField(t, c, "persistence", "rdb_last_bgsave_status"); st != "err" {
		t.Fatalf("rdb_last_bgsave_status %s after a failed BGSAVE", st)
	}
	if now, _ := os.ReadFile(snap); !bytes.Equal(now, good) {
		t.Fatal("a failed save changed the previous snapshot")
	}
	if _, err := os.Lstat(snap + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("a failed save left its temporary file: %v", err)
	}
	if err := c.Del(ctx, "big").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatalf("SAVE once there is room again: %v", err)
	}
}

// TestSnapshotCorruptRefusesStart: a flipped byte or a cut file stops the
// start with the file and offset named; snapshot-on-corrupt=skip starts
// empty and keeps the bad file aside.
func TestSnapshotCorruptRefusesStart(t *testing.T) {
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "")
	ctx := context.Background()
	c := client(t, p.Addr)
	rng := mrand.New(mrand.NewPCG(3, 3))
	for i := range 50 {
		c.Set(ctx, fmt.Sprint(i, ".following"), relSet(t, rng, 500, true, false), 0)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	snap := filepath.Join(dir, "dump.rcs")
	good, _ := os.ReadFile(snap)
	for name, bad := range map[string][]byte{
		"flipped": func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0x40; return b }(),
		"cut":     good[:len(good)*2/3],
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(snap, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := relcachetest.StartFailing(t, "--dir", dir, "--save", "")
			if err == nil || !strings.Contains(out, snap) || !strings.Contains(out, "offset") {
				t.Fatalf("start on a %s snapshot: %v\n%s", name, err, out)
			}
			if now, _ := os.ReadFile(snap); !bytes.Equal(now, bad) {
				t.Fatal("a refused start changed the file")
			}
		})
	}
	p2 := relcachetest.Start(t, "--dir", dir, "--save", "", "--snapshot-on-corrupt", "skip")
	c2 := client(t, p2.Addr)
	if n, _ := c2.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("skip loaded %d keys of a corrupt file", n)
	}
	aside, _ := filepath.Glob(snap + ".corrupt-*")
	if _, err := os.Stat(snap); len(aside) != 1 || err == nil {
		t.Fatalf("the corrupt file was not moved aside: %v", aside)
	}
}

// TestSnapshotRulesAndShutdown: a save rule fires on its own; SHUTDOWN
// saves when rules are set and SHUTDOWN NOSAVE does not.
func TestSnapshotRulesAndShutdown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := relcachetest.Start(t, "--dir", dir, "--save", "1 1")
	c := client(t, p.Addr)
	if got, _ := c.ConfigGet(ctx, "save").Result(); got["save"] != "1 1" {
		t.Fatalf("CONFIG GET save = %v", got)
	}
	c.Set(ctx, "k", "v", 0)
	for deadline := time.Now().Add(20 * time.Second); infoField(t, c, "persistence", "rdb_saves") == "0"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the save rule never fired")
		}
	}
	c.Set(ctx, "after-rule", "v", 0)
	c.Do(ctx, "SHUTDOWN")
	if err := p.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	p2 := relcachetest.Start(t, "--dir", dir, "--save", "3600 1")
	c2 := client(t, p2.Addr)
	if n, _ := c2.Exists(ctx, "k", "after-rule").Result(); n != 2 {
		t.Fatalf("SHUTDOWN did not save: %d of 2 keys", n)
	}
	c2.Set(ctx, "nosave", "v", 0)
	c2.Do(ctx, "SHUTDOWN", "NOSAVE")
	if err := p2.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	p3 := relcachetest.Start(t, "--dir", dir, "--save", "")
	c3 := client(t, p3.Addr)
	if n, _ := c3.Exists(ctx, "nosave").Result(); n != 0 {
		t.Fatal("SHUTDOWN NOSAVE saved")
	}
	if err := c3.ConfigSet(ctx, "save", "10").Err(); err == nil {
		t.Fatal("CONFIG SET save accepted an odd list")
	}
}
