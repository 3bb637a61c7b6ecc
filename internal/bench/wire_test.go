package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

func dialTest(t *testing.T, addr string) *wireConn {
	t.Helper()
	c, err := dialWire(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	return c
}

// wireDo runs one request built by build on c and fails the test on a
// broken connection.
func wireDo(t *testing.T, c *wireConn, build func(r *request)) (bool, error) {
	t.Helper()
	var r request
	build(&r)
	miss, err := c.do(&r, 5*time.Second)
	if broken(err) {
		t.Fatalf("connection broken: %v", err)
	}
	return miss, err
}

// TestWireConnRedis drives the mixed run's connection against a real
// Redis: pipelines read every reply, an error reply leaves the connection in
// step, and a second round built from the first (RELWHO on Redis) runs.
func TestWireConnRedis(t *testing.T) {
	c := dialTest(t, relcachetest.StartRedis(t))
	// 7 follows 1, 2, 3; 1 and 3 follow 9.
	wireDo(t, c, func(r *request) {
		r.command(6, "HSET")
		r.key(7)
		r.uid(1)
		r.uid(100)
		r.uid(2)
		r.uid(100)
		for _, u := range []uint64{1, 3} {
			r.command(4, "HSET")
			r.key(u)
			r.uid(9)
			r.uid(100)
		}
	})
	if _, err := wireDo(t, c, func(r *request) {
		r.command(1, "HSET") // wrong arity
		r.command(1, "PING")
	}); err == nil || err.Error() != "ERR wrong number of arguments for 'hset' command" {
		t.Errorf("wrong arity: got %v", err)
	}
	inStep(t, c)
	rounds := 0
	if _, err := wireDo(t, c, func(r *request) {
		r.command(2, "HKEYS")
		r.key(7)
		second := r.membersFollow(9)
		r.then = func(dst, last []byte) ([]byte, int) {
			rounds++
			return second(dst, last)
		}
	}); err != nil || rounds != 1 {
		t.Fatalf("two rounds: err %v, second round built %d times", err, rounds)
	}
	inStep(t, c)
}

// inStep checks the next reply on c answers the next command: every reply
// of the requests before was read.
func inStep(t *testing.T, c *wireConn) {
	t.Helper()
	if _, err := c.nc.Write(resp.AppendCommand(nil, []byte("ECHO"), []byte("in step"))); err != nil {
		t.Fatal(err)
	}
	raw, err := c.rr.Next()
	if b, _ := resp.Bulk(raw); err != nil || string(b) != "in step" {
		t.Fatalf("out of step: got %q, %v for ECHO", raw, err)
	}
}

// TestWireConnRelcache checks a miss is told from a hit and that a RELMULTI
// of 500 allocates nothing once the buffers have grown: the load generator
// must not run its own collector in the latencies it measures.
func TestWireConnRelcache(t *testing.T) {
	c := dialTest(t, relcachetest.Start(t).Addr)
	wireDo(t, c, func(r *request) {
		r.command(4, "RELADD")
		r.key(7)
		r.uid(1)
		r.uid(2)
	})
	multi := func(owner uint64) func(r *request) {
		return func(r *request) {
			r.reset()
			r.command(2+relmultiBatch, "RELMULTI")
			r.key(owner)
			for i := range relmultiBatch {
				r.uid(uint64(i))
			}
			r.nilIsMiss = true
		}
	}
	if miss, err := wireDo(t, c, multi(7)); miss || err != nil {
		t.Errorf("RELMULTI of a cached list: miss %v, err %v", miss, err)
	}
	if miss, err := wireDo(t, c, multi(8)); !miss || err != nil {
		t.Errorf("RELMULTI of an uncached list: miss %v, err %v; want a miss", miss, err)
	}
	var r request
	var derr error
	allocs := testing.AllocsPerRun(20, func() {
		multi(7)(&r)
		if _, err := c.do(&r, 5*time.Second); err != nil {
			derr = err
		}
	})
	if derr != nil {
		t.Fatal(derr)
	}
	// multi(7) builds a closure per call: one allocation that is the
	// test's, not the request's.
	if allocs > 1 {
		t.Errorf("RELMULTI 500: %.1f allocations per request, want none", allocs-1)
	}
	var er *errReply
	if _, err := wireDo(t, c, func(r *request) { r.command(1, "RELMULTI") }); !errors.As(err, &er) {
		t.Errorf("wrong arity: got %v, want an error reply", err)
	}
	inStep(t, c)
}
