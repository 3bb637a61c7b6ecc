//go:build linux

package server

import (
	"runtime"
	"syscall"
)

// lowerPriority moves the calling goroutine onto an OS thread of its own at
// the lowest CPU priority (nice 19), so the kernel serves client threads
// first while a background save runs. The thread is never unlocked: it
// ends with the goroutine, taking its priority with it.
func lowerPriority() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
