package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/loader"
)

// Crash safety of the source of record (issue 14, defect 6): kill -9 of
// `relcache serve` in the middle of a FOLLOW/UNFOLLOW storm, with snapshots
// being taken, must leave no edge with one row of its two (or two rows
// with different times), and after a restart every cached list must equal
// the source, snapshot or not.

// sourceTables is one database handle and the qualified relation tables
// it holds.
type sourceTables struct {
	db                  *sql.DB
	following, follower []string
	intents             string // "" where the source keeps none (SQLite)
}

// sourceEdges reads every row of both kinds: following[(from,to)] = time,
// follower[(from,to)] = time.
func sourceEdges(t *testing.T, parts []sourceTables) (following, follower map[[2]uint64]uint32) {
	t.Helper()
	following, follower = map[[2]uint64]uint32{}, map[[2]uint64]uint32{}
	read := func(db *sql.DB, q string, into map[[2]uint64]uint32) {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		for rows.Next() {
			var from, to uint64
			var tm uint32
			if err := rows.Scan(&from, &to, &tm); err != nil {
				t.Fatal(err)
			}
			into[[2]uint64{from, to}] = tm
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range parts {
		for _, table := range p.following {
			read(p.db, "SELECT fromuid, touid, addtime FROM "+table, following)
		}
		for _, table := range p.follower {
			read(p.db, "SELECT fromuid, touid, addtime FROM "+table, follower)
		}
	}
	return following, follower
}

// oneSided lists the edges whose two rows disagree.
func oneSided(following, follower map[[2]uint64]uint32) []string {
	var bad []string
	for e, tm := range following {
		ft, ok := follower[e]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%d->%d: following row only (time %d)", e[0], e[1], tm))
		case ft != tm:
			bad = append(bad, fmt.Sprintf("%d->%d: following time %d, follower time %d", e[0], e[1], tm, ft))
		}
	}
	for e, tm := range follower {
		if _, ok := following[e]; !ok {
			bad = append(bad, fmt.Sprintf("%d->%d: follower row only (time %d)", e[0], e[1], tm))
		}
	}
	return bad
}

// followStorm runs FOLLOW/UNFOLLOW of overlapping edges among users from
// several clients, with reads that keep the lists cached (so the writes
// patch them) and a BGSAVE every 100ms, until stop is closed. It returns
// how many writes were acknowledged.
func followStorm(addr string, users []uint64, stop <-chan struct{}) (wait func() int64) {
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
	)
	const writers = 32
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
			defer c.Close()
			r := rand.New(rand.NewPCG(uint64(w), 14))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, b := users[r.IntN(len(users))], users[r.IntN(len(users))]
				if a == b {
					continue
				}
				var err error
				switch n := r.IntN(10); {
				case n < 5:
					// An explicit time, so a torn write shows as two times.
					err = c.Do(ctx, "FOLLOW", a, b, 1_000_000+r.IntN(1000)).Err()
				case n < 8:
					err = c.Do(ctx, "UNFOLLOW", a, b).Err()
				default:
					c.HGetAll(ctx, strconv.FormatUint(a, 10)+".following")
					c.HGetAll(ctx, strconv.FormatUint(b, 10)+".follower")
					continue
				}
				if err != nil {
					select {
					case <-stop:
						return
					default:
						time.Sleep(time.Millisecond) // the server is gone; stop is near
						continue
					}
				}
				acked.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
		defer c.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.Do(ctx, "BGSAVE")
			}
		}
	}()
	return func() int64 { wg.Wait(); return acked.Load() }
}

