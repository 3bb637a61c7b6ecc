// Package tlsconf turns Redis's TLS settings (certificate, key and CA
// files on disk, tls-auth-clients, tls-protocols, tls-ciphers,
// tls-ciphersuites) into crypto/tls configurations, and reloads the files
// without dropping connections: a Server or Client keeps the loaded
// material behind an atomic pointer that tls.Config's per-handshake
// callbacks read, so a reload changes what the next handshake sees and
// nothing else. A reload that fails (a missing file, a key that does not
// match its certificate, a CA file with no certificate) returns an error
// and keeps the material in use.
//
// Both relcache serve and relcache proxy use it; neither logs from here.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// AuthClients is tls-auth-clients: whether a client must present a
// certificate signed by the CA.
type AuthClients uint8

const (
	// AuthYes (Redis's default): a client without a valid certificate is
	// refused during the handshake.
	AuthYes AuthClients = iota + 1
	// AuthOptional: a certificate is checked when given, not required.
	AuthOptional
	// AuthNo: no client certificate is asked for.
	AuthNo
)

// ParseAuthClients reads yes, no or optional, case-insensitively, as Redis.
func ParseAuthClients(v string) (AuthClients, error) {
	switch strings.ToLower(v) {
	case "yes":
		return AuthYes, nil
	case "optional":
		return AuthOptional, nil
	case "no":
		return AuthNo, nil
	}
	return 0, errors.New("argument(s) must be one of the following: no, yes, optional")
}

func (a AuthClients) String() string {
	switch a {
	case AuthYes:
		return "yes"
	case AuthOptional:
		return "optional"
	case AuthNo:
		return "no"
	}
	return fmt.Sprintf("AuthClients(%d)", uint8(a))
}

func (a AuthClients) clientAuth() tls.ClientAuthType {
	switch a {
	case AuthOptional:
		return tls.VerifyClientCertIfGiven
	case AuthNo:
		return tls.NoClientCert
	}
	return tls.RequireAndVerifyClientCert
}

// DefaultProtocols is tls-protocols' default, as Redis's.
const DefaultProtocols = "TLSv1.2 TLSv1.3"

// ParseProtocols reads tls-protocols: TLSv1.2 and/or TLSv1.3, separated
// by spaces, case-insensitively ("" is the default). TLSv1 and TLSv1.1,
// which Redis still takes, are refused: they are broken and Go's client
// side no longer offers them by default.
func ParseProtocols(v string) (minVersion, maxVersion uint16, err error) {
	words := strings.Fields(v)
	if len(words) == 0 {
		return tls.VersionTLS12, tls.VersionTLS13, nil
	}
	for _, w := range words {
		var ver uint16
		switch strings.ToLower(w) {
		case "tlsv1.2":
			ver = tls.VersionTLS12
		case "tlsv1.3":
			ver = tls.VersionTLS13
		case "tlsv1", "tlsv1.1":
			return 0, 0, fmt.Errorf("tls-protocols: %s is not supported (TLSv1.2 and TLSv1.3 are)", w)
		default:
			return 0, 0, fmt.Errorf("tls-protocols: unknown protocol %q (want TLSv1.2 and/or TLSv1.3)", w)
		}
		if minVersion == 0 || ver < minVersion {
			minVersion = ver
		}
		maxVersion = max(maxVersion, ver)
	}
	return minVersion, maxVersion, nil
}

// ParseCiphers reads tls-ciphers, the TLSv1.2 cipher suites allowed:
// their IANA names (as crypto/tls names them, e.g.
// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) separated by colons. "" means Go's
// defaults. Suites Go considers insecure are refused.
func ParseCiphers(v string) ([]uint16, error) {
	if v == "" {
		return nil, nil
	}
	var ids []uint16
	for _, name := range strings.Split(v, ":") {
		i := slices.IndexFunc(tls.CipherSuites(), func(cs *tls.CipherSuite) bool { return cs.Name == name })
		if i < 0 || !slices.Contains(tls.CipherSuites()[i].SupportedVersions, tls.VersionTLS12) {
			return nil, fmt.Errorf("tls-ciphers: %q is not a TLSv1.2 cipher suite crypto/tls offers (names are IANA's, separated by ':')", name)
		}
		ids = append(ids, tls.CipherSuites()[i].ID)
	}
	return ids, nil
}

// tls13Suites are the TLSv1.3 suites crypto/tls offers, all of them
// always: Go has no setting to leave one out.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// CheckCiphersuites checks tls-ciphersuites, the TLSv1.3 suites. Since
// crypto/tls always offers every TLSv1.3 suite, a value is taken only if
// it names all of them (in any order) or is empty: a shorter list would
// promise a restriction that is not applied.
func CheckCiphersuites(v string) error {
	if v == "" {
		return nil
	}
	names := strings.Split(v, ":")
	for _, n := range names {
		if !slices.Contains(tls13Suites, n) {
			return fmt.Errorf("tls-ciphersuites: %q is not a TLSv1.3 cipher suite (%s)", n, strings.Join(tls13Suites, ", "))
		}
	}
	for _, n := range tls13Suites {
		if !slices.Contains(names, n) {
			return fmt.Errorf("tls-ciphersuites: crypto/tls always offers every TLSv1.3 suite and cannot leave out %s; use tls-protocols TLSv1.2 with tls-ciphers to choose suites", n)
		}
	}
	return nil
}

