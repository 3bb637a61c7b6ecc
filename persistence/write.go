package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/relcache/relcache/internal/safefile"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// Summary is what a Writer wrote.
type Summary struct {
	Keys uint64
	// Bytes is the size of the snapshot, header to trailer.
	Bytes  int64
	ByKind map[store.Kind]uint64
}

// Writer writes a snapshot to an io.Writer, one block at a time.
type Writer struct {
	w io.Writer
	// blk is the block being filled: frame (tag and length), payload, and
	// room for the checksum, so a block goes out in one Write.
	blk    []byte
	d      *xxhash.Digest
	prev   uint64 // checksum of the last block written, or of the header
	keys   uint64
	blocks uint64
	bytes  int64
	byKind [3]uint64
	err    error // sticky: once a write failed the stream is unusable
	closed bool
}

// NewWriter writes the header of a snapshot created at created to w and
// returns a Writer for its records.
func NewWriter(w io.Writer, created time.Time) (*Writer, error) {
	var h [headerSize]byte
	copy(h[:], magic[:])
	binary.LittleEndian.PutUint16(h[8:], Version)
	// h[10:12] flags and h[20:24] reserved stay zero.
	binary.LittleEndian.PutUint64(h[12:], uint64(created.UnixMilli()))
	sum := xxhash.Sum64(h[:headerSize-sumSize])
	binary.LittleEndian.PutUint64(h[headerSize-sumSize:], sum)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write snapshot header: %w", err)
	}
	sw := &Writer{
		w:     w,
		blk:   make([]byte, frameSize, frameSize+blockTarget+sumSize),
		d:     xxhash.New(),
		prev:  sum,
		bytes: headerSize,
	}
	return sw, nil
}

// Write adds r to the snapshot. It copies r, so the caller may reuse its
// slices when Write returns. A relation set is checked with
// openhash.CheckControl (the header and the count of its control words,
// one load per group), so Write never writes what a ReadOptions.ShallowSets
// read refuses, and written as its bytes. The full check (openhash.Check,
// what a default Read runs) is the caller's: a server runs it on every set
// it has not checked before.
func (w *Writer) Write(r Record) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("snapshot: write after Close")
	}
	switch {
	case !validKind(r.Kind):
		return fmt.Errorf("snapshot: key %s: kind %d cannot be stored", quoteKey(r.Key), r.Kind)
	case len(r.Key) > maxKey:
		return fmt.Errorf("snapshot: key %s: key of %d bytes is over the %d limit", quoteKey(r.Key), len(r.Key), maxKey)
	case uint64(len(r.Value)) > maxValue:
		return fmt.Errorf("snapshot: key %s: value of %d bytes is over the %d limit", quoteKey(r.Key), len(r.Value), uint64(maxValue))
	case r.ExpireAt < 0:
		return fmt.Errorf("snapshot: key %s: negative expiry %d", quoteKey(r.Key), r.ExpireAt)
	}
	if r.Kind == store.KindRelSet {
		if err := openhash.CheckControl(r.Value); err != nil {
			return fmt.Errorf("snapshot: key %s: %w", quoteKey(r.Key), err)
		}
	}

	var hdr [maxRecordHeader]byte
	hdr[0] = byte(r.Kind)
	n := 1
	n += binary.PutUvarint(hdr[n:], uint64(len(r.Key)))
	n += binary.PutUvarint(hdr[n:], uint64(len(r.Value)))
	n += binary.PutUvarint(hdr[n:], uint64(r.ExpireAt))
	total := n + len(r.Key) + len(r.Value)

	// A record header never crosses a block boundary (the reader relies on
	// it), and a record that fits in a block starts a new one rather than
	// straddle two, so that the reader can hand it out without copying.
	used := len(w.blk) - frameSize
	if used > 0 && (used+n > blockTarget || (used+total > blockTarget && total <= blockTarget)) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.blk = append(w.blk, hdr[:n]...)
	if err := w.appendSpanning(r.Key); err != nil {
		return err
	}
	if err := w.appendSpanning(r.Value); err != nil {
		return err
	}
	w.keys++
	w.byKind[r.Kind]++
	return nil
}

// appendSpanning appends b to the payload, flushing full blocks as it goes.
func (w *Writer) appendSpanning(b []byte) error {
	for len(b) > 0 {
		room := blockTarget - (len(w.blk) - frameSize)
		if room == 0 {
			if err := w.flush(); err != nil {
				return err
			}
			room = blockTarget
		}
		k := min(room, len(b))
		w.blk = append(w.blk, b[:k]...)
		b = b[k:]
	}
	return nil
}

// flush writes the current block, if it holds anything.
func (w *Writer) flush() error {
	payload := len(w.blk) - frameSize
	if payload == 0 {
		return nil
	}
	w.blk[0] = tagBlock
	binary.LittleEndian.PutUint32(w.blk[1:], uint32(payload))
	w.d.ResetWithSeed(w.prev)
	w.d.Write(w.blk)
	w.prev = w.d.Sum64()
	w.blk = binary.LittleEndian.AppendUint64(w.blk, w.prev)
	if _, err := w.w.Write(w.blk); err != nil {
		w.err = fmt.Errorf("write snapshot block %d: %w", w.blocks, err)
		return w.err
	}
	w.bytes += int64(len(w.blk))
	w.blocks++
	w.blk = w.blk[:frameSize]
	return nil
}

// Close writes the last block and the trailer. It does not close the
// underlying writer.
func (w *Writer) Close() (Summary, error) {
	if w.err != nil {
		return Summary{}, w.err
	}
	if w.closed {
		return Summary{}, errors.New("snapshot: Close called twice")
	}
	if err := w.flush(); err != nil {
		return Summary{}, err
	}
	w.closed = true
	var t [trailerSize]byte
	t[0] = tagEnd
	binary.LittleEndian.PutUint64(t[1:], w.keys)
	binary.LittleEndian.PutUint64(t[9:], w.blocks)
	w.d.ResetWithSeed(w.prev)
	w.d.Write(t[:trailerSize-sumSize])
	binary.LittleEndian.PutUint64(t[trailerSize-sumSize:], w.d.Sum64())
	if _, err := w.w.Write(t[:]); err != nil {
		w.err = fmt.Errorf("write snapshot trailer: %w", err)
		return Summary{}, w.err
	}
	w.bytes += trailerSize
	s := Summary{Keys: w.keys, Bytes: w.bytes, ByKind: map[store.Kind]uint64{}}
	for k, n := range w.byKind {
		if n > 0 {
			s.ByKind[store.Kind(k)] = n
		}
	}
	return s, nil
}

// WriteFile writes a snapshot to path atomically. fill writes the records;
// an error from it abandons the snapshot. The data goes to path+".tmp",
// which is synced, closed and renamed over path, and then the directory is
// synced so the rename itself survives a crash. On any error before the
// rename the temporary file is removed and whatever was at path is left as
// it was.
//
// The temporary name is fixed, so that a crash leaves at most one stray file
// and the next snapshot replaces it: callers must not run two WriteFiles
// for one path at once. Whatever is found at the temporary name (a file
// from a crash, or a link planted there) is unlinked, never written
// through: safefile.WriteFile creates it with O_EXCL|O_NOFOLLOW.
func WriteFile(path string, created time.Time, fill func(*Writer) error) (sum Summary, err error) {
	err = safefile.WriteFile(path, 0o644, func(f io.Writer) error {
		w, err := NewWriter(f, created)
		if err != nil {
			return err
		}
		if err := fill(w); err != nil {
			return err
		}
		sum, err = w.Close()
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return sum, nil
}
