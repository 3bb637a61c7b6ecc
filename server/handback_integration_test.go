//go:build linux

package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/server"
)

// ioCounts reads INFO's event loop fields. INFO is not a loop command, so
// the connection asking is handed over while it asks: it counts itself
// among io_handed_over_clients.
func ioCounts(t *testing.T, ctx context.Context, c *redis.Client) (loop, handedOver, backs int64) {
	t.Helper()
	info, err := c.Info(ctx, "clients", "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	return infoInt(t, info, "io_loop_clients"), infoInt(t, info, "io_handed_over_clients"), infoInt(t, info, "total_io_hand_backs")
}

// waitIOCounts polls INFO until the loop and handed-over counts are as
// wanted: a hand-back happens after the reply that precedes it has left,
// so a client can see its reply before its goroutine let it go.
func waitIOCounts(t *testing.T, ctx context.Context, c *redis.Client, loop, handedOver int64) int64 {
	t.Helper()
	var l, h, b int64
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if l, h, b = ioCounts(t, ctx, c); l == loop && h == handedOver {
			return b
		}
	}
	t.Fatalf("io_loop_clients %d, io_handed_over_clients %d; want %d, %d", l, h, loop, handedOver)
	return 0
}

// A connection handed over for a command the loop does not run goes back
// to its loop once it is idle, and its next commands are served there.
func TestEventLoopHandsIdleClientsBack(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop", "--log-level", "debug")
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer admin.Close()
	waitIOCounts(t, ctx, admin, 0, 1)

	nc, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	roundTrip := func(in, want string) {
		t.Helper()
		if _, err := nc.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			t.Fatalf("%q: replies %q, %v; want %q", in, got, err, want)
		}
	}
	roundTrip("SET k v\r\nHSET h 7 5\r\n", "+OK\r\n:1\r\n")
	waitIOCounts(t, ctx, admin, 1, 1)
	_, _, backs0 := ioCounts(t, ctx, admin)

	// CONFIG GET runs on the client's own goroutine, which keeps the
	// client until it has sent server.HandBackAfter commands the loop
	// can run; then, once their replies are out and nothing more is
	// pending, the client is back on the loop.
	gets, values := strings.Repeat("GET k\r\n", server.HandBackAfter), strings.Repeat("$1\r\nv\r\n", server.HandBackAfter)
	roundTrip("CONFIG GET io-model\r\n", "*2\r\n$8\r\nio-model\r\n$9\r\neventloop\r\n")
	if l, h, _ := ioCounts(t, ctx, admin); l != 0 || h != 2 {
		t.Fatalf("io_loop_clients %d, io_handed_over_clients %d after CONFIG GET; want 0, 2", l, h)
	}
	roundTrip(gets[:len(gets)-len("GET k\r\n")], values[:len(values)-len("$1\r\nv\r\n")])
	if l, h, _ := ioCounts(t, ctx, admin); l != 0 || h != 2 {
		t.Fatalf("io_loop_clients %d, io_handed_over_clients %d one GET short of the hand-back; want 0, 2", l, h)
	}
	roundTrip("GET k\r\n", "$1\r\nv\r\n")
	if b := waitIOCounts(t, ctx, admin, 1, 1); b < backs0+1 {
		t.Fatalf("total_io_hand_backs %d, want more than %d", b, backs0)
	}
	roundTrip("HGETALL h\r\nGET k\r\nGET k\r\n", "*2\r\n$1\r\n7\r\n$1\r\n5\r\n$1\r\nv\r\n$1\r\nv\r\n")
	if !p.WaitLog("handed back to its loop", 30*time.Second) {
		t.Fatalf("no hand-back logged:\n%s", p.Logs())
	}
	// Again, in one write: hand-overs and hand-backs are not once per
	// connection, and a pipeline may cross both.
	roundTrip("CONFIG GET io-model\r\n"+gets+"PING\r\n", "*2\r\n$8\r\nio-model\r\n$9\r\neventloop\r\n"+values+"+PONG\r\n")
	waitIOCounts(t, ctx, admin, 1, 1)
	roundTrip("GET k\r\n", "$1\r\nv\r\n")
}

// Clients whose pushes come from other goroutines stay on their own: a
// subscriber (which a tracking redirect sends to) and a tracking client.
func TestEventLoopKeepsPushClientsOnTheirGoroutine(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop")
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer admin.Close()

	// RESP2: a RESP3 redirect target gets invalidate pushes, which
	// go-redis's pub/sub does not read.
	subc := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1, Protocol: 2})
	defer subc.Close()
	sub := subc.Subscribe(ctx, "__redis__:invalidate")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	subID := func() int64 {
		// The subscriber's id, for the redirect: the newest client but
		// the admin connection and the tracker.
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			if strings.Contains(line, "sub=1") {
				f := strings.Fields(line)[0]
				id, _ = strconv.ParseInt(strings.TrimPrefix(f, "id="), 10, 64)
			}
		}
		if id == 0 {
			t.Fatalf("no subscriber in CLIENT LIST:\n%s", list)
		}
		return id
	}()

	tracker := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer tracker.Close()
	if err := tracker.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", subID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tracker.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatal(err)
	}
	// admin (asking), the subscriber and the tracker are all on goroutines.
	waitIOCounts(t, ctx, admin, 0, 3)
	if err := admin.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Channel != "__redis__:invalidate" || !strings.Contains(fmt.Sprint(msg.Payload, msg.PayloadSlice), "k") {
		t.Fatalf("invalidation = %+v, %v", msg, err)
	}
	if l, h, _ := ioCounts(t, ctx, admin); l != 0 || h != 3 {
		t.Fatalf("io_loop_clients %d, io_handed_over_clients %d after a push; want 0, 3", l, h)
	}
	// Tracking off: nothing keeps the tracker on its goroutine any more
	// once it has sent server.HandBackAfter commands the loop can run.
	if err := tracker.Do(ctx, "CLIENT", "TRACKING", "OFF").Err(); err != nil {
		t.Fatal(err)
	}
	pipe := tracker.Pipeline()
	for range server.HandBackAfter {
		pipe.Get(ctx, "k")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	waitIOCounts(t, ctx, admin, 1, 2)
}

