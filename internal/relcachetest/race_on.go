//go:build race

package relcachetest

// RaceEnabled is true when the tests run with -race; the server binary is
// then built with -race too, so integration tests check the server's
// concurrency, not only the client's.
const RaceEnabled = true
