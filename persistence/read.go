package persistence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/relcache/relcache/internal/safefile"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// Read streams the snapshot in r to fn, record by record, in the order they
// were written. A nil fn only verifies. No record reaches fn before the
// checksum of every block holding it has passed and, for a relation set,
// openhash.Check has; the Header (with the key count) is returned only once
// the trailer has been checked and the input has ended right after it.
//
// Errors about the bytes, including an input that ends early, are
// *CorruptError. An error returned by fn stops the read and is returned as
// is. A Read that fails may have called fn for the records before the
// problem: a caller loading a keyspace must discard them.
func Read(r io.Reader, fn func(Record) error) (Header, error) {
	h, _, err := read(r, "", ReadOptions{}, fn)
	return h, err
}

// ReadOptions tune how much a read checks beyond the checksums.
type ReadOptions struct {
	// ShallowSets checks relation sets with openhash.CheckControl (the
	// header, and one control word per group for the count: what memory
	// safety and every listing reply need) instead of openhash.Check (a
	// walk of the whole table, the read's bottleneck at ~250 MB/s a core).
	// A server loading its own snapshot may: its writer runs the full check
	// on every set before writing it, and the block checksums prove the
	// bytes unchanged since. A set that passes only the shallow check (a
	// file from an older writer) is the caller's to check before it writes
	// it again.
	ShallowSets bool
}

// ReadFile is Read on the file at path; its errors name the file.
func ReadFile(path string, fn func(Record) error) (Header, error) {
	h, _, err := readFile(path, ReadOptions{}, fn)
	return h, err
}

// ReadFileWith is ReadFile with options.
func ReadFileWith(path string, opt ReadOptions, fn func(Record) error) (Header, error) {
	h, _, err := readFile(path, opt, fn)
	return h, err
}

func readFile(path string, opt ReadOptions, fn func(Record) error) (Header, int64, error) {
	// Not a plain open: a FIFO at path would block the start until
	// someone wrote to it.
	f, err := safefile.OpenRegular(path)
	if err != nil {
		return Header{}, 0, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	return read(f, path, opt, fn)
}

// fnError marks an error from the caller's callback, returned unchanged.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func read(r io.Reader, path string, opt ReadOptions, fn func(Record) error) (Header, int64, error) {
	rd := reader{
		br:   bufio.NewReaderSize(r, 64<<10),
		d:    xxhash.New(),
		path: path,
		fn:   fn,
		opt:  opt,
	}
	h, err := rd.run()
	if err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return Header{}, rd.off, fe.err
		}
		return Header{}, rd.off, err
	}
	return h, rd.off, nil
}

type reader struct {
	br   *bufio.Reader
	off  int64 // file offset of the next byte br returns
	d    *xxhash.Digest
	prev uint64 // checksum of the last block verified, or of the header
	path string
	fn   func(Record) error
	opt  ReadOptions

	frame  [frameSize]byte // in the reader so that it is not allocated per block
	buf    []byte          // the current block's payload and checksum, reused
	keys   uint64
	blocks uint64

	// A record larger than what is left of its block is gathered here
	// across the following blocks.
	span     []byte
	spanNeed uint64 // key and value bytes of the spanning record; 0: none
	spanRec  Record // its kind, expiry and (in Key) nothing yet
	spanKey  int    // its key length
	spanOff  int64  // its offset
}

