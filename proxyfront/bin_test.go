package proxyfront_test

import (
	"strconv"
	"testing"

	"github.com/relcache/relcache/internal/resp"
)

// TestProxyBinMatchesDecimal: through a proxy over three nodes, the packed
// form (BIN) of RELCHECK, RELFOLLOWS and RELMULTI answers byte for byte what
// the same uids in decimal answer, when the uids spread over every node
// (the proxy then splits the packed argument per node).
func TestProxyBinMatchesDecimal(t *testing.T) {
	cl := startCluster(t, 3, "node")
	px, _ := startProxy(t, onePool(cl))
	c := dial(t, px.Addr)
	var users []uint64
	for i := range 60 {
		users = append(users, uint64(5000+i*7919))
	}
	for i, u := range users {
		load := []string{"RELLOAD", fkey(u), "TIMES"}
		for j := range 20 {
			v := users[(i+j*7+1)%len(users)]
			load = append(load, u64(v), strconv.Itoa(1_600_000_000+j))
		}
		c.must(t, load...)
	}
	uids := append(append([]uint64{}, users[:40]...), 1, 18446744073709551615)
	dec := make([]string, len(uids))
	for i, u := range uids {
		dec[i] = u64(u)
	}
	packed := string(resp.AppendPacked(nil, uids...))
	for _, tc := range []struct{ head, batch []string }{
		{[]string{"RELCHECK", u64(users[3])}, []string{"BATCH"}},
		{[]string{"RELCHECK", u64(users[3]), "SINCE", "1600000005"}, []string{"BATCH"}},
		{[]string{"RELFOLLOWS", u64(users[5])}, nil},
		{[]string{"RELFOLLOWS", u64(users[5]), "WITHTIMES", "UNTIL", "1600000010"}, nil},
		{[]string{"RELMULTI", fkey(users[7]), "BITS"}, nil},
	} {
		want := string(c.must(t, append(append(append([]string{}, tc.head...), tc.batch...), dec...)...))
		got := string(c.must(t, append(append([]string{}, tc.head...), "BIN", packed)...))
		if got != want || got[0] == '-' {
			t.Errorf("%v BIN = %q, decimal %q", tc.head, got, want)
		}
	}
	if got := string(c.must(t, "RELCHECK", u64(users[3]), "BIN", packed[:15])); got != "-"+resp.ErrRelBin+"\r\n" {
		t.Errorf("15 packed bytes through the proxy = %q", got)
	}
}
