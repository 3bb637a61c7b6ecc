package proxyfront

import (
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkWriteJSON: the cost of a response's encoding, for a page of
// 1000 members (about 27 KB of JSON) sent as is, gzip or deflate (level 1,
// pooled writers).
func BenchmarkWriteJSON(b *testing.B) {
	body := []byte(`{"members":[`)
	for i := range 1000 {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendUint(append(body, '"'), 1_000_000_000+uint64(i)*7919, 10)
		body = append(body, '"')
	}
	body = append(body, `],"times":[`...)
	for i := range 1000 {
		if i > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendUint(body, 1_700_000_000-uint64(i)*37, 10)
	}
	body = append(body, "]}\n"...)
	for _, enc := range []string{"", "gzip", "deflate"} {
		b.Run("enc="+enc, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			if enc != "" {
				r.Header.Set("Accept-Encoding", enc)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var sent int
			for b.Loop() {
				w := httptest.NewRecorder()
				writeJSON(w, r, 200, body)
				sent = w.Body.Len()
			}
			b.ReportMetric(float64(sent), "bytes-sent")
		})
	}
}
