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
// 1024), case-insensitive. "100mb" is 104857600. As in Redis, only digits
// and the unit: no sign, no spaces. Unlike Redis, which wraps, a size past
// 2^63-1 bytes is refused.
func Parse(s string) (int64, error) {
	digits := strings.TrimLeft(s, "0123456789")
	num, unit := s[:len(s)-len(digits)], strings.ToLower(digits)
	mul, known := map[string]int64{"": 1, "b": 1, "k": 1e3, "kb": 1 << 10, "m": 1e6, "mb": 1 << 20, "g": 1e9, "gb": 1 << 30}[unit]
	if !known || num == "" {
		return 0, fmt.Errorf("invalid memory size %q (want bytes, or a number with k, kb, m, mb, g or gb)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("memory size %q overflows", s)
	}
	return n * mul, nil
}
