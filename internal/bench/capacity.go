package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/openhash"
)

// The capacity benchmark (`relcache-bench capacity`, issue 8) answers the two
// questions a cluster is sized by: bytes of RAM per relation at full load,
// and requests per second at a latency. It streams a graph into one server,
// watching its memory as the load goes, then drives a mixed workload for a
// fixed time and reads the collector's cost from INFO.
//
// Only a few members of each user's list stay in client memory (to aim
// membership probes at real members), so a million users with a hundred
// follows each load from a client holding well under a gigabyte.

const (
	relcheckBatch = 50   // uids per RELCHECK
	relmultiBatch = 500  // uids per RELMULTI
	sampleSlots   = 8    // members of each user's list the client keeps
	reloadPool    = 1000 // users whose whole list the client keeps for reloads
	redisBucketN  = 16   // keys per list-size bucket measured with MEMORY USAGE
	hsetPairs     = 1000 // field/value pairs per HSET when loading Redis
	maxLatencyUS  = 60_000_000
	// requestTimeout bounds one request of the mixed run (both rounds of a
	// two-round op); past it the connection is dropped and the request
	// counted as an error.
	requestTimeout = time.Minute
)

// CapacityConfig is what `relcache-bench capacity` runs.
type CapacityConfig struct {
	// Addr is the server under test, host:port; with Proxy, the nodes
	// behind the proxy, comma-separated.
	Addr   string `json:"addr"`
	Target string `json:"target"` // "relcache" (default): arrays and REL*; "redis": one hash per list
	// Proxy, when set, is a proxyfront in front of the Addr nodes: the
	// load, the count and the mixed run go through it, as a relation
	// service's would; the nodes are flushed first, and their INFO memory
	// and gc are summed (a proxy serves neither).
	Proxy string `json:"proxy,omitempty"`

	// The graph: generated (Users, Mean, Seed, UIDBase, as `relcache
	// gen-graph` draws it) unless GraphFile names an edge file, which is
	// read whole into memory first.
	Users   int    `json:"users"` // default 100,000
	Mean    int    `json:"mean"`  // mean follows per user, default 100
	Seed    uint64 `json:"seed"`
	UIDBase uint64 `json:"uid_base"`
	// UIDSpread names users with ten-digit uids spread over [10^9, 10^10)
	// (graphgen.IDs) instead of UIDBase+i: the same graph, but slots need
	// 5 bytes, as real ten-digit uids do, where UIDBase's 10^9+i stay
	// below 2^32 (4 bytes) for any user count this tool loads.
	UIDSpread bool   `json:"uid_spread,omitempty"`
	GraphFile string `json:"graph_file,omitempty"`
	// SetFormat is the openhash format of the arrays the tool builds and
	// SETs (target relcache), as the server's rel-set-format names them:
	// "fast" (default), format version 1; "compact", version 3 where
	// smaller. Both are measured on the same graph this way.
	SetFormat string `json:"set_format,omitempty"`
	// Fit builds the arrays as the server sizes the ones it builds itself
	// (RELLOAD, fills, growth: openhash.Options.Fit, the table fitted to
	// the Go allocator's size class), so that the SET's copy in the server
	// costs what a server-built list does. Off by default: the arrays then
	// have the fewest groups the load bound allows, as a client's do.
	Fit bool `json:"fit,omitempty"`

	Duration time.Duration `json:"duration_ns"` // length of the mixed run, default 30s
	// Warmup runs the mix this long before Duration starts, unrecorded
	// (errors excepted): new connections, cold CPU caches and the first
	// timer and scheduler settling are not what a sustained run measures.
	Warmup time.Duration `json:"warmup_ns,omitempty"`
	// Rate is requests per second over all connections, sent at fixed
	// intervals, with latency measured from each request's intended start
	// (RunReport.Latency).
	// 0 is open loop: every connection sends its next request when the last
	// answer arrives, which finds peak throughput but hides queueing.
	Rate  float64    `json:"rate"`
	Conns int        `json:"conns"` // connections of the mixed run, default 16
	Mix   []MixEntry `json:"mix"`   // default DefaultMix
	// Write is what relcache gets for a "follow" op: "reladd" (default),
	// RELADD key XX TIMES uid time, which patches the cached list as a
	// pure cache (--source none) must; or "follow", FOLLOW a b time, which
	// needs a source of record. Redis always gets HSET key uid time.
	Write string `json:"write"`
	// Zipf, when > 1, draws the users the mix reads (each op's user, and
	// the random half of its probes) from a Zipf distribution with this
	// exponent over the users, user 0 the most read, instead of
	// uniformly: the skew of a celebrity-heavy service (issue 19's L1 is
	// measured at 1.1). 0: uniform.
	Zipf float64 `json:"zipf,omitempty"`
	// Reuse skips the flush and the sending of the load: the server holds
	// the same graph (same users, mean, seed and uid base) from an
	// earlier run, as a script that measures one setting against another
	// over the same data wants. The graph is still generated (the mix
	// needs its index) and counted back.
	Reuse bool `json:"reuse,omitempty"`

	// Progress, when set, is called as phases advance: "load" with users
	// loaded of all users, "run" with seconds run of the duration.
	Progress func(phase string, done, total int) `json:"-"`
}

