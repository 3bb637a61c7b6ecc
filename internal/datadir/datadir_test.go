package datadir

import (
	"errors"
	"os"
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
