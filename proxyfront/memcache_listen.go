package proxyfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/mcproto"
)

// validateMemcache checks the memcache entry's settings and fills their
// defaults.
func (c *Config) validateMemcache() error {
	if c.MemcacheItemSizeMax == 0 {
		c.MemcacheItemSizeMax = mcproto.DefaultItemSizeMax
	}
	switch {
	case c.MemcacheListen == "":
		return nil
	case c.Password != "":
		// The text protocol has no AUTH (memcached authenticates only
		// over SASL in the binary protocol): the entry would let anyone
		// past the password.
		return errors.New("memcache_listen cannot be used with password: memcached's text protocol has no authentication, so its clients would bypass the proxy's password")
	case c.MemcacheItemSizeMax < 1024 || c.MemcacheItemSizeMax > c.ProtoMaxBulkLen-mcproto.HeaderLen:
		return fmt.Errorf("memcache_item_size_max %d: want 1024 to proto_max_bulk_len less %d (0 means the default, 1 MiB)", c.MemcacheItemSizeMax, mcproto.HeaderLen)
	case c.MemcacheListen == c.Listen || (c.Admin != adminOff && c.MemcacheListen == c.Admin):
		if c.MemcacheListen[len(c.MemcacheListen)-2:] != ":0" {
			return fmt.Errorf("memcache_listen %q is also listen or admin; give it a port of its own", c.MemcacheListen)
		}
	}
	if err := checkListenAddr(c.MemcacheListen); err != nil {
		return fmt.Errorf("memcache_listen: %w", err)
	}
	return nil
}

// keepMemcacheListen keeps the running memcache entry's address in a
// reloaded config (it applies at start only) and checks the config with
// it: a reload must not add a password that memcache clients, still
// served, would bypass.
func (p *Proxy) keepMemcacheListen(cfg, old *Config) error {
	if cfg.MemcacheListen != old.MemcacheListen {
		p.log.Warn("reload: memcache_listen applies only at start; keeping the old one",
			zap.String("memcache_listen", old.MemcacheListen))
		cfg.MemcacheListen = old.MemcacheListen
	}
	return cfg.validateMemcache()
}

// listenMemcache opens the memcache entry's listener, if configured.
func (p *Proxy) listenMemcache() error {
	addr := p.cfgNow().MemcacheListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("memcache listen %s: %w", addr, err)
	}
	p.mcLn = ln
	p.mcStats = newMcCounters(p.metrics.reg)
	return nil
}

// mcCounters count memcache commands by name, looked up once: the RESP
// counters see only the RESP commands a memcache command runs as.
type mcCounters struct {
	byOp    [mcproto.NumOps]prometheus.Counter
	refused prometheus.Counter // lines answered ERROR or CLIENT_ERROR before running
}

func newMcCounters(reg *prometheus.Registry) *mcCounters {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "relcache_proxy_memcache_commands_total",
		Help: "Commands of memcache clients, by command; \"refused\": lines refused before running (ERROR, CLIENT_ERROR)."}, []string{"command"})
	reg.MustRegister(v)
	s := &mcCounters{refused: v.WithLabelValues("refused")}
	for op := mcproto.OpGet; int(op) < mcproto.NumOps; op++ {
		s.byOp[op] = v.WithLabelValues(op.String())
	}
	return s
}

// count counts one command line: its op's, or a refused one.
func (s *mcCounters) count(op mcproto.Op, refused bool) {
	switch {
	case s == nil:
	case refused || op == mcproto.OpUnknown:
		s.refused.Inc()
	default:
		s.byOp[op].Inc()
	}
}

// MemcacheAddr is the memcache entry's address, or "" when it is off.
func (p *Proxy) MemcacheAddr() string {
	if p.mcLn == nil {
		return ""
	}
	return p.mcLn.Addr().String()
}

// serveMemcache accepts memcache clients until ctx is done. They count
// against max_clients with the RESP ones.
func (p *Proxy) serveMemcache(ctx context.Context) {
	go func() {
		<-ctx.Done()
		p.mcLn.Close()
	}()
	for {
		nc, err := p.mcLn.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			p.log.Error("memcache accept failed; the memcache entry stops")
			return
		}
		// memcached's words when it is out of connections.
		if !p.accepted(nc, "SERVER_ERROR Too many open connections\r\n") {
			continue
		}
		m := p.newMcConn(nc, p.nextID.Add(1))
		p.runClient(m.c, m.serve)
	}
}
