package server

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBytes reads a memory size the way redis.conf does: a plain number of
// bytes, or one with a unit: k/m/g (powers of 1000) or kb/mb/gb (powers of
// 1024), case-insensitive. "100mb" is 104857600. As in Redis, only digits
// and the unit: no sign, no spaces. Unlike Redis, which wraps, a size past
// 2^63-1 bytes is refused.
func ParseBytes(s string) (int64, error) {
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

// HumanBytes formats n as Redis's *_human INFO fields do: "1.50M".
func HumanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "K", "M", "G", "T", "P"} {
		if f < 1024 || u == "P" {
			if u == "B" {
				return strconv.FormatInt(n, 10) + "B"
			}
			return strconv.FormatFloat(f, 'f', 2, 64) + u
		}
		f /= 1024
	}
	return ""
}
