// Package resp frames the Redis protocol: commands as clients send them
// (Reader, shared by the server and the proxy) and replies as servers send
// them (ReplyReader, for the proxy's backend connections).
package resp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Reader frames commands out of a client's byte stream: RESP multibulk
// ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n").
//
// It replaces redcon's Reader on the read side (replies are still written
// with redcon's Append* encoders) for three reasons measured or found while
// building the server: redcon buffers whatever bulk length a client
// announces, so limits could not be enforced before the memory was spent;
// it allocates a copy of every command and an argument slice per command; and
// it re-scans a partial command from its start on every read. This reader
// checks every length header against the limits as soon as it is read, hands
// out arguments that point into its buffer (valid until the next call: a
// handler copies what it keeps), and remembers how many bytes a partial
// command still needs.
//
// Behaviour follows Redis's networking.c: "*0" and "*-1" are skipped, the two
// bytes after a bulk payload are not checked, and the error texts are Redis's.
type Reader struct {
	r      io.Reader
	limits func() Limits
	// beforeRead runs before every read from r, which may block: the
	// connection flushes its pending replies there, so a client is never
	// left waiting for answers to commands it already sent. An error from
	// it is returned by next.
	beforeRead func() error

	buf        []byte // buf[start:end] is read but not yet consumed
	start, end int
	need       int // don't try to parse until end-start >= need

	args   [][]byte // reused between commands
	inline []byte   // unescaped inline arguments live here

	// isUintCmd names the commands whose decimal arguments after the key
	// are parsed while framed (SetUintCommands, uints.go); uints holds the
	// values of the last arguments of the last command framed.
	isUintCmd func(name []byte) bool
	uints     []uint64

	// waited is set when Next had to read from r; Waited clears it. It
	// tells the connection that time passed since the last command.
	waited bool

	// full is set when the last read filled all the room it was given
	// (the client has more on the way: the buffer grows, up to
	// streamBuf); calm counts the reads in a row that brought less than
	// readChunk, and a grown buffer goes back to readChunk after
	// calmReads of them (not sooner: a client whose pipelines are read
	// whole would otherwise grow it again every few reads).
	full bool
	calm int
}

// Waited reports whether Next read from the connection since the last call,
// i.e. whether time passed (the client was waited for) since the last
// command, and clears the flag.
func (rd *Reader) Waited() bool {
	w := rd.waited
	rd.waited = false
	return w
}

// Buffered is the number of bytes read but not yet framed: when it is zero,
// the next Next will block on the connection.
func (rd *Reader) Buffered() int { return rd.end - rd.start }

// Limits bound what one command may make the reader buffer.
type Limits struct {
	MaxBulk      int64
	MaxMultibulk int64
	// MaxQueryBuf bounds the bytes read but not yet framed (one unfinished
	// command, plus whatever was read after it), as Redis's
	// client-query-buffer-limit; past it Next returns a *QueryBufError. 0
	// means no limit.
	MaxQueryBuf int64
	Unauth      bool // the limits are the unauthenticated ones; changes the wording
}

// QueryBufError is returned when a client's unframed bytes exceed
// Limits.MaxQueryBuf. Redis closes such a client without a reply; so do
// its callers.
type QueryBufError struct {
	Buffered, Limit int64
}

func (e *QueryBufError) Error() string {
	return fmt.Sprintf("query buffer of %d bytes exceeds client-query-buffer-limit %d", e.Buffered, e.Limit)
}

// ProtoError is a protocol violation; Error is what the client is told after
// "ERR ".
type ProtoError struct{ Msg string }

func (e *ProtoError) Error() string { return "Protocol error: " + e.Msg }

var (
	errInvalidMultibulk = &ProtoError{"invalid multibulk length"}
	errInvalidBulk      = &ProtoError{"invalid bulk length"}
	errBigInline        = &ProtoError{"too big inline request"}
	errBigMbulkCount    = &ProtoError{"too big mbulk count string"}
	errBigBulkCount     = &ProtoError{"too big bulk count string"}
	errUnbalanced       = &ProtoError{"unbalanced quotes in request"}
	errUnauthMultibulk  = &ProtoError{"unauthenticated multibulk length"}
	errUnauthBulk       = &ProtoError{"unauthenticated bulk length"}
)

