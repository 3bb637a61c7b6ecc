// Package redisdiff runs the same commands against a stock redis-server and
// relcache and compares every reply byte for byte: the engine behind the
// differential tests (server/redisdiff_test.go) and the differential
// fuzzer (server/difffuzz_test.go).
//
// A program is a list of steps, each one command on one of several
// connections. Consecutive steps on the same connection are one batch,
// written in one go (pipelined); a batch's replies are all read before the
// next batch is written, from both servers in lockstep, so the order in
// which the servers execute commands is the program's order on both, however
// the connections interleave. Every run starts from FLUSHALL on fresh
// connections, so a program's replies depend only on the program.
//
// A difference is a divergence unless the allow-list (Allowed) excuses it:
// relcache's intended differences, each with its reason. Replies whose order
// Redis leaves unspecified (KEYS, SCAN, HKEYS, ...) are compared sorted.
// Gen writes random programs from a seed; Shrink cuts a failing one down to
// a minimal one; Script prints it for redis-cli.
package redisdiff

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step is one command on one connection, or a pause.
type Step struct {
	Conn  int           // which connection, from 0
	Args  []string      // the command; empty for a pause
	Sleep time.Duration // a pause between batches (scripts' !sleep)
}

func (s Step) String() string {
	if len(s.Args) == 0 {
		return fmt.Sprintf("[%d] !sleep %v", s.Conn+1, s.Sleep)
	}
	return fmt.Sprintf("[%d] %s", s.Conn+1, cliLine(s.Args))
}

// Divergence is the first reply the two servers disagree on that the
// allow-list does not excuse.
type Divergence struct {
	Index int  // the step, in the program
	Step  Step // that step
	// Cmd is the command whose reply differs: the step's, or for an EXEC
	// the queued command whose element of the reply differs (Sub its index).
	Cmd             []string
	Sub             int
	Redis, Relcache []byte // the replies, or a note that a connection dropped
}

func (d *Divergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d on connection %d: %s", d.Index+1, d.Step.Conn+1, cliLine(d.Step.Args))
	if d.Sub >= 0 {
		fmt.Fprintf(&b, " (reply %d, to the queued %s)", d.Sub+1, cliLine(d.Cmd))
	}
	fmt.Fprintf(&b, "\n  redis:    %s\n  relcache: %s", strconv.Quote(string(d.Redis)), strconv.Quote(string(d.Relcache)))
	return b.String()
}

// Name is the divergent command's name, lower case: what a shrink keeps
// fixed so it does not wander off to another divergence.
func (d *Divergence) Name() string {
	if len(d.Cmd) == 0 {
		return ""
	}
	return strings.ToLower(d.Cmd[0])
}

// Result is what one run found.
type Result struct {
	Divergence *Divergence    // nil when every difference was excused
	Excused    map[string]int // differences excused, by reason
}
