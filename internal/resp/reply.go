package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ReplyReader frames the replies a server sends back: each Next returns one
// complete reply's raw bytes, ready to be forwarded unchanged or taken apart
// with the functions below. It reads RESP2, which is all a relcache or
// Redis node speaks until a client asks for HELLO 3 (the proxy never does).
//
// A reply is framed before it is handed out, so a proxy never forwards half
// a reply; a malformed or oversized one is an error after which the
// connection cannot be trusted (the stream has lost its framing) and must be
// closed.
type ReplyReader struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int
	need       int
}

// ErrReplyTooLarge is returned for a reply larger than the reader's maximum.
var ErrReplyTooLarge = errors.New("reply larger than the limit")

// NewReplyReader reads replies from r, refusing any larger than max bytes.
func NewReplyReader(r io.Reader, max int) *ReplyReader {
	return &ReplyReader{r: r, max: max, buf: make([]byte, readChunk)}
}

// SetReader makes r the source of the bytes after those already buffered:
// for a connection whose reads pass from one owner to another (the proxy's
// event loop and a backend connection's reader goroutine), the replies
// half-read stay where they are.
func (rr *ReplyReader) SetReader(r io.Reader) { rr.r = r }

// Buffered is the number of bytes read but not yet returned.
func (rr *ReplyReader) Buffered() int { return rr.end - rr.start }

// Next returns the next reply. The bytes alias the reader's buffer and are
// valid until the next call.
func (rr *ReplyReader) Next() ([]byte, error) {
	for {
		if rr.end-rr.start >= rr.need && rr.end > rr.start {
			b := rr.buf[rr.start:rr.end]
			// Frame only the first max bytes: what lies past them cannot
			// change the verdict (too large), so the answer does not depend
			// on how much one read happened to bring in.
			n, err := ReplyEnd(b[:min(len(b), rr.max)])
			if err != nil {
				return nil, err
			}
			if n == 0 && len(b) >= rr.max {
				return nil, fmt.Errorf("%w (%d bytes)", ErrReplyTooLarge, rr.max)
			}
			if n > 0 {
				rr.start += n
				rr.need = 0
				return b[:n:n], nil
			}
			rr.need = len(b) + 1
		}
		if err := rr.fill(); err != nil {
			return nil, err
		}
	}
}

func (rr *ReplyReader) fill() error {
	if rr.start == rr.end {
		rr.start, rr.end = 0, 0
		if cap(rr.buf) > keepBuf {
			rr.buf = make([]byte, readChunk)
		}
	}
	if rr.end == len(rr.buf) {
		n := copy(rr.buf, rr.buf[rr.start:rr.end])
		rr.start, rr.end = 0, n
		if n == len(rr.buf) {
			nb := make([]byte, 2*len(rr.buf))
			copy(nb, rr.buf[:n])
			rr.buf = nb
		}
	}
	n, err := rr.r.Read(rr.buf[rr.end:])
	rr.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// errBadReply is a reply that is not RESP2.
type errBadReply struct{ what string }

func (e *errBadReply) Error() string { return "malformed reply: " + e.what }

// maxDepth bounds array nesting, so a hostile server cannot recurse us
// into the ground. Redis's own replies nest a few levels at most.
const maxDepth = 32

// ReplyEnd returns the length of the complete reply at the start of b, or 0
// when b holds only part of one.
func ReplyEnd(b []byte) (int, error) { return replyEnd(b, 0, 0) }

func replyEnd(b []byte, pos, depth int) (int, error) {
	if pos >= len(b) {
		return 0, nil
	}
	nl := bytes.IndexByte(b[pos:], '\n')
	if nl < 0 {
		if len(b)-pos > MaxInline {
			return 0, &errBadReply{"line too long"}
		}
		return 0, nil
	}
	if nl == 0 {
		return 0, &errBadReply{"empty line"}
	}
	line := b[pos+1 : pos+nl]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, &errBadReply{"line not ended by CRLF"}
	}
	line = line[:len(line)-1]
	next := pos + nl + 1
	switch b[pos] {
	case '+', '-':
		return next, nil
	case ':':
		if _, ok := ParseInt(line); !ok {
			return 0, &errBadReply{"bad integer"}
		}
		return next, nil
	case '$':
		n, ok := ParseInt(line)
		if !ok || n < -1 {
			return 0, &errBadReply{"bad bulk length"}
		}
		if n == -1 {
			return next, nil
		}
		end := next + int(n) + 2
		if end < next { // overflow
			return 0, &errBadReply{"bad bulk length"}
		}
		if end > len(b) {
			return 0, nil
		}
		if b[end-2] != '\r' || b[end-1] != '\n' {
			return 0, &errBadReply{"bulk not ended by CRLF"}
		}
		return end, nil
	case '*':
		n, ok := ParseInt(line)
		if !ok || n < -1 {
			return 0, &errBadReply{"bad array length"}
		}
		if depth >= maxDepth {
			return 0, &errBadReply{"arrays nested too deep"}
		}
		for range n {
			e, err := replyEnd(b, next, depth+1)
			if err != nil || e == 0 {
				return 0, err
			}
			next = e
		}
		return next, nil
	}
	return 0, &errBadReply{fmt.Sprintf("unexpected type byte %q", b[pos])}
}

// Reply accessors for a proxy that merges sub-replies. Each takes one
// complete reply as framed by ReplyReader or ReplyEnd.

// IsError reports whether raw is an error reply.
func IsError(raw []byte) bool { return len(raw) > 0 && raw[0] == '-' }

// ErrorText is an error reply's message, without '-' and CRLF.
func ErrorText(raw []byte) string {
	if !IsError(raw) || len(raw) < 3 {
		return ""
	}
	return string(raw[1 : len(raw)-2])
}

// Int returns an integer reply's value.
func Int(raw []byte) (int64, bool) {
	if len(raw) < 4 || raw[0] != ':' {
		return 0, false
	}
	return ParseInt(raw[1 : len(raw)-2])
}

// IsNil reports whether raw is a nil bulk string or nil array.
func IsNil(raw []byte) bool {
	return len(raw) == 5 && (raw[0] == '$' || raw[0] == '*') && raw[1] == '-' && raw[2] == '1'
}

// Bulk returns a bulk string reply's payload; ok is false for anything else
// (a nil bulk is not ok).
func Bulk(raw []byte) (payload []byte, ok bool) {
	if len(raw) < 4 || raw[0] != '$' || IsNil(raw) {
		return nil, false
	}
	i := bytes.IndexByte(raw, '\n')
	return raw[i+1 : len(raw)-2], true
}

// AppendElements appends the raw bytes of each element of an array reply
// to dst. ok is false when raw is not a (non-nil) array.
func AppendElements(dst [][]byte, raw []byte) (elems [][]byte, ok bool) {
	if len(raw) < 4 || raw[0] != '*' || IsNil(raw) {
		return dst, false
	}
	i := bytes.IndexByte(raw, '\n')
	n, valid := ParseInt(raw[1 : i-1])
	if !valid {
		return dst, false
	}
	if n > 0 && n <= int64(len(raw)) { // each element is at least 4 bytes
		dst = slices.Grow(dst, int(n))
	}
	pos := i + 1
	for range n {
		e, err := replyEnd(raw, pos, 1)
		if err != nil || e == 0 {
			return dst, false
		}
		dst = append(dst, raw[pos:e])
		pos = e
	}
	return dst, true
}
