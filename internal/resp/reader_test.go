package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidwall/redcon"
)

// readAll frames every command of data through a reader with the given
// limits, one byte per read when oneByte is set, and returns the commands
// (copied) and the error that stopped it.
func readAll(data []byte, oneByte bool, lim Limits) ([][]string, error) {
	var src io.Reader = bytes.NewReader(data)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	rd := NewReader(src, func() Limits { return lim }, nil)
	var out [][]string
	for {
		args, err := rd.Next()
		if err != nil {
			return out, err
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		out = append(out, cmd)
	}
}

// FuzzReader feeds random bytes to the command reader: nothing panics, no
// command breaks the limits, the read size does not change what is framed,
// and on streams of RESP commands redcon's reader frames the same arguments.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$300\r\n", "*999\r\n", "PING\r\n",
		"*1\r\n$-1\r\n", "*0\r\n", "\"unterminated\r\n", "*1\r\n$0\r\n\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
		"SET \"a\\x41\\n\" 'b\\'c'\r\n", "*-1\r\n*1\r\n$1\r\nx\r\n",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxBulk: 64, MaxMultibulk: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds, err := readAll(data, false, lim)
		for _, c := range cmds {
			if len(c) == 0 {
				t.Fatal("empty command returned")
			}
			if len(c) > MaxInline {
				t.Fatalf("command of %d arguments", len(c))
			}
		}
		if !errors.Is(err, io.EOF) && !isProtoError(err) {
			t.Fatalf("unexpected error %v", err)
		}
		one, err1 := readAll(data, true, lim)
		if fmt.Sprint(one) != fmt.Sprint(cmds) || fmt.Sprint(err1) != fmt.Sprint(err) {
			t.Fatalf("one-byte reads framed %q (%v), whole reads %q (%v)", one, err1, cmds, err)
		}
		// Differential check on input that is exactly canonical RESP
		// commands, as we framed them: redcon must agree argument for
		// argument. (Inline commands are not compared: Redis splits them
		// on \r as on any space, redcon does not, and redcon reports an
		// inline command re-encoded as RESP, so it cannot be told apart.)
		if len(data) == 0 || !errors.Is(err, io.EOF) || !bytes.Equal(data, encodeRESP(cmds)) {
			return
		}
		var ref [][]string
		rr := redcon.NewReader(bytes.NewReader(data))
		for {
			c, err := rr.ReadCommand()
			if err != nil {
				break
			}
			if c.Raw[0] != '*' {
				return // redcon took an inline command; not comparable
			}
			var args []string
			for _, a := range c.Args {
				args = append(args, string(a))
			}
			ref = append(ref, args)
		}
		for _, c := range cmds {
			for _, a := range c {
				if len(a) > int(lim.MaxBulk) {
					return // only relevant for RESP args; inline ones may be longer
				}
			}
		}
		if len(ref) == len(cmds) && fmt.Sprint(ref) != fmt.Sprint(cmds) {
			t.Fatalf("redcon framed %q, we framed %q", ref, cmds)
		}
	})
}

// encodeRESP writes cmds as RESP arrays of bulk strings.
func encodeRESP(cmds [][]string) []byte {
	var b []byte
	for _, c := range cmds {
		b = redcon.AppendArray(b, len(c))
		for _, a := range c {
			b = redcon.AppendBulkString(b, a)
		}
	}
	return b
}

func isProtoError(err error) bool {
	var pe *ProtoError
	return errors.As(err, &pe)
}

