package proxyfront

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/resp"
)

// BenchmarkProxyBatchRead: one op is the proxy's client reader framing a
// command of 500 decimal uids and, for RELCHECK, parseUIDs reading them
// (and, for relcheck+group, groupUsers placing them on their nodes): the
// proxy's own work on a batch before it sends it per node (the
// sub-requests and replies are BenchmarkBackendPipeline's part). A
// forwarded RELMULTI is framed only. Instructions per op under cachegrind
// are docs/benchmarks.md's measure.
func BenchmarkProxyBatchRead(b *testing.B) {
	p := onePoolProxy(b, "")
	for _, digits := range []int{10, 19} {
		uids := make([][]byte, 500)
		for i := range uids {
			u := uint64(1_000_000_007)*uint64(i+1) + 1_000_000_000
			if digits == 19 {
				u = 7_000_000_000_000_000_000 + uint64(i)*8_675_309_000_001
			}
			uids[i] = strconv.AppendUint(nil, u, 10)
		}
		for _, tc := range []struct {
			name string
			head []string
		}{
			{"relcheck", []string{"RELCHECK", "1", "BATCH"}},
			{"relcheck+group", []string{"RELCHECK", "1", "BATCH"}},
			{"relmulti", []string{"RELMULTI", "1.following"}},
		} {
			var args [][]byte
			for _, h := range tc.head {
				args = append(args, []byte(h))
			}
			cmd := resp.AppendCommand(nil, append(args, uids...)...)
			b.Run(tc.name+"/"+strconv.Itoa(digits)+"digit", func(b *testing.B) {
				c := p.newClient(&repeatConn{cmd: cmd}, 1)
				skip := len(tc.head)
				parse, group := tc.name != "relmulti", tc.name == "relcheck+group"
				t := p.topo.Load()
				b.ReportAllocs()
				b.SetBytes(int64(len(cmd)))
				for b.Loop() {
					args, err := c.rd.Next()
					if err != nil || len(args) != skip+500 {
						b.Fatal(err, len(args))
					}
					if parse {
						bs, ok := c.parseUIDs("relcheck", args[skip:])
						if !ok {
							b.Fatal("parseUIDs refused")
						}
						if group {
							c.groupUsers(t, bs, args[skip:], true)
						}
					}
				}
			})
		}
	}
}

// repeatConn is a client that sends cmd again and again, 64 KB a read.
type repeatConn struct {
	cmd []byte
	off int
}

func (r *repeatConn) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && n < 64<<10 {
		k := copy(p[n:], r.cmd[r.off:])
		n += k
		r.off = (r.off + k) % len(r.cmd)
	}
	return n, nil
}
func (r *repeatConn) Write(p []byte) (int, error)      { return len(p), nil }
func (r *repeatConn) Close() error                     { return nil }
func (r *repeatConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (r *repeatConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (r *repeatConn) SetDeadline(time.Time) error      { return nil }
func (r *repeatConn) SetReadDeadline(time.Time) error  { return nil }
func (r *repeatConn) SetWriteDeadline(time.Time) error { return nil }
