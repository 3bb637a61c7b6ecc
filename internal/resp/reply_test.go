package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

func readReplies(data []byte, oneByte bool, max int) ([]string, error) {
	var src io.Reader = bytes.NewReader(data)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	rr := NewReplyReader(src, max)
	var out []string
	for {
		r, err := rr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, string(r))
	}
}

func TestReplyReader(t *testing.T) {
	replies := []string{
		"+OK\r\n", "-ERR no\r\n", ":42\r\n", ":-7\r\n", "$3\r\nabc\r\n", "$0\r\n\r\n", "$-1\r\n",
		"*-1\r\n", "*0\r\n", "*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n$2\r\n\r\n\r\n",
		"$20000\r\n" + string(bytes.Repeat([]byte("x"), 20000)) + "\r\n",
	}
	var stream []byte
	for _, r := range replies {
		stream = append(stream, r...)
	}
	for _, one := range []bool{false, true} {
		got, err := readReplies(stream, one, 1<<20)
		if !errors.Is(err, io.EOF) || fmt.Sprint(got) != fmt.Sprint(replies) {
			t.Fatalf("one-byte=%v: got %q, %v", one, got, err)
		}
	}
	for _, bad := range []string{"?x\r\n", ":x\r\n", "$-2\r\n", "$1\r\nab\r\n", "+OK\n", "*-2\r\n"} {
		if _, err := readReplies([]byte(bad), false, 1<<20); errors.Is(err, io.EOF) || err == nil {
			t.Errorf("%q: want a framing error, got %v", bad, err)
		}
	}
	if _, err := readReplies([]byte("$100\r\n"+string(make([]byte, 100))+"\r\n"), false, 64); !errors.Is(err, ErrReplyTooLarge) {
		t.Errorf("oversized reply: got %v", err)
	}
}

func TestReplyAccessors(t *testing.T) {
	if n, ok := Int([]byte(":-12\r\n")); !ok || n != -12 {
		t.Errorf("Int = %d %v", n, ok)
	}
	if b, ok := Bulk([]byte("$2\r\nhi\r\n")); !ok || string(b) != "hi" {
		t.Errorf("Bulk = %q %v", b, ok)
	}
	if _, ok := Bulk([]byte("$-1\r\n")); ok || !IsNil([]byte("$-1\r\n")) || !IsNil([]byte("*-1\r\n")) {
		t.Error("nil bulk handling")
	}
	if !IsError([]byte("-ERR x\r\n")) || ErrorText([]byte("-ERR x\r\n")) != "ERR x" {
		t.Error("error accessors")
	}
	el, ok := AppendElements(nil, []byte("*3\r\n:1\r\n*1\r\n$1\r\na\r\n$-1\r\n"))
	if !ok || fmt.Sprint(el) != fmt.Sprint([][]byte{[]byte(":1\r\n"), []byte("*1\r\n$1\r\na\r\n"), []byte("$-1\r\n")}) {
		t.Errorf("AppendElements = %q %v", el, ok)
	}
	if _, ok := AppendElements(nil, []byte("*-1\r\n")); ok {
		t.Error("nil array has no elements")
	}
}

// FuzzReplyReader: a backend's bytes never panic the reader, read sizes do
// not change the framing, and every framed reply is itself exactly one
// reply whose elements re-frame.
func FuzzReplyReader(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*2\r\n:1\r\n$1\r\nx\r\n", "$-1\r\n", "*1\r\n*1\r\n*1\r\n", "-ERR\r\n:1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readReplies(data, false, 4096)
		one, err1 := readReplies(data, true, 4096)
		if fmt.Sprint(got) != fmt.Sprint(one) || fmt.Sprint(err) != fmt.Sprint(err1) {
			t.Fatalf("one-byte reads framed %q (%v), whole reads %q (%v)", one, err1, got, err)
		}
		for _, r := range got {
			if n, err := ReplyEnd([]byte(r)); err != nil || n != len(r) {
				t.Fatalf("reply %q re-frames to %d, %v", r, n, err)
			}
			if el, ok := AppendElements(nil, []byte(r)); ok {
				for _, e := range el {
					if n, err := ReplyEnd(e); err != nil || n != len(e) {
						t.Fatalf("element %q of %q re-frames to %d, %v", e, r, n, err)
					}
				}
			}
			Int([]byte(r))
			Bulk([]byte(r))
		}
	})
}
