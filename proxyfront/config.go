package proxyfront

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/relcache/relcache/shard"
)

// The proxy's configuration is one TOML file (`relcache proxy --config
// proxy.toml`), documented key by key in docs/proxy.md with a commented
// example in testdata/proxy.toml. It says what twemproxy's YAML says, under
// the same names where the meaning is the same, so an operator can move a
// pool between the two: servers are twemproxy server lines, hash and
// distribution take twemproxy's names, and the defaults that decide where a
// key lives (hash, distribution) are twemproxy's.

// Defaults, filled in by Validate (and only there; Eject reads
// defAutoEject for a Pool that was never validated).
const (
	defListen          = "127.0.0.1:6390"
	defAdmin           = "127.0.0.1:9390"
	defFollowingName   = "following"
	defFollowerName    = "follower"
	defDBs             = 1
	defHash            = shard.DefaultHash
	defDistribution    = shard.DefaultDistribution
	defRouteBy         = "uid"
	defMaxClients      = 10000
	defProtoMaxBulkLen = 512 << 20
	// defClientQueryBufferLimit is Redis's client-query-buffer-limit.
	defClientQueryBufferLimit = 1 << 30
	// defClientWriteTimeout: a client that accepts no byte of its replies
	// for this long has stopped reading (or vanished without a reset).
	defClientWriteTimeout = 30 * time.Second
	// defMaxWatchConnections: each watching client holds a connection of
	// its own to a node, counted against the node's maxclients (10000).
	defMaxWatchConnections = 1000

	defServerConnections  = 2
	defTimeout            = time.Second
	defDialTimeout        = 500 * time.Millisecond
	defAutoEject          = true
	defServerFailureLimit = 2
	defServerRetryTimeout = 30 * time.Second

	// adminOff as the admin address turns the admin HTTP server off.
	adminOff = "-"

	// Redis refuses a proto-max-bulk-len below 1mb; so do we.
	minProtoMaxBulkLenSetting = 1 << 20
	maxServerConnsSetting     = 64
)

// Duration is a time.Duration written in TOML as a Go duration string
// ("400ms", "2s", "1m30s"). A bare number other than 0 is refused rather
// than given a unit: twemproxy's timeouts count milliseconds and Redis's
// count seconds, so either guess would be wrong for someone.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if s != "0" && s != "" && strings.Trim(s, "+-.0123456789") == "" {
		return fmt.Errorf("duration %s has no unit: write it as a quoted Go duration such as \"400ms\" or \"2s\"", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a Go duration such as \"400ms\", \"2s\" or \"1m30s\"", s)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler; UnmarshalText reads it back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Config is the proxy's configuration: where it listens, how keys map to
