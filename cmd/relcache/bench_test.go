package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

func TestBenchPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "relcache")
	if _, err := benchPath(exe); err == nil || !strings.Contains(err.Error(), "none next to "+exe) ||
		!strings.Contains(err.Error(), "make build") {
		t.Errorf("no relcache-bench: err %v, want one that says where it looked and how to build it", err)
	}
	want := filepath.Join(dir, "relcache-bench")
	if err := os.WriteFile(want, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := benchPath(exe); got != want || err != nil {
		t.Errorf("benchPath = %q, %v; want %q", got, err, want)
	}
}

// TestBenchRunsRelcacheBench runs the real relcache binary's `bench`
// against a stand-in relcache-bench next to it: the arguments, flags and
// --help included, reach it untouched, and its output and exit status are
// relcache's.
func TestBenchRunsRelcacheBench(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "relcache")
	copyFile(t, relcachetest.Binary(t), exe)

	out, err := exec.Command(exe, "bench", "tx").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "relcache-bench") {
		t.Errorf("bench without relcache-bench: %v\n%s\nwant exit 1 and an error naming relcache-bench", err, out)
	}

	stub := "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "relcache-bench"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(exe, "bench", "capacity", "--users", "5", "--mix", "hget=1", "--help").Output()
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("bench through the stand-in: %v, want its exit status 3", err)
	}
	if want := "[capacity]\n[--users]\n[5]\n[--mix]\n[hget=1]\n[--help]\n"; string(out) != want {
		t.Errorf("relcache-bench got\n%s\nwant\n%s", out, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
