package resp

import (
	"strconv"
	"testing"

	"github.com/tidwall/redcon"
)

// BenchmarkReplyEncoders compares this package's hand-written encoders with
// redcon's Append* on the replies the hot path writes: a GET's bulk value,
// RELCHECK's and RELMULTI's array header and integers, an error. write.go has
// no integer or error encoder; handInt and handError are what it would be in
// its style (strconv with no fast path, no newline scan), for reference.
func BenchmarkReplyEncoders(b *testing.B) {
	value := make([]byte, 64)
	const msg = "WRONGTYPE Operation against a key holding the wrong kind of value"
	cases := []struct {
		name string
		hand func([]byte) []byte
		lib  func([]byte) []byte
	}{
		{"bulk64", func(d []byte) []byte { return AppendBulk(d, value) }, func(d []byte) []byte { return redcon.AppendBulk(d, value) }},
		{"bulkString", func(d []byte) []byte { return AppendBulkString(d, "1000000005") }, func(d []byte) []byte { return redcon.AppendBulkString(d, "1000000005") }},
		{"bulkUint", func(d []byte) []byte { return AppendBulkUint(d, 1000000005) }, func(d []byte) []byte { return redcon.AppendBulkUint(d, 1000000005) }},
		{"arrayHeader3", func(d []byte) []byte { return AppendArrayHeader(d, 3) }, func(d []byte) []byte { return redcon.AppendArray(d, 3) }},
		{"arrayHeader500", func(d []byte) []byte { return AppendArrayHeader(d, 500) }, func(d []byte) []byte { return redcon.AppendArray(d, 500) }},
		{"int1", func(d []byte) []byte { return handInt(d, 1) }, func(d []byte) []byte { return redcon.AppendInt(d, 1) }},
		{"int1e9", func(d []byte) []byte { return handInt(d, 1000000005) }, func(d []byte) []byte { return redcon.AppendInt(d, 1000000005) }},
		{"error", func(d []byte) []byte { return handError(d, msg) }, func(d []byte) []byte { return redcon.AppendError(d, msg) }},
	}
	buf := make([]byte, 0, 1<<16)
	for _, c := range cases {
		for _, impl := range []struct {
			name string
			f    func([]byte) []byte
		}{{"hand", c.hand}, {"redcon", c.lib}} {
			b.Run("reply="+c.name+"/enc="+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					buf = buf[:0]
					for range 100 {
						buf = impl.f(buf)
					}
				}
			})
		}
	}
}

func handInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

func handError(dst []byte, s string) []byte {
	dst = append(dst, '-')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}
