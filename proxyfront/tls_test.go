package proxyfront_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
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

// The proxy over TLS on both sides: clients (redis-cli --tls, go-redis)
// on its tls_listen, the proxy to a node's tls-port with a client
// certificate the node requires; certificates reloaded by SIGHUP while a
// client's TLS connection stays open.
func TestProxyTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	nodePair := ca.Issue(t, "node", tlstest.Options{})
	proxyPair := ca.Issue(t, "proxy", tlstest.Options{})
	proxyClient := ca.Issue(t, "proxy-client", tlstest.Options{Client: true})
	appPair := ca.Issue(t, "app", tlstest.Options{Client: true})
	node := relcachetest.StartTLS(t, "--tls-cert-file", nodePair.CertFile, "--tls-key-file", nodePair.KeyFile,
		"--tls-ca-cert-file", ca.CertFile)
	stopAtEnd(t, node)

	q := func(s string) string { return fmt.Sprintf("%q", s) }
	cfg := proxyConfig{
		Extra: "tls_listen = \"127.0.0.1:0\"\ntls_cert_file = " + q(proxyPair.CertFile) + "\ntls_key_file = " + q(proxyPair.KeyFile) +
			"\ntls_ca_cert_file = " + q(ca.CertFile) + "\n",
		Pools: []poolConfig{{Name: "dc1", Role: "primary", Servers: []string{node.TLSAddr + ":1 n1"}}},
	}
	poolTLS := "tls = true\ntls_ca_cert_file = " + q(ca.CertFile) + "\ntls_cert_file = " + q(proxyClient.CertFile) +
		"\ntls_key_file = " + q(proxyClient.KeyFile) + "\ntls_server_name = \"localhost\"\n"
	path := filepath.Join(t.TempDir(), "proxy.toml")
	write := func(pool string) {
		if err := os.WriteFile(path, []byte(cfg.toml()+pool), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(poolTLS)
	px := relcachetest.StartProxy(t, path)
	stopAtEnd(t, px)
	if px.TLSAddr == "" || px.TLSAddr == "-" {
		t.Fatalf("the proxy logged no tls_addr:\n%s", px.Logs())
	}
	ctx := context.Background()

	t.Run("go-redis", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: px.TLSAddr, TLSConfig: ca.ClientConfig(t, appPair), DisableIdentity: true, MaxRetries: -1})
		defer c.Close()
		if err := c.Set(ctx, "greeting", "through-tls", 0).Err(); err != nil {
			t.Fatalf("SET through the proxy over TLS: %v\n%s", err, px.Logs())
		}
		// The node has it: the proxy reached it on its TLS port.
		direct := redis.NewClient(&redis.Options{Addr: node.Addr, DisableIdentity: true})
		defer direct.Close()
		if v := direct.Get(ctx, "greeting").Val(); v != "through-tls" {
			t.Errorf("the node holds %q", v)
		}
		// INFO server names the TLS address beside the others.
		if info := c.Info(ctx, "server").Val(); !strings.Contains(info, "tls_addr:"+px.TLSAddr+"\r\n") || !strings.Contains(info, "memcache_addr:-\r\n") {
			t.Errorf("INFO server lacks tls_addr:%s (and memcache_addr:-):\n%s", px.TLSAddr, info)
		}
		bare := redis.NewClient(&redis.Options{Addr: px.TLSAddr, TLSConfig: ca.ClientConfig(t, tlstest.Pair{}), DisableIdentity: true, MaxRetries: -1})
		defer bare.Close()
		if err := bare.Ping(ctx).Err(); err == nil {
			t.Error("a client without a certificate was served (tls_auth_clients defaults to yes)")
		}
		plain := redis.NewClient(&redis.Options{Addr: px.Addr, DisableIdentity: true})
		defer plain.Close()
		if v := plain.Get(ctx, "greeting").Val(); v != "through-tls" {
			t.Errorf("plaintext listen beside tls_listen: GET = %q", v)
		}
		if n := plain.Info(ctx, "stats").Val(); !strings.Contains(n, "tls_handshake_errors:") {
			t.Errorf("INFO stats has no tls_handshake_errors:\n%s", n)
		}
	})

	t.Run("redis-cli", func(t *testing.T) {
		cli := relcachetest.RedisCLITLS(t)
		host, port, _ := strings.Cut(px.TLSAddr, ":")
		out, err := exec.Command(cli, "--tls", "--cacert", ca.CertFile, "--cert", appPair.CertFile, "--key", appPair.KeyFile,
			"-h", host, "-p", port, "GET", "greeting").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "through-tls" {
			t.Errorf("redis-cli --tls GET through the proxy: %v %q", err, out)
		}
	})

	t.Run("reload", func(t *testing.T) {
		held, err := tls.Dial("tcp", px.TLSAddr, ca.ClientConfig(t, appPair))
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		get := func(what string) {
			t.Helper()
			held.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := held.Write([]byte("GET greeting\r\n")); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			want := "$11\r\nthrough-tls\r\n"
			buf := make([]byte, len(want))
			n := 0
			for n < len(buf) {
				m, err := held.Read(buf[n:])
				if err != nil {
					t.Fatalf("%s: read after %q: %v", what, buf[:n], err)
				}
				n += m
			}
			if string(buf) != want {
				t.Fatalf("%s: GET on the held connection = %q", what, buf)
			}
		}
		get("before the reload")
		renewed := ca.Issue(t, "proxy", tlstest.Options{})
		ca.Issue(t, "proxy-client", tlstest.Options{Client: true})
		if err := px.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if !px.WaitLog(`"config reloaded"`, 30*time.Second) {
			t.Fatalf("no reload after SIGHUP:\n%s", px.Logs())
		}
		get("after the reload")
		fresh, err := tls.Dial("tcp", px.TLSAddr, ca.ClientConfig(t, appPair))
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		if got := fresh.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(tlstest.Serial(t, renewed.CertFile)) != 0 {
			t.Errorf("after SIGHUP a new connection got serial %v, want the renewed certificate's", got)
		}

		// A pool CA that does not load refuses the reload; routing goes on.
		write(strings.Replace(poolTLS, q(ca.CertFile), q(ca.CertFile+".missing"), 1))
		out, err := relcachetest.ProxyReload(t, px.AdminAddr)
		if err == nil || !strings.Contains(out, "CA file") {
			t.Errorf("reload with a missing pool CA file: %v %q", err, out)
		}
		get("after a refused reload")
	})
}

