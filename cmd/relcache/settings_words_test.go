package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestServeRejectsBadWords pins what a start says of a setting outside its
// fixed set of words, given as a flag or in the TOML file: operators'
// scripts and runbooks match these lines.
func TestServeRejectsBadWords(t *testing.T) {
	for _, c := range []struct {
		setting, want string
	}{
		{"rel-verify", `server config: rel-verify must be full or header, got "bogus"`},
		{"snapshot-verify", `server config: snapshot-verify must be header or full, got "bogus"`},
		{"snapshot-on-corrupt", `server config: snapshot-on-corrupt must be fail or skip, got "bogus"`},
		{"rel-set-format", `server config: rel-set-format must be fast or compact, got "bogus"`},
		{"log-format", `--log-format: want auto, console or json, got "bogus"`},
		{"source", `source: source "bogus": want sqlite, mysql or none`},
	} {
		t.Run(c.setting, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := run(t, nil, "serve", "--dir", dir, "--"+c.setting, "bogus")
			if err == nil || err.Error() != c.want {
				t.Errorf("flag: got %v, want %q", err, c.want)
			}
			path := filepath.Join(dir, "relcache.toml")
			if err := os.WriteFile(path, []byte(c.setting+" = \"bogus\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = run(t, nil, "serve", "--dir", dir, "--config", path)
			if err == nil || err.Error() != c.want {
				t.Errorf("file: got %v, want %q", err, c.want)
			}
		})
	}
	t.Run("proxy log-format", func(t *testing.T) {
		const want = `--log-format: want auto, console or json, got "bogus"`
		_, _, err := run(t, nil, "proxy", "--config", filepath.Join("..", "..", "testdata", "proxy.toml"), "--log-format", "bogus")
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	})
}
