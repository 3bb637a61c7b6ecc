package resp

import (
	"bytes"
	"testing"
)

// TestEncodersFrame checks that what the encoders write is one command the
// server's Reader reads back argument for argument.
func TestEncodersFrame(t *testing.T) {
	var b []byte
	b = AppendArrayHeader(b, 4)
	b = AppendBulkString(b, "RELMULTI")
	b = AppendBulk(b, []byte("7.following"))
	b = AppendBulkUint(b, 18446744073709551615)
	b = AppendBulk(b, nil)
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
