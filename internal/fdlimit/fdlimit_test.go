//go:build unix

package fdlimit

import (
	"errors"
	"os"
	"testing"
)

// A soft limit below what is needed is raised when the hard limit allows;
// past the hard limit the clients are reduced.
func TestFit(t *testing.T) {
	cur, hard, err := getLimit()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setLimit(cur, hard) })
	if hard < 2000 {
		t.Skipf("hard open-files limit %d is too low for this test", hard)
	}
	if err := setLimit(100, hard); err != nil {
		t.Fatal(err)
	}
	r, err := Fit(1000, Reserve)
	if err != nil || r.Limit != 1032 || r.Was != 100 || r.Clients != 1000 || !r.Raised() || r.Reduced() {
		t.Errorf("Fit(1000) from soft 100 = %+v, %v; want the limit raised to 1032", r, err)
	}
	if now, _, _ := getLimit(); now != 1032 {
		t.Errorf("soft limit after Fit = %d", now)
	}
	if os.Geteuid() == 0 {
		return // root may raise the hard limit: nothing is reduced
	}
	if hard < 1<<40 { // an unlimited hard limit cannot be exceeded
		r, err = Fit(int(hard), Reserve)
		if err != nil || r.Limit != hard || r.Clients != int(hard)-Reserve || !r.Reduced() || r.Err == nil {
			t.Errorf("Fit(hard) = %+v, %v; want the clients reduced to the hard limit less the reserve", r, err)
		}
	}
	var tooFew *TooFewError
	if _, err := Fit(10, int(hard)); !errors.As(err, &tooFew) {
		t.Errorf("Fit with a reserve of the whole hard limit: %v, want a *TooFewError", err)
	}
}
