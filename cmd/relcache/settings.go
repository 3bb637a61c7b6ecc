package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/pflag"

	"github.com/relcache/relcache/internal/tlsconf"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/server"
	"github.com/relcache/relcache/store"
)

// settings are everything `relcache serve` can be told, each both a flag and
// a TOML key of the same name. Flags override the file.
type settings struct {
	Addr                    string       `toml:"addr"`
	AdminAddr               string       `toml:"admin-addr"`
	Dir                     string       `toml:"dir"`
	LogLevel                string       `toml:"log-level"`
	LogFormat               string       `toml:"log-format"`
	MaxMemory               byteSize     `toml:"maxmemory"`
	MaxMemoryPolicy         store.Policy `toml:"maxmemory-policy"`
	MaxMemorySamples        int          `toml:"maxmemory-samples"`
	RequirePass             string       `toml:"requirepass"`
	MaxClients              int          `toml:"maxclients"`
	Timeout                 duration     `toml:"timeout"`
	Shards                  int          `toml:"shards"`
	ProtoMaxBulkLen         byteSize     `toml:"proto-max-bulk-len"`
	ProtoMaxMultibulkLen    int64        `toml:"proto-max-multibulk-len"`
	ClientOutputBufferLimit byteSize     `toml:"client-output-buffer-limit"`
	ClientQueryBufferLimit  byteSize     `toml:"client-query-buffer-limit"`
	TrackingTableMaxKeys    int64        `toml:"tracking-table-max-keys"`
	RelOrderCache           byteSize     `toml:"rel-order-cache"`
	ShutdownTimeout         duration     `toml:"shutdown-timeout"`
	SlowlogLogSlowerThan    duration     `toml:"slowlog-log-slower-than"`
	SlowlogMaxLen           int          `toml:"slowlog-max-len"`
	RelKeyPattern           string       `toml:"rel-key-pattern"`
	RelFollowingName        string       `toml:"rel-following-name"`
	RelFollowerName         string       `toml:"rel-follower-name"`
	RelBifollowName         string       `toml:"rel-bifollow-name"`
	RelKeyDBs               uint64       `toml:"rel-key-dbs"`
	RelMaxBatch             int          `toml:"rel-max-batch"`
	RelVerify               string       `toml:"rel-verify"`
	RelSetFormat            string       `toml:"rel-set-format"`
	Save                    string       `toml:"save"`
	DBFilename              string       `toml:"dbfilename"`
	ACLFile                 string       `toml:"aclfile"`
	ACLLogMaxLen            int          `toml:"acllog-max-len"`
	SnapshotOnCorrupt       string       `toml:"snapshot-on-corrupt"`
	SnapshotVerify          string       `toml:"snapshot-verify"`
	IOModel                 string       `toml:"io-model"`
	tlsSettings
	sourceSettings
}

// tlsSettings are Redis's tls-* settings of the TLS listener.
type tlsSettings struct {
	TLSPort         int    `toml:"tls-port"`
	TLSCertFile     string `toml:"tls-cert-file"`
	TLSKeyFile      string `toml:"tls-key-file"`
	TLSCACertFile   string `toml:"tls-ca-cert-file"`
	TLSAuthClients  string `toml:"tls-auth-clients"`
	TLSProtocols    string `toml:"tls-protocols"`
	TLSCiphers      string `toml:"tls-ciphers"`
	TLSCiphersuites string `toml:"tls-ciphersuites"`
}

