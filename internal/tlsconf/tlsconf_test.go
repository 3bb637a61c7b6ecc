package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/relcache/relcache/internal/tlsconf/tlstest"
)

func TestParseProtocols(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max uint16
		err      string
	}{
		{"", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"TLSv1.2 TLSv1.3", tls.VersionTLS12, tls.VersionTLS13, ""},
		{"tlsv1.3", tls.VersionTLS13, tls.VersionTLS13, ""},
		{"  TLSv1.2  ", tls.VersionTLS12, tls.VersionTLS12, ""},
		{"TLSv1.1", 0, 0, "not supported"},
		{"SSLv3", 0, 0, "unknown protocol"},
	} {
		lo, hi, err := ParseProtocols(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseProtocols(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || lo != tc.min || hi != tc.max {
			t.Errorf("ParseProtocols(%q) = %x, %x, %v; want %x, %x", tc.in, lo, hi, err, tc.min, tc.max)
		}
	}
}

func TestCiphers(t *testing.T) {
	ids, err := ParseCiphers("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
	if err != nil || len(ids) != 2 || ids[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("ParseCiphers: %v %v", ids, err)
	}
	for _, bad := range []string{"TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", ":", "TLS_RSA_WITH_RC4_128_SHA"} {
		if _, err := ParseCiphers(bad); err == nil {
			t.Errorf("ParseCiphers(%q) took it", bad)
		}
	}
	if err := CheckCiphersuites("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"); err != nil {
		t.Errorf("CheckCiphersuites(all three): %v", err)
	}
	if err := CheckCiphersuites("TLS_AES_128_GCM_SHA256"); err == nil || !strings.Contains(err.Error(), "cannot leave out") {
		t.Errorf("CheckCiphersuites(one) = %v, want a refusal saying Go cannot leave suites out", err)
	}
}

func TestParseAuthClients(t *testing.T) {
	for in, want := range map[string]AuthClients{"yes": AuthYes, "NO": AuthNo, "Optional": AuthOptional} {
		if got, err := ParseAuthClients(in); err != nil || got != want {
			t.Errorf("ParseAuthClients(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAuthClients("maybe"); err == nil || err.Error() != "argument(s) must be one of the following: no, yes, optional" {
		t.Errorf("ParseAuthClients(maybe) = %v", err)
	}
}

// A reload with a bad file keeps the material in use; a good one
// replaces it for the next handshake.
func TestServerReload(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	a := ca.Issue(t, "a", tlstest.Options{})
	b := ca.Issue(t, "b", tlstest.Options{})
	s := Settings{CertFile: a.CertFile, KeyFile: a.KeyFile, CACertFile: ca.CertFile}
	srv, err := NewServer(s)
	if err != nil {
		t.Fatal(err)
	}
	first := srv.cur.Load()
	for _, bad := range []Settings{
		{CertFile: a.CertFile, KeyFile: b.KeyFile, CACertFile: ca.CertFile}, // key of another cert
		{CertFile: a.CertFile + ".missing", KeyFile: a.KeyFile, CACertFile: ca.CertFile},
		{CertFile: a.CertFile, KeyFile: a.KeyFile, CACertFile: a.KeyFile}, // no certificate in the CA file
		{CertFile: a.CertFile, KeyFile: a.KeyFile},                        // clients checked, no CA
		{CertFile: a.CertFile, KeyFile: a.KeyFile, CACertFile: ca.CertFile, Protocols: "TLSv9"},
	} {
		if err := srv.Reload(bad); err == nil {
			t.Errorf("Reload(%+v) took it", bad)
		}
		if srv.cur.Load() != first {
			t.Fatalf("a refused reload (%+v) changed the material", bad)
		}
	}
	s.CertFile, s.KeyFile = b.CertFile, b.KeyFile
	if err := srv.Reload(s); err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Config().GetConfigForClient(nil)
	if got := cfg.Certificates[0].Leaf.SerialNumber; got.Cmp(tlstest.Serial(t, b.CertFile)) != 0 {
		t.Errorf("after reload the server presents serial %v, want b's", got)
	}
	if _, err := NewServer(Settings{CertFile: a.CertFile, KeyFile: a.KeyFile, AuthClients: AuthNo}); err != nil {
		t.Errorf("tls-auth-clients no needs no CA: %v", err)
	}
}

func FuzzSettingsWords(f *testing.F) {
	for _, s := range []string{"TLSv1.2 TLSv1.3", "TLS_AES_128_GCM_SHA256:x", "yes", "\x00:::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// None of the parsers of CONFIG SET's values may panic.
		ParseProtocols(v)
		ParseCiphers(v)
		CheckCiphersuites(v)
		if a, err := ParseAuthClients(v); err == nil && a.String() != strings.ToLower(v) {
			t.Errorf("ParseAuthClients(%q) = %v", v, a)
		}
	})
}
