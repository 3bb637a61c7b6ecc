package shard

import (
	"crypto/md5"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Ketama is twemproxy's "distribution: ketama", point for point, so keys land
// where a twemproxy pool over the same servers puts them. Each server gets
// points on a ring of uint32 in proportion to its weight (160 for an average
// server); a hash belongs to the first point at or after it, wrapping past
// the top. Adding or removing a server moves only the keys next to its
// points.
//
// Only the key's hash varies with twemproxy's "hash:" setting; the points are
// always placed with MD5 of "name-i", four points per digest.
type Ketama struct {
	points []ketamaPoint // sorted by value
	// values are the points' values alone, for Index's search: a quarter
	// of the memory of points to walk, on every request the proxy routes.
	values []uint32
}

type ketamaPoint struct {
	value  uint32
	server int
}

const (
	ketamaPointsPerServer = 160
	ketamaPointsPerHash   = 4 // one per 32-bit quarter of an MD5 digest
	// ketamaMaxHostLen is the size of twemproxy's buffer for "name-i",
	// including the terminating NUL. A longer string is truncated there and
	// then hashed with bytes past the buffer, so no placement can match.
	ketamaMaxHostLen = 86
)

// NewKetama builds the ring for servers, all assumed live (twemproxy with
// auto_eject_hosts: false). Index returns positions in servers.
func NewKetama(servers []Server) (*Ketama, error) {
	// Only validation needs the order: a point's value does not depend on
	// where its server sorts.
	if _, err := twemproxyOrder("ketama", servers); err != nil {
		return nil, err
	}
	var total uint64
	for _, s := range servers {
		total += uint64(s.Weight)
	}
	k := &Ketama{}
	var buf []byte
	for i, s := range servers {
		n := ketamaPoints(s.Weight, total, len(servers))
		for j := 0; j < n/ketamaPointsPerHash; j++ {
			buf = strconv.AppendUint(append(append(buf[:0], s.Name...), '-'), uint64(j), 10)
			if len(buf) >= ketamaMaxHostLen {
				return nil, fmt.Errorf("ketama: server %d name %q is too long: twemproxy hashes at most %d bytes of %q", i, s.Name, ketamaMaxHostLen-1, buf)
			}
			d := md5.Sum(buf)
			for x := 0; x < ketamaPointsPerHash; x++ {
				k.points = append(k.points, ketamaPoint{le32(d[4*x:]), i})
			}
		}
	}
	// twemproxy uses qsort, which leaves equal values in no particular
	// order; breaking ties by server index at least makes ours stable.
	slices.SortFunc(k.points, func(a, b ketamaPoint) int {
		if a.value != b.value {
			if a.value < b.value {
				return -1
			}
			return 1
		}
		return a.server - b.server
	})
	k.values = make([]uint32, len(k.points))
	for i, p := range k.points {
		k.values[i] = p.value
	}
	return k, nil
}

// ketamaPoints returns how many points a server of weight w gets among n
// servers of total weight total. It repeats twemproxy's float32 arithmetic
// step by step (the explicit conversions stop Go from fusing operations),
// because a share that lands just below a multiple of 4 in float32 rounds
// down to 4 fewer points there, and so must here.
func ketamaPoints(w int, total uint64, n int) int {
	pct := float32(w) / float32(total)
	x := float32(pct * ketamaPointsPerServer)
	x = float32(x / ketamaPointsPerHash)
	x = float32(x * float32(n))
	x = float32(float64(x) + 0.0000000001) // twemproxy adds this double, then casts back
	return int(math.Floor(float64(x))) * ketamaPointsPerHash
}

// Index returns the index of the server that owns hash.
func (k *Ketama) Index(hash uint32) int {
	// The first point at or after hash (sort.Search's loop, without its
	// function call per step).
	i, j := 0, len(k.values)
	for i < j {
		m := int(uint(i+j) >> 1)
		if k.values[m] < hash {
			i = m + 1
		} else {
			j = m
		}
	}
	if i == len(k.points) {
		i = 0
	}
	return k.points[i].server
}

// Locate returns the index of the server that owns key under hash h.
func (k *Ketama) Locate(key []byte, h HashFunc) int { return k.Index(h(key)) }