func (s *tlsSettings) bind(fs *pflag.FlagSet) {
	fs.IntVar(&s.TLSPort, "tls-port", s.TLSPort, "TLS listen port on --addr's host, beside the plaintext one; 0 means no TLS")
	fs.StringVar(&s.TLSCertFile, "tls-cert-file", s.TLSCertFile, "PEM certificate (chain) the TLS listener presents; reloaded on SIGHUP")
	fs.StringVar(&s.TLSKeyFile, "tls-key-file", s.TLSKeyFile, "PEM private key of --tls-cert-file")
	fs.StringVar(&s.TLSCACertFile, "tls-ca-cert-file", s.TLSCACertFile, "PEM CA certificates clients' certificates must chain to")
	fs.StringVar(&s.TLSAuthClients, "tls-auth-clients", s.TLSAuthClients, "client certificates: yes (required), optional (checked when given) or no (not asked for)")
	fs.StringVar(&s.TLSProtocols, "tls-protocols", s.TLSProtocols, `TLS versions, e.g. "TLSv1.2 TLSv1.3" (the default when empty)`)
	fs.StringVar(&s.TLSCiphers, "tls-ciphers", s.TLSCiphers, "TLSv1.2 cipher suites, IANA names separated by ':'; empty means Go's defaults")
	fs.StringVar(&s.TLSCiphersuites, "tls-ciphersuites", s.TLSCiphersuites, "TLSv1.3 cipher suites; Go always offers all three, so only empty or all three are accepted")
}

func (s tlsSettings) config() (tlsconf.Settings, error) {
	auth, err := tlsconf.ParseAuthClients(s.TLSAuthClients)
	if err != nil {
		err = fmt.Errorf("tls-auth-clients: %w", err)
	}
	return tlsconf.Settings{CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile, CACertFile: s.TLSCACertFile,
		AuthClients: auth, Protocols: s.TLSProtocols, Ciphers: s.TLSCiphers, Ciphersuites: s.TLSCiphersuites}, err
}

// sourceSettings say where relation lists come from on a miss and where
// FOLLOW writes go. `relcache schema` and `import` take only these.
type sourceSettings struct {
	Source              string   `toml:"source"`
	SourcePath          string   `toml:"source-path"`
	SourceDBs           int      `toml:"source-dbs"`
	SourceTables        int      `toml:"source-tables"`
	SourceMySQL         []string `toml:"source-mysql"`
	SourceQueryTimeout  duration `toml:"source-query-timeout"`
	SourceListLimit     int      `toml:"source-list-limit"`
	LoadTimeout         duration `toml:"load-timeout"`
	LoadTTL             duration `toml:"load-ttl"`
	LoadNegativeTTL     duration `toml:"load-negative-ttl"`
	LoadBreakerFailures int      `toml:"load-breaker-failures"`
	LoadBreakerCooldown duration `toml:"load-breaker-cooldown"`

	// The journal's upkeep (docs/mysql.md, "Writes").
	SourceSweepInterval   duration `toml:"source-sweep-interval"`
	SourceChangeRetention duration `toml:"source-change-retention"`
}

func defaultSourceSettings() sourceSettings {
	return sourceSettings{
		Source:              string(loader.SourceSQLite),
		SourcePath:          "relcache-source.db",
		SourceDBs:           1,
		SourceTables:        4,
		SourceQueryTimeout:  duration{2 * time.Second},
		SourceListLimit:     5000,
		LoadTimeout:         duration{time.Second},
		LoadTTL:             duration{time.Hour},
		LoadNegativeTTL:     duration{time.Minute},
		LoadBreakerFailures: 5,
		LoadBreakerCooldown: duration{2 * time.Second},

		SourceSweepInterval:   duration{server.DefaultSourceSweepInterval},
		SourceChangeRetention: duration{server.DefaultSourceChangeRetention},
	}
}

