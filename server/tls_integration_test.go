package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/tlsconf/tlstest"
)

func tlsPing(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	return c.Ping(context.Background()).Err()
}

func TestTLSServer(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	srvPair := ca.Issue(t, "server", tlstest.Options{})
	cliPair := ca.Issue(t, "client", tlstest.Options{Client: true})
	expiredCli := ca.Issue(t, "client-expired", tlstest.Options{Client: true, Expired: true})
	p := relcachetest.StartTLS(t, "--tls-cert-file", srvPair.CertFile, "--tls-key-file", srvPair.KeyFile,
		"--tls-ca-cert-file", ca.CertFile)
	host, port, _ := strings.Cut(p.TLSAddr, ":")
	cli := relcachetest.RedisCLITLS(t)

	t.Run("redis-cli", func(t *testing.T) {
		args := []string{"--tls", "--cacert", ca.CertFile, "--cert", cliPair.CertFile, "--key", cliPair.KeyFile,
			"-h", host, "-p", port}
		if out, err := exec.Command(cli, append(args, "SET", "k", "over-tls")...).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli --tls SET: %v %q", err, out)
		}
		out, err := exec.Command(cli, append(args, "GET", "k")...).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "over-tls" {
			t.Fatalf("redis-cli --tls GET: %v %q", err, out)
		}
		// Without a client certificate (tls-auth-clients yes) it is
		// refused.
		out, err = exec.Command(cli, "--tls", "--cacert", ca.CertFile, "-h", host, "-p", port, "GET", "k").CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "over-tls" {
			t.Errorf("redis-cli without a client certificate was served: %q", out)
		}
	})

	t.Run("go-redis", func(t *testing.T) {
		if err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, cliPair)); err != nil {
			t.Fatalf("go-redis over TLS with a client certificate: %v", err)
		}
		// The plaintext port serves beside it.
		if err := client(t, p.Addr).Ping(context.Background()).Err(); err != nil {
			t.Fatalf("plaintext PING: %v", err)
		}
		if err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, tlstest.Pair{})); err == nil {
			t.Error("a client without a certificate was served with tls-auth-clients yes")
		}
		if err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, expiredCli)); err == nil {
			t.Error("a client with an expired certificate was served")
		}
		info := client(t, p.Addr).Info(context.Background(), "stats").Val()
		if n := infoInt(t, info, "tls_handshake_errors"); n < 2 {
			t.Errorf("INFO stats tls_handshake_errors = %d after two refused handshakes", n)
		}
	})

	t.Run("auth-clients-optional", func(t *testing.T) {
		c := client(t, p.Addr)
		ctx := context.Background()
		if err := c.ConfigSet(ctx, "tls-auth-clients", "optional").Err(); err != nil {
			t.Fatal(err)
		}
		if got := c.ConfigGet(ctx, "tls-auth-clients").Val()["tls-auth-clients"]; got != "optional" {
			t.Errorf("CONFIG GET tls-auth-clients = %q", got)
		}
		if err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, tlstest.Pair{})); err != nil {
			t.Errorf("tls-auth-clients optional: a client without a certificate: %v", err)
		}
		if err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, expiredCli)); err == nil {
			t.Error("tls-auth-clients optional: a client with an expired certificate was served")
		}
		err := c.ConfigSet(ctx, "tls-auth-clients", "maybe").Err()
		if err == nil || err.Error() != "ERR CONFIG SET failed (possibly related to argument 'tls-auth-clients') - argument(s) must be one of the following: no, yes, optional" {
			t.Errorf("CONFIG SET tls-auth-clients maybe = %v", err)
		}
		if err := c.ConfigSet(ctx, "tls-auth-clients", "yes").Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reload", func(t *testing.T) {
		cfg := ca.ClientConfig(t, cliPair)
		held, err := tls.Dial("tcp", p.TLSAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		ping := func(what string) {
			t.Helper()
			held.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := held.Write([]byte("PING\r\n")); err != nil {
				t.Fatalf("%s: write: %v", what, err)
			}
			buf := make([]byte, 7)
			if _, err := held.Read(buf); err != nil || string(buf) != "+PONG\r\n" {
				t.Fatalf("%s: PING on the held connection: %q %v", what, buf, err)
			}
		}
		ping("before the reload")
		oldSerial := held.ConnectionState().PeerCertificates[0].SerialNumber
		renewed := ca.Issue(t, "server", tlstest.Options{}) // over the same files
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !p.WaitLog("TLS certificates reloaded", 30*time.Second) {
			t.Fatalf("no reload logged after SIGHUP:\n%s", p.Logs())
		}
		ping("after the reload")
		fresh, err := tls.Dial("tcp", p.TLSAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		got := fresh.ConnectionState().PeerCertificates[0].SerialNumber
		if want := tlstest.Serial(t, renewed.CertFile); got.Cmp(want) != 0 || got.Cmp(oldSerial) == 0 {
			t.Errorf("a new connection after SIGHUP got serial %v, want the renewed %v (old %v)", got, want, oldSerial)
		}

		// CONFIG SET of a file that does not load is refused in Redis's
		// words, and the certificate in use stays.
		c := client(t, p.Addr)
		err = c.ConfigSet(context.Background(), "tls-cert-file", srvPair.CertFile+".missing").Err()
		if err == nil || err.Error() != "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs." {
			t.Errorf("CONFIG SET tls-cert-file <missing> = %v", err)
		}
		if got := c.ConfigGet(context.Background(), "tls-cert-file").Val()["tls-cert-file"]; got != srvPair.CertFile {
			t.Errorf("after a refused CONFIG SET, tls-cert-file = %q", got)
		}
		// A new pair at new paths, given together, is taken.
		other := ca.Issue(t, "server2", tlstest.Options{})
		if err := c.Do(context.Background(), "CONFIG", "SET", "tls-cert-file", other.CertFile, "tls-key-file", other.KeyFile).Err(); err != nil {
			t.Fatalf("CONFIG SET tls-cert-file tls-key-file: %v", err)
		}
		ping("after CONFIG SET")
		again, err := tls.Dial("tcp", p.TLSAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if got := again.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(tlstest.Serial(t, other.CertFile)) != 0 {
			t.Errorf("after CONFIG SET a new connection got serial %v, want server2's", got)
		}
	})
}

