package proxyfront

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/tlsconf"
)

// TLS in the proxy, on both sides (docs/proxy.md, "TLS"):
//   - clients: a second listener, tls_listen, beside listen, with the
//     node's tls-* settings under TOML names (tls_cert_file, ...); its
//     handshakes read the material loaded last (tlsconf.Server), which a
//     reload (SIGHUP, POST /reload) loads again from the new config;
//   - nodes: a pool with tls = true dials its nodes over TLS, checking their
//     certificates against tls_ca_cert_file (the system's roots when
//     unset) under tls_server_name (the dialed host when unset), and
//     presenting tls_cert_file when set. A reload loads these files again
//     too, for the next connections; open ones stay.
// The plaintext listener and plaintext pools never reach this code.

// ListenerTLS are the TLS settings of the proxy's client side.
type ListenerTLS struct {
	// Listen is the TLS address clients connect to, "host:port"; "" (the
	// default) means no TLS listener. Like listen, it applies only at
	// start.
	Listen       string `toml:"tls_listen"`
	CertFile     string `toml:"tls_cert_file"`
	KeyFile      string `toml:"tls_key_file"`
	CACertFile   string `toml:"tls_ca_cert_file"`
	AuthClients  string `toml:"tls_auth_clients"` // yes (default), optional, no
	Protocols    string `toml:"tls_protocols"`
	Ciphers      string `toml:"tls_ciphers"`
	Ciphersuites string `toml:"tls_ciphersuites"`
}

// settings are l as tlsconf.Settings; Validate has checked the words.
func (l ListenerTLS) settings() tlsconf.Settings {
	auth, _ := tlsconf.ParseAuthClients(l.AuthClients)
	return tlsconf.Settings{CertFile: l.CertFile, KeyFile: l.KeyFile, CACertFile: l.CACertFile,
		AuthClients: auth, Protocols: l.Protocols, Ciphers: l.Ciphers, Ciphersuites: l.Ciphersuites}
}

func (l ListenerTLS) validate() error {
	if l.Listen == "" {
		if l != (ListenerTLS{AuthClients: l.AuthClients}) {
			return fmt.Errorf("tls_cert_file and the other tls_* settings are set but tls_listen is not")
		}
		return nil
	}
	if err := checkListenAddr(l.Listen); err != nil {
		return fmt.Errorf("tls_listen: %w", err)
	}
	if _, err := tlsconf.ParseAuthClients(l.AuthClients); err != nil {
		return fmt.Errorf("tls_auth_clients %q: %w", l.AuthClients, err)
	}
	if _, _, err := tlsconf.ParseProtocols(l.Protocols); err != nil {
		return err
	}
	if _, err := tlsconf.ParseCiphers(l.Ciphers); err != nil {
		return err
	}
	return tlsconf.CheckCiphersuites(l.Ciphersuites)
}

// PoolTLS are a pool's settings for TLS to its nodes.
type PoolTLS struct {
	// TLS turns TLS to the pool's nodes on.
	TLS        bool   `toml:"tls"`
	CACertFile string `toml:"tls_ca_cert_file"`
	CertFile   string `toml:"tls_cert_file"`
	KeyFile    string `toml:"tls_key_file"`
	ServerName string `toml:"tls_server_name"`
}

