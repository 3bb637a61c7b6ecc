package lcs

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// reference is Redis's lcsCommand transcribed: the full table of 32-bit
// lengths and the same walk back.
func reference(a, b []byte) (seq []byte, ranges []Range, n int) {
	w := len(b) + 1
	dp := make([]uint32, (len(a)+1)*w)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			switch {
			case a[i-1] == b[j-1]:
				dp[i*w+j] = dp[(i-1)*w+j-1] + 1
			default:
				dp[i*w+j] = max(dp[(i-1)*w+j], dp[i*w+j-1])
			}
		}
	}
	n = int(dp[len(a)*w+len(b)])
	seq = make([]byte, n)
	idx := n
	alen := len(a)
	as, ae, bs, be := alen, 0, 0, 0
	i, j := len(a), len(b)
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			seq[idx-1] = a[i-1]
			if as == alen {
				as, ae, bs, be = i-1, i-1, j-1, j-1
			} else if as == i && bs == j {
				as--
				bs--
			} else {
				emit = true
			}
			if as == 0 || bs == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if dp[(i-1)*w+j] > dp[i*w+j-1] {
				i--
			} else {
				j--
			}
			if as != alen {
				emit = true
			}
		}
		if emit {
			ranges = append(ranges, Range{as, ae, bs, be})
			as = alen
		}
	}
	return seq, ranges, n
}

// TestAgainstReference compares the bit table's walk with the plain table
// on random strings over small alphabets (many ties) and lengths around
// the 64-bit word edges.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	gen := func(n, alpha int) []byte {
		s := make([]byte, n)
		for i := range s {
			s[i] = byte('a' + r.IntN(alpha))
		}
		return s
	}
	lengths := []int{0, 1, 2, 7, 63, 64, 65, 127, 128, 129, 200}
	for range 3000 {
		a := gen(lengths[r.IntN(len(lengths))]+r.IntN(3), 1+r.IntN(4))
		b := gen(lengths[r.IntN(len(lengths))]+r.IntN(3), 1+r.IntN(4))
		tb := New(a, b)
		seq, ranges := tb.Walk()
		wseq, wranges, n := reference(a, b)
		if tb.Len() != n || string(seq) != string(wseq) || !slices.Equal(ranges, wranges) {
			t.Fatalf("LCS(%q, %q):\n got %d %q %v\nwant %d %q %v", a, b, tb.Len(), seq, ranges, n, wseq, wranges)
		}
	}
}

func TestRedisExample(t *testing.T) {
	// The example of Redis's LCS documentation.
	tb := New([]byte("ohmytext"), []byte("mynewtext"))
	seq, ranges := tb.Walk()
	if string(seq) != "mytext" || tb.Len() != 6 {
		t.Fatalf("got %q %d", seq, tb.Len())
	}
	want := []Range{{4, 7, 5, 8}, {2, 3, 0, 1}}
	if !slices.Equal(ranges, want) {
		t.Fatalf("ranges %v, want %v", ranges, want)
	}
}
