package bench

import (
	"cmp"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/relcache/relcache/internal/graphgen"
	"github.com/relcache/relcache/loader"
)

// capGraph is the graph a run loads: users 0..users-1 with their lists.
type capGraph struct {
	users int
	ids   graphgen.IDs
	uids  []uint64 // user i's uid when read from a file; nil: ids.UID(i)
	each  func(fn func(u int, following []uint64, times []uint32) error) error
}

func (g *capGraph) uid(u int) uint64 {
	if g.uids != nil {
		return g.uids[u]
	}
	return g.ids.UID(uint64(u))
}

func capacityGraph(cfg CapacityConfig) (*capGraph, error) {
	if cfg.GraphFile == "" {
		ids := graphgen.IDs{Base: cfg.UIDBase, Spread: cfg.UIDSpread}
		return &capGraph{users: cfg.Users, ids: ids, each: func(fn func(int, []uint64, []uint32) error) error {
			return graphgen.EachUserIDs(cfg.Seed, ids, cfg.Users, cfg.Mean, fn)
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