// nodes, and the pools of nodes. Zero values mean "the default" except where
// a field says otherwise; Validate fills the defaults in.
type Config struct {
	// Listen is the RESP address clients connect to, "host:port".
	// Default "127.0.0.1:6390".
	Listen string `toml:"listen"`
	// Admin is the admin HTTP address (/metrics, /healthz, POST /reload),
	// "host:port". Default "127.0.0.1:9390"; "-" disables it.
	Admin string `toml:"admin"`
	// Password, when set, is what clients must AUTH with before any other
	// command: the default user's password, as the nodes' requirepass.
	// "" means no AUTH (the default user is nopass).
	Password string `toml:"password"`
	// Users are the proxy's own users, one aclfile line each ("user relsvc
	// on >pw ~* +@read"), Redis's rules; clients AUTH as them and their
	// commands are checked before routing. A "default" user here replaces
	// the one Password makes.
	Users []string `toml:"users,omitempty"`
	// ACLFile is a file of more such lines, relative to the config file's
	// directory unless absolute. "" means none.
	ACLFile string `toml:"aclfile"`

	// KeyPattern names a user's relation lists, as relcache serve's
	// rel-key-pattern does; it must be the same as the nodes'. Default
	// shard.DefaultKeyPattern.
	KeyPattern string `toml:"key_pattern"`
	// FollowingName and FollowerName are what {kind} becomes. Defaults
	// "following" and "follower".
	FollowingName string `toml:"following_name"`
	FollowerName  string `toml:"follower_name"`
	// BifollowName is what {kind} becomes in a bi-follow list's key, as
	// the nodes' rel-bifollow-name. Default "bifollow".
	BifollowName string `toml:"bifollow_name"`
	// DBs is the modulus of {db}: {db} = uid % DBs. Default 1.
	DBs uint64 `toml:"dbs"`

	// Hash is the twemproxy hash name that turns a key into a point on the
	// ring. Default "fnv1a_64", twemproxy's default.
	Hash string `toml:"hash"`
	// Distribution is "ketama" (default, as in twemproxy) or "modula".
	Distribution string `toml:"distribution"`
	// HashTag is "" or exactly two bytes, such as "{}": as in twemproxy, a
	// key hashed whole that contains the opening byte followed later by the
	// closing one is hashed by the text between them.
	HashTag string `toml:"hash_tag"`
	// RouteBy says what is hashed. "uid" (default): a key the pattern parses
	// is hashed by its uid's decimal text, so a user's lists share a node.
	// "key": the whole key is hashed, exactly as twemproxy does.
	RouteBy string `toml:"route_by"`

	// ReadPool names the pool reads try first, normally the local data
	// center's. Default: the primary pool.
	ReadPool string `toml:"read_pool"`
	// ReplicateWrites sends each write to the primary pool and also to
	// every replica pool.
	ReplicateWrites bool `toml:"replicate_writes"`

	// MaxClients is the most client connections open at once. Default 10000.
	MaxClients int `toml:"max_clients"`
	// ClientTimeout closes a client idle this long. 0 (default) never does.
	ClientTimeout Duration `toml:"client_timeout"`
	// ProtoMaxBulkLen is the largest bulk argument a client may send, in
	// bytes. Default 512 MiB (Redis's default); at least 1 MiB.
	ProtoMaxBulkLen int64 `toml:"proto_max_bulk_len"`
	// ClientQueryBufferLimit closes a client whose unfinished command (the
	// bytes read but not yet framed) grows past this many bytes, as Redis's
	// client-query-buffer-limit. Default 1 GiB; at least 1 MiB.
	ClientQueryBufferLimit int64 `toml:"client_query_buffer_limit"`
	// ClientOutputBufferLimit bounds the reply bytes the proxy holds for
	// one client (replies come from the nodes faster than a client that
	// stopped reading takes them), as Redis's client-output-buffer-limit
	// for its normal class: "hard soft soft-seconds". Default
	// DefaultOutputBufferLimit; "0 0 0" turns it off.
	ClientOutputBufferLimit *OutputBufferLimit `toml:"client_output_buffer_limit"`
	// ClientWriteTimeout closes a client that accepts no byte of its
	// replies for this long. Default 30s; > 0.
	ClientWriteTimeout Duration `toml:"client_write_timeout"`
	// MaxWatchConnections bounds the connections to nodes that hold a
	// client's WATCH: WATCH state belongs to a node's connection, so each
	// watching client gets one of its own until EXEC, DISCARD or UNWATCH.
	// A WATCH past the bound is refused. Default 1000; >= 1.
	MaxWatchConnections int `toml:"max_watch_connections"`
	// IOModel is how plaintext RESP clients are served: "goroutine"
	// (default; a goroutine per client) or "eventloop" (epoll loops, one
	// per GOMAXPROCS; Linux; eventloop.go) or "eventloop-backends" (the
	// same loops, which also read and write the backend connections their
	// clients dial; loopbackend_linux.go). Applies at start only.
	IOModel string `toml:"io_model"`

	// MemcacheListen is the address of the memcache text protocol entry
	// (docs/proxy.md), "host:port". "" (default) turns it off.
	MemcacheListen string `toml:"memcache_listen"`
	// MemcacheItemSizeMax is the largest value a memcache client may store,
	// in bytes, as memcached's item_size_max (-I). Default 1 MiB; 1 KiB
	// to proto_max_bulk_len.
	MemcacheItemSizeMax int64 `toml:"memcache_item_size_max"`

	// ListenerTLS is the TLS listener (tls_listen and its files), off by
	// default.
	ListenerTLS

	// HTTP is the [http] table: the HTTP/JSON entry (httpconfig.go), off
	// by default.
	HTTP HTTPConfig `toml:"http"`

	// L1 is the [l1] table: the local cache of hot keys (l1config.go), off
	// by default.
	L1 L1Config `toml:"l1"`

	// Pools are the [[pool]] tables in file order: one primary, any number
	// of replicas.
	Pools []Pool `toml:"pool"`

	// MaxClientsRequested is max_clients as configured when the start
	// lowered MaxClients to fit the open-files limit; OpenFilesLimit is
	// that limit. Set by relcache proxy, for INFO; zero when unknown.
	MaxClientsRequested int    `toml:"-"`
	OpenFilesLimit      uint64 `toml:"-"`

	// KeyPatternParsed is KeyPattern with its options, set by Validate.
	KeyPatternParsed *shard.KeyPattern `toml:"-"`
	// Path is the file the config came from, set by LoadConfig.
	Path string `toml:"-"`
}

