//go:build linux

package server

import "testing"

// BenchmarkEventLoopGET is TestEventLoopGETAllocatesNothing's GET, from
// readiness to the reply read by the peer, over a socketpair: the loop's CPU per request without
// the network stack's loopback TCP.
func BenchmarkEventLoopGET(b *testing.B) {
	get, _, got := loopGET(b)
	b.ReportAllocs()
	for b.Loop() {
		get()
	}
	if *got != "" {
		b.Fatalf("a reply %q, want %q", *got, loopGETReply)
	}
}
