package relcachetest

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestKilledTestLeavesNoPipeHolder is what a fuzz worker goes through when
// its coordinator kills it mid-setup: the worker inherited a pipe (fd 3),
// started a redis-server, and died before t.Cleanup ran. The coordinator
// then reads the pipe until EOF; a server that inherited the pipe kept it
// open, and `make fuzz` hung until the test binary's timeout.
func TestKilledTestLeavesNoPipeHolder(t *testing.T) {
	if os.Getenv("RELCACHETEST_PIPE_CHILD") == "1" {
		StartRedis(t)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (Debian package redis-server)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	child := exec.Command(os.Args[0], "-test.run=^TestKilledTestLeavesNoPipeHolder$", "-test.count=1")
	child.Env = append(os.Environ(), "RELCACHETEST_PIPE_CHILD=1")
	child.ExtraFiles = []*os.File{w} // fd 3, without close-on-exec, as a fuzz worker's
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	child.Wait()

	eof := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		eof <- err
	}()
	select {
	case err := <-eof:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a process started by a killed test still holds the test's inherited pipe")
	}
}