func (c *CapacityConfig) fill() error {
	if c.Target == "" {
		c.Target = "relcache"
	}
	if c.Users == 0 && c.GraphFile == "" {
		c.Users = 100_000
	}
	if c.Mean == 0 {
		c.Mean = 100
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Conns == 0 {
		c.Conns = 16
	}
	if c.Mix == nil {
		c.Mix, _ = ParseMix(DefaultMix)
	}
	if c.Write == "" {
		c.Write = "reladd"
	}
	if c.SetFormat == "" {
		c.SetFormat = "fast"
	}
	switch {
	case c.Addr == "":
		return errors.New("capacity: no server address")
	case c.Target != "relcache" && c.Target != "redis":
		return fmt.Errorf("capacity: target %q: want relcache or redis", c.Target)
	case c.Proxy != "" && c.Target == "redis":
		// The Redis reload is MULTI/EXEC, which no sharding proxy
		// (twemproxy, proxyfront) passes.
		return errors.New("capacity: a proxy run needs target relcache: the Redis reload is a MULTI a proxy refuses")
	case c.Proxy == "" && strings.Contains(c.Addr, ","):
		return fmt.Errorf("capacity: several servers %q: a run with more than one node goes through --proxy", c.Addr)
	case c.Zipf != 0 && c.Zipf <= 1:
		return fmt.Errorf("capacity: zipf %g: want an exponent > 1, or 0 for uniform", c.Zipf)
	case c.GraphFile == "" && c.Users < 2:
		return fmt.Errorf("capacity: %d users: want at least 2", c.Users)
	case c.GraphFile == "" && c.Mean < 1:
		return fmt.Errorf("capacity: mean %d: want at least 1", c.Mean)
	case c.GraphFile == "" && c.UIDSpread && uint64(c.Users) > graphgen.MaxSpreadUsers:
		return fmt.Errorf("capacity: %d users: spread uids number at most %d", c.Users, uint64(graphgen.MaxSpreadUsers))
	case c.GraphFile == "" && !c.UIDSpread && c.UIDBase > math.MaxUint64-uint64(c.Users):
		return fmt.Errorf("capacity: uid base %d: uids of %d users would pass 2^64", c.UIDBase, c.Users)
	case c.Duration < 0:
		return fmt.Errorf("capacity: duration %v: want a positive length", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("capacity: warmup %v: want a length, or 0 for none", c.Warmup)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("capacity: rate %v: want requests per second, or 0 for open loop", c.Rate)
	case c.Conns < 1:
		return fmt.Errorf("capacity: %d connections: want at least 1", c.Conns)
	case c.Write != "reladd" && c.Write != "follow":
		return fmt.Errorf("capacity: write %q: want reladd or follow", c.Write)
	case len(c.Mix) == 0:
		return errors.New("capacity: empty mix")
	case c.SetFormat != "fast" && c.SetFormat != "compact":
		return fmt.Errorf("capacity: set format %q: want fast or compact", c.SetFormat)
	}
	return nil
}

// setVersion is the openhash.Options.Version of SetFormat (after fill).
func (c *CapacityConfig) setVersion() int {
	if c.SetFormat == "compact" {
		return openhash.VersionSmallest
	}
	return 0
}

// Capacity loads the graph into the server, runs the mix and returns what
// it measured. The server is flushed first. Errors of single requests
// during the run are counted in the report, not returned; failing to load
// or to reach the server is returned.
func Capacity(ctx context.Context, cfg CapacityConfig) (*CapacityReport, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	g, err := capacityGraph(cfg)
	if err != nil {
		return nil, err
	}
	dial := func(addr string) (*redis.Client, error) {
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: cfg.Conns + 2, Protocol: 2,
			DisableIdentity: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
		if err := c.Ping(ctx).Err(); err != nil {
			c.Close()
			return nil, fmt.Errorf("capacity: ping %s: %w", addr, err)
		}
		return c, nil
	}
	c, err := dial(cfg.target())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// nodes are the servers themselves, for what a proxy does not pass.
	nodes := []*redis.Client{c}
	if cfg.Proxy != "" {
		nodes = nil
		for _, addr := range cfg.nodes() {
			n, err := dial(addr)
			if err != nil {
				return nil, err
			}
			defer n.Close()
			nodes = append(nodes, n)
		}
	}
	for _, n := range nodes {
		if cfg.Reuse {
			break
		}
		if err := n.FlushAll(ctx).Err(); err != nil {
			return nil, fmt.Errorf("capacity: flush %s: %w", n.Options().Addr, err)
		}
	}
	rep := &CapacityReport{Config: cfg, Date: time.Now().UTC().Truncate(time.Second), Users: g.users}
	rep.Config.Users = g.users
	rep.Config.Progress = nil
	l := &capLoad{cfg: cfg, g: g, c: c, nodes: nodes, rep: rep, redis: cfg.Target == "redis"}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	w := &workload{cfg: cfg, g: g, ix: l.ix, redis: l.redis}
	infoGC := func() ([]string, error) {
		var out []string
		for _, n := range nodes {
			s, err := n.Info(ctx, "gc").Result()
			if err != nil {
				return nil, fmt.Errorf("capacity: INFO gc of %s: %w", n.Options().Addr, err)
			}
			out = append(out, s)
		}
		return out, nil
	}
	gc0, err := infoGC()
	if err != nil {
		return nil, err
	}
	if err := w.run(ctx, rep); err != nil {
		return nil, err
	}
	gc1, err := infoGC()
	if err != nil {
		return nil, err
	}
	perNode := make([]GCReport, len(gc1))
	for i := range gc1 {
		perNode[i] = gcReport(gc0[i], gc1[i])
	}
	rep.GC = clusterGC(perNode)
	return rep, nil
}

// target is where requests go: the proxy, or the one server.
func (c *CapacityConfig) target() string { return cmp.Or(c.Proxy, c.Addr) }

// nodes are the servers Addr names.
func (c *CapacityConfig) nodes() []string {
	var out []string
	for a := range strings.SplitSeq(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
