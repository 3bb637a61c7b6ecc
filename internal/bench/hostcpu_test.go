package bench

import (
	"math"
	"testing"
)

func TestParseCPUTimes(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	a, err := parseCPUTimes([]byte("cpu  100 0 50 800 10 0 5 35 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.total != 1000 || a.steal != 35 || a.busy != 155 {
		t.Fatalf("parsed %+v, want total 1000 steal 35 busy 155 (guest is inside user)", a)
	}
	b, err := parseCPUTimes([]byte("cpu  200 0 100 900 10 0 10 85 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	// 305 ticks passed on 2 cores: 100+50+5 busy, 50 stolen.
	busy, steal := b.share(a, 2)
	if math.Abs(busy-155.0/305*2) > 1e-9 || math.Abs(steal-50.0/305*2) > 1e-9 {
		t.Errorf("share = %v busy, %v steal cores", busy, steal)
	}
	if busy, steal := a.share(b, 2); busy != 0 || steal != 0 {
		t.Errorf("a counter going back must give 0, got %v, %v", busy, steal)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 3 4 5 6 7 x 9", "cpu -1 2 3 4 5 6 7 8"} {
		if _, err := parseCPUTimes([]byte(bad)); err == nil {
			t.Errorf("parseCPUTimes(%q) accepted", bad)
		}
	}
}
