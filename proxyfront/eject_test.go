package proxyfront

import (
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestEjection drives one backend whose node refuses connections through
// auto_eject's rules (twemproxy's, on internal/breaker): failures counted
// until server_failure_limit, then fail-fast with the count and the time to
// the probe; never ejected with auto_eject off or once a reload removed it;
// a failed probe keeps it out without counting as a failure or another
// ejection.
func TestEjection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every dial is refused at once

	const refused, ejected = "connect failed", "is ejected after 2 failures; next probe in "
	tests := []struct {
		name      string
		autoEject bool
		removed   bool     // closed, as a reload that drops the node does
		want      []string // what each of the calls fails with
		ejected   bool
	}{
		{"auto_eject", true, false, []string{refused, refused, ejected, ejected}, true},
		{"auto_eject off", false, false, []string{refused, refused, refused, refused}, false},
		{"removed by a reload", true, true, []string{refused, refused, refused, refused}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := backendSettings{connections: 1, timeout: 100 * time.Millisecond, dialTimeout: 100 * time.Millisecond,
				autoEject: tt.autoEject, failureLimit: 2, retryTimeout: time.Hour, maxReply: maxReplySize}
			b := newBackend("dc1", "node2", addr, st, newMetrics(), zap.NewNop())
			defer b.close()
			if tt.removed {
				b.close()
			}
			for i, want := range tt.want {
				c := &call{done: make(chan struct{}, 1)}
				if b.enqueue(c, b.pick(0)) {
					t.Fatalf("call %d went out to a node that refuses connections", i)
				}
				prefix := "ERR proxy: backend node2 (" + addr + ") " + want
				if c.err == nil || !strings.HasPrefix(c.err.Error(), prefix) {
					t.Fatalf("call %d: %v, want %q...", i, c.err, prefix)
				}
				// The time to the probe counts down from the ejection: an
				// hour, less what the calls since took (tens of ms under
				// -race on a loaded host, as a CI run saw).
				if want == ejected {
					_, rest, _ := strings.Cut(c.err.Error(), ejected)
					if d, err := time.ParseDuration(rest); err != nil || d > time.Hour || d < time.Hour-time.Minute {
						t.Errorf("call %d: %v: the probe is not an hour away", i, c.err)
					}
				}
			}
			wantEjections, wantFailures := int64(0), 4
			if tt.ejected {
				wantEjections, wantFailures = 1, 2 // failing fast is no failure of the node
			}
			if b.ejected() != tt.ejected || b.ejections.Load() != wantEjections || b.eject.Failures() != wantFailures || b.errors.Load() != int64(wantFailures) {
				t.Errorf("ejected %v, ejections %d, failures %d, errors %d; want %v, %d, %d, %d", b.ejected(), b.ejections.Load(),
					b.eject.Failures(), b.errors.Load(), tt.ejected, wantEjections, wantFailures, wantFailures)
			}
		})
	}
}

// TestEjectionProbeFails: the watchdog probes an ejected node once the
// retry timeout has passed; a probe the node refuses keeps it out for
// another retry timeout and is neither a failure nor an ejection.
func TestEjectionProbeFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const retry = 50 * time.Millisecond
	st := backendSettings{connections: 1, timeout: 100 * time.Millisecond, dialTimeout: 100 * time.Millisecond,
		autoEject: true, failureLimit: 1, retryTimeout: retry, maxReply: maxReplySize}
	b := newBackend("dc1", "node2", addr, st, newMetrics(), zap.NewNop())
	defer b.close()
	b.enqueue(&call{done: make(chan struct{}, 1)}, b.pick(0))
	first := b.eject.Retry()
	if !b.ejected() || first.IsZero() {
		t.Fatalf("not ejected after one refused connection (limit 1)")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !b.eject.Retry().After(first) {
		if time.Now().After(deadline) {
			t.Fatal("no probe within 5s of a 50ms retry timeout")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if next := b.eject.Retry(); next.Sub(first) < retry {
		t.Errorf("after a failed probe the next is %v after the first; want at least the retry timeout %v", next.Sub(first), retry)
	}
	if !b.ejected() || b.ejections.Load() != 1 || b.eject.Failures() != 1 || b.errors.Load() != 1 {
		t.Errorf("after a failed probe: ejected %v, ejections %d, failures %d, errors %d; want true, 1, 1, 1",
			b.ejected(), b.ejections.Load(), b.eject.Failures(), b.errors.Load())
	}
}
