package proxyfront

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/cmdmeta"
)

var updateRoutes = flag.Bool("update-routes", false, "rewrite testdata/routes.txt from the command table")

// txProbe is a proxy of two nodes (never dialled) and one of its clients,
// to ask each command's tx function whether MULTI queues or refuses it.
type txProbe struct {
	p *Proxy
	c *client
}

func newTxProbe(t *testing.T) *txProbe {
	t.Helper()
	cfg := &Config{Admin: "-", Pools: []Pool{{Name: "dc1", Role: "primary",
		Servers: []string{"127.0.0.1:1:1 n1", "127.0.0.1:2:1 n2"}}}}
	p, err := New(cfg, "test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.topo.Load().close() })
	nc, peer := net.Pipe()
	t.Cleanup(func() { nc.Close(); peer.Close() })
	return &txProbe{p: p, c: p.newClient(nc, 1)}
}

// inMulti says what MULTI does with cmd, given a command line of the
// least arguments its arity allows (numbers, so uids parse): "at once",
// "queued" or "refused".
func (pr *txProbe) inMulti(cmd *command) string {
	if cmd.txControl {
		return "at once"
	}
	n := max(cmd.arity, -cmd.arity, 2)
	args := [][]byte{[]byte(cmd.name)}
	for i := 1; i < n; i++ {
		args = append(args, []byte(strconv.Itoa(1000+i)))
	}
	if _, msg := cmd.tx(pr.c, pr.p.topo.Load(), args, nil); msg != "" {
		return "refused"
	}
	return "queued"
}

// nodeTable is the proxy's table for the node's real metadata, with a
// probe to ask its MULTI verdicts.
func nodeTable(t *testing.T) (map[string]*cmdmeta.Command, map[string]*command, *txProbe) {
	t.Helper()
	metas, err := cmdmeta.Load()
	if err != nil {
		t.Fatal(err)
	}
	table, err := buildCommandTable(metas, newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	return metas, table, newTxProbe(t)
}

// routeLine is one line of testdata/routes.txt: how the proxy runs the
// command, read or write, the node's key positions, and MULTI's verdict.
func routeLine(cmd *command, meta *cmdmeta.Command, pr *txProbe) string {
	rw, keys := "-", "-"
	if cmd.how != "refused" && cmd.how != "here" && cmd.how != "tx" {
		rw = "read"
		if cmd.write {
			rw = "write"
		}
	}
	if meta != nil {
		if first, last, step, _ := meta.LegacyRange(); first != 0 {
			keys = fmt.Sprintf("%d,%d,%d", first, last, step)
		}
	}
	auth := ""
	if cmd.noAuth {
		auth = " before-auth"
	}
	return fmt.Sprintf("%-12s %3d %-8s %-5s keys=%-7s multi=%s%s", cmd.name, cmd.arity, cmd.how, rw, keys, pr.inMulti(cmd), auth)
}

// TestRoutesGolden lists how the proxy runs every command it knows, in
// testdata/routes.txt, so that a change of routing (a command added to the
// node, a flag changed in its metadata) shows in review. Regenerate with
//
//	go test ./proxyfront -run TestRoutesGolden -update-routes
func TestRoutesGolden(t *testing.T) {
	metas, table, pr := nodeTable(t)
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# How relcache proxy runs each command (TestRoutesGolden; regenerate with -update-routes).\n")
	b.WriteString("# name, arity, how (key, keys: by key positions; split, composed, here, tx: proxyfront's own;\n")
	b.WriteString("# refused), read or write, the node's first,last,step key, what MULTI does with it.\n")
	for _, name := range names {
		b.WriteString(routeLine(table[name], metas[name], pr) + "\n")
	}
	const path = "testdata/routes.txt"
	if *updateRoutes {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			if g, w := at(gl, i), at(wl, i); g != w {
				t.Fatalf("%s line %d:\n got  %s\n want %s\nregenerate it: go test ./proxyfront -run TestRoutesGolden -update-routes", path, i+1, g, w)
			}
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}

// TestEveryNodeCommandRouted: every command the node serves is routed by
// its key positions, run the proxy's own way (specialRoutes), or refused
// by name — and what the proxy takes from the node's metadata agrees with
// it: arity, write, allowed before AUTH, a keyed route reads exactly when
// the node's command is read-only, and what the node refuses inside MULTI
// the proxy refuses too.
func TestEveryNodeCommandRouted(t *testing.T) {
	metas, table, pr := nodeTable(t)
	special := specialRoutes()
	served := 0
	for name, meta := range metas {
		if strings.Contains(name, "|") {
			continue
		}
		served++
		cmd := table[name]
		_, isSpecial := special[name]
		isRefused := slices.Contains(refused, name)
		switch {
		case cmd == nil:
			t.Errorf("%s: the node serves it; the proxy's table does not have it", name)
			continue
		case isSpecial && isRefused:
			t.Errorf("%s: both routed specially and refused", name)
		case isRefused:
			if cmd.how != "refused" || cmd.arity != -1 || pr.inMulti(cmd) != "refused" {
				t.Errorf("%s: refused by name, but the table has %s arity %d", name, cmd.how, cmd.arity)
			}
			continue
		case !isSpecial && cmd.how != "key" && cmd.how != "keys":
			t.Errorf("%s: neither special nor refused, yet routed as %q", name, cmd.how)
		}
		if cmd.arity != meta.Arity || cmd.write != meta.Has("write") || cmd.noAuth != meta.Has("no_auth") {
			t.Errorf("%s: proxy arity %d write %v no_auth %v; node arity %d flags %v", name, cmd.arity, cmd.write, cmd.noAuth, meta.Arity, meta.Flags)
		}
		if meta.Has("no_multi") && pr.inMulti(cmd) != "refused" {
			t.Errorf("%s: the node refuses it inside MULTI (no_multi); the proxy %s it", name, pr.inMulti(cmd))
		}
		if !isSpecial {
			if first, _, _, _ := meta.LegacyRange(); first == 0 {
				t.Errorf("%s: routed by key positions, but names no keys", name)
			}
			if meta.Has("readonly") == cmd.write {
				t.Errorf("%s: routed as a %s; the node's flags are %v", name, routeLine(cmd, meta, pr), meta.Flags)
			}
		}
	}
	for name, cmd := range table {
		if metas[name] == nil && cmd.how != "refused" {
			t.Errorf("%s: in the proxy's table as %s, but the node does not serve it", name, cmd.how)
		}
	}
	if served < 80 {
		t.Fatalf("the node's metadata lists only %d commands", served)
	}
}

// TestUnroutedCommand: a command added to the node reaches the proxy's
// table by its metadata alone when its keys say where it goes, and stops
// the proxy from starting when they cannot.
func TestUnroutedCommand(t *testing.T) {
	key := func(index, lastKey, step int, flags ...string) string {
		fl, _ := json.Marshal(flags)
		return fmt.Sprintf(`{"flags": %s, "begin_search": {"type": "index", "spec": {"index": %d}},
			"find_keys": {"type": "range", "spec": {"lastkey": %d, "keystep": %d, "limit": 0}}}`, fl, index, lastKey, step)
	}
	tests := []struct {
		name      string
		flags     string // JSON list
		arity     int
		keySpecs  []string
		drop      string // a node command taken out of the metadata
		wantHow   string // the new command's route, when it routes
		wantMulti string
		wantErr   string // or the unroutedError's reason
	}{
		{name: "getnew", flags: `["readonly", "fast"]`, arity: 2, keySpecs: []string{key(1, 0, 1, "RO")}, wantHow: "key", wantMulti: "queued"},
		{name: "setnew", flags: `["write", "denyoom"]`, arity: -3, keySpecs: []string{key(1, 0, 1, "OW")}, wantHow: "key", wantMulti: "queued"},
		{name: "keyat2", flags: `["readonly"]`, arity: 3, keySpecs: []string{key(2, 0, 1, "RO")}, wantHow: "key", wantMulti: "queued"},
		{name: "msetnew", flags: `["write"]`, arity: -3, keySpecs: []string{key(1, -1, 2, "OW")}, wantHow: "keys", wantMulti: "queued"},
		{name: "loadnew", flags: `["write", "no_multi"]`, arity: 2, keySpecs: []string{key(1, 0, 1, "OW")}, wantHow: "key", wantMulti: "refused"},
		{name: "relnew", flags: `["readonly"]`, arity: -3, wantErr: "it names no keys"},
		{name: "movnew", flags: `["readonly"]`, arity: -2, keySpecs: []string{key(1, 0, 1, "RO", "incomplete")}, wantErr: "its keys are not at fixed positions"},
		{name: "oddnew", flags: `["fast"]`, arity: 2, keySpecs: []string{key(1, 0, 1, "RW")}, wantErr: "both or neither a read and a write"},
		{name: "getnew", flags: `["readonly"]`, arity: 2, keySpecs: []string{key(1, 0, 1, "RO")}, drop: "dbsize", wantErr: "the node does not serve it"},
	}
	pr := newTxProbe(t)
	for _, tt := range tests {
		t.Run(tt.name+tt.drop, func(t *testing.T) {
			metas, err := cmdmeta.Load()
			if err != nil {
				t.Fatal(err)
			}
			delete(metas, tt.drop)
			var m cmdmeta.Command
			js := fmt.Sprintf(`{"name": %q, "summary": "s", "since": "1.0.0", "group": "generic", "arity": %d, "flags": %s, "key_specs": [%s]}`,
				tt.name, tt.arity, tt.flags, strings.Join(tt.keySpecs, ","))
			if err := json.Unmarshal([]byte(js), &m); err != nil {
				t.Fatal(err)
			}
			metas[tt.name] = &m
			table, err := buildCommandTable(metas, newMetrics())
			var ue *unroutedError
			switch {
			case tt.wantErr != "":
				if !errors.As(err, &ue) || !strings.Contains(ue.why, tt.wantErr) {
					t.Fatalf("err %v, want an unroutedError: %s", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			default:
				cmd := table[tt.name]
				if cmd.how != tt.wantHow || cmd.arity != tt.arity || pr.inMulti(cmd) != tt.wantMulti {
					t.Errorf("routed %s, arity %d, MULTI %s; want %s, %d, %s", cmd.how, cmd.arity, pr.inMulti(cmd), tt.wantHow, tt.arity, tt.wantMulti)
				}
			}
		})
	}
}
