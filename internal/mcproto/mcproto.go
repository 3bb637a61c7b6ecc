// Package mcproto parses memcached's text protocol (doc/protocol.txt in
// memcached's repository) and holds the rules the proxy's memcache entry
// keeps: the error lines, the limits, how an item (flags, cas unique and
// data) is stored in one string value of a node, what an exptime means, and
// incr/decr arithmetic. It does no I/O: the proxy reads the lines and data
// blocks and answers.
package mcproto

import (
	"bytes"
	"encoding/binary"
)

// memcached's limits.
const (
	// MaxKeyLen is memcached's KEY_MAX_LENGTH.
	MaxKeyLen = 250
	// MaxLineLen is how long a command line may be before memcached gives
	// up on it (it closes the connection), except a get's: multi-gets are
	// unbounded in memcached, and bounded by MaxGetLineLen here.
	MaxLineLen = 2048
	// MaxGetLineLen bounds a get/gets/gat/gats line: about 4,000 keys of
	// 250 bytes, so a client cannot grow the proxy's buffer without limit.
	MaxGetLineLen = 1 << 20
	// DefaultItemSizeMax is memcached's default item_size_max (-I 1m).
	DefaultItemSizeMax = 1 << 20
	// RelativeMax is the largest exptime memcached reads as seconds from
	// now (30 days); a larger one is a unix time.
	RelativeMax = 60 * 60 * 24 * 30
)

// memcached's reply lines, byte for byte.
const (
	ReplyError     = "ERROR\r\n"
	ReplyBadFormat = "CLIENT_ERROR bad command line format\r\n"
	ReplyBadChunk  = "CLIENT_ERROR bad data chunk\r\n"
	ReplyTooLarge  = "SERVER_ERROR object too large for cache\r\n"
	ReplyNonNum    = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	ReplyBadDelta  = "CLIENT_ERROR invalid numeric delta argument\r\n"
	ReplyStored    = "STORED\r\n"
	ReplyNotStored = "NOT_STORED\r\n"
	ReplyExists    = "EXISTS\r\n"
	ReplyNotFound  = "NOT_FOUND\r\n"
	ReplyDeleted   = "DELETED\r\n"
	ReplyTouched   = "TOUCHED\r\n"
	ReplyEnd       = "END\r\n"
	ReplyOK        = "OK\r\n"
)

// Op is a command's name.
type Op uint8

// The commands; OpUnknown is anything else (memcached answers ERROR).
const (
	OpUnknown Op = iota
	OpGet
	OpGets
	OpGat
	OpGats
	OpSet
	OpAdd
	OpReplace
	OpAppend
	OpPrepend
	OpCas
	OpDelete
	OpIncr
	OpDecr
	OpTouch
	OpVersion
	OpVerbosity
	OpFlushAll
	OpQuit
)

var ops = map[string]Op{
	"get": OpGet, "gets": OpGets, "gat": OpGat, "gats": OpGats,
	"set": OpSet, "add": OpAdd, "replace": OpReplace, "append": OpAppend, "prepend": OpPrepend, "cas": OpCas,
	"delete": OpDelete, "incr": OpIncr, "decr": OpDecr, "touch": OpTouch,
	"version": OpVersion, "verbosity": OpVerbosity, "flush_all": OpFlushAll, "quit": OpQuit,
}

// String is the command's name; "unknown" for OpUnknown.
func (op Op) String() string {
	for name, o := range ops {
		if o == op {
			return name
		}
	}
	return "unknown"
}

// NumOps is one more than the largest Op, for tables indexed by Op.
const NumOps = int(OpQuit) + 1

// IsGet reports whether op may have a long line (a multi-get).
func (op Op) IsGet() bool { return op >= OpGet && op <= OpGats }

// IsStorage reports whether a data block follows op's line.
func (op Op) IsStorage() bool { return op >= OpSet && op <= OpCas }

// LineOp is the op a (possibly incomplete) line starts with, for choosing
// its length limit before the whole line has arrived.
func LineOp(line []byte) Op {
	line = bytes.TrimLeft(line, " ")
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		return ops[string(line[:i])]
	}
	return OpUnknown
}