// A proxy whose pool has tls = true refuses a node whose certificate has
// expired, and a start with a pool CA file that does not load fails.
func TestProxyTLSToNodeChecksCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	expired := ca.Issue(t, "node", tlstest.Options{Expired: true})
	node := relcachetest.StartTLS(t, "--tls-cert-file", expired.CertFile, "--tls-key-file", expired.KeyFile, "--tls-auth-clients", "no")
	stopAtEnd(t, node)
	cfg := onePool(&cluster{})
	cfg.Pools[0].Servers = []string{node.TLSAddr + ":1 n1"}
	path := filepath.Join(t.TempDir(), "proxy.toml")
	pool := "tls = true\ntls_ca_cert_file = " + fmt.Sprintf("%q", ca.CertFile) + "\n"
	if err := os.WriteFile(path, []byte(cfg.toml()+pool), 0o644); err != nil {
		t.Fatal(err)
	}
	px := relcachetest.StartProxy(t, path)
	stopAtEnd(t, px)
	c := redis.NewClient(&redis.Options{Addr: px.Addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	err := c.Set(context.Background(), "k", "v", 0).Err()
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("SET through a node whose certificate has expired: %v, want a connect error naming the expiry", err)
	}
}

// At max_clients, a connection to tls_listen that never sends its TLS
// hello must not stall the TLS accept loop: the refusal's write runs the
// handshake, so it waits apart, and the next TLS client still gets its
// refusal.
func TestProxyTLSRefusalDoesNotStallAccept(t *testing.T) {
	ca := tlstest.NewCA(t, "relcache-test")
	pair := ca.Issue(t, "proxy", tlstest.Options{})
	cl := startCluster(t, 1, "n")
	cfg := onePool(cl)
	cfg.Extra = fmt.Sprintf("max_clients = 1\ntls_listen = \"127.0.0.1:0\"\ntls_cert_file = %q\ntls_key_file = %q\ntls_auth_clients = \"no\"\n",
		pair.CertFile, pair.KeyFile)
	px, _ := startProxy(t, cfg)
	first := dial(t, px.Addr)
	first.must(t, "PING")
	silent, err := net.Dial("tcp", px.TLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A bound on a hang, not a measurement: the refusal is immediate.
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: ca.ClientConfig(t, tlstest.Pair{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next, err := d.DialContext(ctx, "tcp", px.TLSAddr)
	if err != nil {
		t.Fatalf("a TLS client after a silent TLS connection: %v (the accept loop stalled)", err)
	}
	defer next.Close()
	next.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(next).ReadString('\n')
	if line != "-ERR max number of clients reached\r\n" {
		t.Errorf("a client past max_clients after a silent TLS connection got %q, %v (the accept loop stalled)", line, err)
	}
}
