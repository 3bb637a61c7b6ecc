// Package threadcpu reads the CPU time of the calling OS thread, which
// benchmarks report beside wall time: on a machine shared with other busy
// processes it moves far less than wall time, because it does not count
// the time the thread waited for a core. Lock the goroutine to its thread
// (runtime.LockOSThread) around the measured loop.
package threadcpu

import "syscall"

// Now is the CPU time the calling OS thread has used, in ns, and whether
// it could be read.
func Now() (int64, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