// Pipelines that cross the hand-over and hand-back boundaries, on many
// connections at once, keep every reply in order (run with -race: the
// server is built with the race detector then, and a race fails its exit).
func TestEventLoopHandBackKeepsPipelinesInOrder(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop")
	ctx := context.Background()
	const conns, rounds = 16, 60
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
			defer c.Close()
			key, hkey := fmt.Sprintf("k%d", i), fmt.Sprintf("h%d", i)
			for r := range rounds {
				pipe := c.Pipeline()
				set := pipe.Set(ctx, key, r, 0)
				get1 := pipe.Get(ctx, key)
				hset := pipe.HSet(ctx, hkey, "7", r)
				cfg := pipe.ConfigGet(ctx, "io-model") // handed over here
				gets := make([]*redis.StringCmd, server.HandBackAfter)
				for g := range gets {
					gets[g] = pipe.Get(ctx, key) // enough to go back
				}
				incr := pipe.Incr(ctx, key)
				hall := pipe.HGetAll(ctx, hkey)
				echo := pipe.Echo(ctx, strings.Repeat("x", r*100))
				var name *redis.StringCmd
				if r%3 == 0 {
					pipe.Do(ctx, "CLIENT", "SETNAME", fmt.Sprintf("c%d-%d", i, r))
					name = pipe.ClientGetName(ctx)
				}
				get2 := pipe.Get(ctx, key)
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- fmt.Errorf("conn %d round %d: %w", i, r, err)
					return
				}
				want := strconv.Itoa(r)
				bad := set.Val() != "OK" || get1.Val() != want || hset.Err() != nil ||
					cfg.Val()["io-model"] != "eventloop" || incr.Val() != int64(r+1) ||
					hall.Val()["7"] != want || echo.Val() != strings.Repeat("x", r*100) ||
					get2.Val() != strconv.Itoa(r+1) ||
					(name != nil && name.Val() != fmt.Sprintf("c%d-%d", i, r))
				for _, g := range gets {
					bad = bad || g.Val() != want
				}
				if bad {
					errs <- fmt.Errorf("conn %d round %d: replies out of order: %v %v %v %v %v %v %v %v",
						i, r, set, get1, hset, cfg, incr, hall, get2, name)
					return
				}
				// A plain GET between pipelines, served wherever the
				// connection is now.
				if v, err := c.Get(ctx, key).Result(); err != nil || v != strconv.Itoa(r+1) {
					errs <- fmt.Errorf("conn %d round %d: GET = %q, %v", i, r, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer admin.Close()
	if _, _, backs := ioCounts(t, ctx, admin); backs < conns {
		t.Fatalf("total_io_hand_backs %d, want at least one per connection (%d)", backs, conns)
	}
}

// CLIENT KILL reaches connections wherever they are as they go back and
// forth between their loop and their goroutine: each killed one sees its
// connection closed, none is left counted on either side, and (with
// -race) nothing is served by two goroutines at once.
func TestEventLoopKillDuringHandBacks(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop")
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer admin.Close()
	if err := admin.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const conns = 8
	// Each write is handed over and, once answered, handed back.
	in := "CONFIG GET io-model\r\n" + strings.Repeat("GET k\r\n", server.HandBackAfter)
	want := "*2\r\n$8\r\nio-model\r\n$9\r\neventloop\r\n" + strings.Repeat("$1\r\nv\r\n", server.HandBackAfter)
	ids := make(chan int64, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		nc, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		if _, err := nc.Write([]byte("CLIENT ID\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, ":") {
			t.Fatalf("CLIENT ID = %q, %v", line, err)
		}
		id, _ := strconv.ParseInt(strings.TrimSpace(line[1:]), 10, 64)
		ids <- id
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]byte, len(want))
			for {
				if _, err := nc.Write([]byte(in)); err != nil {
					return // killed
				}
				if _, err := io.ReadFull(br, got); err != nil {
					return // killed
				}
				if string(got) != want {
					errs <- fmt.Errorf("replies %q, want %q", got, want)
					return
				}
			}
		}()
	}
	close(ids)
	for id := range ids {
		time.Sleep(20 * time.Millisecond) // let it move back and forth a while
		if err := admin.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %d: %v", id, err)
		}
	}
	wg.Wait() // every client saw its connection closed
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitIOCounts(t, ctx, admin, 0, 1)
}

// A client that sends EXEC on every request is not moved back and forth:
// each move costs a duplicated descriptor, epoll_ctl calls and a
// goroutine (measured before handBackAfter: 37-44 µs of server CPU per
// MULTI, 5 SETs, EXEC, against 15-16 staying on the goroutine).
func TestEventLoopTransactionsStayOnTheirGoroutine(t *testing.T) {
	p := relcachetest.Start(t, "--io-model", "eventloop")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer c.Close()
	for i := range 40 {
		_, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, "a", i, 0)
			pipe.Incr(ctx, "n")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	admin := redis.NewClient(&redis.Options{Addr: p.Addr, PoolSize: 1, MaxRetries: -1})
	defer admin.Close()
	if _, _, backs := ioCounts(t, ctx, admin); backs != 0 {
		t.Fatalf("total_io_hand_backs %d after 40 transactions on one connection, want 0", backs)
	}
}
