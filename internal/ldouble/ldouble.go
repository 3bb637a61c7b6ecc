// Package ldouble does INCRBYFLOAT's arithmetic exactly as Redis does it on
// x86-64 Linux, where C's long double is the x87 80-bit extended format: a
// 64-bit significand, exponents down to 2^-16382 (subnormals to 2^-16445)
// and up to 2^16383. Redis parses both operands with glibc's strtold,
// adds them in that format and prints the sum with printf's "%.17Lf" before
// cutting trailing zeros, so a client sees, for example, 0.1 + 2e-20 as
// "0.1" and 1e300 as a 301-digit integer. float64 arithmetic would answer
// differently in the last digits of many sums; here every step is done on
// exact big numbers and rounded once, to nearest-even, to the extended
// format, which is what strtold, the FPU and printf each do.
package ldouble

import (
	"math/big"
	"math/bits"
	"strconv"
)

// MaxLen is Redis's MAX_LONG_DOUBLE_CHARS: a number of this many bytes or
// more is not a valid float.
const MaxLen = 5 * 1024

// The extended format's limits, as exponents e of big.Float's x = m·2^e
// with 0.5 <= m < 1: the largest finite value is just under 2^maxExp, the
// smallest normal is 2^(minNormExp-1) and the smallest subnormal
// 2^(denormLSB).
const (
	maxExp     = 16384
	minNormExp = -16381
	denormLSB  = -16445
	mantBits   = 64
)

// Value is a finite or infinite long double. The zero value is +0.
type Value struct {
	f   big.Float // exact: at most 64 significant bits, in range
	inf int8      // +1 or -1 for an infinity (f unused)
}

// Parse reads s as Redis's string2ld does: the whole of s must be a number
// strtold reads (decimal or 0x hexadecimal, with an optional sign and
// exponent, or inf/infinity) with no leading space; NaN, values that
// overflow to infinity, and nonzero values that underflow to zero are
// refused, as is anything of MaxLen bytes or more.
func Parse(s []byte) (Value, bool) {
	if len(s) == 0 || len(s) >= MaxLen || isSpace(s[0]) {
		return Value{}, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
	}
	switch {
	case equalFold(s, "inf") || equalFold(s, "infinity"):
		v := Value{inf: 1}
		if neg {
			v.inf = -1
		}
		return v, true
	case len(s) > 2 && s[0] == '0' && (s[1]|0x20) == 'x':
		return parseHex(s[2:], neg)
	}
	return parseDec(s, neg)
}

// parseDec reads digits [. digits] [e [sign] digits], at least one digit
// in the mantissa.
func parseDec(s []byte, neg bool) (Value, bool) {
	digits, frac, rest, ok := mantissa(s, isDigit)
	if !ok {
		return Value{}, false
	}
	exp, ok := exponent(rest, 'e')
	if !ok {
		return Value{}, false
	}
	digits = trimZeros(digits)
	if len(digits) == 0 {
		return zero(neg), true
	}
	exp10 := exp - int64(frac)
	// The value lies in [10^(k-1), 10^k). Past the format's range on
	// either side the answer is known without big numbers (and the
	// exponent may be far too large to build them): 10^4933 overflows,
	// and below 10^-4951 (under half the smallest subnormal, 2^-16446 ~
	// 1.8e-4951) the value rounds to zero, which strtold flags as a range
	// error and Redis refuses.
	k := int64(len(digits)) + exp10
	if k-1 >= 4933 || k <= -4951 {
		return Value{}, false
	}
	n, ok := new(big.Int).SetString(string(digits), 10)
	if !ok {
		return Value{}, false
	}
	d := big.NewInt(1)
	ten := big.NewInt(10)
	if exp10 >= 0 {
		n.Mul(n, new(big.Int).Exp(ten, big.NewInt(exp10), nil))
	} else {
		d.Exp(ten, big.NewInt(-exp10), nil)
	}
	return roundRat(n, d, neg)
}

