package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
	"github.com/tidwall/redcon"
	"golang.org/x/sync/errgroup"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/openhash"
)

// The capacity benchmark (`relcache bench capacity`, issue 8) answers the two
// questions a cluster is sized by: bytes of RAM per relation at full load,
// and requests per second at a latency. It streams a graph into one server,
// watching its memory as the load goes, then drives a mixed workload for a
// fixed time and reads the collector's cost from INFO.
//
// Only a few members of each user's list stay in client memory (to aim
// membership probes at real members), so a million users with a hundred
// follows each load from a client holding well under a gigabyte.

// The operations of the mixed workload, in report order.
const (
	OpRelcheck = "relcheck" // RELCHECK a b1..b50 | 100 HEXISTS in one pipeline
	OpRelmulti = "relmulti" // RELMULTI key 500 uids | HMGET key 500 fields
	OpRelwho   = "relwho"   // RELWHO a x | HKEYS, then HEXISTS m.following x per member in one pipeline
	OpHget     = "hget"     // HGET key uid on both: the compatibility path
	OpReload   = "reload"   // SET of a freshly built array | MULTI DEL, HSET ... EXEC
	OpFollow   = "follow"   // RELADD key XX TIMES uid time (or FOLLOW a b time) | HSET key uid time
)

var capacityOps = []string{OpRelcheck, OpRelmulti, OpRelwho, OpHget, OpReload, OpFollow}

// DefaultMix is the mix `relcache bench capacity` runs unless told otherwise:
// mostly reads, as a relation service sees, with list reloads (cache fills)
// and writes at 5% each.
const DefaultMix = "relcheck=40,relmulti=30,relwho=5,hget=15,reload=5,follow=5"

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

// MixEntry is one operation of the workload and its relative weight.
type MixEntry struct {
	Op     string `json:"op"`
	Weight int    `json:"weight"`
}

// ParseMix reads "op=weight,op=weight,...". Ops are those of capacityOps;
// weights are non-negative integers, at least one positive; an op with
// weight 0 or left out does not run.
func ParseMix(s string) ([]MixEntry, error) {
	var mix []MixEntry
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		op, w, ok := strings.Cut(part, "=")
		op = strings.ToLower(strings.TrimSpace(op))
		if !ok {
			return nil, fmt.Errorf("mix %q: %q is not op=weight", s, part)
		}
		if !slices.Contains(capacityOps, op) {
			return nil, fmt.Errorf("mix %q: unknown op %q (want one of %s)", s, op, strings.Join(capacityOps, ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: weight of %s %q is not a non-negative integer", s, op, w)
		}
		if slices.ContainsFunc(mix, func(e MixEntry) bool { return e.Op == op }) {
			return nil, fmt.Errorf("mix %q: %s given twice", s, op)
		}
		if n > 0 {
			mix = append(mix, MixEntry{op, n})
			total += n
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: no op has a positive weight", s)
	}
	slices.SortFunc(mix, func(a, b MixEntry) int {
		return slices.Index(capacityOps, a.Op) - slices.Index(capacityOps, b.Op)
	})
	return mix, nil
}

// CapacityConfig is what `relcache bench capacity` runs.
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
	Users     int    `json:"users"` // default 100,000
	Mean      int    `json:"mean"`  // mean follows per user, default 100
	Seed      uint64 `json:"seed"`
	UIDBase   uint64 `json:"uid_base"`
	GraphFile string `json:"graph_file,omitempty"`

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
	case c.GraphFile == "" && c.Users < 2:
		return fmt.Errorf("capacity: %d users: want at least 2", c.Users)
	case c.GraphFile == "" && c.Mean < 1:
		return fmt.Errorf("capacity: mean %d: want at least 1", c.Mean)
	case c.GraphFile == "" && c.UIDBase > math.MaxUint64-uint64(c.Users):
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
	}
	return nil
}

// CapacityReport is everything a capacity run measured. Latencies are in
// microseconds, memory in bytes, rates per second.
type CapacityReport struct {
	Config CapacityConfig `json:"config"`
	Date   time.Time      `json:"date"`

	Users              int     `json:"users"`
	RelationsGenerated int64   `json:"relations_generated"` // edges the client sent
	Relations          int64   `json:"relations"`           // counted back from the server (RELCARD / HLEN) after the load
	MissingLists       int     `json:"missing_lists"`       // users whose list the server did not have after the load
	LoadSeconds        float64 `json:"load_seconds"`

	RSSBefore        int64   `json:"rss_before"`         // used_memory_rss before the load
	UsedBefore       int64   `json:"used_memory_before"` // used_memory before the load
	RSS              int64   `json:"rss"`                // after the load
	UsedMemory       int64   `json:"used_memory"`        // after the load
	RSSPerRelation   float64 `json:"rss_per_relation"`   // RSS / Relations
	UsedPerRelation  float64 `json:"used_memory_per_relation"`
	ArrayBytes       int64   `json:"array_bytes,omitempty"` // relcache: bytes of all openhash arrays sent
	ArrayPerRelation float64 `json:"array_bytes_per_relation,omitempty"`

	LoadSamples []LoadSample `json:"load_samples"` // memory as the load went, for the RSS-over-load plot
	SizeBuckets []SizeBucket `json:"size_buckets"` // bytes per relation by list size

	Run    RunReport `json:"run"`
	GC     GCReport  `json:"gc"`
	Errors []string  `json:"first_errors,omitempty"` // the first few errors of the run, "op: error"
}