// crashAndCheck warms every list, runs the storm, kills the server in the
// middle of it, restarts it with start, and checks the source (no one-sided
// edges, by SQL and by `relcache repair --dry-run`) and the cache (every
// list equal to the source).
func crashAndCheck(t *testing.T, users []uint64, parts []sourceTables, repairArgs []string, start func() *relcachetest.Proc) {
	ctx := context.Background()
	p := start()
	c := client(t, p.Addr)
	for _, u := range users {
		for _, k := range []string{"following", "follower"} {
			if err := c.HGetAll(ctx, fmt.Sprintf("%d.%s", u, k)).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Three crashes: each storm has some writes between their two rows
	// when the kill lands, but not always many.
	for round := range 3 {
		if round > 0 {
			p = start()
		}
		stop := make(chan struct{})
		wait := followStorm(p.Addr, users, stop)
		storm := time.Second
		if relcachetest.RaceEnabled {
			storm *= 3 // the server and SQLite both run instrumented
		}
		time.Sleep(storm)
		p.Kill()
		close(stop)
		acked := wait()
		if acked < 20 {
			t.Fatalf("only %d writes acknowledged before the kill: the storm did not run", acked)
		}
		t.Logf("round %d: %d writes acknowledged before kill -9", round, acked)
	}

	p = start()
	for _, line := range strings.Split(p.Logs(), "\n") {
		if strings.Contains(line, "journal:") || strings.Contains(line, "snapshot: dropped") || strings.Contains(line, "snapshot: cannot") {
			t.Logf("restart: %s", line)
		}
	}
	following, follower := sourceEdges(t, parts)
	if bad := oneSided(following, follower); len(bad) > 0 {
		t.Errorf("%d one-sided edges after kill -9 and restart (of %d following rows), e.g.:\n%s",
			len(bad), len(following), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	for _, part := range parts {
		if part.intents == "" {
			continue
		}
		var n int
		if err := part.db.QueryRow("SELECT COUNT(*) FROM " + part.intents).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d intents still pending after the start", part.intents, n)
		}
	}

	out, err := exec.Command(relcachetest.Binary(t), append([]string{"repair", "--dry-run"}, repairArgs...)...).CombinedOutput()
	if err != nil {
		t.Errorf("relcache repair --dry-run: %v\n%s", err, out)
	} else if m := regexp.MustCompile(`(?m)^one-sided edges:\s+(\d+)$`).FindSubmatch(out); m == nil || string(m[1]) != "0" {
		t.Errorf("relcache repair --dry-run does not report 0 one-sided edges:\n%s", out)
	}

	// Every list, as the restarted server answers it (from the snapshot
	// or filled), equals its table.
	c = client(t, p.Addr)
	stale := 0
	for _, u := range users {
		for _, k := range []string{"following", "follower"} {
			key := fmt.Sprintf("%d.%s", u, k)
			got, err := c.HGetAll(ctx, key).Result()
			if err != nil {
				t.Fatalf("HGETALL %s: %v", key, err)
			}
			want := map[string]string{}
			for e, tm := range following {
				if k == "following" && e[0] == u {
					want[strconv.FormatUint(e[1], 10)] = strconv.FormatUint(uint64(tm), 10)
				}
			}
			for e, tm := range follower {
				if k == "follower" && e[1] == u {
					want[strconv.FormatUint(e[0], 10)] = strconv.FormatUint(uint64(tm), 10)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				stale++
				if stale <= 5 {
					t.Errorf("after restart %s = %v, the source holds %v", key, got, want)
				}
			}
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d cached lists differ from the source after restart", stale, 2*len(users))
	}
	if err := p.Stop(); err != nil {
		t.Error(err)
	}
}

// TestAdversarialKillDuringFollowStormSQLite: the embedded source.
func TestAdversarialKillDuringFollowStormSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "relcache-source.db")
	const tables = 4
	// Create the file so the test can open it beside the server.
	src, err := loader.Open(context.Background(), loader.Config{Kind: "sqlite", Path: path, Layout: loader.Layout{Tables: tables}}, true)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	part := sourceTables{db: db}
	for i := range tables {
		part.following = append(part.following, fmt.Sprintf("following_%02d", i))
		part.follower = append(part.follower, fmt.Sprintf("follower_%02d", i))
	}
	users := make([]uint64, 20)
	for i := range users {
		users[i] = uint64(i + 1)
	}
	sourceArgs := []string{"--dir", dir, "--source", "sqlite", "--source-tables", strconv.Itoa(tables)}
	crashAndCheck(t, users, []sourceTables{part}, sourceArgs, func() *relcachetest.Proc {
		return relcachetest.Start(t, append(sourceArgs, "--save", "3600 1",
			"--source-query-timeout", "30s", "--load-timeout", "30s")...)
	})
}

// TestAdversarialKillDuringFollowStormMariaDB: two databases on two mariadbd servers,
// so most edges have their rows on different servers.
func TestAdversarialKillDuringFollowStormMariaDB(t *testing.T) {
	m1, m2 := relcachetest.StartMariaDB(t), relcachetest.StartMariaDB(t)
	dir := t.TempDir()
	const dbs, tables = 2, 2
	sourceArgs := []string{"--dir", dir, "--source", "mysql", "--source-dbs", strconv.Itoa(dbs), "--source-tables", strconv.Itoa(tables),
		"--source-mysql", "0=" + m1.DSN(), "--source-mysql", "1=" + m2.DSN()}
	if out, err := exec.Command(relcachetest.Binary(t), append([]string{"schema"}, sourceArgs...)...).CombinedOutput(); err != nil {
		t.Fatalf("relcache schema: %v\n%s", err, out)
	}
	var parts []sourceTables
	for i, m := range []*relcachetest.MariaDB{m1, m2} {
		db, err := sql.Open("mysql", m.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		name := loader.Layout{DBs: dbs, Tables: tables}.DatabaseName(i)
		part := sourceTables{db: db, intents: name + ".edge_intents"}
		for j := range tables {
			part.following = append(part.following, fmt.Sprintf("%s.following_%02d", name, j))
			part.follower = append(part.follower, fmt.Sprintf("%s.follower_%02d", name, j))
		}
		parts = append(parts, part)
	}
	users := make([]uint64, 24)
	for i := range users {
		users[i] = uint64(i + 1) // uid mod 4: 0, 1 on m1; 2, 3 on m2
	}
	crashAndCheck(t, users, parts, sourceArgs, func() *relcachetest.Proc {
		return relcachetest.Start(t, append(sourceArgs, "--save", "3600 1",
			"--source-query-timeout", "30s", "--load-timeout", "30s")...)
	})
}
