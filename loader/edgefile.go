package loader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// An edge file is the text form of a follow graph that `relcache import`
// reads and `relcache gen-graph` writes: one edge a line,
//
//	fromuid,touid[,addtime]
//
// separated by a comma, or by tabs or spaces when the line has no comma.
// Blank lines and lines starting with '#' are skipped, and so is a header
// line (fromuid,touid[,addtime]) before the first edge.

// EdgeReaderOptions tune an EdgeReader.
type EdgeReaderOptions struct {
	// DefaultTime is the addtime of an edge whose line gives none, Unix
	// seconds (an importer passes the time it started).
	DefaultTime uint32
	// MaxLineLen is the longest line read, in bytes without the line end;
	// a longer line is a bad line. Default 1024: an edge needs 64 at most.
	MaxLineLen int
	// MaxUID is the largest uid accepted; 0 means any 64-bit uid. SQL
	// sources store uids in signed BIGINT columns, so an importer into
	// them passes math.MaxInt64 to reject the rest as bad lines instead of
	// failing at the database.
	MaxUID uint64
}

// LineError is a bad line of an edge file. The reader stays usable: the
// caller may skip the line and read on.
type LineError struct {
	Line   int    // 1-based
	Reason string // in plain words, e.g. `touid "abc" is not a uid`
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// EdgeReader streams the edges of an edge file, holding one line at a time.
type EdgeReader struct {
	r     *bufio.Reader
	opts  EdgeReaderOptions
	line  int   // number of the line last read
	edges bool  // an edge or a bad line was read, so no header may follow
	err   error // a read error other than EOF: final, returned again
}

// NewEdgeReader reads the edge file r.
func NewEdgeReader(r io.Reader, opts EdgeReaderOptions) *EdgeReader {
	if opts.MaxLineLen <= 0 {
		opts.MaxLineLen = 1024
	}
	// Room for the line, "\r\n", and bufio's minimum.
	return &EdgeReader{r: bufio.NewReaderSize(r, max(opts.MaxLineLen+2, 16)), opts: opts}
}

// Line is the number of the line last read (the one Next's result came
// from).
func (er *EdgeReader) Line() int { return er.line }

// Next returns the next edge. At the end of the input it returns io.EOF; for
// a bad line, a *LineError (read on past it, or stop); any other error is the
// underlying reader's, and final.
func (er *EdgeReader) Next() (Edge, error) {
	for {
		line, err := er.readLine()
		if err != nil {
			return Edge{}, err
		}
		if line == nil { // blank or comment
			continue
		}
		e, isHeader, reason := er.parse(line)
		if isHeader {
			continue
		}
		er.edges = true
		if reason != "" {
			return Edge{}, &LineError{Line: er.line, Reason: reason}
		}
		return e, nil
	}
}

// readLine returns the next line without its end and surrounding blanks,
// nil for a blank or comment line, or a *LineError for an overlong one.
func (er *EdgeReader) readLine() ([]byte, error) {
	if er.err != nil {
		return nil, er.err
	}
	line, err := er.r.ReadSlice('\n')
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	er.line++
	if errors.Is(err, bufio.ErrBufferFull) {
		// Skip the rest of the line; it is bad however it ends.
		n := len(line)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = er.r.ReadSlice('\n')
			n += len(bytes.TrimRight(line, "\r\n"))
		}
		if err != nil && err != io.EOF {
			er.err = fmt.Errorf("read line %d: %w", er.line, err)
			return nil, er.err
		}
		er.edges = true
		return nil, &LineError{Line: er.line, Reason: fmt.Sprintf("longer than %d bytes (%d)", er.opts.MaxLineLen, n)}
	}
	if err != nil && err != io.EOF {
		er.err = fmt.Errorf("read line %d: %w", er.line, err)
		return nil, er.err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > er.opts.MaxLineLen {
		er.edges = true
		return nil, &LineError{Line: er.line, Reason: fmt.Sprintf("longer than %d bytes (%d)", er.opts.MaxLineLen, len(line))}
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return nil, nil
	}
	return line, nil
}

var fieldNames = [3]string{"fromuid", "touid", "addtime"}

// parse reads one non-blank line. A header is reported only before the
// first edge.
func (er *EdgeReader) parse(line []byte) (e Edge, isHeader bool, reason string) {
	var buf [4][]byte
	fields := splitFields(buf[:0], line)
	if !er.edges && len(fields) >= 2 && len(fields) <= 3 {
		isHeader = true
		for i, f := range fields {
			if !bytes.EqualFold(f, []byte(fieldNames[i])) {
				isHeader = false
			}
		}
		if isHeader {
			return Edge{}, true, ""
		}
	}
	if len(fields) < 2 || len(fields) > 3 {
		n := bytes.Count(line, []byte{','}) + 1
		if bytes.IndexByte(line, ',') < 0 {
			n = len(bytes.Fields(line))
		}
		return Edge{}, false, fmt.Sprintf("want fromuid,touid[,addtime], got %d fields", n)
	}
	uids := [2]uint64{}
	for i := range uids {
		if len(fields[i]) == 0 {
			return Edge{}, false, fieldNames[i] + " is empty"
		}
		v, err := strconv.ParseUint(string(fields[i]), 10, 64)
		if err != nil {
			return Edge{}, false, fmt.Sprintf("%s %s is not a uid (an unsigned 64-bit decimal)", fieldNames[i], quote(fields[i]))
		}
		if er.opts.MaxUID != 0 && v > er.opts.MaxUID {
			return Edge{}, false, fmt.Sprintf("%s %d is above %d, the largest uid the source stores", fieldNames[i], v, er.opts.MaxUID)
		}
		uids[i] = v
	}
	e = Edge{From: uids[0], To: uids[1], Time: er.opts.DefaultTime}
	if len(fields) == 3 {
		if len(fields[2]) == 0 {
			return Edge{}, false, "addtime is empty (leave out the separator too to use the default)"
		}
		t, err := strconv.ParseUint(string(fields[2]), 10, 32)
		if err != nil {
			return Edge{}, false, fmt.Sprintf("addtime %s is not Unix seconds in 32 bits", quote(fields[2]))
		}
		e.Time = uint32(t)
	}
	if e.From == e.To {
		return Edge{}, false, fmt.Sprintf("uid %d follows itself", e.From)
	}
	return e, false, ""
}

// splitFields appends line's fields to dst, at most cap(dst) and then one
// more holding the rest (enough to tell a count is wrong, without
// allocating): split at commas if the line has one, else at runs of blanks.
func splitFields(dst [][]byte, line []byte) [][]byte {
	if bytes.IndexByte(line, ',') >= 0 {
		for len(dst) < cap(dst)-1 {
			f, rest, found := bytes.Cut(line, []byte{','})
			dst = append(dst, bytes.TrimSpace(f))
			if !found {
				return dst
			}
			line = rest
		}
		return append(dst, line)
	}
	for len(line) > 0 && len(dst) < cap(dst) {
		i := bytes.IndexAny(line, " \t\v\f\r")
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = bytes.TrimLeft(line[i:], " \t\v\f\r")
	}
	if len(line) > 0 {
		dst = append(dst, line) // past cap: too many fields anyway
	}
	return dst
}

// quote quotes a field for an error, cut short so that one bad line cannot
// flood a terminal.
func quote(b []byte) string {
	const most = 40
	if len(b) > most {
		return strconv.Quote(string(b[:most])) + "..."
	}
	return strconv.Quote(string(b))
}

// AppendEdge appends e as a line of an edge file, tab-separated with its
// addtime and a newline: the form NewEdgeReader reads back.
func AppendEdge(dst []byte, e Edge) []byte {
	dst = strconv.AppendUint(dst, e.From, 10)
	dst = append(dst, '\t')
	dst = strconv.AppendUint(dst, e.To, 10)
	dst = append(dst, '\t')
	dst = strconv.AppendUint(dst, uint64(e.Time), 10)
	return append(dst, '\n')
}