func (rd *reader) corrupt(off int64, format string, args ...any) error {
	return &CorruptError{Path: rd.path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// readFull reads len(b) bytes; what ends early is corruption, what fails
// otherwise an I/O error.
// what names the part being read; inBlock adds the block number (so the
// error says which block without formatting a string for every block read).
func (rd *reader) readFull(b []byte, what string, inBlock bool) error {
	n, err := io.ReadFull(rd.br, b)
	rd.off += int64(n)
	return rd.readErr(err, what, inBlock)
}

func (rd *reader) readErr(err error, what string, inBlock bool) error {
	switch {
	case err == nil:
		return nil
	case (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && inBlock:
		return rd.corrupt(rd.off, "file ends inside %s %d", what, rd.blocks)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return rd.corrupt(rd.off, "file ends inside %s", what)
	}
	if rd.path != "" {
		return fmt.Errorf("snapshot %s: read at offset %d: %w", rd.path, rd.off, err)
	}
	return fmt.Errorf("snapshot: read at offset %d: %w", rd.off, err)
}

func (rd *reader) run() (Header, error) {
	var hb [headerSize]byte
	if err := rd.readFull(hb[:], "the header", false); err != nil {
		return Header{}, err
	}
	if [8]byte(hb[:8]) != magic {
		return Header{}, rd.corrupt(0, "not a relcache snapshot (bad magic)")
	}
	// The magic and the version keep their place in every version, so the
	// version is read before anything whose layout it decides.
	if v := binary.LittleEndian.Uint16(hb[8:]); v != Version {
		return Header{}, &versionError{path: rd.path, version: v}
	}
	sum := binary.LittleEndian.Uint64(hb[headerSize-sumSize:])
	if xxhash.Sum64(hb[:headerSize-sumSize]) != sum {
		return Header{}, rd.corrupt(0, "header checksum mismatch")
	}
	if f := binary.LittleEndian.Uint16(hb[10:]); f != 0 {
		return Header{}, rd.corrupt(10, "unknown flags %#04x", f)
	}
	if binary.LittleEndian.Uint32(hb[20:]) != 0 {
		return Header{}, rd.corrupt(20, "reserved header bytes are not zero")
	}
	h := Header{
		Version: Version,
		Created: time.UnixMilli(int64(binary.LittleEndian.Uint64(hb[12:]))),
	}
	rd.prev = sum

	for {
		frameOff := rd.off
		frame := &rd.frame
		if err := rd.readFull(frame[:1], "the blocks (no trailer)", false); err != nil {
			return Header{}, err
		}
		switch frame[0] {
		case tagBlock:
			if err := rd.readFull(frame[1:], "the frame of block", true); err != nil {
				return Header{}, err
			}
			if err := rd.block(frameOff, frame[:]); err != nil {
				return Header{}, err
			}
		case tagEnd:
			keys, err := rd.trailer(frameOff)
			if err != nil {
				return Header{}, err
			}
			h.Keys = keys
			return h, nil
		default:
			return Header{}, rd.corrupt(frameOff, "unknown frame tag %#02x (block %d)", frame[0], rd.blocks)
		}
	}
}

// block reads, verifies and parses the block whose frame is at off.
func (rd *reader) block(off int64, frame []byte) error {
	n := binary.LittleEndian.Uint32(frame[1:])
	if n == 0 || n > maxBlock {
		return rd.corrupt(off, "block %d: payload length %d out of range 1..%d", rd.blocks, n, maxBlock)
	}
	b, err := rd.readBlock(int(n) + sumSize)
	if err != nil {
		return err
	}
	payload := b[:n]
	rd.d.ResetWithSeed(rd.prev)
	rd.d.Write(frame)
	rd.d.Write(payload)
	sum := rd.d.Sum64()
	if binary.LittleEndian.Uint64(b[n:]) != sum {
		return rd.corrupt(off, "block %d: checksum mismatch", rd.blocks)
	}
	rd.prev = sum
	rd.blocks++
	return rd.records(payload, off+frameSize)
}

// readBlock reads n bytes into the reused block buffer. A buffer that must
// grow grows as the bytes arrive, so a length corrupted upward makes Read
// allocate at most about twice what the file really holds.
func (rd *reader) readBlock(n int) ([]byte, error) {
	if cap(rd.buf) >= n {
		b := rd.buf[:n]
		return b, rd.readFull(b, "block", true)
	}
	b := rd.buf[:0]
	for len(b) < n {
		chunk := min(n-len(b), max(len(b), 1<<20))
		b = slices.Grow(b, chunk)
		m, err := io.ReadFull(rd.br, b[len(b):len(b)+chunk])
		b = b[:len(b)+m]
		rd.off += int64(m)
		if err != nil {
			rd.buf = b
			return nil, rd.readErr(err, "block", true)
		}
	}
	rd.buf = b
	return b, nil
}

// records hands the records of a verified payload, which starts at file
// offset base, to fn.
func (rd *reader) records(p []byte, base int64) error {
	pos := 0
	if rd.spanNeed > 0 {
		k := min(rd.spanNeed-uint64(len(rd.span)), uint64(len(p)))
		rd.span = append(rd.span, p[:k]...)
		pos = int(k)
		if uint64(len(rd.span)) == rd.spanNeed {
			r := rd.spanRec
			r.Key, r.Value = rd.span[:rd.spanKey], rd.span[rd.spanKey:]
			if err := rd.deliver(r, rd.spanOff); err != nil {
				return err
			}
			rd.spanNeed = 0
			if cap(rd.span) > 4*blockTarget {
				rd.span = nil // don't keep a huge value's buffer for the rest of the file
			}
		}
	}
	for pos < len(p) {
		off := base + int64(pos)
		q := p[pos:]
		kind := store.Kind(q[0])
		if !validKind(kind) {
			return rd.corrupt(off, "record %d: unknown kind %d", rd.keys, q[0])
		}
		i := 1
		klen, n := uvarint(q[i:])
		if n <= 0 {
			return rd.badVarint(off, n, "key length")
		}
		i += n
		vlen, n := uvarint(q[i:])
		if n <= 0 {
			return rd.badVarint(off, n, "value length")
		}
		i += n
		exp, n := uvarint(q[i:])
		if n <= 0 {
			return rd.badVarint(off, n, "expiry")
		}
		i += n
		switch {
		case klen > maxKey:
			return rd.corrupt(off, "record %d: key length %d over the %d limit", rd.keys, klen, maxKey)
		case vlen > maxValue:
			return rd.corrupt(off, "record %d: value length %d over the %d limit", rd.keys, vlen, uint64(maxValue))
		case exp > math.MaxInt64:
			return rd.corrupt(off, "record %d: expiry %d out of range", rd.keys, exp)
		}
		r := Record{Kind: kind, ExpireAt: int64(exp)}
		body := klen + vlen
		if rest := uint64(len(q) - i); body > rest {
			// The record goes on in the next blocks. Its buffer grows as
			// they arrive, not to the length read here.
			rd.span = append(rd.span[:0], q[i:]...)
			rd.spanNeed, rd.spanRec, rd.spanKey, rd.spanOff = body, r, int(klen), off
			return nil
		}
		r.Key = q[i : i+int(klen) : i+int(klen)]
		r.Value = q[i+int(klen) : i+int(body) : i+int(body)]
		if err := rd.deliver(r, off); err != nil {
			return err
		}
		pos += i + int(body)
	}
	return nil
}

func (rd *reader) badVarint(off int64, n int, field string) error {
	if n == 0 {
		return rd.corrupt(off, "record %d: header crosses the end of its block (%s)", rd.keys, field)
	}
	return rd.corrupt(off, "record %d: malformed %s", rd.keys, field)
}

// deliver checks what the block checksum cannot (that a relation set is a
// sound openhash table) and hands r to fn.
func (rd *reader) deliver(r Record, off int64) error {
	if r.Kind == store.KindRelSet {
		check := openhash.Check
		if rd.opt.ShallowSets {
			check = openhash.CheckControl
		}
		if err := check(r.Value); err != nil {
			return rd.corrupt(off, "key %s: bad relation set: %v", quoteKey(r.Key), err)
		}
	}
	rd.keys++
	if rd.fn != nil {
		if err := rd.fn(r); err != nil {
			return fnError{err}
		}
	}
	return nil
}

// trailer verifies the trailer whose tag is at off, and that the input ends
// with it, and returns the key count.
func (rd *reader) trailer(off int64) (uint64, error) {
	var t [trailerSize]byte
	t[0] = tagEnd
	if err := rd.readFull(t[1:], "the trailer", false); err != nil {
		return 0, err
	}
	rd.d.ResetWithSeed(rd.prev)
	rd.d.Write(t[:trailerSize-sumSize])
	if binary.LittleEndian.Uint64(t[trailerSize-sumSize:]) != rd.d.Sum64() {
		return 0, rd.corrupt(off, "trailer checksum mismatch")
	}
	keys := binary.LittleEndian.Uint64(t[1:])
	blocks := binary.LittleEndian.Uint64(t[9:])
	switch {
	case rd.spanNeed > 0:
		return 0, rd.corrupt(rd.spanOff, "record %d ends after the last block (%d of %d bytes)", rd.keys, len(rd.span), rd.spanNeed)
	case blocks != rd.blocks:
		return 0, rd.corrupt(off, "trailer says %d blocks, file has %d", blocks, rd.blocks)
	case keys != rd.keys:
		return 0, rd.corrupt(off, "trailer says %d keys, blocks hold %d", keys, rd.keys)
	}
	if _, err := rd.br.ReadByte(); err == nil {
		return 0, rd.corrupt(rd.off, "bytes after the trailer")
	} else if err != io.EOF {
		return 0, rd.readErr(err, "", false)
	}
	return keys, nil
}

// uvarint is binary.Uvarint that also refuses encodings longer than
// needed, so that every record has one encoding.
func uvarint(b []byte) (uint64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	x, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, -1
	}
	return x, n
}
