package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/relcachetest"
)

// nodeRedisVersion is the node-redis release the test runs: 5.x has
// clientSideCache (RESP3 only).
const nodeRedisVersion = "redis@5.9.0"

// TestNodeRedisClientSideCache runs node-redis with clientSideCache against
// relcache (testdata/node/client_side_cache.js). It needs node and npm
// (Debian packages nodejs, npm) and node-redis in npm's cache: the test
// installs it into its temporary directory with --offline and never uses
// the network, so it skips where the cache lacks it (`npm cache add
// redis@5.9.0` once, with network, fills it).
func TestNodeRedisClientSideCache(t *testing.T) {
	relcachetest.SkipIfShort(t, "npm, node, and the relcache binary") // before npm install
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed (Debian package nodejs)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not installed (Debian package npm)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--offline", "--no-audit", "--no-fund", "--no-save", "--prefix", dir, nodeRedisVersion)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("%s is not in npm's cache and this test does not use the network (npm cache add %s fills it): %v\n%s",
			nodeRedisVersion, nodeRedisVersion, err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "node", "client_side_cache.js"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "client_side_cache.js")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	p := relcachetest.Start(t)
	run := exec.CommandContext(ctx, node, path, p.Addr)
	run.Dir = dir
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("node-redis with clientSideCache against relcache: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
