package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Value is one reply taken apart, for tests and tools that check what a
// server said rather than forward it (the proxy frames replies with
// ReplyReader and never builds these).
type Value struct {
	// Type is the reply's type byte: '+' simple, '-' error, ':' integer,
	// '$' bulk, '*' array, and after HELLO 3 also '_' null, '%' map, '~'
	// set, '=' verbatim, '#' boolean, ',' double, '(' big number, and
	// '>' push (invalidations, pub/sub messages), framed like an array.
	Type byte
	// Null marks $-1, *-1 and '_'.
	Null bool
	// Str is the payload of a simple string, error, bulk, verbatim (with
	// its "txt:" prefix), double or big number.
	Str []byte
	// Int is an integer's value, or a boolean's 0/1.
	Int int64
	// Elems are an array's or set's elements; a map's are key, value, key,
	// value, so len(Elems) is twice the declared pair count.
	Elems []Value
}

// ErrIncomplete is Decode's answer for bytes that hold only the start of a
// reply: more must be read before it can be judged.
var ErrIncomplete = errors.New("incomplete reply")

// Decode parses the one reply at the start of b, RESP2 or RESP3, and
// returns it with the number of bytes it took. It is strict where a framing
// check can afford not to be: every line must end in CRLF, every length
// and integer must be canonical decimal (Redis's string2ll), a bulk's
// payload must be followed by CRLF, an aggregate must hold exactly the
// elements its header declares, and nesting is bounded. The Value's byte
// slices alias b.
func Decode(b []byte) (Value, int, error) { return decode(b, 0, 0) }

// DecodeAll parses b as a stream of exactly n replies with nothing after
// the last: what a server must send for n commands.
func DecodeAll(b []byte, n int) ([]Value, error) {
	out := make([]Value, 0, n)
	pos := 0
	for i := range n {
		v, end, err := decode(b, pos, 0)
		if err != nil {
			return out, fmt.Errorf("reply %d of %d at byte %d: %w", i+1, n, pos, err)
		}
		out = append(out, v)
		pos = end
	}
	if pos != len(b) {
		return out, fmt.Errorf("%d bytes after the %d replies expected: %.40q", len(b)-pos, n, b[pos:])
	}
	return out, nil
}

// ValueReader reads replies from a connection with Decode's rules, for
// tests that talk to a real server.
type ValueReader struct {
	r          io.Reader
	buf        []byte
	start, end int
}

// NewValueReader reads replies from r.
func NewValueReader(r io.Reader) *ValueReader {
	return &ValueReader{r: r, buf: make([]byte, readChunk)}
}

// Next returns the next reply; its slices are its own. A reply that never
// completes is the reader's error (a deadline, EOF), not a wrong Value.
func (vr *ValueReader) Next() (Value, error) {
	v, _, err := vr.NextRaw()
	return v, err
}

// NextRaw is Next that also returns the reply's bytes exactly as the server
// sent them, for a comparison byte for byte.
func (vr *ValueReader) NextRaw() (Value, []byte, error) {
	for {
		if vr.end > vr.start {
			v, n, err := Decode(vr.buf[vr.start:vr.end])
			switch {
			case err == nil:
				raw := bytes.Clone(vr.buf[vr.start : vr.start+n])
				vr.start += n
				return clone(v), raw, nil
			case !errors.Is(err, ErrIncomplete):
				return Value{}, nil, err
			}
		}
		if vr.start > 0 {
			vr.end = copy(vr.buf, vr.buf[vr.start:vr.end])
			vr.start = 0
		}
		if vr.end == len(vr.buf) {
			vr.buf = append(vr.buf, make([]byte, len(vr.buf))...)
		}
		n, err := vr.r.Read(vr.buf[vr.end:])
		vr.end += n
		if n == 0 && err != nil {
			if errors.Is(err, io.EOF) && vr.end > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Value{}, nil, err
		}
	}
}

func clone(v Value) Value {
	v.Str = bytes.Clone(v.Str)
	for i := range v.Elems {
		v.Elems[i] = clone(v.Elems[i])
	}
	return v
}

