package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/tlsconf"
)

// TLS on a node: a second listener on tls-port (beside the plaintext one),
// whose handshakes read the certificate, CA and protocol settings loaded
// last (tlsconf.Server). SIGHUP (ReloadTLS) and CONFIG SET of a tls-*
// setting load the files again and swap them in for the next handshakes;
// open connections keep their sessions. The plaintext listener and its
// clients never touch this code.

// tlsHandshakeTimeout bounds a TLS handshake, so a client that connects
// and sends nothing holds a connection slot only this long before it has
// proven it speaks TLS. The idle timeout applies after it.
const tlsHandshakeTimeout = 10 * time.Second

// listenTLS opens tls-port on addr's host; nil when tls-port is 0.
func (s *Server) listenTLS() (net.Listener, error) {
	if s.tls == nil {
		return nil, nil
	}
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	addr := net.JoinHostPort(host, strconv.Itoa(s.cfg.TLSPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on tls-port %s: %w", addr, err)
	}
	if na := s.tls.NotAfter(); time.Now().After(na) {
		s.log.Warn("the TLS certificate has expired; clients that check it will refuse it",
			zap.String("tls_cert_file", s.tls.Settings().CertFile), zap.Time("not_after", na))
	}
	return tls.NewListener(ln, s.tls.Config()), nil
}

// handshake completes a TLS client's handshake before its first command,
// within tlsHandshakeTimeout; a plaintext client passes through. A failed
// handshake (no or a bad client certificate, a protocol mismatch) is
// logged at debug level, as a bad password would not be at all.
func (c *client) handshake() bool {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.stats.tlsHandshakeErrors.Add(1)
		c.srv.log.Debug("TLS handshake failed", zap.String("addr", c.addr), zap.Error(err))
		return false
	}
	return true
}

// ReloadTLS loads the TLS files again from the paths in use (SIGHUP): a
// renewed certificate written over the old one is served to the next
// handshakes. It does nothing without TLS. A bad file is refused and
// logged; the material in use stays.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		s.log.Info("SIGHUP: TLS is off (tls-port 0); nothing to reload")
		return nil
	}
	s.tlsMu.Lock()
	defer s.tlsMu.Unlock()
	st := s.tls.Settings()
	if err := s.tls.Reload(st); err != nil {
		s.log.Error("TLS reload refused; the certificate in use stays", zap.Error(err))
		return err
	}
	s.log.Info("TLS certificates reloaded", zap.String("tls_cert_file", st.CertFile),
		zap.String("tls_ca_cert_file", st.CACertFile), zap.Time("not_after", s.tls.NotAfter()))
	return nil
}

// tlsSettings are the TLS settings in use.
func (s *Server) tlsSettings() tlsconf.Settings {
	if s.tls == nil {
		return s.cfg.TLS
	}
	return s.tls.Settings()
}

// tlsParam is a tls-* CONFIG parameter: get reads the settings in use,
// stage checks a value and writes it into the settings CONFIG SET will
// load (configSet loads them once, after every pair was checked).
func tlsParam(name string, get func(tlsconf.Settings) string, stage func(*tlsconf.Settings, string) error) configParam {
	return configParam{name: name,
		get: func(s *Server) string { return get(s.tlsSettings()) },
		tls: stage}
}

func (s *Server) tlsConfigParams() []configParam {
	file := func(field func(*tlsconf.Settings) *string) func(*tlsconf.Settings, string) error {
		return func(st *tlsconf.Settings, v string) error { *field(st) = v; return nil }
	}
	return []configParam{
		{name: "tls-port", get: func(s *Server) string { return strconv.Itoa(s.cfg.TLSPort) }},
		tlsParam("tls-cert-file", func(st tlsconf.Settings) string { return st.CertFile },
			file(func(st *tlsconf.Settings) *string { return &st.CertFile })),
		tlsParam("tls-key-file", func(st tlsconf.Settings) string { return st.KeyFile },
			file(func(st *tlsconf.Settings) *string { return &st.KeyFile })),
		tlsParam("tls-ca-cert-file", func(st tlsconf.Settings) string { return st.CACertFile },
			file(func(st *tlsconf.Settings) *string { return &st.CACertFile })),
		tlsParam("tls-auth-clients", func(st tlsconf.Settings) string { return st.AuthClients.String() },
			func(st *tlsconf.Settings, v string) (err error) {
				st.AuthClients, err = tlsconf.ParseAuthClients(v)
				return err
			}),
		tlsParam("tls-protocols", func(st tlsconf.Settings) string { return st.Protocols },
			func(st *tlsconf.Settings, v string) error {
				_, _, err := tlsconf.ParseProtocols(v)
				st.Protocols = v
				return err
			}),
		tlsParam("tls-ciphers", func(st tlsconf.Settings) string { return st.Ciphers },
			func(st *tlsconf.Settings, v string) error {
				_, err := tlsconf.ParseCiphers(v)
				st.Ciphers = v
				return err
			}),
		tlsParam("tls-ciphersuites", func(st tlsconf.Settings) string { return st.Ciphersuites },
			func(st *tlsconf.Settings, v string) error {
				st.Ciphersuites = v
				return tlsconf.CheckCiphersuites(v)
			}),
	}
}

// errTLSUpdate is Redis's refusal of TLS settings it could not load; the
// reason goes to the log.
const errTLSUpdate = configError("Unable to update TLS configuration. Check server logs.")

// loadStagedTLS loads the TLS settings a CONFIG SET asked for, all pairs
// at once (a new certificate usually comes with its new key), and returns
// what swaps them in.
func (s *Server) loadStagedTLS(st tlsconf.Settings) (func(), error) {
	if s.tls == nil {
		// A listener cannot be opened by CONFIG SET here (tls-port is
		// fixed at start), so there is nothing the files would serve.
		return nil, configError("TLS is off (tls-port 0); set tls-port at start to use TLS")
	}
	// Loaded now, swapped in by the apply step, after every other pair
	// of the CONFIG SET was accepted.
	l, err := s.tls.Load(st)
	if err != nil {
		s.log.Error("CONFIG SET: TLS settings refused; those in use stay", zap.Error(err))
		return nil, errTLSUpdate
	}
	return func() {
		s.tlsMu.Lock()
		defer s.tlsMu.Unlock()
		s.tls.Swap(l)
		s.log.Info("TLS settings changed by CONFIG SET", zap.String("tls_cert_file", st.CertFile))
	}, nil
}

// checkTLSWords checks the TLS settings that are words, and that the
// files TLS needs are named, before any file is read: a start with a bad
// one fails with the other bad settings, before it takes the data
// directory.
func checkTLSWords(st tlsconf.Settings) error {
	_, _, err1 := tlsconf.ParseProtocols(st.Protocols)
	_, err2 := tlsconf.ParseCiphers(st.Ciphers)
	var err3 error
	switch {
	case st.CertFile == "" || st.KeyFile == "":
		err3 = errors.New("tls-cert-file and tls-key-file are required for TLS")
	case st.CACertFile == "" && st.AuthClients != tlsconf.AuthNo:
		err3 = fmt.Errorf("tls-ca-cert-file is required to check clients' certificates (tls-auth-clients %s)", st.AuthClients)
	}
	return errors.Join(err1, err2, err3, tlsconf.CheckCiphersuites(st.Ciphersuites))
}
