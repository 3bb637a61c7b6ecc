package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/tlsconf"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/shard"
	"github.com/relcache/relcache/store"
)

// Config configures a Server. Zero fields take the defaults documented on
// each; Defaults returns them filled in, which is what the CLI shows in
// --help.
type Config struct {
	// Addr is the RESP listen address. Default "127.0.0.1:6380".
	Addr string
	// AdminAddr is the admin HTTP address (/metrics, /healthz,
	// /debug/pprof/). Default "127.0.0.1:9380"; "-" disables it.
	AdminAddr string
	// Dir is the data directory (snapshots live there). Default ".".
	Dir string
	// RequirePass, when set, makes clients AUTH before anything but AUTH,
	// HELLO, PING-less handshakes and QUIT. Default "" (no password).
	RequirePass string
	// MaxClients is the most connections served at once; the next gets
	// "-ERR max number of clients reached" and is closed. Default 10000.
	MaxClients int
	// Timeout closes a client idle this long; 0 never does. Default 0.
	Timeout time.Duration
	// ProtoMaxBulkLen is the largest bulk string a client may send, in
	// bytes, as Redis's proto-max-bulk-len. Default 512 MiB.
	ProtoMaxBulkLen int64
	// ProtoMaxMultibulkLen is the most arguments one command may have.
	// Default 1,048,576 (a RELMULTI of a million uids still fits).
	ProtoMaxMultibulkLen int64
	// ClientOutputBufferLimit closes a client whose pending reply grows past
	// this many bytes (a KEYS * over a huge keyspace, say) instead of
	// letting one client take the server's memory. Default 1 GiB; 0 means
	// no limit.
	ClientOutputBufferLimit int64
	// ClientQueryBufferLimit closes a client whose bytes read but not yet
	// framed into a command (one unfinished command) grow past this, as
	// Redis's client-query-buffer-limit. Default 1 GiB; at least 1 MiB.
	ClientQueryBufferLimit int64
	// TrackingTableMaxKeys bounds the keys client tracking remembers for
	// clients' caches, as Redis's tracking-table-max-keys: past it random
	// keys are dropped from the table and their clients told to forget
	// them. Default 1,000,000 (Defaults); 0 means no limit.
	TrackingTableMaxKeys int64
	// RelOrderCache bounds, in bytes, the score orders the sorted-set view
	// keeps so that paging a big relation set does not sort it per read
	// (zview.Cache: 4 bytes a member, plus the set bytes an order pins).
	// Default 64 MiB (Defaults); 0 sorts on every ranged read.
	RelOrderCache int64
	// ShutdownTimeout bounds how long a graceful shutdown waits for
	// in-flight commands before closing connections. Default 10s.
	ShutdownTimeout time.Duration
	// SlowlogLogSlowerThan records commands slower than this in SLOWLOG;
	// negative disables, 0 logs everything. Default 10ms.
	SlowlogLogSlowerThan time.Duration
	// SlowlogMaxLen is how many SLOWLOG entries are kept. Default 128.
	SlowlogMaxLen int
	// RelKeyPattern names a user's relation lists: placeholders {uid},
	// {kind} and {db} (see shard.KeyPattern). RELCHECK, RELWHO and
	// RELCOMMON build keys with it. Default "{uid}.{kind}".
	RelKeyPattern string
	// RelFollowingName and RelFollowerName fill {kind}. Defaults
	// "following" and "follower".
	RelFollowingName, RelFollowerName string
	// RelBifollowName fills {kind} in a bi-follow list's key, which is
	// computed from following lists when read. Default "bifollow".
	RelBifollowName string
	// RelKeyDBs is the modulus of {db}: {db} = uid % RelKeyDBs. Default 1.
	RelKeyDBs uint64
	// RelMaxBatch caps the uids one relation command may carry. Default
	// 100,000.
	RelMaxBatch int
	// RelVerify is how a relation set arriving by SET is checked:
	// CheckFull walks the whole table (openhash.Check: tags, placement,
	// duplicates, count; linear in its size), CheckHeader checks the
	// header and the count of full control bytes (openhash.CheckControl,
	// one word per 8 slots): a table flawed otherwise gives that key wrong
	// answers, never a malformed reply or a crash, and the next snapshot
	// runs the full check and leaves it out if it fails. Default
	// CheckFull.
	RelVerify SetCheck
	// RelSetFormat is the format of the relation sets the server builds
	// (RELLOAD, fills, keys a write creates): FormatFast (default, format
	// version 1) or FormatCompact (version 3 where smaller: about 2 bytes
	// a member fewer, about a fifth more CPU per lookup). CONFIG SET
	// rel-set-format changes it for the sets built from then on.
	RelSetFormat SetFormat
	// Source is the system of record a missing relation list is filled
	// from, and FOLLOW/UNFOLLOW write to (when it is a loader.Writer). Nil:
	// a pure cache, where a miss stays a miss.
	Source loader.Source
	// SourceID names the source of record (loader.Config.Identity), for
	// INFO loader's source_id: a proxy refuses FOLLOW between users on two
	// nodes whose sources differ. Optional; "" leaves the field out.
	SourceID string
	// SourceListLimit caps the members loaded per list, newest first; a
	// longer list is cached marked truncated. 0: no cap.
	SourceListLimit int
	// LoadTimeout is how long a client waits on the source before the
	// command answers LOADFAIL. Default 1s.
	LoadTimeout time.Duration
	// LoadTTL and LoadNegativeTTL are the TTLs of filled lists, non-empty
	// and empty; 0 means none.
	LoadTTL, LoadNegativeTTL time.Duration
	// LoadBreakerFailures consecutive failures open a shard's breaker for
	// LoadBreakerCooldown. Defaults 5 and 2s.
	LoadBreakerFailures int
	LoadBreakerCooldown time.Duration
	// SourceSweepInterval is how often the source's pending intents
	// (writes across two MySQL servers that a crash or a failing server
	// interrupted) are completed and its old changes pruned. Default 30s.
	SourceSweepInterval time.Duration
	// SourceChangeRetention is how long the source's journal keeps a
	// change. A snapshot whose changes were pruned loads without its
	// relation lists. Default 7 days.
	SourceChangeRetention time.Duration
	// DBFilename is the snapshot file's name in Dir. Default "dump.rcs".
	DBFilename string
	// ACLFile is the users file (Redis's aclfile), in Dir unless absolute:
	// loaded at start (a missing file means the default user alone; a bad
	// one stops the start) and by ACL LOAD, written by ACL SAVE. Default
	// "users.acl"; "-" means none.
	ACLFile string
	// ACLLogMaxLen is how many ACL LOG entries are kept, as Redis's
	// acllog-max-len. Default 128.
	ACLLogMaxLen int
	// Save are the snapshot rules; none means no periodic snapshots and no
	// snapshot at shutdown (SAVE and BGSAVE still work).
	Save []SaveRule
	// SnapshotOnCorrupt is what a start does with a corrupt snapshot:
	// OnCorruptFail (default: refuse to start, naming the file and
	// offset) or OnCorruptSkip (start empty, rename the file aside).
	SnapshotOnCorrupt OnCorrupt
	// IOModel is how plaintext TCP clients are served (io-model):
	// IOEventLoop (Linux's default) or IOGoroutine (the default
	// elsewhere); see iomodel.go.
	IOModel IOModel
	// SnapshotVerify is how relation sets are checked when a snapshot
	// loads: CheckHeader (default; openhash.CheckControl, and the next
	// save runs the full check on each set once) or CheckFull
	// (openhash.Check, a walk of every table: slower restarts).
	SnapshotVerify SetCheck
	// Store configures the keyspace (shards, maxmemory, policy, expiry).
	Store store.Config
	// Version is reported by INFO (relcache_version). Default "dev".
	Version string
	// MaxClientsRequested is maxclients as configured, when the start
	// lowered MaxClients to fit the open-files limit (Redis's behaviour);
	// OpenFilesLimit is that limit. For the startup line and INFO; zero
	// when unknown.
	MaxClientsRequested int
	OpenFilesLimit      uint64
	// TLSPort, when not 0, opens a TLS listener on this port of Addr's
	// host, beside the plaintext one (Redis's tls-port). Default 0: off.
	TLSPort int
	// TLS are the files and words of the TLS listener (Redis's tls-*
	// settings); used only when TLSPort is set. tls-auth-clients
	// defaults to yes.
	TLS tlsconf.Settings
	// ConfigFile is the path of the TOML file the settings came from, for
	// INFO's config_file. Optional.
	ConfigFile string
}

