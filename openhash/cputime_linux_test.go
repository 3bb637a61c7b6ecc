package openhash

import "syscall"

// threadCPU is the CPU time the calling OS thread has used, in ns, and
// whether it could be read. On a machine shared with other busy processes
// it moves far less than wall time: it does not count the time the thread
// waited for a core.
func threadCPU() (int64, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
