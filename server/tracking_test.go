package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/loader"
)

// Tests of client tracking that Redis cannot be the oracle for: relation
// commands, lazy fill, expiry, eviction, the table's limit, slow clients
// and concurrency. The byte-for-byte comparisons with Redis are
// TestPushScenariosAgainstRedis.

// trackConn is a raw connection for these tests: each command is followed
// by a PING with a token, and everything up to its answer is returned, so
// the pushes a command caused (its own, or another connection's) are in
// hand when it returns.
type trackConn struct {
	*pushConn
	t     *testing.T
	token int
}

func dialTrack(t *testing.T, addr string, setup ...string) *trackConn {
	t.Helper()
	c := &trackConn{pushConn: dialPush(t, addr), t: t}
	for _, s := range setup {
		c.must(strings.Fields(s)...)
	}
	return c
}

// do runs one command and returns every message up to the sync PING's
// answer: pushes and the reply, in the order they came.
func (c *trackConn) do(args ...string) []resp.Value {
	c.t.Helper()
	argv := make([][]byte, len(args))
	for i, a := range args {
		argv[i] = []byte(a)
	}
	raw := c.send(c.t, argv, false, &c.token)
	vals, err := decodeAll([]byte(raw))
	if err != nil {
		c.t.Fatalf("%s: %v in %q", args[0], err, raw)
	}
	return vals
}

// must runs a command whose reply must not be an error.
func (c *trackConn) must(args ...string) []resp.Value {
	c.t.Helper()
	vals := c.do(args...)
	for _, v := range vals {
		if v.Type == '-' {
			c.t.Fatalf("%v: %s", args, v.Str)
		}
	}
	return vals
}