// parseHex reads what follows "0x": hexdigits [. hexdigits] [p [sign]
// digits], at least one hex digit.
func parseHex(s []byte, neg bool) (Value, bool) {
	digits, frac, rest, ok := mantissa(s, isHex)
	if !ok {
		return Value{}, false
	}
	exp, ok := exponent(rest, 'p')
	if !ok {
		return Value{}, false
	}
	digits = trimZeros(digits)
	if len(digits) == 0 {
		return zero(neg), true
	}
	exp2 := exp - 4*int64(frac)
	// The value lies in [2^(b-1), 2^b) with b as below; past the format's
	// range on either side the answer is known without big numbers.
	lead, _ := strconv.ParseUint(string(digits[:1]), 16, 8)
	b := 4*int64(len(digits)-1) + int64(bits.Len64(lead)) + exp2
	if b-1 >= maxExp || b <= denormLSB-1 {
		return Value{}, false
	}
	n, ok := new(big.Int).SetString(string(digits), 16)
	if !ok {
		return Value{}, false
	}
	d := big.NewInt(1)
	if exp2 >= 0 {
		n.Lsh(n, uint(exp2))
	} else {
		d.Lsh(d, uint(-exp2))
	}
	return roundRat(n, d, neg)
}

// mantissa splits s into its mantissa digits (the point removed), the
// number of them after the point, and the rest; ok is false without any
// digit.
func mantissa(s []byte, digit func(byte) bool) (digits []byte, frac int, rest []byte, ok bool) {
	i := 0
	for i < len(s) && digit(s[i]) {
		i++
	}
	digits = append(digits, s[:i]...)
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && digit(s[j]) {
			j++
		}
		digits = append(digits, s[i+1:j]...)
		frac = j - i - 1
		i = j
	}
	return digits, frac, s[i:], len(digits) > 0
}

