// Package safefile creates and opens the files relcache writes and reads
// in directories others may also write to (a data directory, a report
// directory): never through a link planted there, never blocking on a FIFO,
// and never leaving a half-written file under the final name.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CreateNew creates path for writing as a new regular file. Whatever was
// there — a file left by a crash, or a symlink someone planted — is
// unlinked first (Remove unlinks a link itself, never its target; a
// directory is refused, not removed), and the
// open uses O_EXCL|O_NOFOLLOW, so if something is put back at path in
// between, the call fails instead of writing through it.
func CreateNew(path string, perm fs.FileMode) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		// Not ours: a directory is never left by a crash of ours.
		return nil, fmt.Errorf("%s is a directory", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale %s: %w", path, err)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, perm)
}

// ErrNotRegular is wrapped by OpenRegular's error for a FIFO, a device, a
// socket or a directory.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading and refuses anything but a regular
// file (a symlink to one is fine). The open is non-blocking, so a FIFO at
// path is refused at once instead of hanging until someone writes to it.
func OpenRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is a %s: %w", path, kind(st.Mode()), ErrNotRegular)
	}
	return f, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	}
	return "special file (" + m.Type().String() + ")"
}

// WriteFile writes path atomically: fill writes into path+".tmp" (created
// with CreateNew), which is synced, closed and renamed over path, and the
// directory is synced. On an error the temporary file is removed and
// whatever was at path is left as it was. Rename replaces a link at path
// itself, never its target.
func WriteFile(path string, perm fs.FileMode, fill func(io.Writer) error) (err error) {
	tmp := path + ".tmp"
	f, err := CreateNew(tmp, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if f != nil {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a rename or a create in dir survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
