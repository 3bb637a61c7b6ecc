package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestRueidisClientSideCache connects rueidis with its default options,
// which turn on server-assisted client-side caching (HELLO 3, CLIENT
// TRACKING ON OPTIN, then CLIENT CACHING YES + MULTI + PTTL + the read +
// EXEC for each DoCache miss), and checks that a cached read is served
// from the client's memory until another client changes the key, and then
// shows the change: a string, a relation set read through HEXISTS, and a
// FLUSHALL.
func TestRueidisClientSideCache(t *testing.T) {
	ctx := context.Background()
	p := relcachetest.Start(t)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.Addr}})
	if err != nil {
		t.Fatalf("rueidis with default options (client-side caching on): %v", err)
	}
	t.Cleanup(rc.Close)
	w := client(t, p.Addr)

	get := func(key string) (string, bool) {
		t.Helper()
		r := rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), time.Hour)
		v, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			return "<nil>", r.IsCacheHit()
		}
		if err != nil {
			t.Fatalf("DoCache GET %s: %v", key, err)
		}
		return v, r.IsCacheHit()
	}
	// eventually polls a cached read until it shows want: invalidation is
	// a push the client handles on its own goroutine, a moment after the
	// write's reply.
	eventually := func(what, want string, read func() (string, bool)) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, _ := read()
			if v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cached read still says %q 10s after the write, want %q", what, v, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	if err := w.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, hit := get("k"); v != "v1" || hit {
		t.Fatalf("first DoCache GET k: %q (hit %v), want v1 from the server", v, hit)
	}
	if v, hit := get("k"); v != "v1" || !hit {
		t.Fatalf("second DoCache GET k: %q (hit %v), want v1 from the client's cache", v, hit)
	}
	if err := w.Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually("GET k after SET by another client", "v2", func() (string, bool) { return get("k") })
	if v, hit := get("k"); v != "v2" || !hit {
		t.Fatalf("DoCache GET k once invalidated and read again: %q (hit %v), want v2 cached", v, hit)
	}

	// A relation set, read through HEXISTS, changed by RELADD.
	if err := w.Do(ctx, "RELLOAD", "1.following", "2", "3").Err(); err != nil {
		t.Fatal(err)
	}
	hexists := func() (string, bool) {
		r := rc.DoCache(ctx, rc.B().Hexists().Key("1.following").Field("4").Cache(), time.Hour)
		n, err := r.AsInt64()
		if err != nil {
			t.Fatalf("DoCache HEXISTS: %v", err)
		}
		return map[int64]string{0: "no", 1: "yes"}[n], r.IsCacheHit()
	}
	if v, _ := hexists(); v != "no" {
		t.Fatalf("HEXISTS 1.following 4 = %s before RELADD", v)
	}
	if _, hit := hexists(); !hit {
		t.Fatal("HEXISTS 1.following 4 not served from the client's cache the second time")
	}
	if err := w.Do(ctx, "RELADD", "1.following", "4").Err(); err != nil {
		t.Fatal(err)
	}
	eventually("HEXISTS after RELADD", "yes", hexists)

	// FLUSHALL invalidates everything with one null.
	if _, hit := get("k"); !hit {
		t.Fatal("GET k not cached before FLUSHALL")
	}
	if err := w.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually("GET k after FLUSHALL", "<nil>", func() (string, bool) { return get("k") })
}