// Settings are the TLS settings of a listener (Server) or of the
// connections to a node (Client), by Redis's names.
type Settings struct {
	CertFile     string // tls-cert-file: PEM certificate chain
	KeyFile      string // tls-key-file: PEM private key of CertFile
	CACertFile   string // tls-ca-cert-file: PEM CA certificates that peers' certificates must chain to
	AuthClients  AuthClients
	Protocols    string // tls-protocols
	Ciphers      string // tls-ciphers (TLSv1.2)
	Ciphersuites string // tls-ciphersuites (TLSv1.3)
	// ServerName is the name a Client checks the node's certificate
	// against; empty means the host of the address dialed. Unused by a
	// Server.
	ServerName string
}

// material is what one load of Settings produced; immutable once built.
type material struct {
	settings Settings
	cert     *tls.Certificate // nil: none configured (a Client without one)
	notAfter time.Time
	cfg      *tls.Config // a Server's per-handshake config, a Client's template
}

// load reads the files s names and checks them; server says whether a
// certificate and, when clients are checked, a CA are required.
func load(s Settings, server bool) (*material, error) {
	if s.AuthClients == 0 {
		s.AuthClients = AuthYes
	}
	minV, maxV, err := ParseProtocols(s.Protocols)
	if err != nil {
		return nil, err
	}
	suites, err := ParseCiphers(s.Ciphers)
	if err != nil {
		return nil, err
	}
	if err := CheckCiphersuites(s.Ciphersuites); err != nil {
		return nil, err
	}
	m := &material{settings: s}
	switch {
	case s.CertFile != "" || s.KeyFile != "":
		if s.CertFile == "" || s.KeyFile == "" {
			return nil, errors.New("tls-cert-file and tls-key-file must be given together")
		}
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load certificate %s with key %s: %w", s.CertFile, s.KeyFile, err)
		}
		m.cert = &pair
		m.notAfter = pair.Leaf.NotAfter
	case server:
		return nil, errors.New("tls-cert-file and tls-key-file are required for TLS")
	}
	var pool *x509.CertPool
	if s.CACertFile != "" {
		pem, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", s.CACertFile)
		}
	} else if server && s.AuthClients != AuthNo {
		return nil, fmt.Errorf("tls-ca-cert-file is required to check clients' certificates (tls-auth-clients %s)", s.AuthClients)
	}
	cfg := &tls.Config{MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}
	if server {
		cfg.Certificates = []tls.Certificate{*m.cert}
		cfg.ClientAuth = s.AuthClients.clientAuth()
		cfg.ClientCAs = pool
	} else {
		cfg.RootCAs = pool // nil: the system's roots
		cfg.ServerName = s.ServerName
		if m.cert != nil {
			cfg.Certificates = []tls.Certificate{*m.cert}
		}
	}
	m.cfg = cfg
	return m, nil
}

// holder is the reloadable part Server and Client share.
type holder struct {
	cur    atomic.Pointer[material]
	server bool
}

// Loaded are settings whose files were read and checked, ready to Swap in.
type Loaded struct{ m *material }

// Load reads and checks the files s names without using them: a caller
// that changes several things at once (CONFIG SET) loads first and swaps
// only when everything else was accepted too.
func (h *holder) Load(s Settings) (*Loaded, error) {
	m, err := load(s, h.server)
	if err != nil {
		return nil, err
	}
	return &Loaded{m}, nil
}

// Swap makes the next handshakes use l; connections already open keep
// the session they negotiated.
func (h *holder) Swap(l *Loaded) { h.cur.Store(l.m) }

// Settings are the settings in use: those of the last load that succeeded.
func (h *holder) Settings() Settings { return h.cur.Load().settings }

// NotAfter is when the certificate in use expires; zero when there is none.
func (h *holder) NotAfter() time.Time { return h.cur.Load().notAfter }

// Reload loads the files s names again (new paths or new contents at the
// same paths) and, if they are good, swaps them in. On error nothing
// changes.
func (h *holder) Reload(s Settings) error {
	l, err := h.Load(s)
	if err != nil {
		return err
	}
	h.Swap(l)
	return nil
}

// Server is a TLS listener's reloadable configuration.
type Server struct{ holder }

// NewServer loads s; a certificate and key are required, and a CA unless
// tls-auth-clients is no.
func NewServer(s Settings) (*Server, error) {
	srv := &Server{holder{server: true}}
	if err := srv.Reload(s); err != nil {
		return nil, err
	}
	return srv, nil
}

// Config is the tls.Config for tls.NewListener: each handshake takes the
// material loaded last.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load().cfg, nil
		},
	}
}

// Client is the reloadable configuration of connections to a TLS server.
type Client struct{ holder }

// NewClient loads s; every file is optional (no CA: the system's roots; no
// certificate: none is presented). AuthClients is ignored.
func NewClient(s Settings) (*Client, error) {
	c := &Client{}
	if err := c.Reload(s); err != nil {
		return nil, err
	}
	return c, nil
}

// Config is the tls.Config of one connection to host (the dialed address's
// host, checked against the certificate when ServerName is empty). It is
// a copy of the loaded material's, so a later Reload changes only later
// connections.
func (c *Client) Config(host string) *tls.Config {
	cfg := c.cur.Load().cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cfg
}
