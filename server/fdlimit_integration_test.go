package server_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

// Under an open-files limit lower than maxclients needs, the server
// lowers maxclients to what fits (the limit less Redis's 32 reserved
// descriptors) and says so in Redis's words, in the startup line and in
// INFO, as Redis does.
func TestMaxClientsFitsOpenFilesLimit(t *testing.T) {
	p := relcachetest.StartUnder(t, relcachetest.Limited(t, 200), "--maxclients", "1000")
	const want = "Current maximum open files is 200. maxclients has been reduced to 168 to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
	if !p.HasLog(want) || !p.HasLog("You requested maxclients of 1000 requiring at least 1032 max file descriptors.") {
		t.Errorf("no Redis-worded reduction in the log:\n%s", p.Logs())
	}
	if !p.HasLog(`"maxclients":168,"maxclients_requested":1000,"open_files_limit":200`) {
		t.Errorf("the startup line does not say maxclients 168 of 1000 requested under 200 files:\n%s", p.Logs())
	}
	c := client(t, p.Addr)
	info := c.Info(context.Background(), "clients").Val()
	for field, want := range map[string]int64{"maxclients": 168, "maxclients_requested": 1000, "open_files_limit": 200} {
		if got := infoInt(t, info, field); got != want {
			t.Errorf("INFO clients %s = %d, want %d", field, got, want)
		}
	}
	if got := c.ConfigGet(context.Background(), "maxclients").Val()["maxclients"]; got != "168" {
		t.Errorf("CONFIG GET maxclients = %q, want 168", got)
	}
}

// A limit that leaves no room for a single client stops the start, with
// Redis's message.
func TestStartRefusedWhenNoClientFits(t *testing.T) {
	wrapper := relcachetest.Limited(t, 24)
	args := append(wrapper[1:], relcachetest.Binary(t), "serve", "--addr", "127.0.0.1:0", "--admin-addr", "-",
		"--source", "none", "--dir", t.TempDir(), "--log-format", "json")
	out, err := exec.Command(wrapper[0], args...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Your current 'ulimit -n' of 24 is not enough for the server to start. Please increase your open file limit to at least 10032. Exiting.") {
		t.Errorf("start under 24 open files: %v\n%s", err, out)
	}
}