// Pool is one set of relcache nodes that together hold every key once,
// typically one data center's.
type Pool struct {
	// Name identifies the pool in read_pool, logs and metrics: required,
	// unique among pools, [A-Za-z0-9_.-]+.
	Name string `toml:"name"`
	// Role is "primary" (exactly one pool) or "replica".
	Role string `toml:"role"`
	// Servers are twemproxy server lines, "host:port:weight [name]"; at
	// least one. The name (default "host:port") is what ketama hashes, so
	// keys stay put when a node moves to a new address under its old name,
	// and two pools whose servers have the same names and weights place
	// every key on corresponding nodes.
	Servers []string `toml:"servers"`
	// ServerConnections is the number of connections to each node, each
	// pipelined. Default 2; 1..64.
	ServerConnections int `toml:"server_connections"`
	// Timeout bounds each request's write to a node and the wait for its
	// reply. Default 1s; > 0.
	Timeout Duration `toml:"timeout"`
	// DialTimeout bounds connecting to a node (and its AUTH). Default
	// 500ms; > 0.
	DialTimeout Duration `toml:"dial_timeout"`
	// AutoEject takes a node out of the pool after ServerFailureLimit
	// consecutive failures, for ServerRetryTimeout. Default true; use Eject
	// to read it.
	AutoEject *bool `toml:"auto_eject"`
	// ServerFailureLimit is the number of consecutive failures that ejects
	// a node. Default 2 (twemproxy's default); >= 1.
	ServerFailureLimit int `toml:"server_failure_limit"`
	// ServerRetryTimeout is how long an ejected node stays out before a
	// PING probes it. Default 30s (twemproxy's default); > 0.
	ServerRetryTimeout Duration `toml:"server_retry_timeout"`
	// User and Password are sent with AUTH on each new connection to a
	// node (AUTH user password; AUTH password without a user). "" sends
	// none.
	User     string `toml:"user"`
	Password string `toml:"password"`
	// PoolTLS, when its tls is true, connects to the nodes over TLS.
	PoolTLS

	// Backends are Servers parsed, in the same order, set by Validate.
	Backends []shard.Server `toml:"-"`
}

// Eject reports whether the pool ejects failing nodes. The default is true,
// unlike twemproxy's auto_eject_hosts: without ejection a hung node costs
// every request routed to it the full timeout, and a batch spread over all
// nodes then waits that long too.
func (p *Pool) Eject() bool {
	if p.AutoEject == nil {
		return defAutoEject
	}
	return *p.AutoEject
}

