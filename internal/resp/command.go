package resp

import (
	"strconv"

	"github.com/tidwall/redcon"
)

// Replies and commands are encoded with redcon's Append* functions, the
// server's, the proxy's and the tools' alike; this file only composes them.
// docs/benchmarks.md ("RESP encoders") has the measurement behind that
// choice and behind the one encoder kept here.

// AppendCommand encodes args as one command, the way a client sends it: an
// array of bulk strings. It appends to dst, so a caller that reuses its
// buffer encodes without allocating.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = redcon.AppendArray(dst, len(args))
	for _, a := range args {
		dst = redcon.AppendBulk(dst, a)
	}
	return dst
}

// AppendBulkUint appends u's decimal text as a bulk string. redcon's own
// AppendBulkUint allocates the digits on every call; these stay on the
// stack.
func AppendBulkUint(dst []byte, u uint64) []byte {
	var num [20]byte
	return redcon.AppendBulk(dst, strconv.AppendUint(num[:0], u, 10))
}
