package proxyfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

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
	return nil
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
