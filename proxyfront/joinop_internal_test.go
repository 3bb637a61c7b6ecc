package proxyfront

import (
	"errors"
	"testing"
)

// TestJoinOpReady: a joinOp is ready only once every call has its reply,
// asks for a retry when a failed read has another pool to go to, and
// leaves every call's token where it was, so finish (await) still gets
// each one.
func TestJoinOpReady(t *testing.T) {
	onePool := &topology{reads: make([]*poolRoute, 1)}
	twoPools := &topology{reads: make([]*poolRoute, 2)}
	a, b := newCall(), newCall()
	a.t, b.t, a.read, b.read = twoPools, twoPools, true, true
	j := joinOp{ks: []*call{a, b}}
	if ok, retry := j.ready(); ok || retry {
		t.Fatalf("no call answered: ready %v, retry %v", ok, retry)
	}
	a.complete()
	if ok, _ := j.ready(); ok {
		t.Fatal("one call of two answered: ready")
	}
	b.fail(errors.New("node down"))
	if ok, retry := j.ready(); !ok || !retry {
		t.Fatalf("b failed with another pool to try: ready %v, retry %v; want both", ok, retry)
	}
	b.t = onePool
	if ok, retry := j.ready(); !ok || retry {
		t.Fatalf("b failed with no other pool: ready %v, retry %v; want ready only", ok, retry)
	}
	for _, k := range j.ks {
		select {
		case <-k.done:
		default:
			t.Fatal("ready took a call's token")
		}
	}
}