// LoadConfig reads the file at path and parses it with ParseConfig.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("proxy config: %w", err)
	}
	c, err := ParseConfig(data, path)
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// ParseConfig decodes a TOML config and validates it. Unknown keys are
// errors, so a misspelt key is not silently ignored. Every error starts with
// name (a file name), followed by the line and column when the TOML decoder
// knows them: `proxy.toml:12:3: unknown key "server_conections" in [[pool]]`.
func ParseConfig(data []byte, name string) (*Config, error) {
	if name == "" {
		name = "config"
	}
	c := new(Config)
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, configDecodeError(name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// Validate fills in the defaults, checks every field, and sets
// KeyPatternParsed and each pool's Backends. It may be called again on a
// validated Config. Errors name the field (and pool) at fault and what it
// may be; the first problem found is the one reported.
func (c *Config) Validate() error {
	c.fillDefaults()

	switch {
	case c.Admin != adminOff && c.Admin == c.Listen && !strings.HasSuffix(c.Listen, ":0"):
		return fmt.Errorf("listen and admin are both %q; give admin another port, or \"-\" to disable it", c.Listen)
	case c.FollowingName == c.FollowerName:
		return fmt.Errorf("following_name and follower_name are both %q; they must differ", c.FollowingName)
	case c.HashTag != "" && len(c.HashTag) != 2:
		return fmt.Errorf("hash_tag %q: want \"\" or exactly two bytes, the opening and the closing one, such as \"{}\" (its length is %d)", c.HashTag, len(c.HashTag))
	case c.RouteBy != "uid" && c.RouteBy != "key":
		return fmt.Errorf("route_by %q: want \"uid\" (a user's lists share a node) or \"key\" (hash the whole key, as twemproxy does)", c.RouteBy)
	case c.MaxClients < 0:
		return fmt.Errorf("max_clients %d: want >= 1 (0 means the default, %d)", c.MaxClients, defMaxClients)
	case c.ClientTimeout.Duration < 0:
		return fmt.Errorf("client_timeout %s: want >= 0 (0 never closes idle clients)", c.ClientTimeout.Duration)
	case c.ClientWriteTimeout.Duration < 0:
		return fmt.Errorf("client_write_timeout %s: want > 0", c.ClientWriteTimeout.Duration)
	case c.MaxWatchConnections < 0:
		return fmt.Errorf("max_watch_connections %d: want >= 1 (0 means the default, %d)", c.MaxWatchConnections, defMaxWatchConnections)
	case c.ClientQueryBufferLimit < minProtoMaxBulkLenSetting:
		return fmt.Errorf("client_query_buffer_limit %d: want at least %d (1 MiB; 0 means the default, 1 GiB)", c.ClientQueryBufferLimit, minProtoMaxBulkLenSetting)
	case c.ProtoMaxBulkLen < minProtoMaxBulkLenSetting:
		return fmt.Errorf("proto_max_bulk_len %d: want at least %d (1 MiB; 0 means the default, 512 MiB)", c.ProtoMaxBulkLen, minProtoMaxBulkLenSetting)
	case c.IOModel != IOGoroutine && c.IOModel != IOEventLoop && c.IOModel != IOEventLoopBackends:
		return fmt.Errorf("io_model %q: want %q (a goroutine per client), %q (epoll loops; Linux) or %q (epoll loops that also do their backends' I/O; Linux)",
			c.IOModel, IOGoroutine, IOEventLoop, IOEventLoopBackends)
	case len(c.Pools) == 0:
		return errors.New(`no [[pool]]: want at least one, with role = "primary"`)
	}
	if err := checkListenAddr(c.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := c.ListenerTLS.validate(); err != nil {
		return err
	}
	if c.Admin != adminOff {
		if err := checkListenAddr(c.Admin); err != nil {
			return fmt.Errorf("admin: %w (or \"-\" to disable it)", err)
		}
	}
	if err := c.validateMemcache(); err != nil {
		return err
	}
	if err := c.L1.validate(); err != nil {
		return err
	}
	if err := c.HTTP.validate(c.Listen, c.Admin); err != nil {
		return err
	}
	if _, err := shard.HashByName(c.Hash); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	kp, err := shard.ParseKeyPattern(c.KeyPattern, shard.KeyOptions{
		FollowingName: c.FollowingName,
		FollowerName:  c.FollowerName,
		BifollowName:  c.BifollowName,
		DBs:           c.DBs,
	})
	if err != nil {
		return fmt.Errorf("key_pattern: %w", err)
	}

	primary := -1
	for i := range c.Pools {
		p := &c.Pools[i]
		if err := p.validate(i); err != nil {
			return err
		}
		for j := range i {
			if c.Pools[j].Name == p.Name {
				return fmt.Errorf("[[pool]] numbers %d and %d are both named %q; pool names must be unique", j+1, i+1, p.Name)
			}
		}
		if p.Role == "primary" {
			if primary >= 0 {
				return fmt.Errorf("pools %q and %q both have role \"primary\"; want exactly one primary, the others \"replica\"", c.Pools[primary].Name, p.Name)
			}
			primary = i
		}
	}
	if primary < 0 {
		return errors.New(`no pool has role "primary"; want exactly one`)
	}
	if c.Pool(c.ReadPool) == nil {
		return fmt.Errorf("read_pool %q names no [[pool]]; want one of %s", c.ReadPool, strings.Join(c.poolNames(), ", "))
	}
	// Build each pool's distribution once, so that a Config that passes
	// Validate is one the proxy can route with. The servers are already
	// checked, so an error for the primary can only be the name's fault.
	if _, err := shard.NewDistribution(c.Distribution, c.Pools[primary].Backends); err != nil {
		return fmt.Errorf("distribution: %w", err)
	}
	for i := range c.Pools {
		if _, err := shard.NewDistribution(c.Distribution, c.Pools[i].Backends); err != nil {
			return fmt.Errorf("pool %q: %w", c.Pools[i].Name, err)
		}
	}
	c.KeyPatternParsed = kp
	return nil
}

// fillDefaults is the one place defaults are set.
func (c *Config) fillDefaults() {
	if len(c.Users) == 0 {
		c.Users = nil // "users = []" is no users, as an absent key
	}
	c.HTTP.fillDefaults()
	c.L1.fillDefaults()
	if c.Listen == "" {
		c.Listen = defListen
	}
	if c.IOModel == "" {
		c.IOModel = IOGoroutine
	}
	if c.Admin == "" {
		c.Admin = defAdmin
	}
	if c.KeyPattern == "" {
		c.KeyPattern = shard.DefaultKeyPattern
	}
	if c.FollowingName == "" {
		c.FollowingName = defFollowingName
	}
	if c.FollowerName == "" {
		c.FollowerName = defFollowerName
	}
	if c.BifollowName == "" {
		c.BifollowName = "bifollow"
	}
	if c.DBs == 0 {
		c.DBs = defDBs
	}
	if c.Hash == "" {
		c.Hash = defHash
	}
	if c.Distribution == "" {
		c.Distribution = defDistribution
	}
	if c.RouteBy == "" {
		c.RouteBy = defRouteBy
	}
	if c.ReadPool == "" {
		for i := range c.Pools {
			if c.Pools[i].Role == "primary" {
				c.ReadPool = c.Pools[i].Name
				break
			}
		}
	}
	if c.MaxClients == 0 {
		c.MaxClients = defMaxClients
	}
	if c.AuthClients == "" {
		c.AuthClients = "yes"
	}
	if c.ClientQueryBufferLimit == 0 {
		c.ClientQueryBufferLimit = defClientQueryBufferLimit
	}
	if c.ProtoMaxBulkLen == 0 {
		c.ProtoMaxBulkLen = defProtoMaxBulkLen
	}
	if c.ClientOutputBufferLimit == nil {
		v := DefaultOutputBufferLimit
		c.ClientOutputBufferLimit = &v
	}
	if c.ClientWriteTimeout.Duration == 0 {
		c.ClientWriteTimeout.Duration = defClientWriteTimeout
	}
	if c.MaxWatchConnections == 0 {
		c.MaxWatchConnections = defMaxWatchConnections
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		if p.ServerConnections == 0 {
			p.ServerConnections = defServerConnections
		}
		if p.Timeout.Duration == 0 {
			p.Timeout.Duration = defTimeout
		}
		if p.DialTimeout.Duration == 0 {
			p.DialTimeout.Duration = defDialTimeout
		}
		if p.AutoEject == nil {
			v := defAutoEject
			p.AutoEject = &v
		}
		if p.ServerFailureLimit == 0 {
			p.ServerFailureLimit = defServerFailureLimit
		}
		if p.ServerRetryTimeout.Duration == 0 {
			p.ServerRetryTimeout.Duration = defServerRetryTimeout
		}
	}
}

// validate checks the i'th pool (counted from 0) after fillDefaults and sets
// its Backends.
func (p *Pool) validate(i int) error {
	if p.Name == "" {
		return fmt.Errorf("[[pool]] number %d has no name; want name = \"...\" of A-Z, a-z, 0-9, '_', '.' and '-'", i+1)
	}
	if strings.IndexFunc(p.Name, func(r rune) bool { return !isPoolNameChar(r) }) >= 0 {
		return fmt.Errorf("pool %q: name may contain only A-Z, a-z, 0-9, '_', '.' and '-'", p.Name)
	}
	switch {
	case p.Role != "primary" && p.Role != "replica":
		return fmt.Errorf("pool %q: role %q; want \"primary\" or \"replica\"", p.Name, p.Role)
	case len(p.Servers) == 0:
		return fmt.Errorf("pool %q: no servers; want at least one line \"host:port:weight [name]\"", p.Name)
	case p.ServerConnections < 1 || p.ServerConnections > maxServerConnsSetting:
		return fmt.Errorf("pool %q: server_connections %d; want 1..%d", p.Name, p.ServerConnections, maxServerConnsSetting)
	case p.Timeout.Duration < 0:
		return fmt.Errorf("pool %q: timeout %s; want > 0", p.Name, p.Timeout.Duration)
	case p.DialTimeout.Duration < 0:
		return fmt.Errorf("pool %q: dial_timeout %s; want > 0", p.Name, p.DialTimeout.Duration)
	case p.ServerFailureLimit < 1:
		return fmt.Errorf("pool %q: server_failure_limit %d; want >= 1", p.Name, p.ServerFailureLimit)
	case p.ServerRetryTimeout.Duration < 0:
		return fmt.Errorf("pool %q: server_retry_timeout %s; want > 0", p.Name, p.ServerRetryTimeout.Duration)
	}
	if err := p.PoolTLS.validate(); err != nil {
		return fmt.Errorf("pool %q: %w", p.Name, err)
	}
	backends := make([]shard.Server, len(p.Servers))
	byName := make(map[string]int, len(p.Servers))
	for j, line := range p.Servers {
		s, err := shard.ParseServer(line)
		if err != nil {
			return fmt.Errorf("pool %q: %w", p.Name, err)
		}
		if k, dup := byName[s.Name]; dup {
			// twemproxy refuses this too: ketama places a server by its name.
			return fmt.Errorf("pool %q: server lines %q and %q both have the name %q; names must be unique within a pool", p.Name, p.Servers[k], line, s.Name)
		}
		byName[s.Name] = j
		backends[j] = s
	}
	p.Backends = backends
	return nil
}

func isPoolNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}

// checkListenAddr accepts "host:port" with a decimal port 0..65535 (0 picks a
// free port, which tests use). The host may be empty: all interfaces.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number 0..65535", addr, port)
	}
	return nil
}

