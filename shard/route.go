package shard

import (
	"crypto/md5"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"strings"
)

// Routing follows twemproxy (nutcracker) so that relcache and a twemproxy
// pool in front of the same backends put every key on the same server: a
// HashFunc named like twemproxy's "hash:" setting turns a key into a uint32,
// and a distribution ("modula" or "ketama") turns that into a server index.
// Indexes count servers in the order the caller gives them, but the
// distributions place them as twemproxy does after it sorts a pool's servers
// by name, so reordering config lines moves no keys.

// HashFunc hashes a key for a distribution. Tests inject predictable ones.
type HashFunc func(key []byte) uint32

// CRC32a is twemproxy's "crc32a": the standard IEEE CRC-32 of the key. (Its
// "crc32" is a different, 15-bit libmemcached hash: CRC32.)
func CRC32a(key []byte) uint32 { return crc32.ChecksumIEEE(key) }

// MD5 is twemproxy's "md5": the first four bytes of the key's MD5 digest,
// read little-endian; 0 for the empty key, as twemproxy hashes it.
func MD5(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	d := md5.Sum(key)
	return le32(d[:4])
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// SourceTable routes uid to the database and table of the source of record
// that hold its rows, where a uid, not a key, is what is known: with dbs
// databases of tables tables (of each kind) its shard is uid mod
// (dbs×tables), its database shard/tables and its table shard mod tables
// (docs/mysql.md). It panics if dbs or tables is not positive.
func SourceTable(uid uint64, dbs, tables int) (db, table int) {
	if dbs <= 0 || tables <= 0 {
		panic(fmt.Sprintf("shard.SourceTable: %d databases x %d tables, want > 0 each", dbs, tables))
	}
	s := int(uid % uint64(dbs*tables))
	return s / tables, s % tables
}

// Server is one backend of a pool, as twemproxy's server line
// "host:port:weight [name]" or "/unix/socket:weight [name]" describes it.
type Server struct {
	// Addr is "host:port" or a unix socket path: where to connect.
	Addr string
	// Name is what ketama hashes to place the server, and what both
	// distributions sort servers by. Moving a server to a new address keeps
	// its keys only if its Name stays the same, which is why twemproxy lets
	// the config give one. ParseServer fills in twemproxy's default when the
	// line has none.
	Name string
	// Weight is the server's share of the keys relative to the others; > 0.
	Weight int
}

// String formats s as a twemproxy server line that ParseServer reads back.
func (s Server) String() string {
	return s.Addr + ":" + strconv.Itoa(s.Weight) + " " + s.Name
}

// ketamaPort is the port twemproxy leaves out of a default name, for
// compatibility with libmemcached's ketama.
const ketamaPort = "11211"

// ParseServer reads a twemproxy server line: "host:port:weight [name]" or
// "/path/to/socket:weight [name]". Like twemproxy it splits from the right,
// so an IPv6 host needs no brackets. Without a name, Name is "host:port",
// "host" when the port is 11211, and "path:" for a socket — the bytes
// twemproxy hashes in each case.
func ParseServer(line string) (Server, error) {
	rest, name := line, ""
	if i := strings.LastIndexByte(rest, ' '); i >= 0 {
		rest, name = rest[:i], rest[i+1:]
		if name == "" {
			return Server{}, fmt.Errorf("server line %q: empty name after space", line)
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return Server{}, fmt.Errorf("server line %q: want \"host:port:weight [name]\" or \"/path:weight [name]\"", line)
	}
	addr, weight := rest[:i], rest[i+1:]
	w, err := parseDecimal(weight)
	if err != nil || w == 0 {
		return Server{}, fmt.Errorf("server line %q: weight %q is not a positive number", line, weight)
	}
	s := Server{Addr: addr, Name: name, Weight: w}
	if strings.HasPrefix(addr, "/") {
		if strings.IndexByte(addr, ':') >= 0 {
			// twemproxy would take the text after ':' as a port and reject the line.
			return Server{}, fmt.Errorf("server line %q: socket path contains ':'", line)
		}
		if s.Name == "" {
			// twemproxy appends ':' and an empty port.
			s.Name = addr + ":"
		}
		return s, nil
	}
	j := strings.LastIndexByte(addr, ':')
	if j <= 0 {
		return Server{}, fmt.Errorf("server line %q: want \"host:port:weight [name]\"", line)
	}
	host, port := addr[:j], addr[j+1:]
	if p, err := parseDecimal(port); err != nil || p < 1 || p > 65535 {
		return Server{}, fmt.Errorf("server line %q: invalid port %q", line, port)
	}
	if s.Name == "" {
		s.Name = addr
		if port == ketamaPort {
			s.Name = host
		}
	}
	return s, nil
}

// parseDecimal accepts only ASCII digits, as twemproxy's nc_atoi does (no
// sign, no spaces), and caps the value so weights cannot overflow a sum.
func parseDecimal(s string) (int, error) {
	if s == "" || len(s) > 9 {
		return 0, errors.New("not a number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// Modula is twemproxy's "distribution: modula". With weights it is not a
// plain hash % n: each server owns Weight consecutive slots, in config
// order, and a hash picks slot hash % (sum of weights).
type Modula struct {
	ends   []uint64 // ends[r] is one past the last slot of the server ranked r
	server []int    // server[r] is the caller's index of the server ranked r
	total  uint64
}

// twemproxyOrder checks servers and returns their indexes in the order
// twemproxy keeps them: it sorts a pool by name (shorter names first, then
// bytewise) to reject duplicates, and the sorted order is what modula
// slots follow.
func twemproxyOrder(dist string, servers []Server) ([]int, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s: no servers", dist)
	}
	order := make([]int, len(servers))
	for i, s := range servers {
		if s.Weight <= 0 {
			return nil, fmt.Errorf("%s: server %d (%s) has weight %d, want > 0", dist, i, s.Name, s.Weight)
		}
		if s.Name == "" {
			return nil, fmt.Errorf("%s: server %d (%s) has no name", dist, i, s.Addr)
		}
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := servers[order[a]].Name, servers[order[b]].Name
		if len(x) != len(y) {
			return len(x) < len(y)
		}
		return x < y
	})
	for r := 1; r < len(order); r++ {
		if a, b := order[r-1], order[r]; servers[a].Name == servers[b].Name {
			return nil, fmt.Errorf("%s: servers %d and %d have the same name %q", dist, a, b, servers[a].Name)
		}
	}
	return order, nil
}

// NewModula builds a modula distribution over servers. Names matter even
// here: they decide the order of the slots.
func NewModula(servers []Server) (*Modula, error) {
	order, err := twemproxyOrder("modula", servers)
	if err != nil {
		return nil, err
	}
	m := &Modula{ends: make([]uint64, len(servers)), server: order}
	for r, i := range order {
		m.total += uint64(servers[i].Weight)
		m.ends[r] = m.total
	}
	return m, nil
}

// Index returns the index of the server that owns hash.
func (m *Modula) Index(hash uint32) int {
	slot := uint64(hash) % m.total
	return m.server[sort.Search(len(m.ends), func(r int) bool { return m.ends[r] > slot })]
}

// Locate returns the index of the server that owns key under hash h.
func (m *Modula) Locate(key []byte, h HashFunc) int { return m.Index(h(key)) }