// Defaults for the fields of Config.
const (
	DefaultAddr                    = "127.0.0.1:6380"
	DefaultAdminAddr               = "127.0.0.1:9380"
	DefaultMaxClients              = 10000
	DefaultProtoMaxBulkLen         = 512 << 20
	DefaultProtoMaxMultibulkLen    = 1 << 20
	DefaultClientOutputBufferLimit = 1 << 30
	DefaultClientQueryBufferLimit  = 1 << 30
	DefaultTrackingTableMaxKeys    = 1_000_000
	DefaultRelOrderCache           = 64 << 20
	DefaultShutdownTimeout         = 10 * time.Second
	DefaultSlowlogLogSlowerThan    = 10 * time.Millisecond
	DefaultSlowlogMaxLen           = 128
	DefaultRelMaxBatch             = 100000
	DefaultLoadTimeout             = time.Second
	DefaultSourceSweepInterval     = 30 * time.Second
	DefaultSourceChangeRetention   = 7 * 24 * time.Hour
	DefaultDBFilename              = "dump.rcs"
	DefaultACLFile                 = "users.acl"
	DefaultACLLogMaxLen            = 128
)

// minQueryBufferLimit is Redis's floor for client-query-buffer-limit.
const minQueryBufferLimit = 1 << 20

// Defaults returns a Config with every default filled in.
func Defaults() Config {
	return Config{
		Addr:                    DefaultAddr,
		AdminAddr:               DefaultAdminAddr,
		Dir:                     ".",
		MaxClients:              DefaultMaxClients,
		ProtoMaxBulkLen:         DefaultProtoMaxBulkLen,
		ProtoMaxMultibulkLen:    DefaultProtoMaxMultibulkLen,
		ClientOutputBufferLimit: DefaultClientOutputBufferLimit,
		ClientQueryBufferLimit:  DefaultClientQueryBufferLimit,
		TrackingTableMaxKeys:    DefaultTrackingTableMaxKeys,
		RelOrderCache:           DefaultRelOrderCache,
		ShutdownTimeout:         DefaultShutdownTimeout,
		SlowlogLogSlowerThan:    DefaultSlowlogLogSlowerThan,
		SlowlogMaxLen:           DefaultSlowlogMaxLen,
		RelKeyPattern:           shard.DefaultKeyPattern,
		RelMaxBatch:             DefaultRelMaxBatch,
		RelVerify:               CheckFull,
		RelSetFormat:            FormatFast,
		Version:                 "dev",
		DBFilename:              DefaultDBFilename,
		ACLFile:                 DefaultACLFile,
		ACLLogMaxLen:            DefaultACLLogMaxLen,
		Save:                    []SaveRule{{3600, 1}, {300, 100}, {60, 10000}},
		SnapshotOnCorrupt:       OnCorruptFail,
		IOModel:                 defaultIOModel,
		SnapshotVerify:          CheckHeader,
		SourceSweepInterval:     DefaultSourceSweepInterval,
		SourceChangeRetention:   DefaultSourceChangeRetention,
	}
}

