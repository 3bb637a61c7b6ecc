//go:build !linux

package threadcpu

// Now reports false: the thread's CPU time is read on Linux only.
func Now() (int64, bool) { return 0, false }
