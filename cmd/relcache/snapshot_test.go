package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/persistence"
	"github.com/relcache/relcache/store"
)

// writeTestSnapshot writes a snapshot of two strings (one expiring in
// two hours) and a relation set, and returns its path and size.
func writeTestSnapshot(t *testing.T) (string, int64) {
	t.Helper()
	set, err := openhash.Build(nil, []uint64{1, 2, 3}, nil, openhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dump.rcs")
	sum, err := persistence.WriteFile(path, time.UnixMilli(1_700_000_000_123), func(w *persistence.Writer) error {
		return errors.Join(
			w.Write(persistence.Record{Key: []byte("a"), Kind: store.KindString, Value: []byte("hello")}),
			w.Write(persistence.Record{Key: []byte("bb"), Kind: store.KindString, Value: []byte("x"), ExpireAt: time.Now().Add(2 * time.Hour).UnixMilli()}),
			w.Write(persistence.Record{Key: []byte("following:7"), Kind: store.KindRelSet, Value: set}),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, sum.Bytes
}

func TestSnapshotVerify(t *testing.T) {
	path, size := writeTestSnapshot(t)
	out, _, err := run(t, nil, "snapshot", "verify", path)
	if want := fmt.Sprintf("%s: ok, 3 keys, %d bytes\n", path, size); err != nil || out != want {
		t.Fatalf("verify: %q, %v; want %q", out, err, want)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data[:len(data)-1], 0o644)
	out, stderr, err := run(t, nil, "snapshot", "verify", path)
	if !errors.Is(err, persistence.ErrCorrupt) || out != "" {
		t.Fatalf("verify of a truncated file: %q, %v", out, err)
	}
	want := fmt.Sprintf("snapshot %s: corrupt at offset %d: file ends inside the trailer", path, len(data)-1)
	if !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q does not say %q", stderr, want)
	}
}

func TestSnapshotInspect(t *testing.T) {
	path, size := writeTestSnapshot(t)
	out, _, err := run(t, nil, "snapshot", "inspect", path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`file:       %s
version:    1
created:    2023-11-14T22:13:20.123Z
keys:       3
file bytes: %d

kind    keys  key bytes  value bytes
string     2          3            6
relset     1         11           %d
total      3         14           %d

expiring:  1
expired:   0
  <1m      0
  <1h      0
  <1d      1
  <7d      0
  >=7d     0
`, path, size, 32+1*(8+8), 6+32+1*(8+8))
	if out != want {
		t.Fatalf("inspect printed\n%s\nwant\n%s", out, want)
	}
	if _, _, err := run(t, nil, "snapshot", "inspect", filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("inspect of a missing file: %v", err)
	}
}
