package server

import (
	"errors"
	"io"
)

// protoGuard sits between a client's socket and redcon's reader and enforces
// the limits redcon does not have: redcon buffers whatever bulk length or
// argument count a client announces, so a client sending "$9999999999" could
// make it grow a buffer without bound. The guard follows the RESP framing of
// the byte stream (headers byte by byte, bulk payloads skipped in one step)
// and fails the stream at the first header over a limit, with Redis's
// wording. Bytes before the bad header are passed on first, so the commands
// a client pipelined before it are still answered, as in Redis.
type protoGuard struct {
	r      io.Reader
	limits func() guardLimits

	state     guardState
	num       int64 // the number being read in a header line
	digits    int   // digits seen in it
	args      int64 // bulk strings still expected in this command
	bodyLeft  int64 // payload bytes plus CRLF still to skip
	inlineLen int   // bytes of the current inline command
	lim       guardLimits
	pending   error // a violation found after bytes we already returned
}

type guardLimits struct {
	maxBulk      int64
	maxMultibulk int64
	unauth       bool // the limits are the unauthenticated ones; changes the wording
}

type guardState uint8

const (
	gsStart     guardState = iota // at the first byte of a command
	gsInline                      // inside an inline (telnet) command
	gsMultiLen                    // reading the digits after '*'
	gsBulkStart                   // expecting '$'
	gsBulkLen                     // reading the digits after '$'
	gsBulkBody                    // skipping a payload and its CRLF
)

// maxInline is Redis's PROTO_INLINE_MAX_SIZE: an inline command, or the
// header line of a multibulk, longer than this is refused.
const maxInline = 64 * 1024

// maxHeaderDigits bounds a length header; 19 digits hold any int64.
const maxHeaderDigits = 19

// protoError is a protocol violation. Its text is what the client is told
// after "ERR ", worded as redcon's own framing errors are.
type protoError struct{ msg string }

func (e *protoError) Error() string { return "Protocol error: " + e.msg }

var (
	errInvalidMultibulk = &protoError{"invalid multibulk length"}
	errInvalidBulk      = &protoError{"invalid bulk length"}
	errBigInline        = &protoError{"too big inline request"}
	errUnauthMultibulk  = &protoError{"unauthenticated multibulk length"}
	errUnauthBulk       = &protoError{"unauthenticated bulk length"}
)

// Limits for a client that has not authenticated on a server with a
// password, as Redis has them: a stranger may not make us buffer much.
const (
	unauthMaxMultibulk = 10
	unauthMaxBulk      = 16384
)

func (g *protoGuard) Read(p []byte) (int, error) {
	if g.pending != nil {
		return 0, g.pending
	}
	n, err := g.r.Read(p)
	if n > 0 {
		if ok := g.scan(p[:n]); ok < n {
			if ok == 0 {
				return 0, g.pending
			}
			return ok, nil
		}
	}
	return n, err
}

// scan advances the framing state over b and returns how many bytes are fine;
// fewer than len(b) means g.pending holds the violation.
func (g *protoGuard) scan(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch g.state {
		case gsStart:
			g.lim = g.limits()
			if c == '*' {
				g.state, g.num, g.digits = gsMultiLen, 0, 0
			} else {
				g.state, g.inlineLen = gsInline, 0
				i-- // count this byte as part of the inline command
			}
		case gsInline:
			if c == '\n' {
				g.state = gsStart
				continue
			}
			g.inlineLen++
			if g.inlineLen > maxInline {
				return g.fail(i, errBigInline)
			}
		case gsMultiLen, gsBulkLen:
			switch {
			case c >= '0' && c <= '9':
				g.digits++
				if g.digits > maxHeaderDigits {
					return g.fail(i, g.lenError())
				}
				g.num = g.num*10 + int64(c-'0')
				if err := g.overLimit(); err != nil {
					return g.fail(i, err)
				}
			case c == '\r':
			case c == '\n':
				if g.digits == 0 {
					return g.fail(i, g.lenError())
				}
				if g.state == gsMultiLen {
					if g.num == 0 {
						return g.fail(i, errInvalidMultibulk)
					}
					g.args, g.state = g.num, gsBulkStart
				} else {
					g.bodyLeft, g.state = g.num+2, gsBulkBody
				}
			default:
				return g.fail(i, g.lenError())
			}
		case gsBulkStart:
			if c != '$' {
				return g.fail(i, &protoError{"expected '$', got '" + string(rune(c)) + "'"})
			}
			g.state, g.num, g.digits = gsBulkLen, 0, 0
		case gsBulkBody:
			skip := min(g.bodyLeft, int64(len(b)-i))
			g.bodyLeft -= skip
			i += int(skip) - 1
			if g.bodyLeft == 0 {
				g.args--
				if g.args == 0 {
					g.state = gsStart
				} else {
					g.state = gsBulkStart
				}
			}
		}
	}
	return len(b)
}

func (g *protoGuard) lenError() error {
	if g.state == gsMultiLen {
		return errInvalidMultibulk
	}
	return errInvalidBulk
}

func (g *protoGuard) overLimit() error {
	switch {
	case g.state == gsMultiLen && g.num > g.lim.maxMultibulk:
		if g.lim.unauth {
			return errUnauthMultibulk
		}
		return errInvalidMultibulk
	case g.state == gsBulkLen && g.num > g.lim.maxBulk:
		if g.lim.unauth {
			return errUnauthBulk
		}
		return errInvalidBulk
	}
	return nil
}

// fail records err and returns the number of good bytes: those before the
// command the violation is in are not known here, so the guard passes on
// everything before the offending byte; redcon never executes the partial
// command that precedes it.
func (g *protoGuard) fail(i int, err error) int {
	g.pending = err
	return i
}

// isProtoError reports whether err is a guard violation.
func isProtoError(err error) bool {
	var pe *protoError
	return errors.As(err, &pe)
}
