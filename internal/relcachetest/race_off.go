//go:build !race

package relcachetest

// RaceEnabled is true when the tests run with -race.
const RaceEnabled = false
