package proxyfront_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

// Under a low open-files limit the proxy lowers max_clients to what fits
// beside its node connections (2 here) and WATCH connections (1000 by
// default) and Redis's 32 reserved descriptors, and says so in the log
// and INFO.
func TestProxyMaxClientsFitsOpenFilesLimit(t *testing.T) {
	cl := startCluster(t, 1, "n")
	cfg := onePool(cl)
	cfg.Extra = "max_clients = 1000\n"
	path := filepath.Join(t.TempDir(), "proxy.toml")
	cfg.write(t, path)
	px := relcachetest.StartUnder(t, relcachetest.Limited(t, 1500), "proxy", "--config", path)
	stopAtEnd(t, px)
	// 1500 - 32 - 2 node connections - 1000 WATCH connections = 466.
	if !px.HasLog("Current maximum open files is 1500. maxclients has been reduced to 466") {
		t.Errorf("no Redis-worded reduction in the log:\n%s", px.Logs())
	}
	c := dial(t, px.Addr)
	info := string(c.must(t, "INFO", "clients"))
	for _, want := range []string{"maxclients:466\r\n", "maxclients_requested:1000\r\n", "open_files_limit:1500\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO clients lacks %q:\n%s", want, info)
		}
	}
}
