package server

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/internal/breaker"

	"github.com/relcache/relcache/store"
)

// INFO [section ...], in Redis's "# Section" and "field:value\r\n" format so
// redis_exporter, redis-cli --stat and dashboards built for Redis read it.

var (
	defaultSections = []string{"server", "clients", "memory", "persistence", "stats", "keyspace"}
	allSections     = []string{"server", "clients", "memory", "gc", "persistence", "stats", "loader", "commandstats", "keyspace"}
)

func cmdInfo(c *client, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		switch s := strings.ToLower(string(a)); s {
		case "default":
			for _, d := range defaultSections {
				want[d] = true
			}
		case "all", "everything":
			for _, d := range allSections {
				want[d] = true
			}
		default:
			want[s] = true
		}
	}
	if len(want) == 0 {
		for _, d := range defaultSections {
			want[d] = true
		}
	}
	var b []byte
	for _, sec := range allSections {
		if want[sec] {
			if len(b) > 0 {
				b = append(b, "\r\n"...)
			}
			b = c.srv.appendInfo(b, sec)
		}
	}
	c.verbatim(b)
}

func field(b []byte, name string, v any) []byte {
	b = append(b, name...)
	b = append(b, ':')
	switch x := v.(type) {
	case int64:
		b = strconv.AppendInt(b, x, 10)
	case int:
		b = strconv.AppendInt(b, int64(x), 10)
	case uint64:
		b = strconv.AppendUint(b, x, 10)
	case string:
		b = append(b, x...)
	case float64:
		b = strconv.AppendFloat(b, x, 'f', 2, 64)
	default:
		b = fmt.Append(b, x)
	}
	return append(b, "\r\n"...)
}

