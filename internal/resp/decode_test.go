package resp

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in    string
		typ   byte
		elems int
	}{
		{"+OK\r\n", '+', 0}, {"-ERR x\r\n", '-', 0}, {":-3\r\n", ':', 0}, {"$0\r\n\r\n", '$', 0},
		{"$-1\r\n", '$', 0}, {"*-1\r\n", '*', 0}, {"_\r\n", '_', 0}, {"#t\r\n", '#', 0},
		{"*2\r\n$1\r\na\r\n:1\r\n", '*', 2}, {"%1\r\n+k\r\n*0\r\n", '%', 2}, {"~2\r\n:1\r\n:2\r\n", '~', 2},
		{">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n", '>', 2},
		{"=7\r\ntxt:a\r\n\r\n", '=', 0}, {"$4\r\na\r\nb\r\n", '$', 0},
	} {
		v, n, err := Decode([]byte(tc.in + "+next\r\n"))
		if err != nil || n != len(tc.in) || v.Type != tc.typ || len(v.Elems) != tc.elems {
			t.Errorf("%q: %c with %d elems, %d bytes, %v", tc.in, v.Type, len(v.Elems), n, err)
		}
	}
	for _, bad := range []string{
		"+OK\n", ":01\r\n", ":+1\r\n", ":-0\r\n", "$-2\r\n", "$1\r\nab\r\n", "*-2\r\n", "%-1\r\n",
		"?\r\n", "\r\n", "_x\r\n", "#x\r\n", "+a\rb\r\n", "$ 1\r\na\r\n",
	} {
		if _, _, err := Decode([]byte(bad)); err == nil || errors.Is(err, ErrIncomplete) {
			t.Errorf("%q: want a malformed-reply error, got %v", bad, err)
		}
	}
	for _, part := range []string{"", "+OK", "+OK\r", "$3\r\nab", "*2\r\n:1\r\n", "%1\r\n+k\r\n", "*100\r\n:1\r\n"} {
		if _, _, err := Decode([]byte(part)); !errors.Is(err, ErrIncomplete) {
			t.Errorf("%q: want ErrIncomplete, got %v", part, err)
		}
	}
}

// TestDecodeAllCountsReplies: a stream with an element too many or too few
// is not n replies.
func TestDecodeAllCountsReplies(t *testing.T) {
	good := "*2\r\n:1\r\n:2\r\n+PONG\r\n"
	if _, err := DecodeAll([]byte(good), 2); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"*1\r\n:1\r\n:2\r\n+PONG\r\n", // surplus element: three replies
		"*3\r\n:1\r\n:2\r\n+PONG\r\n", // one short: PONG is swallowed
	} {
		if _, err := DecodeAll([]byte(bad), 2); err == nil {
			t.Errorf("%q parsed as 2 replies", bad)
		}
	}
}

func TestValueReader(t *testing.T) {
	stream := "*2\r\n$3\r\nabc\r\n%1\r\n+k\r\n:7\r\n$20000\r\n" + string(bytes.Repeat([]byte("y"), 20000)) + "\r\n"
	vr := NewValueReader(iotest.OneByteReader(bytes.NewReader([]byte(stream))))
	v, err := vr.Next()
	if err != nil || len(v.Elems) != 2 || string(v.Elems[0].Str) != "abc" || v.Elems[1].Elems[1].Int != 7 {
		t.Fatalf("first: %+v %v", v, err)
	}
	v, err = vr.Next()
	if err != nil || len(v.Str) != 20000 {
		t.Fatalf("second: %d bytes, %v", len(v.Str), err)
	}
	if _, err := vr.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
	vr = NewValueReader(iotest.OneByteReader(bytes.NewReader([]byte(":1\r\n~1\r\n#t\r\n"))))
	if _, raw, err := vr.NextRaw(); err != nil || string(raw) != ":1\r\n" {
		t.Fatalf("NextRaw: %q %v", raw, err)
	}
	if v, raw, err := vr.NextRaw(); err != nil || string(raw) != "~1\r\n#t\r\n" || string(v.Append(nil)) != string(raw) {
		t.Fatalf("NextRaw: %q %v", raw, err)
	}
	vr = NewValueReader(bytes.NewReader([]byte("*3\r\n:1\r\n")))
	if _, err := vr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut reply: %v", err)
	}
}

// FuzzDecode: Decode never panics, and on RESP2 it frames exactly as
// ReplyEnd, the proxy's framing, does.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n+k\r\n_\r\n", "$-1\r\n", "*1\r\n*1\r\n*0\r\n", ":01\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Decode(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("Decode took %d of %d bytes", n, len(b))
		}
		if back := v.Append(nil); !bytes.Equal(back, b[:n]) {
			t.Fatalf("Append gives %q for %q", back, b[:n])
		}
		if !resp2Only(v) {
			return
		}
		if end, ferr := ReplyEnd(b[:n]); ferr != nil || end != n {
			t.Fatalf("Decode took %d bytes, ReplyEnd says %d, %v", n, end, ferr)
		}
	})
}

func resp2Only(v Value) bool {
	switch v.Type {
	case '+', '-', ':', '$':
		return true
	case '*':
		for _, e := range v.Elems {
			if !resp2Only(e) {
				return false
			}
		}
		return true
	}
	return false
}
