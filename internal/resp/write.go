package resp

import "strconv"

// The encoders below build commands the way a client sends them: an array
// of bulk strings. They append to dst, so a caller that reuses its buffer
// encodes without allocating.

// AppendCommand encodes args as one command.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

// AppendArrayHeader starts an array of n elements.
func AppendArrayHeader(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst, b []byte) []byte { return appendBulk(dst, b) }

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte { return appendBulk(dst, s) }

func appendBulk[T string | []byte](dst []byte, b T) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkUint appends u's decimal text as a bulk string.
func AppendBulkUint(dst []byte, u uint64) []byte {
	var num [20]byte
	return AppendBulk(dst, strconv.AppendUint(num[:0], u, 10))
}