func defaultSettings() settings {
	d := server.Defaults()
	return settings{
		Addr:                    d.Addr,
		AdminAddr:               d.AdminAddr,
		Dir:                     d.Dir,
		LogLevel:                "info",
		LogFormat:               "auto",
		MaxMemoryPolicy:         store.NoEviction,
		MaxMemorySamples:        5,
		MaxClients:              d.MaxClients,
		Shards:                  256,
		ProtoMaxBulkLen:         byteSize(d.ProtoMaxBulkLen),
		ProtoMaxMultibulkLen:    d.ProtoMaxMultibulkLen,
		ClientOutputBufferLimit: byteSize(d.ClientOutputBufferLimit),
		ClientQueryBufferLimit:  byteSize(d.ClientQueryBufferLimit),
		TrackingTableMaxKeys:    d.TrackingTableMaxKeys,
		RelOrderCache:           byteSize(d.RelOrderCache),
		ShutdownTimeout:         duration{d.ShutdownTimeout},
		SlowlogLogSlowerThan:    duration{d.SlowlogLogSlowerThan},
		SlowlogMaxLen:           d.SlowlogMaxLen,
		RelKeyPattern:           d.RelKeyPattern,
		RelFollowingName:        "following",
		RelFollowerName:         "follower",
		RelBifollowName:         "bifollow",
		RelKeyDBs:               1,
		RelMaxBatch:             d.RelMaxBatch,
		RelVerify:               d.RelVerify.String(),
		RelSetFormat:            d.RelSetFormat.String(),
		Save:                    "3600 1 300 100 60 10000",
		DBFilename:              d.DBFilename,
		ACLFile:                 d.ACLFile,
		ACLLogMaxLen:            d.ACLLogMaxLen,
		SnapshotOnCorrupt:       d.SnapshotOnCorrupt.String(),
		SnapshotVerify:          d.SnapshotVerify.String(),
		IOModel:                 d.IOModel.String(),
		tlsSettings:             tlsSettings{TLSAuthClients: "yes"},
		sourceSettings:          defaultSourceSettings(),
	}
}

// bind registers one flag per setting on fs, writing into s.
func (s *settings) bind(fs *pflag.FlagSet) {
	fs.StringVar(&s.Addr, "addr", s.Addr, "RESP listen address, host:port")
	fs.StringVar(&s.AdminAddr, "admin-addr", s.AdminAddr, `admin HTTP address for /metrics, /healthz and /debug/pprof/ ("-" disables it)`)
	fs.StringVar(&s.Dir, "dir", s.Dir, "data directory (snapshots are kept here)")
	fs.StringVar(&s.LogLevel, "log-level", s.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&s.LogFormat, "log-format", s.LogFormat, "log format: console, json, or auto (console on a terminal, JSON otherwise)")
	fs.Var(&s.MaxMemory, "maxmemory", "memory limit for keys and values, e.g. 4gb, 512mb; 0 means none")
	fs.Var(&s.MaxMemoryPolicy, "maxmemory-policy", "what to do past maxmemory: noeviction, allkeys-lru, volatile-lru or allkeys-random")
	fs.IntVar(&s.MaxMemorySamples, "maxmemory-samples", s.MaxMemorySamples, "keys sampled per LRU eviction (1-64)")
	fs.StringVar(&s.RequirePass, "requirepass", s.RequirePass, "password clients must AUTH with; empty means none")
	fs.IntVar(&s.MaxClients, "maxclients", s.MaxClients, "most clients connected at once")
	fs.Var(&s.Timeout, "timeout", "close clients idle this long, e.g. 300 (seconds) or 5m; 0 never does")
	fs.IntVar(&s.Shards, "shards", s.Shards, "keyspace shards, each with its own lock (a power of two)")
	fs.Var(&s.ProtoMaxBulkLen, "proto-max-bulk-len", "largest bulk string a client may send")
	fs.Int64Var(&s.ProtoMaxMultibulkLen, "proto-max-multibulk-len", s.ProtoMaxMultibulkLen, "most arguments in one command")
	fs.Var(&s.ClientOutputBufferLimit, "client-output-buffer-limit", "close a client whose pending reply exceeds this; 0 means no limit")
	fs.Var(&s.ClientQueryBufferLimit, "client-query-buffer-limit", "close a client whose unfinished command grows past this (at least 1mb)")
	fs.Int64Var(&s.TrackingTableMaxKeys, "tracking-table-max-keys", s.TrackingTableMaxKeys, "keys client tracking remembers for clients' caches; past it random ones are invalidated; 0 means no limit")
	fs.Var(&s.ShutdownTimeout, "shutdown-timeout", "how long a graceful shutdown waits for in-flight commands")
	fs.Var(&s.SlowlogLogSlowerThan, "slowlog-log-slower-than", "record commands slower than this in SLOWLOG, e.g. 10ms; negative disables")
	fs.IntVar(&s.SlowlogMaxLen, "slowlog-max-len", s.SlowlogMaxLen, "SLOWLOG entries kept")
	fs.StringVar(&s.RelKeyPattern, "rel-key-pattern", s.RelKeyPattern, "how a user's relation lists are named: {uid}, {kind} and {db} placeholders, e.g. '{uid}.{kind}' or '{db}-{uid}'")
	fs.StringVar(&s.RelFollowingName, "rel-following-name", s.RelFollowingName, "{kind} of a following list")
	fs.StringVar(&s.RelFollowerName, "rel-follower-name", s.RelFollowerName, "{kind} of a fan list")
	fs.StringVar(&s.RelBifollowName, "rel-bifollow-name", s.RelBifollowName, "{kind} of a bi-follow list (computed when read)")
	fs.Uint64Var(&s.RelKeyDBs, "rel-key-dbs", s.RelKeyDBs, "{db} is the uid modulo this")
	fs.IntVar(&s.RelMaxBatch, "rel-max-batch", s.RelMaxBatch, "most uids one relation command may carry")
	fs.Var(&s.RelOrderCache, "rel-order-cache", "memory for the sorted-set view's cached score orders (ZREVRANGE paging without a sort per read); 0 sorts per read")
	fs.StringVar(&s.RelVerify, "rel-verify", s.RelVerify, "check of a relation set arriving by SET: full (walk the table) or header (header and control-byte count; the next snapshot walks it)")
	fs.StringVar(&s.RelSetFormat, "rel-set-format", s.RelSetFormat, "format of the relation sets the server builds: fast (version 1) or compact (version 3 where smaller: about 2 bytes a member fewer, about a fifth more CPU per lookup); CONFIG SET changes it for sets built from then on")
	fs.StringVar(&s.Save, "save", s.Save, `snapshot rules, "<seconds> <changes> ...": save when both have passed; "" disables periodic and shutdown snapshots`)
	fs.StringVar(&s.DBFilename, "dbfilename", s.DBFilename, "snapshot file name, in --dir")
	fs.StringVar(&s.ACLFile, "aclfile", s.ACLFile, "users file (ACL LOAD/SAVE), in --dir unless absolute; - for none")
	fs.IntVar(&s.ACLLogMaxLen, "acllog-max-len", s.ACLLogMaxLen, "ACL LOG entries kept")
	fs.StringVar(&s.SnapshotVerify, "snapshot-verify", s.SnapshotVerify, "check of relation sets when a snapshot loads: header (header and control-byte count; the checksums cover the bytes) or full (walk every table)")
	fs.StringVar(&s.SnapshotOnCorrupt, "snapshot-on-corrupt", s.SnapshotOnCorrupt, "a corrupt snapshot at start: fail (refuse to start) or skip (start empty, keep the file renamed aside)")
	fs.StringVar(&s.IOModel, "io-model", s.IOModel, "how plaintext TCP clients are served: eventloop (epoll loops, one per GOMAXPROCS; Linux, and its default) or goroutine (one per connection; the default elsewhere)")
	s.tlsSettings.bind(fs)
	s.sourceSettings.bind(fs)
}

