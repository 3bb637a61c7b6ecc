package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommands checks the wiring of the binary without a server: every tool
// is there, and each refuses bad arguments before dialing anything.
func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"capacity", "--mix", "get=1"}, `unknown op "get"`},
		{[]string{"capacity", "--addr", ""}, "no server address"},
		{[]string{"tx", "--conns", "0"}, "must be positive"},
		{[]string{"relations", "extra"}, "unknown command"},
		{[]string{"snapshot", "--no-such-flag"}, "unknown flag"},
		{[]string{"nosuch"}, "unknown command"},
	} {
		root := rootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tc.args)
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("relcache-bench %v: err %v, want one with %q", tc.args, err, tc.want)
		}
	}
}
