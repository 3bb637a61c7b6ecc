//go:build !linux

package openhash

func threadCPU() (int64, bool) { return 0, false }
