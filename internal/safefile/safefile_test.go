package safefile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A symlink planted at the temporary name is replaced, never written
// through, and the final file is a regular file (issue 14, defect 8).
func TestWriteFileDoesNotFollowAPlantedLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dump.rcs")
	if err := os.Symlink(victim, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the link's target was overwritten: %q", b)
	}
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("%s is %v (%v), want a regular file", path, st.Mode(), err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
}

// A failed fill leaves the old file and no temporary.
func TestWriteFileFailureKeepsTheOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("old"), 0o644)
	boom := errors.New("boom")
	if err := WriteFile(path, 0o644, func(w io.Writer) error { w.Write([]byte("half")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("content %q", b)
	}
	if _, err := os.Lstat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary left behind: %v", err)
	}
}

func TestOpenRegularRefusesAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := OpenRegular(path); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("err %v, want ErrNotRegular", err)
	}
	if _, err := OpenRegular(t.TempDir()); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("directory: err %v, want ErrNotRegular", err)
	}
	f, err := OpenRegular(filepath.Join("safefile.go"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