// exponent reads the exponent part, marked by the letter mark: all of s
// must be it, or s must be empty. A huge exponent saturates; the callers
// only compare it with the format's range.
func exponent(s []byte, mark byte) (int64, bool) {
	if len(s) == 0 {
		return 0, true
	}
	if s[0]|0x20 != mark {
		return 0, false
	}
	s = s[1:]
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var e int64
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		if e < 1<<40 {
			e = e*10 + int64(c-'0')
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

func zero(neg bool) Value {
	var v Value
	if neg {
		v.f.Neg(&v.f)
	}
	return v
}

// roundRat rounds n/d (n > 0, d > 0, exact) to the extended format; false
// when it overflows or rounds to zero (strtold's range errors).
func roundRat(n, d *big.Int, neg bool) (Value, bool) {
	// e with 2^(e-1) <= n/d < 2^e.
	e := int64(n.BitLen() - d.BitLen())
	if cmpShifted(n, d, e) >= 0 {
		e++
	}
	prec, ok := precAt(e)
	if !ok {
		return Value{}, false
	}
	if prec < mantBits {
		n, d = glibcSubnormal(n, d, e)
	}
	var v Value
	if prec == 0 {
		// n/d in [2^-16446, 2^-16445): the smallest subnormal, or zero on
		// the exact tie (round to even).
		if cmpShifted(n, d, denormLSB-1) == 0 {
			return Value{}, false
		}
		v.f.SetMantExp(big.NewFloat(0.5), denormLSB+1)
	} else {
		nf := new(big.Float).SetInt(n)
		df := new(big.Float).SetInt(d)
		v.f.SetPrec(prec).SetMode(big.ToNearestEven).Quo(nf, df)
	}
	if v.f.MantExp(nil) > maxExp {
		return Value{}, false
	}
	if neg {
		v.f.Neg(&v.f)
	}
	return v, true
}

// glibcSubnormal reproduces how glibc's strtold rounds a subnormal: it
// first cuts the value to 64 significant bits plus a round bit (the 65th)
// and a sticky bit (any bit after it), then, shifting the 64 bits right
// into subnormal position, takes its round and sticky bits from what is
// shifted out and forgets the old round bit. That bit only matters when it
// is set and nothing follows it: glibc then rounds the value as if it were
// cut after 64 bits (0x1.4000000000000001p-16444 becomes 2 subnormal
// steps, not 3; 0x1.0000000000000001p-16446 becomes 0). Only hexadecimal
// input can hit this: a decimal that short is never such a dyadic value.
// n/d lies in [2^(e-1), 2^e).
func glibcSubnormal(n, d *big.Int, e int64) (*big.Int, *big.Int) {
	// q holds the first 65 significant bits of n/d.
	scaled := new(big.Int).Lsh(n, uint(65-e)) // e < 0 here
	q, rem := new(big.Int).QuoRem(scaled, d, new(big.Int))
	if q.Bit(0) == 0 || rem.Sign() != 0 {
		return n, d
	}
	return q.Rsh(q, 1), new(big.Int).Lsh(big.NewInt(1), uint(64-e))
}

// cmpShifted compares n with d·2^k.
func cmpShifted(n, d *big.Int, k int64) int {
	if k >= 0 {
		return n.Cmp(new(big.Int).Lsh(d, uint(k)))
	}
	return new(big.Int).Lsh(n, uint(-k)).Cmp(d)
}

// precAt is the number of significant bits the format holds for a value
// in [2^(e-1), 2^e): 64 for normal values, fewer for subnormals, whose
// last bit is always 2^-16445. ok is false when the value is too small to
// round to anything but zero (below 2^-16446) or too large.
func precAt(e int64) (uint, bool) {
	switch {
	case e > maxExp:
		return 0, false
	case e >= minNormExp:
		return mantBits, true
	case e-denormLSB < 0:
		return 0, false
	}
	return uint(e - denormLSB), true
}

// Add returns v + w rounded to the format, as the FPU adds long doubles;
// ok is false when the sum is NaN or infinite (either operand infinite,
// or overflow), which INCRBYFLOAT refuses.
func Add(v, w Value) (sum Value, ok bool) {
	if v.inf != 0 || w.inf != 0 {
		return Value{}, false
	}
	x, y := &v.f, &w.f
	switch {
	case x.Sign() == 0 && y.Sign() == 0:
		// -0 + -0 is -0, any other pair of zeros +0.
		if x.Signbit() && y.Signbit() {
			return v, true
		}
		return Value{}, true
	case x.Sign() == 0:
		return w, true
	case y.Sign() == 0:
		return v, true
	}
	// Both are multiples of their last significant bit; the exact sum
	// needs the bits from the higher top to the lower bottom.
	ex, ey := int64(x.MantExp(nil)), int64(y.MantExp(nil))
	bottom := min(ex-int64(x.MinPrec()), ey-int64(y.MinPrec()))
	exact := new(big.Float).SetPrec(uint(max(ex, ey)-bottom)+2).Add(x, y)
	if exact.Sign() == 0 {
		return Value{}, true // x + (-x) is +0 when rounding to nearest
	}
	e := int64(exact.MantExp(nil))
	prec, ok := precAt(e)
	if !ok {
		// A sum of two extended values is a multiple of 2^-16445, so it
		// is never too small: this is overflow.
		return Value{}, false
	}
	sum.f.SetPrec(prec).SetMode(big.ToNearestEven).Set(exact)
	if sum.f.MantExp(nil) > maxExp {
		return Value{}, false
	}
	return sum, true
}

// AppendHuman appends v as Redis's ld2string prints it in its human mode:
// "%.17Lf" (exact decimal value, rounded half-to-even at the 17th
// decimal, as glibc does), trailing zeros and a trailing point cut, and
// "-0" written "0". v must be finite.
func AppendHuman(dst []byte, v Value) []byte {
	// Below 2^-58 (about 3.5e-18, under half the 17th decimal) the value
	// prints as 0; big.Float would first expand its thousands of binary
	// places into decimals, quadratically, only to round them away.
	if v.f.Sign() == 0 || v.f.MantExp(nil) <= -58 {
		return append(dst, '0')
	}
	start := len(dst)
	dst = v.f.Append(dst, 'f', 17)
	for dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	if dst[len(dst)-1] == '.' {
		dst = dst[:len(dst)-1]
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func trimZeros(d []byte) []byte {
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	return d
}

func equalFold(s []byte, word string) bool {
	if len(s) != len(word) {
		return false
	}
	for i := range s {
		if s[i]|0x20 != word[i] {
			return false
		}
	}
	return true
}
