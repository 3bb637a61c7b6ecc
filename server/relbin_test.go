package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/resp"
)

// packed is uids as BIN writes them, as a string argument.
func packed(uids ...uint64) string { return string(resp.AppendPacked(nil, uids...)) }

// TestRelBinMatchesDecimal: every relation command that takes a batch of
// uids answers BIN <packed uids> byte for byte as it answers the same uids
// in decimal (BATCH for RELCHECK: BIN is a batch form), with windows,
// BITS and WITHTIMES, and uids that are not cached or not members.
func TestRelBinMatchesDecimal(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	do(s, c, "RELLOAD", "1.following", "TIMES", "2", "100", "3", "200", "4", "300")
	do(s, c, "RELLOAD", "2.following", "TIMES", "1", "150", "3", "150")
	do(s, c, "RELLOAD", "3.following", "TIMES", "4", "10")
	uids := []uint64{2, 3, 4, 5, 1, 18446744073709551615}
	dec := make([]string, len(uids))
	for i, u := range uids {
		dec[i] = strconv.FormatUint(u, 10)
	}
	for _, tc := range []struct{ head, batchWord []string }{
		{[]string{"RELMULTI", "1.following"}, nil},
		{[]string{"RELMULTI", "1.following", "BITS"}, nil},
		{[]string{"RELMULTI", "1.following", "SINCE", "150", "UNTIL", "250"}, nil},
		{[]string{"RELMULTI", "9.following"}, nil},
		{[]string{"RELCHECK", "1"}, []string{"BATCH"}},
		{[]string{"RELCHECK", "1", "SINCE", "120"}, []string{"BATCH"}},
		{[]string{"RELFOLLOWS", "1"}, nil},
		{[]string{"RELFOLLOWS", "1", "WITHTIMES"}, nil},
		{[]string{"RELFOLLOWS", "3", "WITHTIMES", "UNTIL", "100"}, nil},
	} {
		for n := 1; n <= len(uids); n++ {
			want := do(s, c, append(append(append([]string{}, tc.head...), tc.batchWord...), dec[:n]...)...)
			got := do(s, c, append(append([]string{}, tc.head...), "BIN", packed(uids[:n]...))...)
			if got != want || strings.HasPrefix(got, "-") {
				t.Fatalf("%v BIN %v = %q, decimal %q", tc.head, uids[:n], got, want)
			}
		}
	}
}

// TestRelBinRefusals: BIN takes exactly one argument of whole 8-byte uids;
// it ends the options, so packed bytes that spell an option word are uids;
// rel-max-batch counts packed uids too.
func TestRelBinRefusals(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	do(s, c, "RELLOAD", "1.following", "2", "3")
	binErr := "-" + resp.ErrRelBin + "\r\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"RELMULTI", "1.following", "BIN", "1234567"}, binErr},
		{[]string{"RELMULTI", "1.following", "BIN", ""}, binErr},
		{[]string{"RELMULTI", "1.following", "BIN", packed(2), packed(3)}, binErr},
		{[]string{"RELMULTI", "1.following", "BIN"}, "-ERR wrong number of arguments for 'relmulti' command\r\n"},
		{[]string{"RELCHECK", "1", "BIN", "123456789"}, binErr},
		{[]string{"RELFOLLOWS", "1", "BIN", "2", "3"}, binErr},
		// "SINCE 12" is 8 bytes: after BIN it is a uid, not a window.
		{[]string{"RELMULTI", "1.following", "BIN", "SINCE 12"}, "*1\r\n:0\r\n"},
		{[]string{"RELMULTI", "1.following", "bin", packed(3)}, "*1\r\n:1\r\n"},
		{[]string{"RELCHECK", "1", "BIN", packed(2)}, "*1\r\n:-1\r\n"}, // an array: BIN is a batch form
	} {
		if got := do(s, c, tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	s.cfg.RelMaxBatch = 2
	if got := do(s, c, "RELMULTI", "1.following", "BIN", packed(1, 2, 3)); !strings.HasPrefix(got, "-ERR too many uids in one command (3, the limit is rel-max-batch 2)") {
		t.Errorf("3 packed uids over rel-max-batch 2 = %q", got)
	}
}

// TestEmptyListKeepsTimes: RELLOAD key TIMES with no members stores an
// empty list WITH times on a fresh connection as on a used one. Before,
// Build got the connection's nil scratch for "times" on a fresh connection
// and stored a set without them, so a member added later got time 0 (and
// windows on it were refused), while the same commands on a used
// connection (a proxy's shared backend connections, or a reference node)
// kept times: the divergence TestProxyMatchesOneNode caught once under
// -race.
func TestEmptyListKeepsTimes(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s) // fresh: no scratch grown yet
	do(s, c, "RELLOAD", "1.following", "TIMES")
	do(s, c, "RELADD", "1.following", "7")
	if got := do(s, c, "ZSCORE", "1.following", "7"); got == "$1\r\n0\r\n" || strings.HasPrefix(got, "-") {
		t.Errorf("a member added to an empty list loaded with TIMES: ZSCORE = %q, want its add time", got)
	}
	if got := do(s, c, "RELMULTI", "1.following", "SINCE", "5", "7"); got != "*1\r\n:1\r\n" {
		t.Errorf("a window on it = %q, want [1]", got)
	}
}