// LoadSample is the server's memory after some of the load.
type LoadSample struct {
	Users      int     `json:"users"`
	Relations  int64   `json:"relations"`
	RSS        int64   `json:"rss"`
	UsedMemory int64   `json:"used_memory"`
	Seconds    float64 `json:"seconds"`
}

// SizeBucket is the users following Min..Max others. For relcache Bytes is
// the size of their openhash arrays (every user, counted client-side); for
// Redis, MEMORY USAGE of the Sampled users (up to 16), over their relations.
type SizeBucket struct {
	MinFollows       int     `json:"min_follows"`
	MaxFollows       int     `json:"max_follows"`
	Users            int     `json:"users"`
	Relations        int64   `json:"relations"`
	Sampled          int     `json:"sampled"`           // users measured
	SampledRelations int64   `json:"sampled_relations"` // their relations
	Bytes            int64   `json:"bytes"`             // their bytes
	BytesPerRelation float64 `json:"bytes_per_relation"`
}

// RunReport is the mixed workload's outcome.
type RunReport struct {
	// Latency is "intended start" at a fixed rate: coordinated omission
	// corrected as wrk2 does, a request due while its connection still
	// waited for an earlier answer is timed from when the schedule meant to
	// send it (one sent on time, from its send). In open loop it is
	// "service": from send to answer.
	Latency    string     `json:"latency"`
	Seconds    float64    `json:"seconds"`
	Requests   int64      `json:"requests"`
	Throughput float64    `json:"throughput"`
	Errors     int64      `json:"errors"`
	Unsent     int64      `json:"unsent"` // fixed rate: requests scheduled before the end but never sent (the client fell too far behind)
	All        OpReport   `json:"all"`
	Ops        []OpReport `json:"ops"`
	Timeline   []Second   `json:"timeline"`
	Host       *HostCPU   `json:"host_cpu,omitempty"` // the client host's CPU while recording; nil off Linux
}

// OpReport is one operation's share of the run.
type OpReport struct {
	Op         string  `json:"op"`
	Command    string  `json:"command"`
	Weight     int     `json:"weight"`
	Requests   int64   `json:"requests"`
	Throughput float64 `json:"throughput"`
	Errors     int64   `json:"errors"`
	Misses     int64   `json:"misses"` // relcache: nil for a list that should be cached (RELMULTI, RELWHO)
	P50        int64   `json:"p50_us"`
	P99        int64   `json:"p99_us"`
	P999       int64   `json:"p999_us"`
	Max        int64   `json:"max_us"`
	Mean       float64 `json:"mean_us"`
}

// Second is one second of the run, all ops together.
type Second struct {
	Second   int   `json:"second"`
	Requests int64 `json:"requests"`
	P50      int64 `json:"p50_us"`
	P99      int64 `json:"p99_us"`
	// Steal is the host's CPU steal that second, in cores (hostcpu.go).
	Steal float64 `json:"steal_cores"`
}

