package shard

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/nutcracker/*.txt from a real nutcracker run")

// A pool as configured in nutcracker and recorded in a golden file.
type goldenPool struct {
	name, hash, distribution string
	hashTag                  string   // "" for none
	servers                  []string // twemproxy server lines
	keys                     []string
	placed                   []int // placed[i] is the server index holding keys[i]
	// keyset says which keys TestNutcracker sends besides uid keys:
	// "binary" for random bytes, "tag" for hash-tag shapes.
	keyset string
}

// locate routes every key of p with our code.
func (p *goldenPool) locate(t *testing.T) []int {
	t.Helper()
	var servers []Server
	for _, line := range p.servers {
		s, err := ParseServer(line)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		servers = append(servers, s)
	}
	var locate func([]byte, HashFunc) int
	switch p.distribution {
	case "ketama":
		k, err := NewKetama(servers)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		locate = k.Locate
	case "modula":
		m, err := NewModula(servers)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		locate = m.Locate
	default:
		t.Fatalf("%s: unknown distribution %q", p.name, p.distribution)
	}
	h, err := HashByName(p.hash)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	got := make([]int, len(p.keys))
	for i, key := range p.keys {
		got[i] = locate(HashTag([]byte(key), p.hashTag), h)
	}
	return got
}

// compare reports every key placed differently and returns how many agree.
func (p *goldenPool) compare(t *testing.T) int {
	t.Helper()
	got := p.locate(t)
	agree := 0
	for i, key := range p.keys {
		if got[i] != p.placed[i] {
			t.Errorf("%s: key %q: nutcracker put it on server %d, we route it to %d", p.name, key, p.placed[i], got[i])
			continue
		}
		agree++
	}
	return agree
}

func (p *goldenPool) write(path, version string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Placements observed through a real nutcracker (%s); regenerate with\n# go test ./shard -run TestNutcracker -update\n", version)
	fmt.Fprintf(&b, "hash %s\ndistribution %s\n", p.hash, p.distribution)
	if p.hashTag != "" {
		fmt.Fprintf(&b, "hash_tag %s\n", p.hashTag)
	}
	for _, s := range p.servers {
		fmt.Fprintf(&b, "server %s\n", s)
	}
	for i, k := range p.keys {
		fmt.Fprintf(&b, "key %s %d\n", goldenKey(k), p.placed[i])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readGolden(path string) (*goldenPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := &goldenPool{name: strings.TrimSuffix(filepath.Base(path), ".txt")}
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "hash":
			p.hash = rest
		case "distribution":
			p.distribution = rest
		case "hash_tag":
			p.hashTag = rest
		case "server":
			p.servers = append(p.servers, rest)
		case "key":
			i := strings.LastIndexByte(rest, ' ')
			idx, err := strconv.Atoi(rest[i+1:])
			if i < 0 || err != nil {
				return nil, fmt.Errorf("%s:%d: bad key line %q", path, n+1, line)
			}
			key := rest[:i]
			if strings.HasPrefix(key, `"`) {
				if key, err = strconv.Unquote(key); err != nil {
					return nil, fmt.Errorf("%s:%d: bad quoted key in %q: %v", path, n+1, line, err)
				}
			}
			p.keys = append(p.keys, key)
			p.placed = append(p.placed, idx)
		default:
			return nil, fmt.Errorf("%s:%d: unknown line %q", path, n+1, line)
		}
	}
	return p, nil
}

// goldenKey writes a key as is when that reads back unchanged, and quoted
// as a Go string otherwise: when it is empty, starts with a quote, or holds
// a space or any byte outside printable ASCII.
func goldenKey(k string) string {
	plain := k != "" && k[0] != '"'
	for i := 0; plain && i < len(k); i++ {
		plain = k[i] > ' ' && k[i] < 0x7f
	}
	if plain {
		return k
	}
	return strconv.Quote(k)
}

// TestNutcrackerGolden checks our routing against placements recorded from a
// real nutcracker, so it runs where nutcracker is not installed.
func TestNutcrackerGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/nutcracker/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/nutcracker; run go test ./shard -run TestNutcracker -update")
	}
	covered := map[string]bool{}
	for _, f := range files {
		p, err := readGolden(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.keys) == 0 || len(p.servers) == 0 {
			t.Fatalf("%s: no keys or no servers", f)
		}
		t.Logf("%s: %d of %d keys agree", p.name, p.compare(t), len(p.keys))
		covered[p.hash], covered["hash_tag "+p.hashTag] = true, true
	}
	for _, want := range append(HashNames(), "hash_tag {}") {
		if !covered[want] {
			t.Errorf("no golden file covers %s; add a pool to TestNutcracker and run it with -update", want)
		}
	}
}

// TestNutcracker runs real redis-servers behind a real nutcracker, SETs keys
// through it, asks each backend which keys it got, and checks we route every
// key to the same backend.
func TestNutcracker(t *testing.T) {
	for _, bin := range []string{"nutcracker", "redis-server"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian packages nutcracker and redis-server): %v", bin, err)
		}
	}
	if testing.Short() {
		t.Skip("starts real servers")
	}
	v, err := exec.Command("nutcracker", "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("nutcracker --version: %v: %s", err, v)
	}
	version := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(v), "\n", 2)[0], "This is "))
	t.Logf("comparing with %s", version)
	dir := t.TempDir()
	backends := make([]int, 4)
	for i := range backends {
		backends[i] = startRedis(t, dir, i)
	}
	// Each pool uses its own key prefix, so pools can share backends and a
	// backend's keys can be told apart by pool.
	pools := []*goldenPool{
		{name: "ketama_md5_named", hash: "md5", distribution: "ketama", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:1 alpha", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:1 beta", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:2 gamma", backends[2]),
			fmt.Sprintf("127.0.0.1:%d:1 delta", backends[3]),
		}},
		{name: "ketama_md5_addr", hash: "md5", distribution: "ketama", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:1", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:1", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:1", backends[2]),
		}},
		{name: "ketama_crc32a_weights", hash: "crc32a", distribution: "ketama", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:3 s0", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:1 s1", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:5 s2", backends[2]),
		}},
		{name: "modula_crc32a", hash: "crc32a", distribution: "modula", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:1", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:2", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:1", backends[2]),
		}},
		// Bytewise order is a, bbb, zz; twemproxy's is a, zz, bbb.
		{name: "modula_md5_named", hash: "md5", distribution: "modula", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:1 zz", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:2 a", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:3 bbb", backends[2]),
			fmt.Sprintf("127.0.0.1:%d:4 cccc", backends[3]),
		}},
	}
	// One modula pool per other hash. Four servers of weights 1 to 4 make
	// ten slots, and hash % 10 depends on every bit of the hash. Random
	// bytes cover every tail length and the bytes >= 0x80 that several
	// hashes read as signed chars.
	weighted := []string{
		fmt.Sprintf("127.0.0.1:%d:1 w1", backends[0]),
		fmt.Sprintf("127.0.0.1:%d:2 w2", backends[1]),
		fmt.Sprintf("127.0.0.1:%d:3 w3", backends[2]),
		fmt.Sprintf("127.0.0.1:%d:4 w4", backends[3]),
	}
	for _, h := range HashNames() {
		if h == "md5" || h == "crc32a" {
			continue
		}
		p := &goldenPool{name: "modula_" + h, hash: h, distribution: "modula", servers: weighted, keyset: "binary"}
		if h == DefaultHash {
			// twemproxy hashes the empty key to 0, not to fnv1a_64's
			// initial value, which modula puts on another server. Only one
			// pool can hold it: keys are told apart by backend alone.
			p.keys = []string{""}
		}
		pools = append(pools, p)
	}
	pools = append(pools,
		// twemproxy's defaults, with the usual hash tag.
		&goldenPool{name: "ketama_fnv1a_64_tag", hash: "fnv1a_64", distribution: "ketama", hashTag: "{}", keyset: "tag", servers: []string{
			fmt.Sprintf("127.0.0.1:%d:1 alpha", backends[0]),
			fmt.Sprintf("127.0.0.1:%d:1 beta", backends[1]),
			fmt.Sprintf("127.0.0.1:%d:1 gamma", backends[2]),
			fmt.Sprintf("127.0.0.1:%d:1 delta", backends[3]),
		}},
		// A tag whose two ends are the same byte.
		&goldenPool{name: "modula_murmur_tag_dollar", hash: "murmur", distribution: "modula", hashTag: "$$", keyset: "tag", servers: weighted},
	)
	// The ports are free when chosen, not when nutcracker binds them: a
	// parallel test may take one in between. A start whose pools do not all
	// listen is retried on fresh ports.
	var listen []int
	for attempt := 1; ; attempt++ {
		var conf strings.Builder
		listen = make([]int, len(pools))
		for i, p := range pools {
			listen[i] = freePort(t)
			fmt.Fprintf(&conf, "%s:\n  listen: 127.0.0.1:%d\n  hash: %s\n  distribution: %s\n  redis: true\n  auto_eject_hosts: false\n", p.name, listen[i], p.hash, p.distribution)
			if p.hashTag != "" {
				fmt.Fprintf(&conf, "  hash_tag: %q\n", p.hashTag)
			}
			conf.WriteString("  servers:\n")
			for _, s := range p.servers {
				fmt.Fprintf(&conf, "   - %s\n", s)
			}
		}
		confPath := filepath.Join(dir, "nutcracker.yml")
		if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("nutcracker-%d.log", attempt))
		cmd := startProcess(t, dir, "nutcracker", "-c", confPath, "-s", strconv.Itoa(freePort(t)), "-a", "127.0.0.1", "-o", logPath)
		err := waitListening(listen, 10*time.Second)
		if err == nil {
			break
		}
		cmd.Process.Kill()
		log, _ := os.ReadFile(logPath)
		if attempt == 3 {
			t.Fatalf("nutcracker did not listen on every pool after %d starts: %v\n%s", attempt, err, log)
		}
		t.Logf("nutcracker start %d: %v; again on fresh ports\n%s", attempt, err, log)
	}

	kp, err := ParseKeyPattern(DefaultKeyPattern, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const nkeys = 1000
	for i, p := range pools {
		prefix := fmt.Sprintf("p%d:", i)
		switch p.keyset {
		case "binary":
			p.keys = append(p.keys, binaryKeys(prefix, i)...)
		case "tag":
			p.keys = append(p.keys, tagKeys(prefix, p.hashTag, i)...)
		}
		// uids spread over many magnitudes, both lists of each user.
		for j := 0; len(p.keys) < nkeys; j++ {
			uid := uint64(j)*2654435761%1000000007 + uint64(j)
			k, _ := kp.Append([]byte(prefix), uid, Kind(j%2))
			p.keys = append(p.keys, string(k))
		}
		c := dialRedis(t, listen[i])
		for _, k := range p.keys {
			c.send("SET", k, "1")
		}
		for _, k := range p.keys {
			if r := c.reply(); r != "+OK" {
				t.Fatalf("%s: SET %s through nutcracker: %q", p.name, k, r)
			}
		}
		c.Close()
	}
	where := map[string]int{} // key → backend port index
	for b, port := range backends {
		c := dialRedis(t, port)
		c.send("KEYS", "*")
		for _, k := range c.array() {
			if prev, dup := where[k]; dup {
				t.Fatalf("key %q on backends %d and %d", k, prev, b)
			}
			where[k] = b
		}
		c.Close()
	}
	for _, p := range pools {
		// Server index in the pool, from the backend's position.
		byPort := map[int]int{}
		for si, line := range p.servers {
			s, _ := ParseServer(line)
			_, port, _ := net.SplitHostPort(s.Addr)
			pn, _ := strconv.Atoi(port)
			byPort[slices.Index(backends, pn)] = si
		}
		for _, k := range p.keys {
			b, ok := where[k]
			if !ok {
				t.Fatalf("%s: key %q is on no backend", p.name, k)
			}
			si, ok := byPort[b]
			if !ok {
				t.Fatalf("%s: key %q is on backend %d, not in the pool", p.name, k, b)
			}
			p.placed = append(p.placed, si)
		}
		t.Logf("%s: %d of %d keys agree with nutcracker", p.name, p.compare(t), len(p.keys))
		if *update && !t.Failed() {
			if err := os.MkdirAll("testdata/nutcracker", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := p.write(filepath.Join("testdata/nutcracker", p.name+".txt"), version); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// binaryKeys returns keys of the prefix and 0 to 40 random bytes, the
// same on every run.
func binaryKeys(prefix string, seed int) []string {
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	seen := map[string]bool{}
	var keys []string
	for len(keys) < 600 {
		b := []byte(prefix)
		for range r.IntN(41) {
			b = append(b, byte(r.IntN(256)))
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			keys = append(keys, string(b))
		}
	}
	return keys
}

// tagKeys returns keys that probe hash tag tag: empty tags, a start
// without an end, ends before starts, several tags, bytes >= 0x80 inside
// and outside the tag. The pool's prefix comes before or after each shape,
// so tags are seen both at the start of a key and within it.
func tagKeys(prefix, tag string, seed int) []string {
	o, c := tag[:1], tag[1:]
	shapes := []string{
		"", o, c, o + c, c + o, o + o + c + c, o + c + o + "a" + c,
		o + "a" + c, o + "a", "a" + c, c + "a" + o, o + "a" + c + o + "b" + c,
		o + o + "a" + c, o + "\xe9\x80" + c, "\xff" + o + "x" + c + "\xfe",
		o + "a" + o + "b" + c, "x" + c + o + "y" + c + "z",
	}
	r := rand.New(rand.NewPCG(uint64(seed), 2))
	alphabet := o + c + "ab\x80\xe9"
	for range 300 {
		b := make([]byte, r.IntN(11))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		shapes = append(shapes, string(b))
	}
	seen := map[string]bool{}
	var keys []string
	for _, s := range shapes {
		for _, k := range []string{prefix + s, s + "|" + prefix} {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs a server until the test ends.
func startProcess(t *testing.T, dir, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.out", name, time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	return cmd
}

// waitListening waits until every port accepts a connection.
func waitListening(ports []int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for _, port := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func startRedis(t *testing.T, dir string, i int) int {
	t.Helper()
	port := freePort(t)
	rdir := filepath.Join(dir, fmt.Sprintf("redis%d", i))
	if err := os.Mkdir(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	startProcess(t, rdir, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	// nutcracker does not retry a refused backend within one request, so
	// the backend must be up before keys go through.
	c := dialRedis(t, port)
	defer c.Close()
	c.send("PING")
	if r := c.reply(); r != "+PONG" {
		t.Fatalf("redis-server on port %d: PING: %q", port, r)
	}
	return port
}

// redisConn is just enough RESP to SET and KEYS: no client library stands in
// for the real servers, and go.mod stays as it is.
type redisConn struct {
	net.Conn
	t *testing.T
	r *bufio.Reader
}

func dialRedis(t *testing.T, port int) *redisConn {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			rc := &redisConn{Conn: c, t: t, r: bufio.NewReader(c)}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			return rc
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *redisConn) send(args ...string) {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *redisConn) line() string {
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// reply reads a simple-string or error reply.
func (c *redisConn) reply() string { return c.line() }

// array reads an array of bulk strings.
func (c *redisConn) array() []string {
	h := c.line()
	n, err := strconv.Atoi(strings.TrimPrefix(h, "*"))
	if h == "" || h[0] != '*' || err != nil {
		c.t.Fatalf("want array, got %q", h)
	}
	out := make([]string, 0, n)
	for range n {
		bh := c.line()
		m, err := strconv.Atoi(strings.TrimPrefix(bh, "$"))
		if bh == "" || bh[0] != '$' || err != nil {
			c.t.Fatalf("want bulk string, got %q", bh)
		}
		buf := make([]byte, m+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, string(buf[:m]))
	}
	return out
}