// Command is one parsed command line. Keys alias the line.
type Command struct {
	Op      Op
	Keys    [][]byte // get family: every key; others: one key, or none
	Flags   uint32
	Exptime int64 // as sent; see Expiry
	Bytes   int   // storage: the data block's length, without "\r\n"
	Cas     uint64
	Delta   uint64
	NoReply bool
}

// Parse parses one command line (without its "\n"; a trailing "\r" is
// ignored) into cmd, reusing cmd.Keys. It returns "" or the reply line
// that refuses it (ReplyError, ReplyBadFormat, ReplyBadDelta). A storage
// command whose line is refused has no data block as far as memcached is
// concerned: its data is read as the next command.
func Parse(line []byte, cmd *Command) string {
	line = bytes.TrimSuffix(line, []byte("\r"))
	keys := cmd.Keys[:0]
	*cmd = Command{Keys: keys}
	name, rest := token(line)
	if name == nil {
		return ReplyError
	}
	op := ops[string(name)]
	cmd.Op = op
	if op.IsGet() {
		// A get's keys are not bounded by a token count, so they are
		// split here, straight into Keys.
		if op == OpGat || op == OpGats {
			var e []byte
			e, rest = token(rest)
			if e == nil {
				return ReplyError
			}
			n, ok := parseInt32(e)
			if !ok {
				return "CLIENT_ERROR invalid exptime argument\r\n"
			}
			cmd.Exptime = n
		}
		for {
			var k []byte
			if k, rest = token(rest); k == nil {
				break
			}
			keys = append(keys, k)
		}
		cmd.Keys = keys
		if len(keys) == 0 {
			return ReplyError
		}
		for _, k := range keys {
			if !ValidKey(k) {
				return ReplyBadFormat
			}
		}
		return ""
	}
	// Tokens are split on spaces only, as memcached's tokenize_command;
	// runs of spaces make no empty tokens. memcached reads at most 24.
	var tok [24][]byte
	args := tok[:0]
	for len(args) < len(tok) {
		var t []byte
		if t, rest = token(rest); t == nil {
			break
		}
		args = append(args, t)
	}
	if len(rest) > 0 {
		return ReplyError
	}
	cmd.NoReply = len(args) > 0 && string(args[len(args)-1]) == "noreply"
	if len(args) > 0 {
		keys = append(keys, args[0])
	}
	cmd.Keys = keys
	switch op {
	case OpSet, OpAdd, OpReplace, OpAppend, OpPrepend, OpCas:
		// memcached takes up to two tokens more than it reads (the
		// last may be noreply) and ignores the others.
		want := 4
		if op == OpCas {
			want = 5
		}
		if len(args) < want || len(args) > 6 {
			return ReplyError
		}
		if !ValidKey(args[0]) {
			return ReplyBadFormat
		}
		f, okF := parseUint(args[1], 1<<32-1)
		e, okE := parseInt32(args[2])
		n, okN := parseUint(args[3], 1<<31-3)
		if !okF || !okE || !okN {
			return ReplyBadFormat
		}
		cmd.Flags, cmd.Exptime, cmd.Bytes = uint32(f), e, int(n)
		if op == OpCas {
			c, ok := parseUint(args[4], 1<<64-1)
			if !ok {
				return ReplyBadFormat
			}
			cmd.Cas = c
		}
	case OpDelete:
		// delete <key> [0] [noreply]: memcached kept the old hold time
		// argument only as 0.
		if len(args) < 1 || len(args) > 3 {
			return ReplyError
		}
		zero := len(args) > 1 && string(args[1]) == "0"
		if len(args) > 1 && !(len(args) == 2 && (zero || cmd.NoReply) || len(args) == 3 && zero && cmd.NoReply) {
			return "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
		}
		if !ValidKey(args[0]) {
			return ReplyBadFormat
		}
	case OpIncr, OpDecr:
		if len(args) < 2 || len(args) > 3 {
			return ReplyError
		}
		if !ValidKey(args[0]) {
			return ReplyBadFormat
		}
		d, ok := parseUint(args[1], 1<<64-1)
		if !ok {
			return ReplyBadDelta
		}
		cmd.Delta = d
	case OpTouch:
		if len(args) < 2 || len(args) > 3 {
			return ReplyError
		}
		if !ValidKey(args[0]) {
			return ReplyBadFormat
		}
		e, ok := parseInt32(args[1])
		if !ok {
			return "CLIENT_ERROR invalid exptime argument\r\n"
		}
		cmd.Exptime = e
	case OpVersion, OpQuit:
		// memcached ignores what follows them.
		cmd.Keys = keys[:0]
	case OpVerbosity:
		cmd.Keys = keys[:0]
		if len(args) < 1 || len(args) > 2 {
			return ReplyError
		}
		if _, ok := parseUint(args[0], 1<<32-1); !ok {
			return ReplyBadFormat
		}
	case OpFlushAll:
		cmd.Keys = keys[:0]
	default:
		return ReplyError
	}
	return ""
}

