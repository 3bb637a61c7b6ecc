package server

import (
	"testing"
	"time"
)

func TestLatBucket(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {time.Microsecond, 0}, {time.Microsecond + 1, 1}, {4 * time.Microsecond, 1},
		{4*time.Microsecond + 1, 2}, {16 * time.Microsecond, 2}, {17 * time.Microsecond, 3},
		{time.Millisecond, 5}, {1048576 * time.Microsecond, 10}, {time.Hour, latBuckets}, {-5, 0},
	} {
		if got := latBucket(tc.d); got != tc.want {
			t.Errorf("latBucket(%v) = %d, want %d", tc.d, got, tc.want)
		}
		// The bucket's bound holds d, the one below does not.
		if i := latBucket(tc.d); i < latBuckets && tc.d > 0 {
			if tc.d.Seconds() > latBound(i)+1e-12 || (i > 0 && tc.d.Seconds() <= latBound(i-1)) {
				t.Errorf("%v in bucket %d with bound %g", tc.d, i, latBound(i))
			}
		}
	}
}

func TestCmdStatsSnapshot(t *testing.T) {
	var cs cmdStats
	for i := range 100 {
		cs.observe(int64(i), time.Duration(i)*time.Microsecond)
	}
	counts, calls, sum := cs.snapshot()
	if calls != 100 || sum != 4950*time.Microsecond {
		t.Fatalf("calls %d sum %v", calls, sum)
	}
	var n uint64
	for _, c := range counts {
		n += c
	}
	if n != 100 {
		t.Fatalf("bucket counts add to %d", n)
	}
	cs.reset()
	if _, calls, _ := cs.snapshot(); calls != 0 {
		t.Fatal("reset left calls")
	}
}
