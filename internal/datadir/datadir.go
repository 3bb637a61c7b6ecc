// Package datadir guards a server's data directory: one process at a time.
//
// Two servers started on one --dir would share dump.rcs (each snapshot
// overwriting the other's, and a restart loading the wrong keyspace) and
// the embedded SQLite source. Lock takes an flock on a file in the
// directory for the life of the process; the kernel drops it when the
// process dies, kill -9 included, so a crash never leaves a stale lock.
package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// LockFile is the name of the lock file in the data directory; it holds
// the pid of the process that has the directory.
const LockFile = "relcache.lock"

// Lock is a held data directory.
type Lock struct {
	f *os.File
}

// InUseError is Lock's error when another process holds the directory.
type InUseError struct {
	Dir string
	PID int // 0 when the holder's pid could not be read
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "another relcache (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("data directory %s is in use by %s, which holds %s; give each server its own --dir",
		e.Dir, holder, filepath.Join(e.Dir, LockFile))
}

// Take takes dir for this process, or fails with an *InUseError naming the
// holder's pid, or with an error naming the directory and why it cannot be
// used (missing, not writable).
func Take(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	pid := strconv.AppendInt(nil, int64(os.Getpid()), 10)
	// Both steps share err so that either's failure reaches the check
	// below and fails Take.
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(append(pid, '\n'), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s: write %s: %w", dir, path, err)
	}
	return &Lock{f: f}, nil
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// Release gives the directory up. The file stays: removing it while
// another process opens it would let two processes lock two files.
func (l *Lock) Release() error {
	return l.f.Close() // closing the last descriptor drops the flock
}