// bind registers the source flags on fs.
func (s *sourceSettings) bind(fs *pflag.FlagSet) {
	fs.StringVar(&s.Source, "source", s.Source, "system of record for misses and FOLLOW: sqlite (embedded file), mysql, or none (a pure cache)")
	fs.StringVar(&s.SourcePath, "source-path", s.SourcePath, "SQLite source file; a relative path is taken in --dir")
	fs.IntVar(&s.SourceDBs, "source-dbs", s.SourceDBs, "databases the relation tables are split over (MySQL: relation_00 ..)")
	fs.IntVar(&s.SourceTables, "source-tables", s.SourceTables, "tables of each kind per database (following_00 .., follower_00 ..)")
	fs.StringArrayVar(&s.SourceMySQL, "source-mysql", s.SourceMySQL, "a MySQL server and the databases it holds, FIRST-LAST=DSN (repeat per server), e.g. 0-1=relcache:pw@tcp(10.0.0.7:3306)/")
	fs.Var(&s.SourceQueryTimeout, "source-query-timeout", "longest one source query may take")
	fs.IntVar(&s.SourceListLimit, "source-list-limit", s.SourceListLimit, "most members loaded per list, newest first; a longer list is cached marked truncated (0: all)")
	fs.Var(&s.LoadTimeout, "load-timeout", "deadline for a client waiting on a miss; past it the command answers LOADFAIL")
	fs.Var(&s.LoadTTL, "load-ttl", "TTL of a list filled from the source (0: none)")
	fs.Var(&s.LoadNegativeTTL, "load-negative-ttl", "TTL of an empty list filled from the source, so unknown users are not re-queried (0: none)")
	fs.IntVar(&s.LoadBreakerFailures, "load-breaker-failures", s.LoadBreakerFailures, "consecutive failed loads that open a shard's circuit breaker")
	fs.Var(&s.LoadBreakerCooldown, "load-breaker-cooldown", "how long an open breaker fails fast before one probe load is let through")
	fs.Var(&s.SourceSweepInterval, "source-sweep-interval", "how often writes across two MySQL servers that a crash interrupted are completed, and old journal changes pruned")
	fs.Var(&s.SourceChangeRetention, "source-change-retention", "how long the source's journal keeps a change; a snapshot whose changes were pruned loads without its relation lists")
}