// Limits for a client that has not authenticated on a server with a
// password, as Redis has them: a stranger may not make us buffer much.
const (
	// UnauthMaxMultibulk and UnauthMaxBulk are Redis's limits before AUTH.
	UnauthMaxMultibulk = 10
	UnauthMaxBulk      = 16384
)

// MaxInline is Redis's PROTO_INLINE_MAX_SIZE: an inline command, or a length
// header line, longer than this is refused.
const MaxInline = 64 * 1024

const (
	readChunk = 16 * 1024
	// A client that keeps the buffer full (a deep pipeline of batches:
	// 16 RELMULTIs of 500 decimal uids are 208 KB) is read up to this
	// much at a time: each read is a flush of the replies before it
	// (beforeRead), so 16 KB reads made one read and one write per
	// command where one pipeline needs two of each.
	streamBuf = 128 * 1024
	calmReads = 16
	// A buffer grown past this for one big command is dropped once empty,
	// so a client that sent one 100 MB value does not keep 100 MB.
	keepBuf = 1 << 20
)

func NewReader(r io.Reader, limits func() Limits, beforeRead func() error) *Reader {
	return &Reader{r: r, limits: limits, beforeRead: beforeRead, buf: make([]byte, readChunk)}
}

// Next returns the next command's arguments. They alias the reader's buffer
// and are valid until the next call.
func (rd *Reader) Next() ([][]byte, error) {
	for {
		if rd.end-rd.start >= rd.need && rd.end > rd.start {
			args, err := rd.parse()
			if err != nil || args != nil {
				return args, err
			}
			if rd.need == 0 {
				continue // a skipped empty command: look again
			}
		}
		if rd.beforeRead != nil {
			if err := rd.beforeRead(); err != nil {
				return nil, err
			}
		}
		if err := rd.fill(rd.limits()); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, making room for at least rd.need unconsumed bytes.
//
// The buffer grows with the bytes that arrive, never to a length a header
// only announces: "*1\r\n$536870912\r\n" is 17 bytes, and reserving the
// 512 MB it promises would let a few idle connections take the server's
// memory. Doubling keeps the copying linear in what was received.
func (rd *Reader) fill(lim Limits) error {
	if rd.start == rd.end {
		rd.start, rd.end = 0, 0
		if cap(rd.buf) > keepBuf || len(rd.buf) > readChunk && rd.calm >= calmReads {
			rd.buf = make([]byte, readChunk)
		}
	}
	if rd.full && len(rd.buf) < streamBuf {
		// Grown by what arrived, as below: the last read filled it.
		nb := make([]byte, min(2*len(rd.buf), streamBuf))
		rd.end = copy(nb, rd.buf[rd.start:rd.end])
		rd.start, rd.buf = 0, nb
	}
	if rd.end == len(rd.buf) || rd.start+rd.need > len(rd.buf) {
		// Slide the unconsumed bytes to the front, and grow if the buffer
		// is still full.
		n := copy(rd.buf, rd.buf[rd.start:rd.end])
		rd.start, rd.end = 0, n
		if n == len(rd.buf) {
			// Up to what the command needs, but at most twice what has
			// arrived; and never less than one more chunk.
			size := max(min(rd.need, 2*len(rd.buf)), n+readChunk)
			nb := make([]byte, size)
			copy(nb, rd.buf[:n])
			rd.buf = nb
		}
	}
	room := len(rd.buf) - rd.end
	n, err := rd.r.Read(rd.buf[rd.end:])
	rd.end += n
	rd.waited = true
	if rd.full = n == room; rd.full || n >= readChunk {
		rd.calm = 0
	} else {
		rd.calm++ // this read would have fit the small buffer
	}
	if n > 0 {
		if lim.MaxQueryBuf > 0 && int64(rd.end-rd.start) > lim.MaxQueryBuf {
			return &QueryBufError{Buffered: int64(rd.end - rd.start), Limit: lim.MaxQueryBuf}
		}
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// parse tries to frame one command from the buffer. It returns nil args and
// sets rd.need when more bytes are required (or when it skipped an empty
// command, with need 0).
func (rd *Reader) parse() ([][]byte, error) {
	b := rd.buf[rd.start:rd.end]
	rd.uints = rd.uints[:0]
	if cap(rd.uints) > keepUints {
		rd.uints = nil // one huge batch does not keep its values
	}
	if b[0] != '*' {
		return rd.parseInline(b)
	}
	lim := rd.limits()
	count, pos, err := header(b, 1, errBigMbulkCount, errInvalidMultibulk)
	if err != nil || pos < 0 {
		return nil, rd.partial(err, len(b)+1)
	}
	if count <= 0 {
		// Redis skips "*0" and "*-1" as empty commands.
		rd.start += pos
		rd.need = 0
		return nil, nil
	}
	if count > lim.MaxMultibulk {
		if lim.Unauth {
			return nil, errUnauthMultibulk
		}
		return nil, errInvalidMultibulk
	}
	args := rd.args[:0]
	// stop is where the general loop hands over to the numbers loop
	// (uints.go), which frames a uid tail and parses it in one pass.
	stop, tries := int(count), 0
	if rd.isUintCmd != nil && count >= minUintArgs && lim.MaxBulk >= 19 {
		stop = 2 // the name and the key first
	}
frame:
	for len(args) < stop {
		var n int64
		next, size := 0, 0
		if pos+8 <= len(b) {
			var sn int
			sn, size = shortBulk(binary.LittleEndian.Uint64(b[pos:]))
			n, next = int64(sn), pos+size
		}
		if size == 0 {
			if pos >= len(b) {
				return nil, rd.partial(nil, pos+1)
			}
			if b[pos] != '$' {
				return nil, &ProtoError{"expected '$', got '" + string(b[pos:pos+1]) + "'"}
			}
			var err error
			n, next, err = header(b, pos+1, errBigBulkCount, errInvalidBulk)
			if err != nil || next < 0 {
				return nil, rd.partial(err, len(b)+1)
			}
		}
		if n < 0 || n > lim.MaxBulk {
			if lim.Unauth && n >= 0 {
				return nil, errUnauthBulk
			}
			return nil, errInvalidBulk
		}
		end := next + int(n)
		if end+2 > len(b) {
			// The rest of this command is at least this long; don't come
			// back before it is here.
			return nil, rd.partial(nil, end+2)
		}
		args = append(args, b[next:end:end])
		pos = end + 2
	}
	if stop < int(count) {
		if tries == 0 && !rd.isUintCmd(args[0]) || pos < 24 {
			stop = int(count)
			goto frame
		}
		var need int
		pos, args, need = rd.frameUints(b, pos, args, int(count))
		if need > 0 {
			rd.args = args[:0] // keep what it grew to
			return nil, rd.partial(nil, need)
		}
		if len(args) < int(count) {
			// Stopped before the end (an option word, or no uid): the
			// values are no tail of the command. The general loop takes
			// one argument, then the numbers loop tries again, a few
			// times.
			rd.uints = rd.uints[:0]
		}
		if tries++; tries < uintTries {
			stop = min(len(args)+1, int(count))
		} else {
			stop = int(count)
		}
		goto frame
	}
	rd.args = args
	rd.start += pos
	rd.need = 0
	return args, nil
}

// partial records how many bytes the current command needs at least, or
// passes an error through.
func (rd *Reader) partial(err error, need int) error {
	if err == nil {
		rd.need = need
	}
	return err
}

// shortBulk reads a bulk header from w, the eight bytes at its start, when
// it is the common "$<d>\r" or "$<dd>\r" (no leading zero; the byte after
// '\r' is in w, as header requires it be present): the length and the
// header's size, or size 0 for anything else, which the general path
// reads. A RELMULTI of 500 uids is 500 such headers: this is a few
// instructions each, inlined, where header's loop took about a hundred.
func shortBulk(w uint64) (n, size int) {
	d1, c2 := byte(w>>8)-'0', byte(w>>16)
	switch {
	case byte(w) != '$' || d1 > 9:
		return 0, 0
	case c2 == '\r':
		return int(d1), 4
	case d1 != 0 && c2-'0' <= 9 && byte(w>>24) == '\r':
		return int(d1)*10 + int(c2-'0'), 5
	}
	return 0, 0
}

// header reads the decimal number after b[at-1] ('*' or '$') up to "\r\n" and
// returns it with the index after the line, or next = -1 if the line is not
// complete yet.
func header(b []byte, at int, tooBig, invalid error) (n int64, next int, err error) {
	// Nearly every header is a few digits: read them here, without
	// IndexByte's call and ParseInt's second pass (together half of a
	// 500-uid RELMULTI's framing). Anything else (a sign, a leading zero,
	// ten digits or more, a line not complete yet) takes the general path.
	var v int64
	for i := at; i < len(b) && i < at+10; i++ {
		c := b[i]
		if c == '\r' {
			if i > at && i+1 < len(b) && (b[at] != '0' || i == at+1) {
				return v, i + 2, nil
			}
			break
		}
		if c-'0' > 9 {
			break
		}
		v = v*10 + int64(c-'0')
	}
	i := bytes.IndexByte(b[at:], '\r')
	if i < 0 || at+i+1 >= len(b) {
		if len(b)-at > MaxInline {
			return 0, 0, tooBig
		}
		return 0, -1, nil
	}
	v, ok := ParseInt(b[at : at+i])
	if !ok {
		return 0, 0, invalid
	}
	return v, at + i + 2, nil
}

// parseInline frames a telnet-style command: one line, arguments separated by
// spaces, "double" and 'single' quotes as in redis-cli.
func (rd *Reader) parseInline(b []byte) ([][]byte, error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if len(b) > MaxInline {
			return nil, errBigInline
		}
		return nil, rd.partial(nil, len(b)+1)
	}
	line := b[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	rd.start += nl + 1
	rd.need = 0
	args, err := rd.splitInline(line)
	if err != nil || len(args) == 0 {
		return nil, err
	}
	return args, nil
}

// splitInline splits an inline line like Redis's sdssplitargs: unquoted words,
// "double quoted" with \n \r \t \b \a \\ \" and \xHH escapes, 'single quoted'
// with only \' escaped. A closing quote must be followed by a space or the end.
func (rd *Reader) splitInline(line []byte) ([][]byte, error) {
	args := rd.args[:0]
	out := rd.inline[:0]
	type span struct{ from, to int }
	var spans []span
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		from := len(out)
		switch q := line[i]; q {
		case '"', '\'':
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == q {
					closed = true
					i++
					break
				}
				if c == '\\' && i+1 < len(line) {
					if q == '\'' {
						if line[i+1] == '\'' {
							out = append(out, '\'')
							i += 2
							continue
						}
					} else if e, n := unescape(line[i+1:]); n > 0 {
						out = append(out, e)
						i += 1 + n
						continue
					}
				}
				out = append(out, c)
				i++
			}
			if !closed || (i < len(line) && !isSpace(line[i])) {
				return nil, errUnbalanced
			}
		default:
			for i < len(line) && !isSpace(line[i]) {
				out = append(out, line[i])
				i++
			}
		}
		spans = append(spans, span{from, len(out)})
	}
	// Slice after appending: out may have moved while growing.
	for _, s := range spans {
		args = append(args, out[s.from:s.to:s.to])
	}
	rd.inline, rd.args = out, args
	return args, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// unescape decodes the escape after a backslash in a double-quoted inline
// argument and says how many bytes it used (0: not an escape, keep the
// backslash).
func unescape(b []byte) (byte, int) {
	switch b[0] {
	case 'n':
		return '\n', 1
	case 'r':
		return '\r', 1
	case 't':
		return '\t', 1
	case 'b':
		return '\b', 1
	case 'a':
		return '\a', 1
	case '\\', '"':
		return b[0], 1
	case 'x':
		if len(b) >= 3 && isHex(b[1]) && isHex(b[2]) {
			return hexVal(b[1])<<4 | hexVal(b[2]), 3
		}
	}
	return 0, 0
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ParseInt reads a decimal int64 the way Redis's string2ll does: no spaces,
// no '+', no leading zeros, no overflow.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] == '0' && len(b) > 1 || (neg && b[0] == '0') {
		return 0, false
	}
	if len(b) > 19 {
		return 0, false // more than any int64 has
	}
	u, ok := digits(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}
