// Package glob is Redis's glob matching (stringmatchlen), shared by the
// server's KEYS, SCAN MATCH and CONFIG GET and by internal/acl's key patterns.
package glob

// Match reports whether s matches the Redis glob pattern p, byte-wise:
// '*' any run, '?' any byte, '[abc]' '[^abc]' '[a-z]' classes, '\x' a
// literal x. Patterns come from clients (KEYS, SCAN MATCH, CONFIG GET), so
// the matcher remembers only the last '*' and backtracks to it: the work is
// O(len(s)·len(p)) on any input, never exponential as a naive recursive
// matcher is on patterns like "a*a*a*a*b".
func Match[T ~string | ~[]byte](p []byte, s T) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				starP, starS = pi, si
				continue
			case '?':
				pi++
				si++
				continue
			case '[':
				if ok, next := matchClass(p, pi, s[si]); ok {
					pi, si = next, si+1
					continue
				}
			case '\\':
				if pi+1 < len(p) {
					if p[pi+1] == s[si] {
						pi, si = pi+2, si+1
						continue
					}
					break
				}
				// A trailing backslash matches itself.
				if s[si] == '\\' {
					pi, si = pi+1, si+1
					continue
				}
			default:
				if p[pi] == s[si] {
					pi, si = pi+1, si+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more byte and retry from there.
		starS++
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchClass matches c against the class starting at p[start] == '[' and
// returns the index after the class. An unterminated class runs to the end
// of the pattern, as in Redis.
func matchClass(p []byte, start int, c byte) (bool, int) {
	i := start + 1
	negate := i < len(p) && p[i] == '^'
	if negate {
		i++
	}
	match := false
	for i < len(p) && p[i] != ']' {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			if p[i] == c {
				match = true
			}
			i++
		case i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			i += 3
		default:
			if p[i] == c {
				match = true
			}
			i++
		}
	}
	if i < len(p) {
		i++ // the closing ']'
	}
	return match != negate, i
}