// GCReport is the server's INFO "# GC" after the run (totals since it
// started); nil fields were absent, as on Redis.
type GCReport struct {
	Count       *float64 `json:"gc_count"`
	CountRun    *float64 `json:"gc_count_run"` // cycles during the mixed run
	PauseTotal  *float64 `json:"gc_pause_total_ms"`
	PauseP50    *float64 `json:"gc_pause_p50_us"`
	PauseP99    *float64 `json:"gc_pause_p99_us"`
	PauseMax    *float64 `json:"gc_pause_max_us"`
	CPUFraction *float64 `json:"gc_cpu_fraction"`
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
			DisableIndentity: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
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

// capGraph is the graph a run loads: users 0..users-1 with their lists.
type capGraph struct {
	users int
	base  uint64
	uids  []uint64 // user i's uid when read from a file; nil: base+i
	each  func(fn func(u int, following []uint64, times []uint32) error) error
}

func (g *capGraph) uid(u int) uint64 {
	if g.uids != nil {
		return g.uids[u]
	}
	return g.base + uint64(u)
}

func capacityGraph(cfg CapacityConfig) (*capGraph, error) {
	if cfg.GraphFile == "" {
		return &capGraph{users: cfg.Users, base: cfg.UIDBase, each: func(fn func(int, []uint64, []uint32) error) error {
			return EachUser(cfg.Seed, cfg.UIDBase, cfg.Users, cfg.Mean, fn)
		}}, nil
	}
	return readGraphFile(cfg.GraphFile)
}

// readGraphFile reads an edge file (`relcache gen-graph`'s format) into
// memory, a list per fromuid in order of first appearance. A uid that only
// appears as touid has no list and is not a user. A repeated edge keeps its
// last time, as an import would; a bad line is an error.
func readGraphFile(path string) (*capGraph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	defer f.Close()
	er := loader.NewEdgeReader(f, loader.EdgeReaderOptions{DefaultTime: 1_600_000_000})
	index := map[uint64]int{}
	var uids []uint64
	var lists [][]loader.Edge
	for {
		e, err := er.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("capacity: read graph %s: %w", path, err)
		}
		i, ok := index[e.From]
		if !ok {
			i = len(uids)
			index[e.From] = i
			uids = append(uids, e.From)
			lists = append(lists, nil)
		}
		lists[i] = append(lists[i], e)
	}
	if len(uids) < 2 {
		return nil, fmt.Errorf("capacity: graph %s has %d users with follows: want at least 2", path, len(uids))
	}
	following := make([][]uint64, len(lists))
	times := make([][]uint32, len(lists))
	for i, es := range lists {
		slices.SortStableFunc(es, func(a, b loader.Edge) int { return cmp.Compare(a.To, b.To) })
		for j, e := range es {
			if j+1 < len(es) && es[j+1].To == e.To {
				continue // the later line wins
			}
			following[i] = append(following[i], e.To)
			times[i] = append(times[i], e.Time)
		}
		lists[i] = nil
	}
	return &capGraph{users: len(uids), uids: uids, each: func(fn func(int, []uint64, []uint32) error) error {
		for u := range following {
			if err := fn(u, following[u], times[u]); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// graphIndex is what the client keeps of the graph for the workload.
type graphIndex struct {
	sample  []uint64 // sampleSlots members of each user's list, evenly spaced
	nsample []uint8  // how many of user u's slots are filled
	pool    []poolList
}

// poolList is a user whose whole list is kept, for reloads.
type poolList struct {
	u         int
	following []uint64
	times     []uint32
}

func (ix *graphIndex) member(u int, rng *rand.Rand) (uint64, bool) {
	n := int(ix.nsample[u])
	if n == 0 {
		return 0, false
	}
	return ix.sample[u*sampleSlots+rng.IntN(n)], true
}

// capLoad is one load of the graph into the server.
type capLoad struct {
	cfg   CapacityConfig
	g     *capGraph
	c     *redis.Client   // where the load goes: the server, or the proxy
	nodes []*redis.Client // the servers, whose memory is summed
	rep   *CapacityReport
	redis bool
	ix    *graphIndex

	buckets [64]SizeBucket
	probes  [64][]redisProbe // Redis: keys measured per bucket
}

type redisProbe struct {
	key string
	n   int
}

// loadChunk is a pipeline of writes for consecutive users.
type loadChunk struct {
	users int
	rels  int64
	cmds  [][]any
}

const (
	chunkCmds  = 500
	chunkBytes = 1 << 20
)

func (l *capLoad) load(ctx context.Context) error {
	g := l.g
	l.ix = &graphIndex{sample: make([]uint64, g.users*sampleSlots), nsample: make([]uint8, g.users)}
	used0, rss0, err := l.memory(ctx)
	if err != nil {
		return fmt.Errorf("capacity: memory before the load: %w", err)
	}
	l.rep.UsedBefore, l.rep.RSSBefore = used0, rss0
	l.rep.LoadSamples = []LoadSample{{RSS: rss0, UsedMemory: used0}}
	start := time.Now()

	chunks := make(chan loadChunk, 4)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		defer close(chunks)
		return l.generate(ectx, chunks)
	})
	eg.Go(func() error { return l.send(ectx, chunks, start) })
	if err := eg.Wait(); err != nil {
		return err
	}
	l.rep.LoadSeconds = time.Since(start).Seconds()
	if err := l.count(ctx); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // let the server settle, as `bench relations` does
	used, rss, err := l.memory(ctx)
	if err != nil {
		return fmt.Errorf("capacity: memory after the load: %w", err)
	}
	r := l.rep
	r.UsedMemory, r.RSS = used, rss
	if r.Relations > 0 {
		r.RSSPerRelation = float64(rss) / float64(r.Relations)
		r.UsedPerRelation = float64(used) / float64(r.Relations)
	}
	if r.RelationsGenerated > 0 {
		r.ArrayPerRelation = float64(r.ArrayBytes) / float64(r.RelationsGenerated)
	}
	return l.sizeBuckets(ctx)
}

// memory sums used_memory and RSS over the nodes.
func (l *capLoad) memory(ctx context.Context) (used, rss int64, err error) {
	for _, n := range l.nodes {
		u, r, err := memory(ctx, n)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", n.Options().Addr, err)
		}
		used += u
		rss += r
	}
	return used, rss, nil
}

// generate walks the graph, keeps the workload's index of it and sends
// chunks of writes.
func (l *capLoad) generate(ctx context.Context, chunks chan<- loadChunk) error {
	g, ix := l.g, l.ix
	stride := max(1, g.users/reloadPool)
	var ch loadChunk
	var chBytes int
	flush := func() error {
		select {
		case chunks <- ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		ch, chBytes = loadChunk{}, 0
		return nil
	}
	err := g.each(func(u int, fs []uint64, ts []uint32) error {
		n := len(fs)
		ns := min(n, sampleSlots)
		for i := range ns {
			ix.sample[u*sampleSlots+i] = fs[i*n/ns]
		}
		ix.nsample[u] = uint8(ns)
		if u%stride == 0 && n > 0 {
			ix.pool = append(ix.pool, poolList{u, slices.Clone(fs), slices.Clone(ts)})
		}
		b := &l.buckets[bits.Len(uint(n))]
		b.Users++
		b.Relations += int64(n)
		k := key(g.uid(u))
		if l.redis {
			if n == 0 {
				// Redis has no empty hash: the user reads as absent
				// there, which is what an empty list answers anyway.
				ch.users++
				return nil
			}
			if bi := bits.Len(uint(n)); len(l.probes[bi]) < redisBucketN {
				l.probes[bi] = append(l.probes[bi], redisProbe{k, n})
			}
			for lo := 0; lo < n; lo += hsetPairs {
				hi := min(lo+hsetPairs, n)
				a := make([]any, 0, 2+2*(hi-lo))
				a = append(a, "HSET", k)
				for i := lo; i < hi; i++ {
					a = append(a, fs[i], ts[i])
				}
				ch.cmds = append(ch.cmds, a)
				chBytes += 20 * (hi - lo)
			}
		} else {
			array, err := openhash.Build(nil, fs, ts, openhash.Options{Seed: uint64(u)})
			if err != nil {
				return fmt.Errorf("capacity: build the list of uid %d: %w", g.uid(u), err)
			}
			b.Bytes += int64(len(array))
			b.Sampled++
			b.SampledRelations += int64(n)
			l.rep.ArrayBytes += int64(len(array))
			ch.cmds = append(ch.cmds, []any{"SET", k, array})
			chBytes += len(array)
		}
		ch.users++
		ch.rels += int64(n)
		l.rep.RelationsGenerated += int64(n)
		// A chunk ends at every 5% of the users too, where send samples
		// the server's memory.
		if len(ch.cmds) >= chunkCmds || chBytes >= chunkBytes || (u+1)*20/g.users != u*20/g.users {
			return flush()
		}
		return nil
	})
	if err == nil && ch.users > 0 {
		err = flush()
	}
	return err
}

// send writes the chunks in order on one connection, sampling the server's
// memory every 5% of the users.
func (l *capLoad) send(ctx context.Context, chunks <-chan loadChunk, start time.Time) error {
	total := l.g.users
	done, mark := 0, 1
	var rels int64
	for ch := range chunks {
		if len(ch.cmds) > 0 {
			p := l.c.Pipeline()
			for _, a := range ch.cmds {
				p.Do(ctx, a...)
			}
			if _, err := p.Exec(ctx); err != nil {
				return fmt.Errorf("capacity: load users %d..%d: %w", done, done+ch.users-1, err)
			}
		}
		done += ch.users
		rels += ch.rels
		if l.cfg.Progress != nil {
			l.cfg.Progress("load", done, total)
		}
		if done*20 >= mark*total {
			used, rss, err := l.memory(ctx)
			if err != nil {
				return fmt.Errorf("capacity: memory during the load: %w", err)
			}
			l.rep.LoadSamples = append(l.rep.LoadSamples, LoadSample{Users: done, Relations: rels,
				RSS: rss, UsedMemory: used, Seconds: time.Since(start).Seconds()})
			for done*20 >= mark*total {
				mark++
			}
		}
	}
	return ctx.Err()
}

// count asks the server how many relations it holds, list by list: the
// relations loaded, whatever the client believes it sent.
func (l *capLoad) count(ctx context.Context) error {
	cmd := "RELCARD"
	if l.redis {
		cmd = "HLEN"
	}
	const chunk = 1000
	for lo := 0; lo < l.g.users; lo += chunk {
		p := l.c.Pipeline()
		cmds := make([]*redis.Cmd, 0, chunk)
		for u := lo; u < min(lo+chunk, l.g.users); u++ {
			cmds = append(cmds, p.Do(ctx, cmd, key(l.g.uid(u))))
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("capacity: count relations with %s: %w", cmd, err)
		}
		for i, c := range cmds {
			n, err := c.Int64()
			switch {
			case errors.Is(err, redis.Nil), l.redis && err == nil && n == 0:
				l.rep.MissingLists++
			case err != nil:
				return fmt.Errorf("capacity: %s %s: %w", cmd, key(l.g.uid(lo+i)), err)
			default:
				l.rep.Relations += n
			}
		}
	}
	if l.redis {
		// Redis has no empty hash, so HLEN cannot tell an empty list
		// from a missing one; the users who follow no one were empty.
		l.rep.MissingLists -= l.buckets[0].Users
	}
	return nil
}

// sizeBuckets fills the report's bytes per relation by list size; for Redis
// it measures the sampled keys with MEMORY USAGE.
func (l *capLoad) sizeBuckets(ctx context.Context) error {
	for i := range l.buckets {
		b := &l.buckets[i]
		if b.Users == 0 {
			continue
		}
		if i == 0 {
			b.MinFollows, b.MaxFollows = 0, 0
		} else {
			b.MinFollows, b.MaxFollows = 1<<(i-1), 1<<i-1
		}
		if l.redis {
			for _, pr := range l.probes[i] {
				n, err := l.c.MemoryUsage(ctx, pr.key, 0).Result()
				if err != nil {
					return fmt.Errorf("capacity: MEMORY USAGE %s: %w", pr.key, err)
				}
				b.Sampled++
				b.SampledRelations += int64(pr.n)
				b.Bytes += n
			}
		}
		if b.SampledRelations > 0 {
			b.BytesPerRelation = float64(b.Bytes) / float64(b.SampledRelations)
		}
		l.rep.SizeBuckets = append(l.rep.SizeBuckets, *b)
	}
	return nil
}

// workload is the mixed run against a loaded server.
type workload struct {
	cfg   CapacityConfig
	g     *capGraph
	ix    *graphIndex
	redis bool
}

func (w *workload) randomUser(rng *rand.Rand) uint64 { return w.g.uid(rng.IntN(w.g.users)) }

// probe is uid i of a batch against u's list: even positions are members of
// it when u follows anyone, odd ones random users.
func (w *workload) probe(rng *rand.Rand, u, i int) uint64 {
	if i%2 == 0 {
		if m, ok := w.ix.member(u, rng); ok {
			return m
		}
	}
	return w.randomUser(rng)
}

// prepare encodes one op of the mix into r.
func (w *workload) prepare(op string, rng *rand.Rand, r *request) error {
	r.reset()
	u := rng.IntN(w.g.users)
	a := w.g.uid(u)
	switch op {
	case OpRelcheck:
		if w.redis {
			for i := range relcheckBatch {
				b := w.probe(rng, u, i)
				r.command(3, "HEXISTS")
				r.key(a)
				r.uid(b)
				r.command(3, "HEXISTS")
				r.key(b)
				r.uid(a)
			}
			return nil
		}
		r.command(2+relcheckBatch, "RELCHECK")
		r.uid(a)
		for i := range relcheckBatch {
			r.uid(w.probe(rng, u, i))
		}
	case OpRelmulti:
		if w.redis {
			r.command(2+relmultiBatch, "HMGET")
		} else {
			r.command(2+relmultiBatch, "RELMULTI")
			r.nilIsMiss = true
		}
		r.key(a)
		for i := range relmultiBatch {
			r.uid(w.probe(rng, u, i))
		}
	case OpRelwho:
		x := w.probe(rng, u, 0)
		if w.redis {
			r.command(2, "HKEYS")
			r.key(a)
			r.then = r.membersFollow(x)
			return nil
		}
		r.command(3, "RELWHO")
		r.uid(a)
		r.uid(x)
		r.nilIsMiss = true
	case OpHget:
		r.command(3, "HGET")
		r.key(a)
		r.uid(w.probe(rng, u, rng.IntN(2)))
	case OpReload:
		if len(w.ix.pool) == 0 {
			return errors.New("capacity: reload: no user follows anyone")
		}
		pl := w.ix.pool[rng.IntN(len(w.ix.pool))]
		k := w.g.uid(pl.u)
		if w.redis {
			r.command(1, "MULTI")
			r.command(2, "DEL")
			r.key(k)
			for lo := 0; lo < len(pl.following); lo += hsetPairs {
				hi := min(lo+hsetPairs, len(pl.following))
				r.command(2+2*(hi-lo), "HSET")
				r.key(k)
				for i := lo; i < hi; i++ {
					r.uid(pl.following[i])
					r.uid(uint64(pl.times[i]))
				}
			}
			r.command(1, "EXEC")
			return nil
		}
		var err error
		r.array, err = openhash.Build(r.array[:0], pl.following, pl.times, openhash.Options{Seed: rng.Uint64()})
		if err != nil {
			return fmt.Errorf("capacity: build the list of uid %d: %w", k, err)
		}
		r.command(3, "SET")
		r.key(k)
		r.out = redcon.AppendBulk(r.out, r.array)
	case OpFollow:
		b := w.randomUser(rng)
		for b == a {
			b = w.randomUser(rng)
		}
		t := uint64(time.Now().Unix())
		switch {
		case w.redis:
			r.command(4, "HSET")
			r.key(a)
		case w.cfg.Write == "follow":
			r.command(4, "FOLLOW")
			r.uid(a)
		default:
			r.command(6, "RELADD")
			r.key(a)
			r.out = redcon.AppendBulkString(r.out, "XX")
			r.out = redcon.AppendBulkString(r.out, "TIMES")
		}
		r.uid(b)
		r.uid(t)
	default:
		return fmt.Errorf("capacity: unknown op %q", op)
	}
	return nil
}

// opCommand names what an op sends, for the report.
func opCommand(op string, redis bool, write string) string {
	switch {
	case op == OpRelcheck && redis:
		return fmt.Sprintf("%d× HEXISTS a.following b, b.following a (pipeline)", relcheckBatch)
	case op == OpRelcheck:
		return fmt.Sprintf("RELCHECK a b1..b%d", relcheckBatch)
	case op == OpRelmulti && redis:
		return fmt.Sprintf("HMGET key %d uids", relmultiBatch)
	case op == OpRelmulti:
		return fmt.Sprintf("RELMULTI key %d uids", relmultiBatch)
	case op == OpRelwho && redis:
		return "HKEYS a.following + HEXISTS m.following x per member (pipeline)"
	case op == OpRelwho:
		return "RELWHO a x"
	case op == OpHget:
		return "HGET key uid"
	case op == OpReload && redis:
		return "MULTI DEL key, HSET key ... EXEC"
	case op == OpReload:
		return "SET key <client-built array>"
	case op == OpFollow && redis:
		return "HSET key uid time"
	case op == OpFollow && write == "follow":
		return "FOLLOW a b time"
	case op == OpFollow:
		return "RELADD key XX TIMES uid time"
	}
	return op
}

// workerStats is one connection's measurements; merged under runState.mu.
type workerStats struct {
	hist     []*hdrhistogram.Histogram // per op of the mix
	errors   []int64
	misses   []int64
	unsent   int64
	sec      int // second of the run cur covers
	cur      *hdrhistogram.Histogram
	firstErr []string
}

// runState is what the workers share.
type runState struct {
	mu        sync.Mutex // guards timeline, firstErrs
	timeline  []*hdrhistogram.Histogram
	firstErrs []string
}

const shownErrors = 5

func (rs *runState) flushSecond(ws *workerStats) {
	if ws.cur.TotalCount() == 0 {
		return
	}
	rs.mu.Lock()
	for len(rs.timeline) <= ws.sec {
		rs.timeline = append(rs.timeline, newHist())
	}
	rs.timeline[ws.sec].Merge(ws.cur)
	rs.mu.Unlock()
	ws.cur.Reset()
}

func (w *workload) run(ctx context.Context, rep *CapacityReport) error {
	cfg := w.cfg
	cum := make([]int, len(cfg.Mix))
	total := 0
	for i, e := range cfg.Mix {
		total += e.Weight
		cum[i] = total
	}
	pick := func(rng *rand.Rand) int {
		r := rng.IntN(total)
		i, _ := slices.BinarySearch(cum, r+1)
		return i
	}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Conns) / cfg.Rate * float64(time.Second))
	}
	rs := &runState{}
	stats := make([]*workerStats, cfg.Conns)
	conns := make([]*wireConn, cfg.Conns)
	for i := range conns {
		wc, err := dialWire(ctx, cfg.target())
		if err != nil {
			return fmt.Errorf("capacity: connect to %s: %w", cfg.target(), err)
		}
		conns[i] = wc
		defer func() { conns[i].close() }()
	}
	begin := time.Now()
	start := begin.Add(cfg.Warmup) // measured from here
	end := start.Add(cfg.Duration)
	// A fixed-rate client that fell behind sends its backlog after the end,
	// but not for ever: what is still unsent then is counted as unsent.
	hardStop := end.Add(max(5*time.Second, cfg.Duration/2))
	secs := int((cfg.Warmup + cfg.Duration).Round(time.Second) / time.Second)
	if cfg.Progress != nil {
		cfg.Progress("run", 0, secs)
		defer cfg.Progress("run", secs, secs)
	}
	// Deferred calls run last first: cancel, wait for the ticker, then
	// the final Progress, so Progress is never called concurrently.
	var progress sync.WaitGroup
	defer progress.Wait()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Progress != nil {
		progress.Add(1)
		go func() {
			defer progress.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case now := <-t.C:
					cfg.Progress("run", min(int(now.Sub(begin)/time.Second), secs), secs)
				}
			}
		}()
	}
	cpuSamples := sampleCPU(runCtx, start)
	var wg sync.WaitGroup
	var prepErr error
	var prepOnce sync.Once
	for i := range cfg.Conns {
		ws := &workerStats{errors: make([]int64, len(cfg.Mix)), misses: make([]int64, len(cfg.Mix)), cur: newHist()}
		for range cfg.Mix {
			ws.hist = append(ws.hist, newHist())
		}
		stats[i] = ws
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rs.flushSecond(ws)
			// Cancelling the run unblocks a worker waiting on its
			// connection; the deferred close above is the normal end.
			watch := func(wc *wireConn) func() bool {
				return context.AfterFunc(runCtx, func() { wc.close() })
			}
			stop := watch(conns[i])
			defer func() { stop() }()
			rng := rand.New(rand.NewPCG(cfg.Seed+uint64(i), 0xcafe))
			var req request
			// Connections start staggered across one interval, so a
			// fixed rate is spread evenly rather than in bursts.
			next := begin.Add(interval * time.Duration(i) / time.Duration(cfg.Conns))
			for runCtx.Err() == nil {
				now := time.Now()
				if interval > 0 {
					if !next.Before(end) {
						return
					}
					if now.After(hardStop) {
						ws.unsent += int64(end.Sub(next)/interval) + 1
						return
					}
				} else if !now.Before(end) {
					return
				}
				op := pick(rng)
				if err := w.prepare(cfg.Mix[op].Op, rng, &req); err != nil {
					prepOnce.Do(func() { prepErr = err })
					cancel()
					return
				}
				began := time.Now()
				slot := began // when the schedule meant it to go
				if interval > 0 {
					slot = next
					if d := next.Sub(began); d > 0 {
						// Idle until the slot: timed from the
						// send, since a Go timer wakes up to a
						// millisecond late and that delay is
						// the client's, not the server's.
						timer := time.NewTimer(d)
						select {
						case <-timer.C:
						case <-runCtx.Done():
							timer.Stop()
							return
						}
						began = time.Now()
					} else {
						// Still busy with an earlier answer when
						// this one was due: wrk2's correction,
						// the clock starts when the schedule
						// meant to send, so a stall is charged
						// to every request it delayed.
						began = next
					}
					next = next.Add(interval)
				}
				miss, err := conns[i].do(&req, requestTimeout)
				took := time.Since(began).Microseconds()
				if err != nil {
					if runCtx.Err() != nil {
						return
					}
					ws.errors[op]++
					if len(ws.firstErr) < shownErrors {
						ws.firstErr = append(ws.firstErr, cfg.Mix[op].Op+": "+err.Error())
					}
					if broken(err) {
						// Out of step with the server: start over
						// on a new connection, as a pool would.
						stop()
						conns[i].close()
						wc, err := dialWire(runCtx, cfg.target())
						if err != nil {
							if runCtx.Err() == nil && len(ws.firstErr) < shownErrors {
								ws.firstErr = append(ws.firstErr, "reconnect: "+err.Error())
							}
							return
						}
						conns[i], stop = wc, watch(wc)
					}
					continue
				}
				if slot.Before(start) {
					continue // warming up
				}
				if miss {
					ws.misses[op]++
				}
				took = min(max(took, 0), maxLatencyUS)
				ws.hist[op].RecordValue(took)
				if sec := int(slot.Sub(start) / time.Second); sec != ws.sec {
					rs.flushSecond(ws)
					ws.sec = sec
				}
				ws.cur.RecordValue(took)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	if prepErr != nil {
		return prepErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	run := &rep.Run
	run.Latency = "service"
	if interval > 0 {
		run.Latency = "intended start"
	}
	run.Seconds = elapsed.Seconds()
	all := newHist()
	var allErrs, allMisses int64
	for i, e := range cfg.Mix {
		h := newHist()
		var errs, misses int64
		for _, ws := range stats {
			h.Merge(ws.hist[i])
			errs += ws.errors[i]
			misses += ws.misses[i]
		}
		all.Merge(h)
		allErrs += errs
		allMisses += misses
		run.Ops = append(run.Ops, opReport(e.Op, opCommand(e.Op, w.redis, cfg.Write), e.Weight, h, errs, misses, elapsed))
	}
	for _, ws := range stats {
		run.Unsent += ws.unsent
		for _, e := range ws.firstErr {
			if len(rep.Errors) < shownErrors {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	run.All = opReport("all", "", total, all, allErrs, allMisses, elapsed)
	run.Requests = run.All.Requests
	run.Throughput = run.All.Throughput
	run.Errors = allErrs
	for s, h := range rs.timeline {
		run.Timeline = append(run.Timeline, Second{Second: s, Requests: h.TotalCount(),
			P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99)})
	}
	run.Host = hostCPU(cpuSamples(), run.Timeline)
	return nil
}

func opReport(op, command string, weight int, h *hdrhistogram.Histogram, errs, misses int64, elapsed time.Duration) OpReport {
	r := result{h: h}
	return OpReport{Op: op, Command: command, Weight: weight, Requests: h.TotalCount(),
		Throughput: float64(h.TotalCount()) / elapsed.Seconds(), Errors: errs, Misses: misses,
		P50: r.at(0.5), P99: r.at(0.99), P999: r.at(0.999), Max: h.Max(), Mean: math.Round(h.Mean()*10) / 10}
}

// gcReport reads INFO's "# GC" section before and after the run.
func gcReport(before, after string) GCReport {
	f := func(info, name string) *float64 {
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					return &x
				}
			}
		}
		return nil
	}
	r := GCReport{
		Count:       f(after, "gc_count"),
		PauseTotal:  f(after, "gc_pause_total_ms"),
		PauseP50:    f(after, "gc_pause_p50_us"),
		PauseP99:    f(after, "gc_pause_p99_us"),
		PauseMax:    f(after, "gc_pause_max_us"),
		CPUFraction: f(after, "gc_cpu_fraction"),
	}
	if c0 := f(before, "gc_count"); c0 != nil && r.Count != nil {
		d := *r.Count - *c0
		r.CountRun = &d
	}
	return r
}

// clusterGC folds the nodes' GC figures into one: counts and pause time
// add up, the rest is the worst node's, since a client waits on the slowest
// node its batch touches. A figure one node lacks is missing.
func clusterGC(nodes []GCReport) GCReport {
	sum := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := *a + *b
		return &v
	}
	most := func(a, b *float64) *float64 {
		if a == nil || b == nil {
			return nil
		}
		v := max(*a, *b)
		return &v
	}
	var r GCReport
	for i, n := range nodes {
		if i == 0 {
			r = n
			continue
		}
		r = GCReport{Count: sum(r.Count, n.Count), CountRun: sum(r.CountRun, n.CountRun),
			PauseTotal: sum(r.PauseTotal, n.PauseTotal), PauseP50: most(r.PauseP50, n.PauseP50),
			PauseP99: most(r.PauseP99, n.PauseP99), PauseMax: most(r.PauseMax, n.PauseMax),
			CPUFraction: most(r.CPUFraction, n.CPUFraction)}
	}
	return r
}

