//go:build !linux

package server

// lowerPriority does nothing here: only Linux gives each thread its own
// nice value, and lowering the process's would slow its clients too.
func lowerPriority() {}
