package main

import (
	"github.com/relcache/relcache/loader"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/relcache/relcache/store"
)

func TestResolveFlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relcache.toml")
	os.WriteFile(path, []byte(`
addr = "0.0.0.0:7000"
maxmemory = "2gb"
maxmemory-policy = "volatile-lru"
timeout = 90
proto-max-bulk-len = 1048576
`), 0o644)
	s := defaultSettings()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	s.bind(fs)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:7001", "--timeout", "2m"}); err != nil {
		t.Fatal(err)
	}
	got, err := resolve(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultSettings()
	want.Addr = "127.0.0.1:7001"             // flag beats file
	want.MaxMemory = 2 << 30                 // file beats default
	want.MaxMemoryPolicy = store.VolatileLRU // file
	want.Timeout = duration{2 * time.Minute} // flag beats file
	want.ProtoMaxBulkLen = 1 << 20           // TOML integer
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resolved %+v\nwant     %+v", got, want)
	}
}

func TestResolveRejectsBadInput(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":        "maxmemroy = 1\n",
		"bad size":           "maxmemory = \"lots\"\n",
		"bad policy":         "maxmemory-policy = \"sometimes\"\n",
		"not toml":           "[[[\n",
		"wrong type for int": "maxclients = \"many\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(body), 0o644)
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			s := defaultSettings()
			s.bind(fs)
			if _, err := resolve(path, fs); err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s", err, path)
			}
		})
	}
}

func TestDurationAndSizeFlags(t *testing.T) {
	var d duration
	for in, want := range map[string]time.Duration{"300": 300 * time.Second, "5m": 5 * time.Minute, "-1": -time.Second, "250ms": 250 * time.Millisecond} {
		if err := d.Set(in); err != nil || d.Duration != want {
			t.Errorf("duration %q = %v, %v; want %v", in, d.Duration, err, want)
		}
	}
	if err := d.Set("soon"); err == nil {
		t.Error("duration 'soon' accepted")
	}
	var b byteSize
	for in, want := range map[string]int64{"0": 0, "100": 100, "1k": 1000, "1kb": 1024, "100mb": 100 << 20, "4GB": 4 << 30, "2g": 2e9} {
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("size %q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, bad := range []string{"-1", "lots", "1tb", "99999999999999999999gb"} {
		if err := b.Set(bad); err == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
}

// TestResolveListFlags: a repeated list flag reaches the settings item by
// item (not as pflag's "[a,b]" rendering), and the DSNs parse.
func TestResolveListFlags(t *testing.T) {
	s := defaultSettings()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	s.bind(fs)
	args := []string{"--source", "mysql", "--source-dbs", "4",
		"--source-mysql", "0-1=root@tcp(127.0.0.1:3306)/?timeout=1s", "--source-mysql", "2-3=root@tcp(127.0.0.1:3307)/"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	got, err := resolve("", fs)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := got.loaderConfig("/data")
	if err != nil {
		t.Fatal(err)
	}
	want := []loader.MySQLServer{{DSN: "root@tcp(127.0.0.1:3306)/?timeout=1s", First: 0, Last: 1}, {DSN: "root@tcp(127.0.0.1:3307)/", First: 2, Last: 3}}
	if !reflect.DeepEqual(cfg.MySQL, want) || cfg.Kind != "mysql" || cfg.Layout.DBs != 4 {
		t.Fatalf("loader config %+v", cfg)
	}
	for _, bad := range []string{"0-1", "x-1=dsn", "3-1=dsn", "=dsn", "1="} {
		if _, err := loader.ParseMySQLServer(bad); err == nil {
			t.Errorf("ParseMySQLServer(%q) accepted", bad)
		}
	}
}