func (t PoolTLS) settings() tlsconf.Settings {
	return tlsconf.Settings{CACertFile: t.CACertFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
}

func (t PoolTLS) validate() error {
	if !t.TLS && t != (PoolTLS{}) {
		return fmt.Errorf("tls_* settings are set but tls is false; set tls = true to use TLS to the nodes")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("tls_cert_file and tls_key_file must be given together")
	}
	return nil
}

// tlsHandshakeTimeout bounds a client's or a node's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// listenTLS opens tls_listen; nil when it is not set.
func (p *Proxy) listenTLS(cfg *Config) (net.Listener, error) {
	if cfg.ListenerTLS.Listen == "" {
		return nil, nil
	}
	srv, err := tlsconf.NewServer(cfg.ListenerTLS.settings())
	if err != nil {
		return nil, fmt.Errorf("tls_listen: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.ListenerTLS.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.ListenerTLS.Listen, err)
	}
	if na := srv.NotAfter(); time.Now().After(na) {
		p.log.Warn("the TLS certificate has expired; clients that check it will refuse it",
			zap.String("tls_cert_file", cfg.ListenerTLS.CertFile), zap.Time("not_after", na))
	}
	p.tlsSrv = srv
	return tls.NewListener(ln, srv.Config()), nil
}

// handshake completes a TLS client's handshake within tlsHandshakeTimeout;
// a plaintext client passes through.
func (p *Proxy) handshake(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		p.tlsHandshakeErrors.Add(1)
		p.log.Debug("TLS handshake failed", zap.String("addr", nc.RemoteAddr().String()), zap.Error(err))
		return false
	}
	return true
}

// rejectConn writes msg to a refused client and closes it. A plaintext
// write lands in the socket buffer at once; a TLS one first runs the
// handshake, which waits for the client's hello, so it goes to its own
// goroutine under a deadline rather than stall the accept loop.
func rejectConn(nc net.Conn, msg string) {
	if _, ok := nc.(*tls.Conn); !ok {
		nc.Write([]byte(msg))
		nc.Close()
		return
	}
	go func() {
		nc.SetDeadline(time.Now().Add(time.Second))
		nc.Write([]byte(msg))
		nc.Close()
	}()
}

// loadListenerTLS loads the listener's files from a reloaded config; the
// returned function swaps them in (nil: no TLS listener).
func (p *Proxy) loadListenerTLS(old, cfg *Config) (func(), error) {
	if p.tlsSrv == nil {
		if cfg.ListenerTLS.Listen != "" {
			p.log.Warn("reload: tls_listen applies only at start; the proxy has no TLS listener")
		}
		return func() {}, nil
	}
	if cfg.ListenerTLS.Listen != old.ListenerTLS.Listen {
		p.log.Warn("reload: tls_listen applies only at start; keeping the old one", zap.String("tls_listen", old.ListenerTLS.Listen))
		cfg.ListenerTLS.Listen = old.ListenerTLS.Listen
	}
	l, err := p.tlsSrv.Load(cfg.ListenerTLS.settings())
	if err != nil {
		return nil, fmt.Errorf("tls_listen: %w", err)
	}
	return func() { p.tlsSrv.Swap(l) }, nil
}

// dialTLS wraps a new connection to a node of a TLS pool in TLS and
// completes the handshake within ctx.
func (b *backend) dialTLS(ctx context.Context, nc net.Conn) (net.Conn, error) {
	c := b.tlsc.Load()
	if c == nil {
		return nc, nil
	}
	host, _, err := net.SplitHostPort(b.addr)
	if err != nil {
		host = b.addr
	}
	tc := tls.Client(nc, c.Config(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// poolTLS loads the TLS files of each pool that has tls = true; a reload
// hands the result to its backends only once the whole new topology was
// built (adoptTLS), so a bad file changes nothing.
func poolTLS(cfg *Config) (map[string]*tlsconf.Client, error) {
	out := map[string]*tlsconf.Client{}
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		if !pc.TLS {
			continue
		}
		c, err := tlsconf.NewClient(pc.PoolTLS.settings())
		if err != nil {
			return nil, fmt.Errorf("pool %q: %w", pc.Name, err)
		}
		out[pc.Name] = c
	}
	return out, nil
}

// adoptTLS gives every backend its pool's freshly loaded TLS files, for
// its next connections.
func (t *topology) adoptTLS() {
	for _, pr := range t.all {
		for _, b := range pr.backends {
			b.tlsc.Store(t.tls[pr.name])
		}
	}
}
