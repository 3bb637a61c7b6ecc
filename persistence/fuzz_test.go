package persistence

import (
	"bytes"
	"errors"
	"testing"

	"github.com/relcache/relcache/store"
)

// FuzzRead feeds arbitrary bytes to Read. It must never panic, and what it
// accepts must survive a round trip through the Writer.
func FuzzRead(f *testing.F) {
	small, _ := writeSnapshot(f, smallRecords(f))
	empty, _ := writeSnapshot(f, nil)
	f.Add(small)
	f.Add(empty)
	f.Add(small[:len(small)-1])
	f.Add(assemble([][]byte{
		encRecord(1, []byte("k"), []byte("v"), 0),
		encRecord(1, []byte("spans"), []byte("0123456789"), 7)[:9],
		[]byte("789"),
	}, 2))
	f.Add(assemble([][]byte{encRecord(2, []byte("k"), []byte("not a set"), 0)}, 1))
	f.Add([]byte{})
	f.Add(magic[:])
	f.Fuzz(func(t *testing.T, data []byte) { checkAccepted(t, data) })
}

// FuzzRecords fuzzes the record parser behind the checksums: the input is
// sealed into one or two blocks with every checksum right.
func FuzzRecords(f *testing.F) {
	var p []byte
	for _, r := range smallRecords(f) {
		p = append(p, encRecord(byte(r.Kind), r.Key, r.Value, uint64(r.ExpireAt))...)
	}
	f.Add(p, uint16(len(p)), uint8(4))
	f.Add(p, uint16(9), uint8(4))
	f.Add(encRecord(1, []byte("k"), []byte("value"), 1<<40), uint16(3), uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, split uint16, keys uint8) {
		blocks := [][]byte{payload}
		if s := int(split); s > 0 && s < len(payload) {
			blocks = [][]byte{payload[:s], payload[s:]}
		}
		checkAccepted(t, assemble(blocks, uint64(keys)))
	})
}

// checkAccepted reads data, and if Read accepts it, checks that the
// records it returned write and read back the same.
func checkAccepted(t *testing.T, data []byte) {
	t.Helper()
	recs, h, err := readAll(data)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("error neither corrupt nor version: %v", err)
		}
		return
	}
	if h.Keys != uint64(len(recs)) {
		t.Fatalf("header says %d keys, read %d", h.Keys, len(recs))
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h.Created)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Kind != store.KindString && r.Kind != store.KindRelSet {
			t.Fatalf("Read passed kind %d", r.Kind)
		}
		if err := w.Write(r); err != nil {
			t.Fatalf("rewriting a record Read accepted: %v", err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again, h2, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatalf("reading the rewrite: %v", err)
	}
	if h2.Keys != h.Keys || !h2.Created.Equal(h.Created) {
		t.Fatalf("rewrite header %+v, original %+v", h2, h)
	}
	sameRecords(t, again, recs)
}
