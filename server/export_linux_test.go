//go:build linux

package server

// HandBackAfter is handBackAfter, for the hand-back's integration tests.
const HandBackAfter = handBackAfter