// loaderConfig is the loader.Config these settings describe; dir is where a
// relative SQLite path lives.
func (s sourceSettings) loaderConfig(dir string) (loader.Config, error) {
	cfg := loader.Config{
		Kind:         loader.SourceKind(s.Source),
		Path:         s.SourcePath,
		Layout:       loader.Layout{DBs: s.SourceDBs, Tables: s.SourceTables},
		QueryTimeout: s.SourceQueryTimeout.Duration,
	}
	if cfg.Path != "" && !filepath.IsAbs(cfg.Path) && dir != "" {
		cfg.Path = filepath.Join(dir, cfg.Path)
	}
	for _, m := range s.SourceMySQL {
		srv, err := loader.ParseMySQLServer(m)
		if err != nil {
			return cfg, fmt.Errorf("--source-mysql: %w", err)
		}
		cfg.MySQL = append(cfg.MySQL, srv)
	}
	return cfg, nil
}

// resolveSource is the source a tool (import, repair) works on, from
// the settings in force; --source none is an error, worded with what the
// tool would have done (verb).
func resolveSource(path string, fs *pflag.FlagSet, verb string) (loader.Config, error) {
	st, err := resolve(path, fs)
	if err != nil {
		return loader.Config{}, err
	}
	cfg, err := st.sourceSettings.loaderConfig(st.Dir)
	if err == nil && cfg.Kind == loader.SourceNone {
		err = fmt.Errorf("--source none: there is no source to %s", verb)
	}
	return cfg, err
}

// resolve gives the settings in force: defaults, then the TOML file at path
// (if any), then every flag the user set on fs.
func resolve(path string, fs *pflag.FlagSet) (settings, error) {
	s := defaultSettings()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return s, fmt.Errorf("read config: %w", err)
		}
		dec := toml.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return s, fmt.Errorf("config %s: %w", path, err)
		}
	}
	// Re-apply the flags the user gave onto a flag set bound to the merged
	// settings, so flags win over the file without listing fields twice.
	merged := pflag.NewFlagSet("merged", pflag.ContinueOnError)
	s.bind(merged)
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if merged.Lookup(f.Name) == nil || err != nil {
			return
		}
		// A list flag's String() is "[a,b]"; copy its items instead.
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if e := merged.Lookup(f.Name).Value.(pflag.SliceValue).Replace(sv.GetSlice()); e != nil {
				err = fmt.Errorf("flag --%s: %w", f.Name, e)
			}
			return
		}
		if e := merged.Set(f.Name, f.Value.String()); e != nil {
			err = fmt.Errorf("flag --%s: %w", f.Name, e)
		}
	})
	return s, err
}

