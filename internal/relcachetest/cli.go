package relcachetest

import (
	"os/exec"
	"strings"
	"testing"
)

// CLICase is a command for redis-cli and text its output must contain.
type CLICase struct {
	Args []string
	Want string
}

// CLIExpect runs each case with redis-cli against addr, authenticated as
// user with pass, and fails t when its output lacks the wanted text. Without
// redis-cli (Debian package redis-tools) it logs so and checks nothing.
func CLIExpect(t testing.TB, addr, user, pass string, cases ...CLICase) {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Log("redis-cli not installed (Debian package redis-tools): its checks skipped")
		return
	}
	h, port, _ := strings.Cut(addr, ":")
	for _, c := range cases {
		args := append([]string{"-h", h, "-p", port, "--user", user, "--pass", pass, "--no-auth-warning"}, c.Args...)
		out, _ := exec.Command("redis-cli", args...).CombinedOutput()
		if got := strings.TrimSpace(string(out)); !strings.Contains(got, c.Want) {
			t.Errorf("redis-cli %v = %q, want %q", c.Args, got, c.Want)
		}
	}
}

// The read-only relation service of the ACL tests (server and proxy).
const (
	// RelsvcRules are its ACL SETUSER rules (without the name).
	RelsvcRules = "on >pw ~* +@read +@relation -@write"
	// RelsvcLine is the same user as a users/aclfile line.
	RelsvcLine = "user relsvc " + RelsvcRules
)

// RelsvcSetup are the commands (run by a user who may) that load what
// RelsvcReads read: 1 follows 2 and 3, 2 follows 1.
var RelsvcSetup = [][]any{{"RELLOAD", "1.following", "2", "3"}, {"RELLOAD", "2.following", "1"}}

// RelsvcReads are commands relsvc may run after RelsvcSetup, with their
// replies as fmt.Sprint shows what go-redis returns.
var RelsvcReads = []struct {
	Args []any
	Want string
}{
	{[]any{"RELCHECK", "1", "2"}, "3"},
	{[]any{"RELMULTI", "1.following", "2", "4"}, "[1 0]"},
	{[]any{"HEXISTS", "1.following", "3"}, "1"},
	{[]any{"HGET", "1.following", "2"}, "0"},
}
