package ldouble

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// incrByFloat is INCRBYFLOAT's arithmetic on two arguments: the reply's
// bytes, or which error Redis gives.
func incrByFloat(a, b string) string {
	x, ok1 := Parse([]byte(a))
	y, ok2 := Parse([]byte(b))
	if !ok1 || !ok2 {
		return "ERR float"
	}
	sum, ok := Add(x, y)
	if !ok {
		return "ERR naninf"
	}
	return string(AppendHuman(nil, sum))
}

// TestAgainstGlibc replays testdata/vectors.txt: "a<TAB>b<TAB>reply" lines
// produced by testdata/oracle.c, which runs Redis's string2ld, long double
// addition and ld2string (human mode) compiled with gcc on x86-64 glibc.
func TestAgainstGlibc(t *testing.T) {
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			t.Fatalf("line %d: %q", n+1, sc.Text())
		}
		if got := incrByFloat(parts[0], parts[1]); got != parts[2] {
			t.Errorf("%q + %q = %q, glibc %q", parts[0], parts[1], trim(got), trim(parts[2]))
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d vectors", n)
	}
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-40:]
	}
	return s
}

// FuzzParse: any bytes parse or are refused without a panic, and a parsed
// number adds to itself and prints; what it prints parses again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.5", "-0x1.8p-16445", "1e4932", "1e-4951", "inf", ".", "0x", "1e+", "9" + strings.Repeat("0", 5000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok := Parse(b)
		if !ok {
			return
		}
		sum, ok := Add(v, v)
		if !ok {
			return
		}
		out := AppendHuman(nil, sum)
		if _, ok := Parse(out); !ok {
			t.Fatalf("%q + itself printed %q, which does not parse", b, out)
		}
	})
}