// TestReaderPassesValidStreams checks that well-formed pipelines come through
// unchanged whatever the read sizes are, and that limits are enforced on the
// header with Redis's wording.
func TestReaderPassesValidStreams(t *testing.T) {
	var stream []byte
	var want [][]string
	for i := range 50 {
		args := []string{"SET", strings.Repeat("k", i), strings.Repeat("v", i*37)}
		want = append(want, args)
		stream = redcon.AppendArray(stream, len(args))
		for _, a := range args {
			stream = redcon.AppendBulkString(stream, a)
		}
	}
	stream = append(stream, "PING inline \"q x\" '\\'y'\r\n*0\r\n\r\n"...)
	want = append(want, []string{"PING", "inline", "q x", "'y"})
	for _, one := range []bool{false, true} {
		got, err := readAll(stream, one, Limits{MaxBulk: 4096, MaxMultibulk: 3})
		if !errors.Is(err, io.EOF) {
			t.Fatalf("one-byte=%v: %v", one, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("one-byte=%v: got %q\nwant %q", one, got, want)
		}
	}
	for _, tc := range []struct {
		in   string
		lim  Limits
		want string
	}{
		{"*5\r\n", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: invalid multibulk length"},
		{"*1\r\n$11\r\n", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: invalid bulk length"},
		{"*11\r\n", Limits{MaxBulk: 16384, MaxMultibulk: 10, Unauth: true}, "Protocol error: unauthenticated multibulk length"},
		{"*1\r\n$16385\r\n", Limits{MaxBulk: 16384, MaxMultibulk: 10, Unauth: true}, "Protocol error: unauthenticated bulk length"},
		{"*1\r\nx", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: expected '$', got 'x'"},
		{"*x\r\n", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: invalid multibulk length"},
		{"a \"b\r\n", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: unbalanced quotes in request"},
		{"a \"b\"c\r\n", Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: unbalanced quotes in request"},
		{strings.Repeat("x", MaxInline+1), Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: too big inline request"},
		{"*" + strings.Repeat("1", MaxInline+1), Limits{MaxBulk: 10, MaxMultibulk: 4}, "Protocol error: too big mbulk count string"},
	} {
		_, err := readAll([]byte(tc.in), false, tc.lim)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%.20q: got %v, want %s", tc.in, err, tc.want)
		}
	}
}

// BenchmarkReader frames a pipeline of GETs; it must not allocate per command.
func BenchmarkReader(b *testing.B) {
	var stream []byte
	for range 100 {
		stream = append(stream, "*2\r\n$3\r\nGET\r\n$10\r\nkey:000001\r\n"...)
	}
	src := bytes.NewReader(stream)
	rd := NewReader(src, func() Limits { return Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 20} }, nil)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		rd.start, rd.end, rd.need = 0, 0, 0
		for range 100 {
			if _, err := rd.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A length header alone must not reserve the memory it announces: the
// buffer grows with the bytes that arrive (issue 14, defect 10: 24
// connections each sending "*1\r\n$536870912\r\n" held 12.9 GB).
func TestReaderGrowsWithArrivedBytes(t *testing.T) {
	lim := Limits{MaxBulk: 1 << 30, MaxMultibulk: 16}
	for _, sent := range []int{0, 100 << 10, 3 << 20} {
		data := append([]byte("*1\r\n$536870912\r\n"), bytes.Repeat([]byte("x"), sent)...)
		rd := NewReader(bytes.NewReader(data), func() Limits { return lim }, nil)
		if _, err := rd.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("sent %d: err %v, want EOF", sent, err)
		}
		if c, most := cap(rd.buf), 2*sent+2*readChunk; c > most {
			t.Errorf("after %d bytes of a 512 MB bulk the buffer holds %d bytes, want at most %d", sent, c, most)
		}
	}
}

// The bytes a client has sent but not finished a command with are bounded
// by MaxQueryBuf, as Redis's client-query-buffer-limit.
func TestReaderQueryBufLimit(t *testing.T) {
	lim := Limits{MaxBulk: 1 << 30, MaxMultibulk: 16, MaxQueryBuf: 1 << 20}
	data := append([]byte("*2\r\n$3\r\nSET\r\n$3000000\r\n"), bytes.Repeat([]byte("x"), 3000000)...)
	_, err := readAll(data, false, lim)
	var qe *QueryBufError
	if !errors.As(err, &qe) || qe.Limit != 1<<20 || qe.Buffered <= 1<<20 {
		t.Fatalf("err %v, want a QueryBufError over 1 MiB", err)
	}
	// A command within the limit, split over many reads, still frames.
	lim.MaxQueryBuf = 4 << 20
	cmds, err := readAll(append(data, "\r\n"...), false, lim)
	if !errors.Is(err, io.EOF) || len(cmds) != 1 || len(cmds[0][1]) != 3000000 {
		t.Fatalf("got %d commands, err %v", len(cmds), err)
	}
}

// BenchmarkReaderBatch frames RELMULTI key + 500 ten-digit uids, the shape
// of a batch lookup (issue 19: the decimal form's cost is mostly here).
func BenchmarkReaderBatch(b *testing.B) {
	cmd := []byte("*502\r\n$8\r\nRELMULTI\r\n$20\r\n1000000001.following\r\n")
	for i := range 500 {
		u := strconv.Itoa(1_000_000_000 + i*7919)
		cmd = append(cmd, "$"+strconv.Itoa(len(u))+"\r\n"+u+"\r\n"...)
	}
	var stream []byte
	for range 4 {
		stream = append(stream, cmd...)
	}
	src := bytes.NewReader(stream)
	rd := NewReader(src, func() Limits { return Limits{MaxBulk: 1 << 20, MaxMultibulk: 1 << 20} }, nil)
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		rd.start, rd.end, rd.need = 0, 0, 0
		for range 4 {
			args, err := rd.Next()
			if err != nil || len(args) != 502 {
				b.Fatal(err, len(args))
			}
			for _, a := range args[2:] {
				if _, ok := ParseUint(a); !ok {
					b.Fatal("not a uid")
				}
			}
		}
	}
}

// A client that keeps the read buffer full is read in bigger chunks, up to
// streamBuf and no more; once it sends less than the buffer holds for
// calmReads reads, the buffer goes back to readChunk.
func TestReaderStreamBuffer(t *testing.T) {
	cmd := []byte("*2\r\n$3\r\nGET\r\n$10\r\nkey:000001\r\n")
	stream := bytes.Repeat(cmd, 4*streamBuf/len(cmd))
	src := &chunkReader{b: stream}
	rd := NewReader(src, func() Limits { return Limits{MaxBulk: 1 << 20, MaxMultibulk: 16} }, nil)
	for range 4 * streamBuf / len(cmd) {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rd.buf) != streamBuf || src.most <= streamBuf/2 {
		t.Fatalf("after %d bytes read as fast as offered: buffer %d, largest read %d; want %d and over half that", len(stream), len(rd.buf), src.most, streamBuf)
	}
	// Reads that do not fill it but would not fit the small buffer
	// either keep it.
	src.b, src.max = bytes.Repeat(cmd, 4*calmReads*readChunk/len(cmd)), 2*readChunk
	for range 4 * calmReads * readChunk / len(cmd) {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rd.buf) != streamBuf {
		t.Fatalf("after %d reads of %d bytes the buffer is %d bytes, want %d", 2*calmReads, 2*readChunk, len(rd.buf), streamBuf)
	}
	// Now one command per read: the reads stop filling the buffer.
	src.b, src.max = bytes.Repeat(cmd, 2*calmReads), len(cmd)
	for range 2 * calmReads {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rd.buf) != readChunk {
		t.Fatalf("after %d small reads the buffer is %d bytes, want %d", 2*calmReads, len(rd.buf), readChunk)
	}
}

// chunkReader returns at most max bytes a read (0: all it is asked for)
// and records the largest read.
type chunkReader struct {
	b         []byte
	max, most int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.max > 0 && len(p) > r.max {
		p = p[:r.max]
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	r.most = max(r.most, n)
	return n, nil
}