func (s *Server) appendInfo(b []byte, section string) []byte {
	var st store.Stats
	s.store.ReadStats(&st)
	switch section {
	case "server":
		up := time.Since(s.started)
		exe, _ := os.Executable()
		port := ""
		if a := s.Addr(); a != nil {
			_, port, _ = net.SplitHostPort(a.String())
		}
		b = append(b, "# Server\r\n"...)
		b = field(b, "redis_version", redisCompatVersion)
		b = field(b, "relcache_version", s.cfg.Version)
		b = field(b, "redis_mode", "standalone")
		b = field(b, "os", runtime.GOOS+" "+runtime.GOARCH)
		b = field(b, "arch_bits", strconv.Itoa(strconv.IntSize))
		b = field(b, "go_version", runtime.Version())
		b = field(b, "process_id", os.Getpid())
		b = field(b, "run_id", s.runID)
		b = field(b, "tcp_port", port)
		b = field(b, "server_time_usec", time.Now().UnixMicro())
		b = field(b, "uptime_in_seconds", int64(up/time.Second))
		b = field(b, "uptime_in_days", int64(up/(24*time.Hour)))
		b = field(b, "hz", 10)
		b = field(b, "executable", exe)
		b = field(b, "config_file", s.cfg.ConfigFile)
	case "clients":
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		b = append(b, "# Clients\r\n"...)
		b = field(b, "connected_clients", n)
		b = field(b, "maxclients", s.cfg.MaxClients)
		b = field(b, "maxclients_requested", max(s.cfg.MaxClientsRequested, s.cfg.MaxClients))
		b = field(b, "open_files_limit", int64(s.cfg.OpenFilesLimit))
		b = field(b, "blocked_clients", 0)
		b = field(b, "tracking_clients", s.track.clients.Load())
		b = field(b, "io_loop_clients", s.stats.loopClients.Load())
		b = field(b, "io_handed_over_clients", s.stats.handedOverClients.Load())
	case "memory":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := readRSS()
		b = append(b, "# Memory\r\n"...)
		b = field(b, "used_memory", st.UsedMemory)
		b = field(b, "used_memory_human", HumanBytes(st.UsedMemory))
		b = field(b, "used_memory_rss", rss)
		b = field(b, "used_memory_rss_human", HumanBytes(rss))
		b = field(b, "maxmemory", s.store.MaxMemory())
		b = field(b, "maxmemory_human", HumanBytes(s.store.MaxMemory()))
		b = field(b, "maxmemory_policy", s.store.Policy().String())
		if st.UsedMemory > 0 {
			b = field(b, "mem_fragmentation_ratio", float64(rss)/float64(st.UsedMemory))
		}
		// The Go runtime's view: what the accounting above leaves out.
		b = field(b, "go_heap_alloc", ms.HeapAlloc)
		b = field(b, "go_heap_sys", ms.HeapSys)
		b = field(b, "go_sys", ms.Sys)
		b = field(b, "go_gc_count", uint64(ms.NumGC))
		b = field(b, "go_gc_pause_total_us", ms.PauseTotalNs/1000)
		b = field(b, "go_gc_last_pause_us", ms.PauseNs[(ms.NumGC+255)%256]/1000)
		b = field(b, "go_gc_cpu_fraction", ms.GCCPUFraction)
		// The Z* view's cached orders, outside used_memory: the
		// permutations and the set versions they pin (zview.Cache).
		b = field(b, "zview_order_bytes", s.zorders.Stats().Bytes)
	case "stats":
		b = append(b, "# Stats\r\n"...)
		b = field(b, "total_connections_received", s.stats.conns.Load())
		in, out := s.netTotals()
		b = field(b, "total_commands_processed", s.totalCommands())
		b = field(b, "instantaneous_ops_per_sec", s.stats.opsPerSec.Load())
		b = field(b, "total_net_input_bytes", in)
		b = field(b, "total_net_output_bytes", out)
		b = field(b, "rejected_connections", s.stats.rejected.Load())
		b = field(b, "expired_keys", st.Expired)
		b = field(b, "evicted_keys", st.Evicted)
		b = field(b, "keyspace_hits", st.Hits)
		b = field(b, "keyspace_misses", st.Misses)
		b = field(b, "total_error_replies", s.stats.errorReplies.Load())
		b = field(b, "protocol_errors", s.stats.protoErrors.Load())
		b = field(b, "client_query_buffer_limit_disconnections", s.stats.queryLimitClosed.Load())
		b = field(b, "client_output_buffer_limit_disconnections", s.stats.outputLimitClosed.Load())
		b = field(b, "client_output_buffer_limit_error_replies", s.stats.outputLimitErrors.Load())
		b = field(b, "tls_handshake_errors", s.stats.tlsHandshakeErrors.Load())
		b = field(b, "total_io_hand_overs", s.stats.handOvers.Load())
		b = field(b, "total_io_hand_backs", s.stats.handBacks.Load())
		channels, patterns := s.pubsub.counts()
		b = field(b, "pubsub_channels", channels)
		b = field(b, "pubsub_patterns", patterns)
		b = field(b, "tracking_total_keys", s.track.keys.Load())
		b = field(b, "tracking_total_items", s.track.items.Load())
		b = field(b, "tracking_total_prefixes", s.track.nPrefixes.Load())
		zs := s.zorders.Stats()
		b = field(b, "zview_order_hits", zs.Hits)
		b = field(b, "zview_order_builds", zs.Builds)
	case "commandstats":
		b = append(b, "# Commandstats\r\n"...)
		for _, cmd := range s.everyCommand() {
			_, calls, sum := cmd.stats.snapshot()
			if calls == 0 {
				continue
			}
			b = append(b, "cmdstat_"...)
			b = append(b, cmd.name...)
			b = append(b, ":calls="...)
			b = strconv.AppendUint(b, calls, 10)
			b = append(b, ",usec="...)
			b = strconv.AppendInt(b, sum.Microseconds(), 10)
			b = append(b, ",usec_per_call="...)
			b = strconv.AppendFloat(b, float64(sum.Nanoseconds())/1000/float64(calls), 'f', 2, 64)
			b = append(b, "\r\n"...)
		}
	case "persistence":
		b = s.appendPersistenceInfo(b)
	case "gc":
		b = appendGCInfo(b)
	case "loader":
		b = append(b, "# Loader\r\n"...)
		if !s.fill.HasSource() {
			b = field(b, "source", "none")
			return field(b, "source_id", "none")
		}
		b = field(b, "source", "configured")
		if s.cfg.SourceID != "" {
			b = field(b, "source_id", s.cfg.SourceID)
		}
		var fs fill.Stats
		s.fill.ReadStats(&fs)
		b = field(b, "loads", fs.Loads)
		b = field(b, "loads_empty", fs.LoadsEmpty)
		b = field(b, "load_errors", fs.LoadErrors)
		b = field(b, "load_timeouts", fs.Timeouts)
		b = field(b, "load_fail_fast", fs.FailFast)
		b = field(b, "loads_discarded_for_writes", fs.Discarded)
		b = field(b, "intents_completed", fs.IntentsCompleted)
		b = field(b, "intents_failed", fs.IntentsFailed)
		b = field(b, "snapshot_lists_dropped", fs.ListsDropped)
		b = field(b, "truncated_lookups", fs.Lookups)
		b = field(b, "truncated_uids_looked_up", fs.LookedUp)
		open := 0
		for _, st := range s.fill.BreakerStates() {
			if st != breaker.Closed {
				open++
			}
		}
		b = field(b, "breakers_not_closed", open)
	case "keyspace":
		b = append(b, "# Keyspace\r\n"...)
		if st.Keys > 0 {
			b = append(b, "db0:keys="...)
			b = strconv.AppendInt(b, st.Keys, 10)
			b = append(b, ",expires="...)
			b = strconv.AppendInt(b, st.VolatileKey, 10)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// readRSS is the resident set size from /proc, or 0 where there is none.
func readRSS() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