// serverConfig is the server.Config these settings describe. The settings
// that take one of a few words are read here, once; the flags and the
// file keep them as text so that a bad word is reported at the same point
// and in the same words as before they were typed (with Validate's
// findings, by the caller), not as a flag or TOML syntax error.
func (s settings) serverConfig(version, configFile string) (server.Config, error) {
	relVerify, err1 := server.ParseRelVerify(s.RelVerify)
	snapshotVerify, err2 := server.ParseSnapshotVerify(s.SnapshotVerify)
	onCorrupt, err3 := server.ParseOnCorrupt(s.SnapshotOnCorrupt)
	tlsCfg, err4 := s.tlsSettings.config()
	ioModel, err5 := server.ParseIOModel(s.IOModel)
	setFormat, err6 := server.ParseRelSetFormat(s.RelSetFormat)
	return server.Config{
		Addr:                    s.Addr,
		AdminAddr:               s.AdminAddr,
		Dir:                     s.Dir,
		RequirePass:             s.RequirePass,
		MaxClients:              s.MaxClients,
		Timeout:                 s.Timeout.Duration,
		ProtoMaxBulkLen:         int64(s.ProtoMaxBulkLen),
		ProtoMaxMultibulkLen:    s.ProtoMaxMultibulkLen,
		ClientOutputBufferLimit: int64(s.ClientOutputBufferLimit),
		ClientQueryBufferLimit:  int64(s.ClientQueryBufferLimit),
		TrackingTableMaxKeys:    s.TrackingTableMaxKeys,
		RelOrderCache:           int64(s.RelOrderCache),
		ShutdownTimeout:         s.ShutdownTimeout.Duration,
		SlowlogLogSlowerThan:    s.SlowlogLogSlowerThan.Duration,
		SlowlogMaxLen:           s.SlowlogMaxLen,
		RelKeyPattern:           s.RelKeyPattern,
		RelFollowingName:        s.RelFollowingName,
		RelFollowerName:         s.RelFollowerName,
		RelBifollowName:         s.RelBifollowName,
		RelKeyDBs:               s.RelKeyDBs,
		RelMaxBatch:             s.RelMaxBatch,
		RelVerify:               relVerify,
		RelSetFormat:            setFormat,
		SourceListLimit:         s.SourceListLimit,
		LoadTimeout:             s.LoadTimeout.Duration,
		LoadTTL:                 s.LoadTTL.Duration,
		LoadNegativeTTL:         s.LoadNegativeTTL.Duration,
		LoadBreakerFailures:     s.LoadBreakerFailures,
		LoadBreakerCooldown:     s.LoadBreakerCooldown.Duration,
		SourceSweepInterval:     s.SourceSweepInterval.Duration,
		SourceChangeRetention:   s.SourceChangeRetention.Duration,
		DBFilename:              s.DBFilename,
		ACLFile:                 s.ACLFile,
		ACLLogMaxLen:            s.ACLLogMaxLen,
		SnapshotOnCorrupt:       onCorrupt,
		SnapshotVerify:          snapshotVerify,
		IOModel:                 ioModel,
		Version:                 version,
		ConfigFile:              configFile,
		TLSPort:                 s.TLSPort,
		TLS:                     tlsCfg,
		Store: store.Config{
			Shards:          s.Shards,
			MaxMemory:       int64(s.MaxMemory),
			Policy:          s.MaxMemoryPolicy,
			EvictionSamples: s.MaxMemorySamples,
		},
	}, errors.Join(err1, err2, err3, err4, err5, err6)
}

// byteSize is a size in bytes written like redis.conf: 100mb, 4gb, 1048576.
// As a TOML value it may be an integer or such a string.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "bytes" }
func (b *byteSize) Set(v string) error {
	n, err := server.ParseBytes(v)
	*b = byteSize(n)
	return err
}
func (b *byteSize) UnmarshalText(t []byte) error { return b.Set(string(t)) }

// duration accepts Go durations ("5m", "250ms") and, as Redis users type
// them, plain seconds ("300", or a bare TOML integer: go-toml hands its text
// to UnmarshalText). A struct, not a time.Duration, so that no decoder path
// can read an integer as nanoseconds.
type duration struct{ time.Duration }

func (d *duration) String() string { return d.Duration.String() }
func (d *duration) Type() string   { return "duration" }
func (d *duration) Set(v string) error {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d.Duration = time.Duration(n) * time.Second
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 300, 5m or 250ms)", v)
	}
	d.Duration = x
	return nil
}
func (d *duration) UnmarshalText(t []byte) error { return d.Set(string(t)) }