// token splits the first space-separated token off b; nil when none is left.
func token(b []byte) (tok, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	if len(b) == 0 {
		return nil, nil
	}
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// ValidKey reports whether k is a key memcached's protocol allows: 1 to
// 250 bytes, no control characters (protocol.txt) and no space (the
// tokenizer made sure of that).
func ValidKey(k []byte) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for _, b := range k {
		if b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}

// parseUint reads decimal digits, after an optional '+', up to max.
// memcached's strtoul also takes leading blanks (tabs: a token has no
// spaces) and "-0"; the entry refuses them (documented).
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) > 1 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func parseInt32(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := parseUint(b[1:], 1<<31)
		return -int64(n), ok
	}
	n, ok := parseUint(b, 1<<31-1)
	return int64(n), ok
}

// Expiry is what an exptime asks of the node.
type Expiry uint8

const (
	// Never: exptime 0, the item does not expire.
	Never Expiry = iota
	// In: expires in the returned number of seconds.
	In
	// At: expires at the returned unix time.
	At
	// Expired: negative, or a unix time not after now: the item is gone
	// at once (memcached 1.6 stores it already expired).
	Expired
)

// ExpiryOf reads exptime with memcached's rules at unix time now: 0 never,
// negative at once, up to 30 days seconds from now, else a unix time.
func ExpiryOf(exptime, now int64) (Expiry, int64) {
	switch {
	case exptime == 0:
		return Never, 0
	case exptime < 0:
		return Expired, 0
	case exptime <= RelativeMax:
		return In, exptime
	case exptime <= now:
		return Expired, 0
	default:
		return At, exptime
	}
}

// An item's value at the node: a header, then the data.
//
//	byte 0     headerMagic (format version)
//	bytes 1-4  flags, big-endian
//	bytes 5-12 cas unique, big-endian
const (
	HeaderLen   = 13
	headerMagic = 0xAC
)

// AppendItem appends the node's value of an item to dst.
func AppendItem(dst []byte, flags uint32, cas uint64, data []byte) []byte {
	dst = append(dst, headerMagic)
	dst = binary.BigEndian.AppendUint32(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, cas)
	return append(dst, data...)
}

// ParseItem splits a node's value into an item; ok is false for a value
// the memcache entry did not write.
func ParseItem(v []byte) (flags uint32, cas uint64, data []byte, ok bool) {
	if len(v) < HeaderLen || v[0] != headerMagic {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint32(v[1:]), binary.BigEndian.Uint64(v[5:]), v[HeaderLen:], true
}

// Delta applies incr (or decr) of d to an item's data as memcached does:
// the data must be a decimal number below 2^64 (trailing spaces allowed,
// which memcached itself leaves after a decr); incr wraps around at 2^64,
// decr stops at 0. ok is false for a non-numeric value.
func Delta(data []byte, d uint64, incr bool) (uint64, bool) {
	data = bytes.TrimRight(data, " ")
	// Leading zeros do not count against the 20 digits (strtoull's).
	for len(data) > 1 && data[0] == '0' {
		data = data[1:]
	}
	v, ok := parseUint(data, 1<<64-1)
	if !ok {
		return 0, false
	}
	switch {
	case incr:
		return v + d, true
	case d > v:
		return 0, true
	default:
		return v - d, true
	}
}
