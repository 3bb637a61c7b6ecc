package proxyfront_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rconn is a RESP2 connection that returns each reply as the exact bytes
// the server sent.
type rconn struct {
	addr string
	c    net.Conn
	rd   *bufio.Reader
	w    *bufio.Writer
}

func dialRESP(addr string) (*rconn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rconn{addr: addr, c: c, rd: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t testing.TB, addr string) *rconn {
	t.Helper()
	c, err := dialRESP(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.c.Close() })
	return c
}

func (c *rconn) Close() error { return c.c.Close() }

// send buffers one command as an array of bulk strings.
func (c *rconn) send(args ...string) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n", len(a))
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

func (c *rconn) flush() error {
	c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return c.w.Flush()
}

// read returns the next reply's raw bytes.
func (c *rconn) read() ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return readReply(c.rd, nil)
}

// do sends one command and returns its raw reply.
func (c *rconn) do(args ...string) ([]byte, error) {
	c.send(args...)
	if err := c.flush(); err != nil {
		return nil, err
	}
	return c.read()
}

// must is do for the test goroutine: an I/O error fails the test.
func (c *rconn) must(t testing.TB, args ...string) []byte {
	t.Helper()
	raw, err := c.do(args...)
	if err != nil {
		t.Fatalf("%s %s: %v", c.addr, showArgs(args), err)
	}
	return raw
}

// readReply appends one complete RESP2 reply from rd to dst.
func readReply(rd *bufio.Reader, dst []byte) ([]byte, error) {
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return append(dst, line...), err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return append(dst, line...), fmt.Errorf("malformed reply line %q", line)
	}
	dst = append(dst, line...)
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-', ':':
		return dst, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return dst, fmt.Errorf("malformed bulk length %q", line)
		}
		if n == -1 {
			return dst, nil
		}
		start := len(dst)
		dst = append(dst, make([]byte, n+2)...)
		if _, err := io.ReadFull(rd, dst[start:]); err != nil {
			return dst, err
		}
		if dst[len(dst)-2] != '\r' || dst[len(dst)-1] != '\n' {
			return dst, fmt.Errorf("bulk of %d bytes not followed by CRLF", n)
		}
		return dst, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return dst, fmt.Errorf("malformed array length %q", line)
		}
		for range n {
			if dst, err = readReply(rd, dst); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, fmt.Errorf("unknown reply type %q", line)
}

// respErr is an error reply, without its "-".
type respErr string

// status is a simple-string reply, without its "+".
type status string

// parse decodes one raw reply: status, respErr, int64, []byte (bulk),
// []any (array), or nil (null bulk or null array).
func parse(raw []byte) (any, []byte, error) {
	i := bytes.Index(raw, []byte("\r\n"))
	if i < 1 {
		return nil, raw, fmt.Errorf("no reply line in %q", raw)
	}
	body, rest := string(raw[1:i]), raw[i+2:]
	switch raw[0] {
	case '+':
		return status(body), rest, nil
	case '-':
		return respErr(body), rest, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return n, rest, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n == -1 {
			return nil, rest, err
		}
		if len(rest) < n+2 {
			return nil, rest, fmt.Errorf("short bulk")
		}
		return rest[:n], rest[n+2:], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n == -1 {
			return nil, rest, err
		}
		out := make([]any, n)
		for j := range out {
			if out[j], rest, err = parse(rest); err != nil {
				return nil, rest, err
			}
		}
		return out, rest, nil
	}
	return nil, raw, fmt.Errorf("unknown reply type in %q", raw)
}

// value parses a complete raw reply.
func value(t testing.TB, raw []byte) any {
	t.Helper()
	v, rest, err := parse(raw)
	if err != nil || len(rest) != 0 {
		t.Fatalf("unparsable reply %s: %v", show(raw), err)
	}
	return v
}

// relsetMagic starts every openhash array. A relation set's bytes depend on
// a random seed per build, so two servers holding the same set return
// different bytes for GET; canon hides them.
var relsetMagic = []byte{0x8f, 'R', 'H', 'S'}

// relInfoHead starts a RELINFO reply. Its capacity, load factor and bytes
// depend on the set's history (an insert that found no room in the seeded
// layout grew the table), so canon hides those three as it hides bytes.
var relInfoHead = []byte("*14\r\n$5\r\ncount\r\n")

// canon returns raw with relation-set bulks replaced by a placeholder, and
// a RELINFO reply's layout numbers by zeros.
func canon(raw []byte) []byte {
	relInfo := bytes.HasPrefix(raw, relInfoHead)
	if !relInfo && !bytes.Contains(raw, relsetMagic) {
		return raw
	}
	v, _, err := parse(raw)
	if err != nil {
		return raw
	}
	if fields, ok := v.([]any); relInfo && ok && len(fields) == 14 {
		for _, i := range []int{3, 7, 9} { // capacity, load_factor, bytes
			fields[i] = int64(0)
		}
	}
	var out []byte
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
			out = append(out, "$-1\r\n"...)
		case status:
			out = append(out, "+"+string(x)+"\r\n"...)
		case respErr:
			out = append(out, "-"+string(x)+"\r\n"...)
		case int64:
			out = append(out, ":"+strconv.FormatInt(x, 10)+"\r\n"...)
		case []byte:
			if bytes.HasPrefix(x, relsetMagic) {
				x = []byte("<relation set>") // its size depends on its history too
			}
			out = append(out, fmt.Sprintf("$%d\r\n%s\r\n", len(x), x)...)
		case []any:
			out = append(out, fmt.Sprintf("*%d\r\n", len(x))...)
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// show quotes a reply for a failure message, cut to a readable length.
func show(raw []byte) string {
	const most = 600
	if len(raw) > most {
		return strconv.Quote(string(raw[:most])) + fmt.Sprintf("... (%d bytes)", len(raw))
	}
	return strconv.Quote(string(raw))
}

func showArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i == 12 {
			fmt.Fprintf(&b, " ... (%d args)", len(args))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(a) > 40 {
			a = a[:40] + "..."
		}
		b.WriteString(a)
	}
	return b.String()
}

// bulk is the raw reply of a bulk string.
func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }
