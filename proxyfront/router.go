package proxyfront

import (
	"strconv"

	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/tlsconf"
	"github.com/relcache/relcache/shard"
)

// topology is one config made routable: the pools with their
// distributions and backends. It is immutable; a reload builds a new one
// and swaps it in, and a command routes all its parts with the one it
// started with.
type topology struct {
	cfg      *Config
	hash     shard.HashFunc
	keys     *shard.KeyPattern
	routeUID bool
	primary  *poolRoute
	reads    []*poolRoute // read order: read_pool first
	replicas []*poolRoute // the pools other than the primary
	all      []*poolRoute
	tls      map[string]*tlsconf.Client // by pool name, the pools with tls = true
}

type poolRoute struct {
	name     string
	dist     shard.Distribution
	backends []*backend
}

// newTopology builds the routing for cfg, reusing old's backends (and their
// open connections) where name, address and settings are unchanged. It
// returns old's backends that are no longer used, for the caller to close.
func newTopology(cfg *Config, old *topology, m *metrics, log *zap.Logger) (*topology, []*backend, error) {
	h, err := shard.HashByName(cfg.Hash)
	if err != nil {
		return nil, nil, err
	}
	t := &topology{cfg: cfg, hash: h, keys: cfg.KeyPatternParsed, routeUID: cfg.RouteBy == "uid"}
	if t.tls, err = poolTLS(cfg); err != nil {
		return nil, nil, err
	}
	reuse := map[string]*backend{}
	if old != nil {
		for _, p := range old.all {
			for _, b := range p.backends {
				reuse[p.name+"\x00"+b.name] = b
			}
		}
	}
	byName := map[string]*poolRoute{}
	for i := range cfg.Pools {
		pc := &cfg.Pools[i]
		d, err := shard.NewDistribution(cfg.Distribution, pc.Backends)
		if err != nil {
			return nil, nil, err
		}
		pr := &poolRoute{name: pc.Name, dist: d}
		st := poolSettings(pc)
		for _, s := range pc.Backends {
			id := pc.Name + "\x00" + s.Name
			if b, ok := reuse[id]; ok && b.sameAs(s.Name, s.Addr, st) {
				delete(reuse, id)
				pr.backends = append(pr.backends, b)
				continue
			}
			pr.backends = append(pr.backends, newBackend(pc.Name, s.Name, s.Addr, st, m, log))
		}
		byName[pc.Name] = pr
		t.all = append(t.all, pr)
		if pc.Role == "primary" {
			t.primary = pr
		} else {
			t.replicas = append(t.replicas, pr)
		}
	}
	for _, pc := range cfg.ReadOrder() {
		t.reads = append(t.reads, byName[pc.Name])
	}
	var dropped []*backend
	for _, b := range reuse {
		dropped = append(dropped, b)
	}
	return t, dropped, nil
}

// hashOf is the ring position of key: its hash tag's text when it has one,
// else (route_by = "uid") the decimal uid of a key the pattern parses, else
// the whole key as twemproxy hashes it. scratch is a caller's buffer of at
// least 20 bytes, so the uid text needs no allocation.
func (t *topology) hashOf(key, scratch []byte) uint32 {
	if tag := t.cfg.HashTag; tag != "" {
		if part := shard.HashTag(key, tag); len(part) != len(key) {
			return t.hash(part)
		}
	}
	if t.routeUID {
		if uid, _, ok := t.keys.Parse(key); ok {
			return t.hash(strconv.AppendUint(scratch[:0], uid, 10))
		}
	}
	return t.hash(key)
}

// backendFor is the backend of pool p that owns hash h.
func (p *poolRoute) backendFor(h uint32) *backend { return p.backends[p.dist.Index(h)] }

// close stops every backend (at shutdown).
func (t *topology) close() {
	for _, p := range t.all {
		for _, b := range p.backends {
			b.close()
		}
	}
}