// A client refuses a server whose certificate has expired.
func TestTLSExpiredServerCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	expired := ca.Issue(t, "server", tlstest.Options{Expired: true})
	p := relcachetest.StartTLS(t, "--tls-cert-file", expired.CertFile, "--tls-key-file", expired.KeyFile,
		"--tls-auth-clients", "no")
	err := tlsPing(t, p.TLSAddr, ca.ClientConfig(t, tlstest.Pair{}))
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("go-redis against an expired server certificate: %v, want an expiry error", err)
	}
	if !p.HasLog("the TLS certificate has expired") {
		t.Errorf("no warning of the expired certificate at start:\n%s", p.Logs())
	}
	cli := relcachetest.RedisCLITLS(t)
	host, port, _ := strings.Cut(p.TLSAddr, ":")
	out, err := exec.Command(cli, "--tls", "--cacert", ca.CertFile, "-h", host, "-p", port, "PING").CombinedOutput()
	if err == nil && strings.Contains(string(out), "PONG") {
		t.Errorf("redis-cli accepted an expired server certificate: %q", out)
	}
}

// Without tls-port, CONFIG GET shows the TLS settings and CONFIG SET of
// them is refused (there is no listener they would serve); tls-port is
// fixed at start.
func TestTLSConfigWhenOff(t *testing.T) {
	p := relcachetest.Start(t)
	c := client(t, p.Addr)
	ctx := context.Background()
	got := c.ConfigGet(ctx, "tls-*").Val()
	if got["tls-port"] != "0" || got["tls-auth-clients"] != "yes" || got["tls-cert-file"] != "" {
		t.Errorf("CONFIG GET tls-* = %v", got)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"tls-cert-file", "/nonexistent.crt", "ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - TLS is off (tls-port 0); set tls-port at start to use TLS"},
		{"tls-port", "6381", "ERR CONFIG SET failed (possibly related to argument 'tls-port') - can't set immutable config"},
		{"tls-protocols", "TLSv1.1", "ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - tls-protocols: TLSv1.1 is not supported (TLSv1.2 and TLSv1.3 are)"},
	} {
		if err := c.ConfigSet(ctx, tc.name, tc.value).Err(); err == nil || err.Error() != tc.want {
			t.Errorf("CONFIG SET %s %s = %v, want %s", tc.name, tc.value, err, tc.want)
		}
	}
}

// A start with TLS settings that cannot work fails, naming the problem.
func TestTLSStartRefusesBadSettings(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	pair := ca.Issue(t, "server", tlstest.Options{})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-port", "6999", "--tls-cert-file", pair.CertFile, "--tls-key-file", pair.KeyFile}, "tls-ca-cert-file is required"},
		{[]string{"--tls-port", "6999", "--tls-cert-file", pair.CertFile, "--tls-key-file", pair.KeyFile, "--tls-auth-clients", "no", "--tls-protocols", "TLSv1.1"}, "TLSv1.1 is not supported"},
		{[]string{"--tls-port", "6999", "--tls-auth-clients", "perhaps"}, "tls-auth-clients: argument(s) must be one of the following"},
		{[]string{"--tls-port", "6999", "--tls-auth-clients", "no"}, "tls-cert-file and tls-key-file are required"},
	} {
		dir := t.TempDir()
		out, err := relcachetest.StartFailing(t, append(tc.args, "--dir", dir)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("relcache serve %v: %v, want output containing %q:\n%s", tc.args, err, tc.want, out)
		}
		// Refused before the data directory is taken.
		if _, err := os.Stat(filepath.Join(dir, "relcache.lock")); err == nil {
			t.Errorf("relcache serve %v left relcache.lock behind", tc.args)
		}
	}
}

// A connection to the TLS port past maxclients that never sends its hello
// is closed within the refusal's one-second deadline, not held: the
// refusal's write runs the handshake, which would otherwise wait forever.
func TestTLSRefusalAtMaxClientsIsBounded(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	pair := ca.Issue(t, "server", tlstest.Options{})
	p := relcachetest.StartTLS(t, "--maxclients", "1", "--tls-cert-file", pair.CertFile, "--tls-key-file", pair.KeyFile,
		"--tls-auth-clients", "no")
	first := client(t, p.Addr)
	if err := first.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", p.TLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A bound on a hang, not a measurement.
	silent.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(silent)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("a silent TLS connection past maxclients was still open after 30s")
	}
}
