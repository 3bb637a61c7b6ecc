package server

import (
	"strconv"

	"github.com/relcache/relcache/internal/bytesize"
)

// ParseBytes reads a memory size the way redis.conf does: a plain number of
// bytes, or one with a unit: k/m/g (powers of 1000) or kb/mb/gb (powers of
// 1024), case-insensitive. "100mb" is 104857600. No sign, no spaces; a
// size past 2^63-1 bytes is refused (internal/bytesize).
func ParseBytes(s string) (int64, error) { return bytesize.Parse(s) }

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