// Validate reports what is wrong with c, as New would, without building
// anything: callers check a configuration before opening what it names.
func (c Config) Validate() error {
	if err := c.fill(); err != nil {
		return err
	}
	return c.Store.Validate()
}

// fill sets zero fields to their defaults and validates the result.
func (c *Config) fill() error {
	d := Defaults()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.AdminAddr == "" {
		c.AdminAddr = d.AdminAddr
	}
	if c.Dir == "" {
		c.Dir = d.Dir
	}
	if c.MaxClients == 0 {
		c.MaxClients = d.MaxClients
	}
	if c.ProtoMaxBulkLen == 0 {
		c.ProtoMaxBulkLen = d.ProtoMaxBulkLen
	}
	if c.ProtoMaxMultibulkLen == 0 {
		c.ProtoMaxMultibulkLen = d.ProtoMaxMultibulkLen
	}
	if c.ClientQueryBufferLimit == 0 {
		c.ClientQueryBufferLimit = d.ClientQueryBufferLimit
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.SlowlogMaxLen == 0 {
		c.SlowlogMaxLen = d.SlowlogMaxLen
	}
	if c.ACLFile == "" {
		c.ACLFile = d.ACLFile
	}
	if c.ACLLogMaxLen == 0 {
		c.ACLLogMaxLen = d.ACLLogMaxLen
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	if c.RelKeyPattern == "" {
		c.RelKeyPattern = d.RelKeyPattern
	}
	if c.RelMaxBatch == 0 {
		c.RelMaxBatch = d.RelMaxBatch
	}
	if c.RelVerify == 0 {
		c.RelVerify = d.RelVerify
	}
	if c.RelSetFormat == 0 {
		c.RelSetFormat = d.RelSetFormat
	}
	if c.DBFilename == "" {
		c.DBFilename = d.DBFilename
	}
	if c.SnapshotOnCorrupt == 0 {
		c.SnapshotOnCorrupt = d.SnapshotOnCorrupt
	}
	if c.IOModel == 0 {
		c.IOModel = d.IOModel
	}
	if c.SnapshotVerify == 0 {
		c.SnapshotVerify = d.SnapshotVerify
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = DefaultLoadTimeout
	}
	if c.SourceSweepInterval == 0 {
		c.SourceSweepInterval = d.SourceSweepInterval
	}
	if c.SourceChangeRetention == 0 {
		c.SourceChangeRetention = d.SourceChangeRetention
	}
	if c.TLS.AuthClients == 0 {
		c.TLS.AuthClients = tlsconf.AuthYes // Redis's default
	}
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	}
	if c.AdminAddr != "-" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("admin-addr %q: %w", c.AdminAddr, err))
		}
	}
	switch {
	case c.MaxClients < 1:
		errs = append(errs, fmt.Errorf("maxclients must be >= 1, got %d", c.MaxClients))
	case c.Timeout < 0:
		errs = append(errs, fmt.Errorf("timeout must be >= 0, got %v", c.Timeout))
	case c.ProtoMaxBulkLen < 1024*1024:
		// Redis's own floor: smaller values break ordinary clients.
		errs = append(errs, fmt.Errorf("proto-max-bulk-len must be >= 1mb, got %d", c.ProtoMaxBulkLen))
	case c.ProtoMaxMultibulkLen < 16:
		errs = append(errs, fmt.Errorf("proto-max-multibulk-len must be >= 16, got %d", c.ProtoMaxMultibulkLen))
	case c.ClientOutputBufferLimit < 0:
		errs = append(errs, fmt.Errorf("client-output-buffer-limit must be >= 0, got %d", c.ClientOutputBufferLimit))
	case c.TrackingTableMaxKeys < 0:
		errs = append(errs, fmt.Errorf("tracking-table-max-keys must be >= 0, got %d", c.TrackingTableMaxKeys))
	case c.RelOrderCache < 0:
		errs = append(errs, fmt.Errorf("rel-order-cache must be >= 0, got %d", c.RelOrderCache))
	case c.ClientQueryBufferLimit < minQueryBufferLimit:
		errs = append(errs, fmt.Errorf("client-query-buffer-limit must be >= 1mb, got %d", c.ClientQueryBufferLimit))
	case c.SlowlogMaxLen < 0:
		errs = append(errs, fmt.Errorf("slowlog-max-len must be >= 0, got %d", c.SlowlogMaxLen))
	case c.RelMaxBatch < 1:
		errs = append(errs, fmt.Errorf("rel-max-batch must be >= 1, got %d", c.RelMaxBatch))
	case !c.RelVerify.valid():
		_, err := ParseRelVerify(c.RelVerify.String())
		errs = append(errs, err)
	case !c.RelSetFormat.valid():
		_, err := ParseRelSetFormat(c.RelSetFormat.String())
		errs = append(errs, err)
	case c.LoadTimeout < 0 || c.LoadTTL < 0 || c.LoadNegativeTTL < 0 || c.LoadBreakerCooldown < 0:
		errs = append(errs, fmt.Errorf("load-timeout, load-ttl, load-negative-ttl and load-breaker-cooldown must be >= 0"))
	case !c.SnapshotVerify.valid():
		_, err := ParseSnapshotVerify(c.SnapshotVerify.String())
		errs = append(errs, err)
	case !c.SnapshotOnCorrupt.valid():
		_, err := ParseOnCorrupt(c.SnapshotOnCorrupt.String())
		errs = append(errs, err)
	case !c.IOModel.valid():
		_, err := ParseIOModel(c.IOModel.String())
		errs = append(errs, err)
	case strings.ContainsAny(c.DBFilename, "/\\"):
		errs = append(errs, fmt.Errorf("dbfilename must be a file name, not a path: %q", c.DBFilename))
	case c.SourceSweepInterval < 0 || c.SourceChangeRetention < 0:
		errs = append(errs, fmt.Errorf("source-sweep-interval and source-change-retention must be > 0"))
	case c.TLSPort < 0 || c.TLSPort > 65535:
		errs = append(errs, fmt.Errorf("tls-port must be between 0 and 65535, got %d", c.TLSPort))
	case c.SourceListLimit < 0:
		errs = append(errs, fmt.Errorf("source-list-limit must be >= 0, got %d", c.SourceListLimit))
	}
	if c.TLSPort != 0 {
		errs = append(errs, checkTLSWords(c.TLS))
	}
	return errors.Join(errs...)
}
