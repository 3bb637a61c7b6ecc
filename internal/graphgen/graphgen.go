// Package graphgen draws synthetic follow graphs shaped like real ones
// (power-law follow counts, mostly popular followees) from a seed, so a
// graph is named by its parameters: `relcache gen-graph` writes them as edge
// files, and the benchmarks (package bench) load them. It is a package of
// its own so the server binary links the generator without the benchmarks.
package graphgen

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Graph is a synthetic follow graph. User i has uid Base+i: with the default
// base of 1,000,000,000 uids have ten digits, like Weibo's (the width
// decides both Redis's and relcache's memory per relation); with base 0 the
// keys are "<i>.following" and redis-benchmark's __rand_int__ (with -r
// Users) hits them.
type Graph struct {
	Base      uint64
	Spread    bool       // uids are IDs{Spread: true}'s, not Base+i
	Following [][]uint64 // Following[i] lists the uids user i follows, no repeats
	Times     [][]uint32 // follow times, parallel to Following
}

// UID is the uid of user i.
func (g *Graph) UID(i int) uint64 { return g.IDs().UID(uint64(i)) }

// IDs is the graph's uid map.
func (g *Graph) IDs() IDs { return IDs{Base: g.Base, Spread: g.Spread} }

// New draws a graph of n users whose follow counts follow a power law
// with the given mean (a Pareto draw, capped at n-1), following mostly
// popular users (a Zipf draw over the user ids), as real follow graphs do.
func New(seed, base uint64, n, mean int) *Graph {
	return NewIDs(seed, IDs{Base: base}, n, mean)
}

// NewIDs is New with users named by ids.
func NewIDs(seed uint64, ids IDs, n, mean int) *Graph {
	g := &Graph{Base: ids.Base, Spread: ids.Spread, Following: make([][]uint64, n), Times: make([][]uint32, n)}
	EachUserIDs(seed, ids, n, mean, func(u int, following []uint64, times []uint32) error {
		g.Following[u], g.Times[u] = slices.Clone(following), slices.Clone(times)
		return nil
	})
	return g
}

// EachUser draws the graph New(seed, base, n, mean) builds, user by
// user: fn gets user u's follows and their times, in slices reused for the
// next user. It holds one user's list at a time, so it streams graphs too big
// to keep (`relcache gen-graph`). An error from fn stops it and is returned.
func EachUser(seed, base uint64, n, mean int, fn func(u int, following []uint64, times []uint32) error) error {
	return EachUserIDs(seed, IDs{Base: base}, n, mean, fn)
}

// EachUserIDs is EachUser with users named by ids: the same draws, so the
// same graph under other names.
func EachUserIDs(seed uint64, ids IDs, n, mean int, fn func(u int, following []uint64, times []uint32) error) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	popular := rand.NewZipf(rng, 1.05, 8, uint64(n-1))
	// Pareto with shape 2 (x = xm/sqrt(U)) has mean 2·xm, so xm = mean/2
	// gives the wanted mean before capping at n-1.
	xm := float64(mean) / 2
	seen := make(map[uint64]bool)
	var fs []uint64
	var ts []uint32
	for u := range n {
		k := int(xm / math.Sqrt(1-rng.Float64()))
		k = min(max(k, 1), n-1)
		clear(seen)
		fs = fs[:0]
		for len(fs) < k {
			var v uint64
			if rng.IntN(2) == 0 {
				v = popular.Uint64()
			} else {
				v = rng.Uint64N(uint64(n))
			}
			if v == uint64(u) || seen[v] {
				continue
			}
			seen[v] = true
			fs = append(fs, ids.UID(v))
		}
		ts = slices.Grow(ts[:0], k)[:k]
		for i := range ts {
			ts[i] = 1_600_000_000 + uint32(rng.IntN(100_000_000))
		}
		if err := fn(u, fs, ts); err != nil {
			return err
		}
	}
	return nil
}

// Relations is the total number of follow edges.
func (g *Graph) Relations() int {
	n := 0
	for _, f := range g.Following {
		n += len(f)
	}
	return n
}

// Probe returns count uids for a membership batch against u's list: about
// half members, half random users.
func (g *Graph) Probe(rng *rand.Rand, u int, count int) []uint64 {
	out := make([]uint64, count)
	fs := g.Following[u]
	for i := range out {
		if i%2 == 0 && len(fs) > 0 {
			out[i] = fs[rng.IntN(len(fs))]
		} else {
			out[i] = g.UID(rng.IntN(len(g.Following)))
		}
	}
	return out
}

// WithAtLeast returns the users following at least k others, for probes that
// need a big list.
func (g *Graph) WithAtLeast(k int) []int {
	var out []int
	for u, f := range g.Following {
		if len(f) >= k {
			out = append(out, u)
		}
	}
	return slices.Clip(out)
}

// The spread uid map: user i gets spreadLo + (i*spreadMul mod spreadN), a
// bijection of [0, spreadN) onto the ten-digit uids [10^9, 10^10) because
// spreadMul is coprime with spreadN (= 2^7·3^2·5^9; spreadMul is odd and
// divisible by neither 3 nor 5). Consecutive users land far apart, so a
// list's uids cover the whole ten-digit range, as real uids do, while the
// graph's shape (who follows whom, and when) is the unspread graph's.
const (
	spreadLo  = 1_000_000_000
	spreadN   = 9_000_000_000
	spreadMul = 5_562_305_899 // about spreadN times the golden ratio's fraction
	spreadInv = 2_783_884_099 // spreadMul * spreadInv = 1 mod spreadN
	// MaxSpreadUsers is the most users a spread map numbers.
	MaxSpreadUsers = spreadN
)

// IDs names users: Base+i, or with Spread, ten-digit uids spread over
// [10^9, 10^10) by an invertible map (Base is then unused). Narrow uids
// (Base 10^9 and fewer than 3.3 billion users: all below 2^32) fit 4-byte
// slots; spread ones need 5, as real ten-digit uids do.
type IDs struct {
	Base   uint64
	Spread bool
}

// UID is the uid of user i; i < MaxSpreadUsers when Spread.
func (m IDs) UID(i uint64) uint64 {
	if !m.Spread {
		return m.Base + i
	}
	hi, lo := bits.Mul64(i, spreadMul)
	_, r := bits.Div64(hi%spreadN, lo, spreadN)
	return spreadLo + r
}

// Index inverts UID: the user whose uid is uid, and whether there is one
// (with Spread, every uid in [10^9, 10^10) has one).
func (m IDs) Index(uid uint64) (uint64, bool) {
	if !m.Spread {
		return uid - m.Base, uid >= m.Base
	}
	if uid < spreadLo || uid-spreadLo >= spreadN {
		return 0, false
	}
	hi, lo := bits.Mul64(uid-spreadLo, spreadInv)
	_, r := bits.Div64(hi%spreadN, lo, spreadN)
	return r, true
}