// WriteMarkdown writes the report as the Markdown tables the other bench
// commands print.
func (r *CapacityReport) WriteMarkdown(w io.Writer) error {
	cfg := r.Config
	us := func(v int64) string { return time.Duration(v * int64(time.Microsecond)).String() }
	opt := func(v *float64, digits int, unit string) string {
		if v == nil {
			return "n/a"
		}
		return strconv.FormatFloat(*v, 'f', digits, 64) + unit
	}
	var b strings.Builder
	graph := fmt.Sprintf("generated: %d users, mean %d, seed %d, uid base %d", r.Users, cfg.Mean, cfg.Seed, cfg.UIDBase)
	if cfg.GraphFile != "" {
		graph = fmt.Sprintf("read from %s: %d users", cfg.GraphFile, r.Users)
	}
	where := "at " + cfg.Addr
	if cfg.Proxy != "" {
		where = fmt.Sprintf("through the proxy at %s to %d nodes (%s); memory summed over the nodes", cfg.Proxy, len(cfg.nodes()), cfg.Addr)
	}
	fmt.Fprintf(&b, "## Capacity: %s %s, %s UTC\n\ngraph %s; %d relations sent, %d counted back (RELCARD/HLEN), %d lists missing\n\n",
		cfg.Target, where, r.Date.Format("2006-01-02 15:04"), graph, r.RelationsGenerated, r.Relations, r.MissingLists)

	fmt.Fprintf(&b, "### Memory after the load\n\n| target | users | relations | load time | RSS | used_memory | RSS / relation | used_memory / relation | array bytes / relation |\n|---|---|---|---|---|---|---|---|---|\n")
	arr := "n/a"
	if cfg.Target == "relcache" {
		arr = fmt.Sprintf("%.1f B", r.ArrayPerRelation)
	}
	fmt.Fprintf(&b, "| %s | %d | %d | %.1f s | %s | %s | %.1f B | %.1f B | %s |\n\n",
		cfg.Target, r.Users, r.Relations, r.LoadSeconds, mib(r.RSS), mib(r.UsedMemory), r.RSSPerRelation, r.UsedPerRelation, arr)

	run := r.Run
	mode := "open loop (each connection sends when its last answer arrives; latency is service time)"
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("fixed rate %.0f requests/s (a request due while its connection was busy is timed from its intended start: coordinated omission corrected)", cfg.Rate)
	}
	if cfg.Warmup > 0 {
		mode += fmt.Sprintf(", after %v of warm-up not recorded", cfg.Warmup)
	}
	fmt.Fprintf(&b, "### Mixed workload: %v on %d connections, %s\n\n| op | command | weight | requests | requests/s | errors | misses | p50 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
		cfg.Duration, cfg.Conns, mode)
	for _, o := range append(slices.Clone(run.Ops), run.All) {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.0f | %d | %d | %s | %s | %s | %s |\n", o.Op, o.Command, o.Weight,
			o.Requests, o.Throughput, o.Errors, o.Misses, us(o.P50), us(o.P99), us(o.P999), us(o.Max))
	}
	fmt.Fprintf(&b, "\nerrors: %d", run.Errors)
	if run.Unsent > 0 {
		fmt.Fprintf(&b, "; unsent: %d requests the client could not send on schedule", run.Unsent)
	}
	b.WriteString("\n")
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	if h := run.Host; h != nil {
		fmt.Fprintf(&b, "\nclient host CPU while recording: %d cores, %.2f busy, %.2f stolen by the hypervisor (worst second %.2f)\n",
			h.Cores, h.Busy, h.Steal, h.StealMaxSecond)
	}

	g := r.GC
	gcWhat := "totals since the server started"
	if n := len(cfg.nodes()); cfg.Proxy != "" && n > 1 {
		gcWhat = fmt.Sprintf("since the servers started: counts summed over %d nodes, pauses and GC CPU the worst node's", n)
	}
	fmt.Fprintf(&b, "\n### Server GC (INFO gc, %s)\n\n", gcWhat)
	fmt.Fprintf(&b, "| gc_count | cycles during run | gc_pause_total_ms | pause p50 | pause p99 | pause max | gc_cpu_fraction |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", opt(g.Count, 0, ""), opt(g.CountRun, 0, ""), opt(g.PauseTotal, 3, ""),
		opt(g.PauseP50, 1, " µs"), opt(g.PauseP99, 1, " µs"), opt(g.PauseMax, 1, " µs"), opt(g.CPUFraction, 3, ""))
	_, err := io.WriteString(w, b.String())
	return err
}
