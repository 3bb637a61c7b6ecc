package proxyfront

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tidwall/redcon"
)

// INFO [section]: the proxy's own view, in Redis's "# Section" / "k:v"
// format: server, clients, reloads, and one line per backend with its
// state as the proxy sees it (the nodes' own INFO is one hop away).
func cmdInfo(c *client, t *topology, args [][]byte) {
	want := "all"
	if len(args) > 1 {
		want = strings.ToLower(string(args[1]))
	}
	p := c.p
	var b strings.Builder
	section := func(name string) bool {
		if want != "all" && want != "default" && want != "everything" && want != strings.ToLower(name) {
			return false
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		return true
	}
	field := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	cfg := p.cfgNow()
	if section("Server") {
		field("relcache_mode", "proxy")
		field("relcache_version", p.version)
		field("process_id", os.Getpid())
		field("tcp_addr", p.Addr())
		field("admin_addr", p.AdminAddr())
		field("http_addr", p.HTTPAddr())
		field("tls_addr", p.TLSAddr())
		field("memcache_addr", cmp.Or(p.MemcacheAddr(), "-"))
		field("uptime_in_seconds", int64(time.Since(p.started).Seconds()))
		field("config_file", cfg.Path)
		field("hash", cfg.Hash)
		field("distribution", cfg.Distribution)
		field("route_by", cfg.RouteBy)
		field("go_version", runtime.Version())
		field("gomaxprocs", runtime.GOMAXPROCS(0))
	}
	if section("Clients") {
		field("connected_clients", p.nconns.Load())
		field("maxclients", cfg.MaxClients)
		field("maxclients_requested", max(cfg.MaxClientsRequested, cfg.MaxClients))
		field("open_files_limit", cfg.OpenFilesLimit)
		field("watch_connections", p.watchConns.Load())
		field("max_watch_connections", cfg.MaxWatchConnections)
		if p.loops != nil {
			p.loops.info(field)
		}
	}
	if section("Stats") {
		field("client_query_buffer_limit_disconnections", p.queryLimitClosed.Load())
		field("client_output_buffer_limit_disconnections", p.outputLimitClosed.Load())
		field("tls_handshake_errors", p.tlsHandshakeErrors.Load())
	}
	if section("L1") {
		p.l1Info(field)
	}
	if section("Reload") {
		field("reloads", p.reloads.Load())
		if r := p.lastReload.Load(); r != nil {
			field("last_reload_time", r.at.Unix())
			field("last_reload_ok", b2i(r.err == nil))
			if r.err != nil {
				field("last_reload_error", strings.ReplaceAll(r.err.Error(), "\n", " "))
			}
		}
	}
	if section("Backends") {
		for _, pr := range t.all {
			role := "replica"
			if pr == t.primary {
				role = "primary"
			}
			field("pool_"+pr.name, fmt.Sprintf("role=%s,backends=%d,read_order=%d", role, len(pr.backends), readRank(t, pr)))
			for _, be := range pr.backends {
				state := "up"
				if be.ejected() {
					state = "ejected"
				}
				inflight := 0
				for _, bc := range be.conns {
					bc.mu.Lock()
					inflight += len(bc.inflight) - bc.head
					bc.mu.Unlock()
				}
				field("backend_"+pr.name+"_"+be.name, fmt.Sprintf(
					"addr=%s,state=%s,conns=%d,inflight=%d,requests=%d,errors=%d,failures=%d,ejections=%d",
					be.addr, state, len(be.conns), inflight, be.requests.Load(), be.errors.Load(),
					be.eject.Failures(), be.ejections.Load()))
			}
		}
	}
	c.reply(redcon.AppendBulkString(nil, b.String()))
}

func readRank(t *topology, p *poolRoute) int {
	for i, r := range t.reads {
		if r == p {
			return i
		}
	}
	return -1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
