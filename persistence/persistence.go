// Package persistence reads and writes relcache snapshots: a file holding
// every key of the keyspace, so a restarted node comes back warm.
//
// A snapshot is a 32-byte header, a sequence of checksummed blocks of about
// 256 KiB holding the records, and a trailer with the key count. Each block's
// xxhash64 is seeded with the previous block's (the first with the header's),
// so the trailer's checksum vouches for the whole file: a flipped bit, a lost
// or repeated block and a file cut anywhere are all detected. Relation sets
// are written as their openhash bytes, unchanged. Writing and reading stream:
// memory use is one block, whatever the size of the keyspace.
//
// The reader hands out no record before its block's checksum has passed, and
// runs openhash.Check on every relation set, so whatever a callback sees is
// safe to store. docs/persistence.md is the format's authority.
package persistence

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/relcache/relcache/store"
)

// Version is the format version this package writes and the only one it
// reads.
const Version = 1

// Layout constants; docs/persistence.md must match them.
const (
	headerSize  = 32
	frameSize   = 5 // tag and payload length before a block's payload
	sumSize     = 8
	trailerSize = 1 + 8 + 8 + sumSize

	tagBlock = 'B'
	tagEnd   = 'E'

	// blockTarget is the payload size the writer fills blocks to: large
	// enough that the per-block cost (one write, one checksum call) vanishes,
	// small enough that the writer's buffer is nothing.
	blockTarget = 256 << 10

	// Readers refuse lengths above these before allocating anything, so a
	// hostile length cannot make them reserve gigabytes. maxBlock is far
	// above what the writer produces so that other writers may choose
	// larger blocks.
	maxBlock = 64 << 20
	maxKey   = 512 << 20
	maxValue = 4 << 30

	// maxRecordHeader is the longest record header: kind, two uvarint
	// lengths of at most 5 bytes and a uvarint expiry of at most 9 (it is
	// below 2^63).
	maxRecordHeader = 1 + 5 + 5 + 9
)

// magic starts every snapshot. Like PNG's signature, the high first byte
// catches 7-bit transfers, and CR LF, ^Z, LF catch newline translation.
var magic = [8]byte{0x89, 'R', 'C', 'S', '\r', '\n', 0x1a, '\n'}

// Record is one key as a snapshot holds it. Slices passed to a Read
// callback are valid only during the call.
type Record struct {
	Key []byte
	// Kind is store.KindString or store.KindRelSet.
	Kind  store.Kind
	Value []byte
	// ExpireAt is the absolute expiry in Unix milliseconds; 0 means none.
	ExpireAt int64
}

// Header is what a snapshot says about itself.
type Header struct {
	Version uint16
	// Created is when the writer started, to the millisecond.
	Created time.Time
	// Keys is the key count. The writer only knows it at the end, so it is
	// in the trailer, not the header; Read returns it once it has counted
	// the records and checked the trailer.
	Keys uint64
}

var (
	// ErrCorrupt is wrapped by every error about the bytes of a snapshot,
	// including a file that ends early.
	ErrCorrupt = errors.New("snapshot corrupt")
	// ErrVersion is wrapped by the error for a snapshot written in a format
	// version this build does not read. It does not wrap ErrCorrupt: such a
	// file is likely fine, and newer than the binary reading it.
	ErrVersion = errors.New("snapshot version not supported")
)

// CorruptError says where and how a snapshot is malformed. It wraps
// ErrCorrupt.
type CorruptError struct {
	// Path is the file, when known (ReadFile and Inspect set it).
	Path string
	// Offset is the file offset of the bad block or record, or the file
	// length if the file ended early.
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Path != "" {
		return "snapshot " + e.Path + ": corrupt at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
	}
	return "snapshot corrupt at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// versionError is the error for an unknown format version.
type versionError struct {
	path    string
	version uint16
}

func (e *versionError) Error() string {
	if e.path != "" {
		return fmt.Sprintf("snapshot %s: version %d not supported (this build reads %d)", e.path, e.version, Version)
	}
	return fmt.Sprintf("snapshot version %d not supported (this build reads %d)", e.version, Version)
}

func (e *versionError) Unwrap() error { return ErrVersion }

// validKind reports whether a snapshot may hold values of kind k.
func validKind(k store.Kind) bool { return k == store.KindString || k == store.KindRelSet }

// quoteKey renders a key for an error message, cut so that a huge key
// cannot make a huge message.
func quoteKey(k []byte) string {
	const max = 64
	if len(k) > max {
		return strconv.Quote(string(k[:max])) + "..."
	}
	return strconv.Quote(string(k))
}
