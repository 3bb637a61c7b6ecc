package proxyfront

import (
	"net"
	"strconv"
	"testing"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/resp"
)

// TestReaderReadsBatchUIDs: the client's reader hands out the values of
// the uids of RELCHECK and RELFOLLOWS (and of RELMULTI only when the L1
// may answer it), and parseUIDs takes them: the values are those
// ParseUint reads, in a slice of parseUIDs' own.
func TestReaderReadsBatchUIDs(t *testing.T) {
	for _, l1 := range []bool{false, true} {
		extra := ""
		if l1 {
			extra = "[l1]\nenabled = true\nmax_bytes = 1048576\n"
		}
		p := onePoolProxy(t, extra)
		var uids [][]byte
		for i := range 40 {
			uids = append(uids, strconv.AppendUint(nil, uint64(i)*1_000_000_007, 10))
		}
		batch := func(head ...string) []byte {
			args := make([][]byte, 0, len(head)+len(uids))
			for _, h := range head {
				args = append(args, []byte(h))
			}
			return resp.AppendCommand(nil, append(args, uids...)...)
		}
		for _, tc := range []struct {
			req  []byte
			skip int // the arguments before the uids
			read bool
		}{
			{batch("RELCHECK", "1", "BATCH"), 3, true},
			{batch("relfollows", "1", "WITHTIMES", "SINCE", "5"), 5, true},
			{batch("RELMULTI", "1.following"), 2, l1},
			{batch("HMGET", "1.following"), 2, false},
		} {
			srv, cl := net.Pipe()
			c := p.newClient(srv, 1)
			go func() { cl.Write(tc.req); cl.Close() }()
			args, err := c.rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			_, read := c.rd.Uints(args[tc.skip:])
			if read != tc.read {
				t.Errorf("l1=%v %s: the reader read the uids: %v, want %v", l1, args[0], read, tc.read)
			}
			got, ok := c.parseUIDs(string(args[0]), args[tc.skip:])
			if !ok {
				t.Fatalf("%s: parseUIDs refused", args[0])
			}
			want, _ := resp.AppendUints(nil, uids)
			if string(resp.AppendPacked(nil, got...)) != string(resp.AppendPacked(nil, want...)) {
				t.Errorf("%s: parseUIDs = %v, want %v", args[0], got, want)
			}
			if u, _ := c.rd.Uints(args[tc.skip:]); read && &u[0] == &got[0] {
				t.Errorf("%s: parseUIDs returned the reader's own values", args[0])
			}
			srv.Close()
		}
	}
}

// onePoolProxy is a proxy (not serving) over one node that is never
// dialled, with extra TOML appended, for tests of a client's own work.
func onePoolProxy(t testing.TB, extra string) *Proxy {
	t.Helper()
	cfg, err := ParseConfig([]byte(`admin = "-"
[[pool]]
name = "dc1"
role = "primary"
servers = ["127.0.0.1:1:1 n1"]
`+extra), "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.topo.Load().close() })
	return p
}