func decodeAll(b []byte) ([]resp.Value, error) {
	var out []resp.Value
	for len(b) > 0 {
		v, n, err := resp.Decode(b)
		if err != nil {
			return out, err
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// invalidated lists the keys of the invalidation pushes among vals, in
// order; a null invalidation (a flush) is "*".
func invalidated(vals []resp.Value) []string {
	var keys []string
	for _, v := range vals {
		if v.Type != '>' || len(v.Elems) != 2 || string(v.Elems[0].Str) != "invalidate" {
			continue
		}
		if v.Elems[1].Null {
			keys = append(keys, "*")
		}
		for _, k := range v.Elems[1].Elems {
			keys = append(keys, string(k.Str))
		}
	}
	return keys
}

func sorted(s []string) []string { slices.Sort(s); return s }

// Relation commands whose keys are built from uids register the lists they
// actually read, and every way a list changes (RELADD, RELDEL, RELEDGE,
// RELLOAD, a SET) invalidates it.
func TestTrackingRelationReads(t *testing.T) {
	p := relcachetest.Start(t)
	w := dialTrack(t, p.Addr)
	w.must("RELLOAD", "1.following", "2", "3")
	w.must("RELLOAD", "2.following", "1")
	w.must("RELLOAD", "3.following", "4")
	tc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")

	// RELCHECK a b...: a's list and each b's, cached or not (a miss is an
	// answer too: -1, which a list appearing must invalidate).
	tc.must("RELCHECK", "1", "BATCH", "2", "5")
	if got := sorted(invalidated(w.must("RELADD", "5.following", "1"))); len(got) != 0 {
		t.Fatalf("the writer was sent %q", got)
	}
	if got := invalidated(tc.do("PING")); !slices.Equal(got, []string{"5.following"}) {
		t.Fatalf("after RELADD 5.following (read by RELCHECK 1 2 5 while missing): invalidated %q", got)
	}
	w.must("RELDEL", "2.following", "1")
	w.must("RELEDGE", "ADD", "1", "9", "100")
	if got := sorted(invalidated(tc.do("PING"))); !slices.Equal(got, []string{"1.following", "2.following"}) {
		t.Fatalf("after RELDEL 2.following and RELEDGE ADD 1 9: invalidated %q", got)
	}

	// RELFOLLOWS x u...: each u's list.
	tc.must("RELFOLLOWS", "1", "2", "3")
	w.must("SET", "3.following", "x")
	w.must("DEL", "2.following")
	if got := sorted(invalidated(tc.do("PING"))); !slices.Equal(got, []string{"2.following", "3.following"}) {
		t.Fatalf("after changes to lists RELFOLLOWS read: invalidated %q", got)
	}

	// RELWHO a x: a's list and the list of each user a follows.
	w.must("RELLOAD", "1.following", "2", "3")
	w.must("RELLOAD", "2.following", "7")
	w.must("RELLOAD", "3.following", "7")
	tc.must("RELWHO", "1", "7")
	w.must("RELADD", "3.following", "8")
	if got := invalidated(tc.do("PING")); !slices.Equal(got, []string{"3.following"}) {
		t.Fatalf("after RELADD to a list RELWHO probed: invalidated %q", got)
	}
	w.must("RELADD", "1.following", "4")
	if got := invalidated(tc.do("PING")); !slices.Equal(got, []string{"1.following"}) {
		t.Fatalf("after RELADD to RELWHO's own list: invalidated %q", got)
	}

	// RELCOMMON a b: both lists. Hash reads: their one key.
	tc.must("RELCOMMON", "2", "3")
	tc.must("HEXISTS", "1.following", "2")
	w.must("RELLOAD", "2.following", "1")
	w.must("RELADD", "3.following", "1")
	w.must("RELDEL", "1.following", "2")
	if got := sorted(invalidated(tc.do("PING"))); !slices.Equal(got, []string{"1.following", "2.following", "3.following"}) {
		t.Fatalf("after changes to RELCOMMON's and HEXISTS's lists: invalidated %q", got)
	}
	// Writes register nothing.
	tc.must("RELADD", "6.following", "1")
	w.must("RELADD", "6.following", "2")
	if got := invalidated(tc.do("PING")); len(got) != 0 {
		t.Fatalf("a key only written by the tracking client was invalidated: %q", got)
	}
}

// With a source, a read that misses fills the list before it answers. The
// fill is a change (it stores the list), so the tracking client is sent
// its invalidation; it comes before the reply, which shows the filled
// list, and the list stays registered after it: FOLLOW's patch of it
// afterwards is announced.
func TestTrackingLazyFill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "graph.db")
	src, err := loader.Open(ctx, loader.Config{Kind: "sqlite", Path: path, Layout: loader.Layout{Tables: 4}, QueryTimeout: time.Minute}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AddEdges(ctx, []loader.Edge{{From: 1, To: 2, Time: 100}, {From: 2, To: 1, Time: 200}}); err != nil {
		t.Fatal(err)
	}
	src.Close()
	p := relcachetest.Start(t, "--source", "sqlite", "--source-path", path, "--source-tables", "4", "--load-timeout", "1m")
	tc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	vals := tc.must("RELCHECK", "1", "2")
	last := vals[len(vals)-1]
	if last.Type != ':' || last.Int != 3 {
		t.Fatalf("RELCHECK 1 2 on a cold cache: %+v, want the reply 3 last", vals)
	}
	if got := sorted(invalidated(vals)); !slices.Equal(got, []string{"1.following", "2.following"}) {
		t.Fatalf("RELCHECK 1 2 filled two lists: invalidations before the reply %q", got)
	}
	w := dialTrack(t, p.Addr)
	w.must("FOLLOW", "1", "5")
	if got := invalidated(tc.do("PING")); !slices.Equal(got, []string{"1.following"}) {
		t.Fatalf("FOLLOW 1 5 patches 1.following, which RELCHECK read: invalidated %q", got)
	}
	// A GET of a relation key fills it the same way.
	vals = tc.must("GET", "3.following")
	if got := invalidated(vals); !slices.Equal(got, []string{"3.following"}) || vals[len(vals)-1].Type != '$' {
		t.Fatalf("GET 3.following on a cold cache: %+v", vals)
	}
	w.must("FOLLOW", "3", "1")
	if got := invalidated(tc.do("PING")); !slices.Equal(got, []string{"3.following"}) {
		t.Fatalf("FOLLOW 3 1 after GET 3.following: invalidated %q", got)
	}
}

// Keys that leave by themselves — expiry, eviction — are invalidated too.
func TestTrackingExpiryAndEviction(t *testing.T) {
	p := relcachetest.Start(t)
	w := dialTrack(t, p.Addr)
	tc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	w.must("SET", "short", "v", "PX", "100")
	tc.must("GET", "short")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := invalidated(tc.do("PING")); slices.Equal(got, []string{"short"}) {
			break
		} else if len(got) > 0 {
			t.Fatalf("waiting for the expiry of short: invalidated %q", got)
		}
		if time.Now().After(deadline) {
			t.Fatal("no invalidation 10s after a tracked key's 100ms TTL ran out")
		}
		time.Sleep(20 * time.Millisecond)
	}

	w.must("SET", "big", strings.Repeat("x", 100_000))
	tc.must("GET", "big")
	w.must("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
	w.must("CONFIG", "SET", "maxmemory", "1")
	w.do("SET", "other", "1") // evicts what it can, then OOM
	w.must("CONFIG", "SET", "maxmemory", "0")
	if got := invalidated(tc.do("PING")); !slices.Contains(got, "big") {
		t.Fatalf("after maxmemory evicted everything: invalidated %q", got)
	}
}

// tracking-table-max-keys bounds the table: past it, entries are dropped
// and their clients told, as if the keys had changed. INFO reports the
// table as Redis does.
func TestTrackingTableLimit(t *testing.T) {
	p := relcachetest.Start(t)
	w := dialTrack(t, p.Addr)
	if got := w.must("CONFIG", "GET", "tracking-table-max-keys"); len(got) != 1 || len(got[0].Elems) != 2 || string(got[0].Elems[1].Str) != "1000000" {
		t.Fatalf("CONFIG GET tracking-table-max-keys: %+v", got)
	}
	if got := w.do("CONFIG", "SET", "tracking-table-max-keys", "-1"); got[0].Type != '-' ||
		string(got[0].Str) != "ERR CONFIG SET failed (possibly related to argument 'tracking-table-max-keys') - argument must be between 0 and 9223372036854775807 inclusive" {
		t.Fatalf("CONFIG SET tracking-table-max-keys -1: %q", got[0].Str)
	}
	w.must("CONFIG", "SET", "tracking-table-max-keys", "10")
	tc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	var dropped []string
	for i := range 50 {
		dropped = append(dropped, invalidated(tc.must("GET", "k"+strconv.Itoa(i)))...)
	}
	info := string(w.must("INFO", "stats")[0].Str) + string(w.must("INFO", "clients")[0].Str)
	keys := infoInt(t, info, "tracking_total_keys")
	if keys > 10 || infoInt(t, info, "tracking_total_items") != keys || infoInt(t, info, "tracking_clients") != 1 {
		t.Fatalf("50 keys read with tracking-table-max-keys 10:\n%s", info)
	}
	if len(dropped) != 50-int(keys) {
		t.Fatalf("%d keys dropped from the table (%d left), but %d invalidations: %q", 50-keys, keys, len(dropped), dropped)
	}
	// What was dropped is no longer tracked; what is left still is.
	for i := range 50 {
		w.must("SET", "k"+strconv.Itoa(i), "v")
	}
	rest := invalidated(tc.do("PING"))
	if len(rest) != int(keys) {
		t.Fatalf("writes to all 50 keys invalidated %d (%q), want the %d still tracked", len(rest), rest, keys)
	}
	for _, k := range rest {
		if slices.Contains(dropped, k) {
			t.Fatalf("%s was invalidated twice: dropped from the table, then written", k)
		}
	}
	// 0 lifts the limit.
	w.must("CONFIG", "SET", "tracking-table-max-keys", "0")
	for i := range 50 {
		tc.must("GET", "k"+strconv.Itoa(i))
	}
	info = string(w.must("INFO", "stats")[0].Str)
	if got := infoInt(t, info, "tracking_total_keys"); got != 50 {
		t.Fatalf("tracking_total_keys = %d with no limit after 50 reads", got)
	}
	tc.must("CLIENT", "TRACKING", "off")
	info = string(w.must("INFO", "clients")[0].Str)
	if got := infoInt(t, info, "tracking_clients"); got != 0 {
		t.Fatalf("tracking_clients = %d after CLIENT TRACKING off", got)
	}
}

// A client that stops reading its pushes is closed when they pass
// client-output-buffer-limit; the publishers and writers that caused them
// never wait for it.
func TestPushesToAClientThatStopsReading(t *testing.T) {
	p := relcachetest.Start(t, "--client-output-buffer-limit", "1mb")
	for _, mode := range []string{"pubsub", "bcast"} {
		t.Run(mode, func(t *testing.T) {
			w := dialTrack(t, p.Addr)
			before := infoInt(t, string(w.must("INFO", "stats")[0].Str), "client_output_buffer_limit_disconnections")
			slow := dialTrack(t, p.Addr)
			slow.conn.(*net.TCPConn).SetReadBuffer(4096)
			if mode == "pubsub" {
				slow.must("SUBSCRIBE", "ch")
			} else {
				slow.must("HELLO", "3")
				slow.must("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "big:")
			}
			// From here on, slow reads nothing.
			payload := strings.Repeat("x", 64<<10)
			start := time.Now()
			for i := range 400 { // 25 MB: more than any socket buffers
				if mode == "pubsub" {
					w.must("PUBLISH", "ch", payload)
				} else {
					w.must("SET", "big:"+strconv.Itoa(i)+payload, "v")
				}
			}
			if d := time.Since(start); d > time.Minute {
				t.Fatalf("400 writes took %v: the writer waited for the client that does not read", d)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				info := string(w.must("INFO", "stats")[0].Str)
				if infoInt(t, info, "client_output_buffer_limit_disconnections") > before {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the client that stopped reading was not closed:\n%s", info)
				}
				time.Sleep(10 * time.Millisecond)
			}
			waitGone(t, w.pushConn, slow.id)
		})
	}
}

// A tracking client's cache is never stale once the writes stop. Writers
// change keys while a RESP3 client reads them through a cache of its own,
// the way client libraries keep one: a reply is cached, an invalidation
// drops the key. Replies and pushes come interleaved on one connection and
// must parse strictly (no push inside a reply). The run is cut into short
// phases; at the end of each, with the writers stopped, every cached value
// must be the server's. A race between a read and a write it did not see
// shows as a stale value that no later write repairs.
func TestTrackingCacheNeverStale(t *testing.T) {
	p := relcachetest.Start(t)
	const nkeys = 8
	key := func(i int) string { return "key" + strconv.Itoa(i) }
	writers := make([]*redis.Client, 3)
	for i := range writers {
		writers[i] = client(t, p.Addr)
	}
	check := client(t, p.Addr)
	r := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	cache := map[string]string{}
	apply := func(vals []resp.Value, asked []string) {
		i := 0
		for _, v := range vals {
			if v.Type == '>' {
				for _, k := range invalidated([]resp.Value{v}) {
					delete(cache, k)
				}
				continue
			}
			if i < len(asked) {
				if v.Null {
					cache[asked[i]] = "<nil>"
				} else {
					cache[asked[i]] = string(v.Str)
				}
			}
			i++
		}
		if i != len(asked) {
			t.Fatalf("%d replies for %d GETs: %+v", i, len(asked), vals)
		}
	}
	rng := rand.New(rand.NewPCG(9, 9))
	hits, stale, phases := 0, 0, 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && stale == 0; phases++ {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for wi, w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				wrng := rand.New(rand.NewPCG(uint64(wi), uint64(phases)))
				for n := 0; !stop.Load(); n++ {
					k, v := key(wrng.IntN(nkeys)), fmt.Sprint(phases, "-", wi, "-", n)
					var err error
					switch wrng.IntN(4) {
					case 0:
						err = w.Del(ctx, k).Err()
					case 1:
						err = w.MSet(ctx, k, v, key(wrng.IntN(nkeys)), v).Err()
					default:
						err = w.Set(ctx, k, v, 0).Err()
					}
					if err != nil {
						t.Errorf("writer: %v", err)
						return
					}
				}
			}()
		}
		for range 20 {
			// A pipeline of GETs for keys not cached.
			var asked []string
			var b []byte
			for range 1 + rng.IntN(8) {
				k := key(rng.IntN(nkeys))
				if _, ok := cache[k]; ok {
					hits++
					continue
				}
				asked = append(asked, k)
				b = resp.AppendCommand(b, []byte("GET"), []byte(k))
			}
			r.token++
			tok := "sync-" + strconv.Itoa(r.token)
			b = resp.AppendCommand(b, []byte("PING"), []byte(tok))
			r.conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := r.conn.Write(b); err != nil {
				t.Fatal(err)
			}
			var vals []resp.Value
			for {
				v, err := r.vr.Next()
				if err != nil {
					t.Fatalf("reading replies and pushes: %v", err)
				}
				if string(v.Str) == tok {
					break
				}
				vals = append(vals, v)
			}
			apply(vals, asked)
		}
		stop.Store(true)
		wg.Wait()
		// Every write has been answered, so its invalidation is queued:
		// the next sync collects it.
		for _, k := range invalidated(r.do("PING")) {
			delete(cache, k)
		}
		for k, v := range cache {
			server, err := check.Get(context.Background(), k).Result()
			if errors.Is(err, redis.Nil) {
				server = "<nil>"
			} else if err != nil {
				t.Fatal(err)
			}
			if server != v {
				stale++
				t.Errorf("phase %d: %s cached %q, the server has %q", phases, k, v, server)
			}
		}
	}
	t.Logf("%d phases, %d reads served from the cache, %d stale", phases, hits, stale)
}

// CLIENT LIST shows tracking and pub/sub state as Redis does: flags P
// (subscriptions), t (tracking), R (broken redirect), B (BCAST); sub, psub
// and redir. A client with subscriptions is exempt from the idle timeout.
func TestTrackingAndPubSubInClientList(t *testing.T) {
	p := relcachetest.Start(t, "--timeout", "1")
	sub := dialTrack(t, p.Addr, "SUBSCRIBE a b", "PSUBSCRIBE p*")
	tr := dialTrack(t, p.Addr, "CLIENT TRACKING on REDIRECT "+strconv.FormatInt(sub.id, 10))
	bc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on BCAST")
	// bc speaks RESP3: the listing is a verbatim string, "txt:" first.
	list := strings.TrimPrefix(string(bc.must("CLIENT", "LIST")[0].Str), "txt:")
	for _, want := range []string{
		fmt.Sprintf("id=%d .* flags=P db=0 sub=2 psub=1 .* redir=-1 resp=2 lib-name= lib-ver=", sub.id),
		fmt.Sprintf("id=%d .* flags=t db=0 sub=0 psub=0 .* redir=%d resp=2 lib-name= lib-ver=", tr.id, sub.id),
		fmt.Sprintf("id=%d .* flags=tB .* redir=0 resp=3 lib-name= lib-ver=", bc.id),
	} {
		if !matchLine(list, want) {
			t.Errorf("CLIENT LIST has no line like %q:\n%q", want, list)
		}
	}
	if got := strings.TrimPrefix(string(bc.must("CLIENT", "LIST", "TYPE", "pubsub")[0].Str), "txt:"); !strings.HasPrefix(got, fmt.Sprintf("id=%d ", sub.id)) || strings.Count(got, "\n") != 1 {
		t.Errorf("CLIENT LIST TYPE pubsub:\n%s", got)
	}
	// The subscriber outlives the 1s idle timeout; the others do not.
	time.Sleep(2500 * time.Millisecond)
	pub := dialTrack(t, p.Addr)
	if got := pub.must("PUBLISH", "a", "still here")[0]; got.Int != 1 {
		t.Fatalf("PUBLISH to the subscriber after 2.5s idle with timeout 1: %d receivers", got.Int)
	}
	waitGone(t, pub.pushConn, tr.id)
	if v, raw, err := sub.vr.NextRaw(); err != nil || string(v.Elems[2].Str) != "still here" {
		t.Fatalf("the subscriber's message: %q %v", raw, err)
	}
}

func matchLine(text, pattern string) bool {
	re := regexp.MustCompile("^" + pattern + "$")
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// Entries of clients that left do not pile up: a key read by many short
// tracking connections and never written keeps the ids of live clients
// only (pruned as its list grows), and once no client tracks, the table
// is empty.
func TestTrackingTableForgetsClientsThatLeft(t *testing.T) {
	p := relcachetest.Start(t)
	w := dialTrack(t, p.Addr)
	w.must("SET", "hot", "v")
	long := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	long.must("GET", "hot")
	for range 100 {
		c := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
		c.must("GET", "hot")
		c.conn.Close()
		waitGone(t, w.pushConn, c.id)
	}
	info := string(w.must("INFO", "stats")[0].Str)
	if keys, items := infoInt(t, info, "tracking_total_keys"), infoInt(t, info, "tracking_total_items"); keys != 1 || items > 16 {
		t.Fatalf("after 100 short tracking connections read one key: %d keys, %d ids (want 1 key, at most 16 ids)", keys, items)
	}
	if got := invalidated(long.do("PING")); len(got) != 0 {
		t.Fatalf("the long-lived client was sent %q", got)
	}
	w.must("SET", "hot", "w")
	if got := invalidated(long.do("PING")); !slices.Equal(got, []string{"hot"}) {
		t.Fatalf("the long-lived client, after hot changed: %q", got)
	}
	long.must("GET", "hot")
	long.must("CLIENT", "TRACKING", "off")
	info = string(w.must("INFO", "stats")[0].Str)
	if keys, items := infoInt(t, info, "tracking_total_keys"), infoInt(t, info, "tracking_total_items"); keys != 0 || items != 0 {
		t.Fatalf("with no client tracking: %d keys, %d ids in the table", keys, items)
	}
}

// A bi-follow list is computed from following lists, never stored, so no
// change to its own key would ever announce that it changed: a tracking
// client that reads one is told at once that it cannot keep it.
func TestTrackingBifollowIsNeverKept(t *testing.T) {
	p := relcachetest.Start(t)
	w := dialTrack(t, p.Addr)
	w.must("RELLOAD", "1.following", "2")
	w.must("RELLOAD", "2.following", "1")
	tc := dialTrack(t, p.Addr, "HELLO 3", "CLIENT TRACKING on")
	vals := tc.must("RELMEMBERS", "1.bifollow")
	if got := invalidated(vals); !slices.Equal(got, []string{"1.bifollow"}) || vals[0].Type != '*' {
		t.Fatalf("reading 1.bifollow: %v, invalidated %q after the reply", vals, got)
	}
}