func decode(b []byte, pos, depth int) (Value, int, error) {
	if pos >= len(b) {
		return Value{}, 0, ErrIncomplete
	}
	nl := bytes.IndexByte(b[pos:], '\n')
	if nl < 0 {
		return Value{}, 0, ErrIncomplete
	}
	if nl < 2 || b[pos+nl-1] != '\r' {
		return Value{}, 0, &errBadReply{fmt.Sprintf("line not ended by CRLF at byte %d", pos)}
	}
	v := Value{Type: b[pos]}
	line := b[pos+1 : pos+nl-1]
	next := pos + nl + 1
	if bytes.IndexByte(line, '\r') >= 0 {
		return Value{}, 0, &errBadReply{fmt.Sprintf("CR inside a line at byte %d", pos)}
	}
	switch v.Type {
	case '+', '-', ',', '(':
		v.Str = line
		return v, next, nil
	case ':':
		n, ok := ParseInt(line)
		if !ok {
			return Value{}, 0, &errBadReply{fmt.Sprintf("bad integer %q", line)}
		}
		v.Int = n
		return v, next, nil
	case '_':
		if len(line) != 0 {
			return Value{}, 0, &errBadReply{"null with a payload"}
		}
		v.Null = true
		return v, next, nil
	case '#':
		switch string(line) {
		case "t":
			v.Int = 1
		case "f":
		default:
			return Value{}, 0, &errBadReply{fmt.Sprintf("bad boolean %q", line)}
		}
		return v, next, nil
	case '$', '=':
		n, ok := ParseInt(line)
		if !ok || n < -1 || (n == -1 && v.Type == '=') {
			return Value{}, 0, &errBadReply{fmt.Sprintf("bad bulk length %q", line)}
		}
		if n == -1 {
			v.Null = true
			return v, next, nil
		}
		if n > int64(len(b)) {
			return Value{}, 0, ErrIncomplete
		}
		end := next + int(n) + 2
		if end > len(b) {
			return Value{}, 0, ErrIncomplete
		}
		if b[end-2] != '\r' || b[end-1] != '\n' {
			return Value{}, 0, &errBadReply{fmt.Sprintf("bulk of %d bytes not followed by CRLF", n)}
		}
		v.Str = b[next : end-2 : end-2]
		return v, end, nil
	case '*', '%', '~', '>':
		n, ok := ParseInt(line)
		if !ok || n < -1 || (n == -1 && v.Type != '*') {
			return Value{}, 0, &errBadReply{fmt.Sprintf("bad aggregate length %q", line)}
		}
		if n == -1 {
			v.Null = true
			return v, next, nil
		}
		if depth >= maxDepth {
			return Value{}, 0, &errBadReply{"aggregates nested too deep"}
		}
		// Every element takes at least 3 bytes ("_\r\n"): a header that
		// declares more than b could hold is either incomplete or a lie,
		// and either way not worth a huge allocation. A map's pairs are
		// checked before they are doubled, which could overflow.
		room := int64(len(b)-next) / 3
		elems := n
		if v.Type == '%' {
			if n > room/2 {
				return Value{}, 0, ErrIncomplete
			}
			elems = 2 * n
		}
		if elems > room {
			return Value{}, 0, ErrIncomplete
		}
		v.Elems = make([]Value, 0, elems)
		for range elems {
			e, end, err := decode(b, next, depth+1)
			if err != nil {
				return Value{}, 0, err
			}
			v.Elems = append(v.Elems, e)
			next = end
		}
		return v, next, nil
	}
	return Value{}, 0, &errBadReply{"unexpected type byte " + strconv.QuoteRune(rune(v.Type))}
}

// Append writes v back in the wire form Decode read it from: for the
// canonical replies servers send, Decode then Append gives the same bytes.
// Tools that compare replies use it to re-encode one they reordered (a KEYS
// array sorted) or took apart (an EXEC array, element by element).
func (v Value) Append(dst []byte) []byte {
	dst = append(dst, v.Type)
	switch {
	case v.Null && v.Type == '_':
		return append(dst, '\r', '\n')
	case v.Null:
		return append(dst, "-1\r\n"...)
	}
	switch v.Type {
	case ':':
		dst = strconv.AppendInt(dst, v.Int, 10)
	case '#':
		if v.Int != 0 {
			dst = append(dst, 't')
		} else {
			dst = append(dst, 'f')
		}
	case '$', '=':
		dst = strconv.AppendInt(dst, int64(len(v.Str)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, v.Str...)
	case '*', '%', '~', '>':
		n := len(v.Elems)
		if v.Type == '%' {
			n /= 2
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, '\r', '\n')
		for _, e := range v.Elems {
			dst = e.Append(dst)
		}
		return dst
	default: // '+', '-', ',', '('
		dst = append(dst, v.Str...)
	}
	return append(dst, '\r', '\n')
}
