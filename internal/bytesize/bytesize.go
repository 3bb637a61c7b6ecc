// Package bytesize reads memory sizes the way redis.conf writes them, for
// the server's settings and the proxy's alike.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse reads a memory size the way redis.conf does: a plain number of
// bytes, or one with a unit: k/m/g (powers of 1000) or kb/mb/gb (powers of
// 1024), case-insensitive. "100mb" is 104857600.
func Parse(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mul = strings.TrimSuffix(t, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid memory size %q (want bytes, or a number with k, kb, m, mb, g or gb)", s)
	}
	if n > math.MaxInt64/mul {
		return 0, fmt.Errorf("memory size %q overflows", s)
	}
	return n * mul, nil
}
