package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestTakeIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := Take(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description, so a second open
	// in this process conflicts just as another process would.
	_, err = Take(dir)
	var iu *InUseError
	if !errors.As(err, &iu) || iu.PID != os.Getpid() {
		t.Fatalf("second Take: %v, want InUseError naming pid %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Take(dir)
	if err != nil {
		t.Fatalf("Take after Release: %v", err)
	}
	l2.Release()
}

func TestTakeNamesAMissingDirectory(t *testing.T) {
	_, err := Take("/nonexistent/relcache-data")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v", err)
	}
}

// A lock file whose pid cannot be written fails Take: a FIFO opens and
// locks but refuses the truncate. Before the pid write's error was checked,
// Take returned a lock here and left the holder's pid unrecorded.
func TestTakeFailsWhenThePIDCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, LockFile), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	l, err := Take(dir)
	if err == nil {
		l.Release()
		t.Fatal("Take succeeded on a lock file that cannot hold a pid")
	}
	if !strings.Contains(err.Error(), "write "+filepath.Join(dir, LockFile)) {
		t.Fatalf("err %v, want one naming the write of the lock file", err)
	}
}
