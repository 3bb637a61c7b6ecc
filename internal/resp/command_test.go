package resp

import (
	"bytes"
	"testing"

	"github.com/tidwall/redcon"
)

// TestEncodersFrame checks that what the encoders write is one command the
// server's Reader reads back argument for argument.
func TestEncodersFrame(t *testing.T) {
	var b []byte
	b = redcon.AppendArray(b, 4)
	b = redcon.AppendBulkString(b, "RELMULTI")
	b = redcon.AppendBulk(b, []byte("7.following"))
	b = AppendBulkUint(b, 18446744073709551615)
	b = redcon.AppendBulk(b, nil)
	b = AppendCommand(b, []byte("PING"))
	rd := NewReader(bytes.NewReader(b), func() Limits { return Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 10} }, nil)
	want := [][]string{{"RELMULTI", "7.following", "18446744073709551615", ""}, {"PING"}}
	for _, w := range want {
		args, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(args) != len(w) {
			t.Fatalf("got %q, want %q", args, w)
		}
		for i := range w {
			if string(args[i]) != w[i] {
				t.Fatalf("arg %d: got %q, want %q", i, args[i], w[i])
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { b = AppendBulkUint(b[:0], 1234567890) }); n != 0 {
		t.Errorf("AppendBulkUint: %.0f allocations, want 0", n)
	}
}

// TestAppendBulkUint holds AppendBulkUint to redcon's AppendBulkUint, which
// it stands in for only to save the allocation.
func TestAppendBulkUint(t *testing.T) {
	for _, u := range []uint64{0, 9, 10, 1000000005, 18446744073709551615} {
		if got, want := AppendBulkUint([]byte("x"), u), redcon.AppendBulkUint([]byte("x"), u); !bytes.Equal(got, want) {
			t.Errorf("%d: %q, redcon %q", u, got, want)
		}
	}
}
