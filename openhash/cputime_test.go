package openhash

import "github.com/relcache/relcache/internal/threadcpu"

// threadCPU is the CPU time the calling OS thread has used (threadcpu.Now).
func threadCPU() (int64, bool) { return threadcpu.Now() }
