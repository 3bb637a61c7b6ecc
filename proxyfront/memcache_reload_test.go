package proxyfront

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestMemcacheReloadKeepsEntry: the memcache entry's address applies at
// start only, and a reload that adds a password while the entry serves
// clients (who cannot AUTH) is refused, not applied.
func TestMemcacheReloadKeepsEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proxy.toml")
	pool := "\n[[pool]]\nname = \"dc1\"\nrole = \"primary\"\nservers = [\"127.0.0.1:1:1\"]\n"
	write := func(top string) {
		if err := os.WriteFile(path, []byte(top+pool), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`memcache_listen = "127.0.0.1:11311"`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	write(`password = "secret"`)
	if err := p.Reload(); err == nil || !strings.Contains(err.Error(), "memcache_listen cannot be used with password") {
		t.Fatalf("reload adding a password under a running memcache entry: %v", err)
	}
	if p.cfgNow().Password != "" {
		t.Fatal("the refused reload's password was applied")
	}
	write(`memcache_listen = "127.0.0.1:11312"` + "\nmemcache_item_size_max = 2048")
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := p.cfgNow(); got.MemcacheListen != "127.0.0.1:11311" || got.MemcacheItemSizeMax != 2048 {
		t.Fatalf("after reload: memcache_listen %q, memcache_item_size_max %d", got.MemcacheListen, got.MemcacheItemSizeMax)
	}
}