// Descriptors is what the proxy holds open besides its clients: every
// pool's connections to its nodes and the connections that hold clients'
// WATCHes. Validate must have run.
func (c *Config) Descriptors() int {
	n := c.MaxWatchConnections
	for i := range c.Pools {
		n += len(c.Pools[i].Servers) * c.Pools[i].ServerConnections
	}
	return n
}

func (c *Config) poolNames() []string {
	names := make([]string, len(c.Pools))
	for i := range c.Pools {
		names[i] = strconv.Quote(c.Pools[i].Name)
	}
	return names
}

// Primary returns the pool with role "primary", or nil if there is none (a
// Config that failed Validate).
func (c *Config) Primary() *Pool {
	for i := range c.Pools {
		if c.Pools[i].Role == "primary" {
			return &c.Pools[i]
		}
	}
	return nil
}

// ReadOrder returns the pools in the order reads try them: read_pool first
// (the primary when read_pool is unset), then the others in file order.
func (c *Config) ReadOrder() []*Pool {
	first := c.Pool(c.ReadPool)
	if c.ReadPool == "" || first == nil {
		first = c.Primary()
	}
	order := make([]*Pool, 0, len(c.Pools))
	if first != nil {
		order = append(order, first)
	}
	for i := range c.Pools {
		if p := &c.Pools[i]; p != first {
			order = append(order, p)
		}
	}
	return order
}

// Pool returns the pool named name, or nil.
func (c *Config) Pool(name string) *Pool {
	for i := range c.Pools {
		if c.Pools[i].Name == name {
			return &c.Pools[i]
		}
	}
	return nil
}
