package relcachetest

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

var inheritedOnce sync.Once

// command is exec.Command for every process a test starts. Two things make a
// test process that dies early (a fuzz worker killed by its coordinator when
// -fuzztime runs out mid-setup, a test binary hit by its -timeout) leave
// nothing behind:
//   - descriptors this process inherited without close-on-exec (a fuzz
//     worker's pipes to its coordinator) are marked close-on-exec, so a
//     server we start cannot hold them open: the coordinator drains the
//     worker's pipe until EOF and would otherwise wait forever;
//   - the child is killed when this process dies, before t.Cleanup could
//     stop it.
func command(name string, args ...string) *exec.Cmd {
	inheritedOnce.Do(closeInheritedOnExec)
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// closeInheritedOnExec sets FD_CLOEXEC on every descriptor above stderr. Go
// opens its own descriptors close-on-exec already; only inherited ones lack
// it.
func closeInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
