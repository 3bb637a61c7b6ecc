//go:build !linux

package relcachetest

import "os/exec"

// command is exec.Command; the Linux version also keeps children from
// outliving a test process that dies early.
func command(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
