package shard

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strings"
)

// twemproxy's hash functions, bit for bit as nutcracker 0.5.0 computes them
// on x86-64. Several read key bytes through a C "char", which is signed
// there: a byte >= 0x80 enters those hashes sign-extended (0xe9 as
// 0xffffffe9), and signed below says so. Each function's doc names its
// twemproxy quirks; testdata/nutcracker holds placements that a real
// nutcracker chose for keys with such bytes.
//
// twemproxy never hashes an empty key: it gives it hash 0. The functions
// here do the same, so that Index(h(key)) agrees with nutcracker for every
// key.

// DefaultHash and DefaultDistribution are what twemproxy uses when a pool's
// config has no "hash:" or "distribution:".
const (
	DefaultHash         = "fnv1a_64"
	DefaultDistribution = "ketama"
)

// hashes is in the order of twemproxy's HASH_CODEC, which HashNames keeps.
var hashes = []struct {
	name string
	fn   HashFunc
}{
	{"one_at_a_time", OneAtATime},
	{"md5", MD5},
	{"crc16", CRC16},
	{"crc32", CRC32},
	{"crc32a", CRC32a},
	{"fnv1_64", FNV1_64},
	{"fnv1a_64", FNV1a_64},
	{"fnv1_32", FNV1_32},
	{"fnv1a_32", FNV1a_32},
	{"hsieh", Hsieh},
	{"murmur", Murmur},
	{"jenkins", Jenkins},
}

// HashNames returns the names twemproxy accepts for "hash:", in the order
// twemproxy lists them.
func HashNames() []string {
	names := make([]string, len(hashes))
	for i, h := range hashes {
		names[i] = h.name
	}
	return names
}

// HashByName returns the HashFunc twemproxy calls name in "hash:".
func HashByName(name string) (HashFunc, error) {
	for _, h := range hashes {
		if h.name == name {
			return h.fn, nil
		}
	}
	return nil, fmt.Errorf("unknown hash %q: twemproxy's are %s", name, strings.Join(HashNames(), ", "))
}

// Distribution maps a key's hash to a server index. Ketama and Modula are
// Distributions.
type Distribution interface {
	Index(hash uint32) int
}

// NewDistribution builds twemproxy's "distribution: name" over servers:
// "ketama" (NewKetama) or "modula" (NewModula).
func NewDistribution(name string, servers []Server) (Distribution, error) {
	switch name {
	case "ketama":
		return NewKetama(servers)
	case "modula":
		return NewModula(servers)
	case "random":
		return nil, fmt.Errorf("distribution %q is not supported: it sends every request to a random server, so a key has no server to route it to; use ketama or modula", name)
	}
	return nil, fmt.Errorf("unknown distribution %q: want ketama or modula", name)
}

// HashTag returns the part of key that twemproxy hashes in a pool with
// "hash_tag: tag": the bytes between the first tag[0] in key and the first
// tag[1] after it. It returns key itself when key has no tag[0], when no
// tag[1] follows it, or when nothing lies between the two; twemproxy looks
// no further in those cases, so "{}{a}" and "{a" hash whole. An empty tag
// means no hash_tag and returns key. twemproxy accepts only two-byte tags;
// any other length panics. The result aliases key.
func HashTag(key []byte, tag string) []byte {
	switch len(tag) {
	case 0:
		return key
	case 2:
	default:
		panic(fmt.Sprintf("shard.HashTag: tag %q is not two bytes", tag))
	}
	start := bytes.IndexByte(key, tag[0])
	if start < 0 {
		return key
	}
	end := bytes.IndexByte(key[start+1:], tag[1])
	if end <= 0 {
		return key
	}
	return key[start+1 : start+1+end]
}

// signed is a key byte as twemproxy reads it through a signed char and
// converts to an unsigned integer: sign-extended.
func signed(c byte) uint32 { return uint32(int8(c)) }

// FNV constants. twemproxy's 64-bit FNVs return a uint32, and the low 32
// bits of a 64-bit product depend only on the low 32 bits of its factors,
// so they run in 32 bits with the 64-bit constants truncated.
const (
	fnv64Init  = uint32(0xcbf29ce484222325 & 0xffffffff)
	fnv64Prime = uint32(0x100000001b3 & 0xffffffff)
	fnv32Init  = 2166136261
	fnv32Prime = 16777619
)

// FNV1_64 is twemproxy's "fnv1_64": the low 32 bits of 64-bit FNV-1, with
// key bytes sign-extended.
func FNV1_64(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	h := fnv64Init
	for _, c := range key {
		h *= fnv64Prime
		h ^= signed(c)
	}
	return h
}

// FNV1a_64 is twemproxy's "fnv1a_64", its default hash: the low 32 bits of
// 64-bit FNV-1a, with key bytes sign-extended. For ASCII keys it is the low
// half of hash/fnv's New64a.
func FNV1a_64(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	h := fnv64Init
	for _, c := range key {
		h ^= signed(c)
		h *= fnv64Prime
	}
	return h
}

// FNV1_32 is twemproxy's "fnv1_32": 32-bit FNV-1 with key bytes
// sign-extended.
func FNV1_32(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	h := uint32(fnv32Init)
	for _, c := range key {
		h *= fnv32Prime
		h ^= signed(c)
	}
	return h
}

// FNV1a_32 is twemproxy's "fnv1a_32": 32-bit FNV-1a with key bytes
// sign-extended.
func FNV1a_32(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	h := uint32(fnv32Init)
	for _, c := range key {
		h ^= signed(c)
		h *= fnv32Prime
	}
	return h
}

// CRC32 is twemproxy's "crc32", libmemcached's: bits 16 to 30 of the IEEE
// CRC-32, a hash of only 15 bits. Ketama places every such hash before
// nearly all of its points, so a ketama pool with "hash: crc32" sends
// almost every key to one server. CRC32a is the full CRC-32.
func CRC32(key []byte) uint32 {
	return crc32.ChecksumIEEE(key) >> 16 & 0x7fff
}

// CRC16 is twemproxy's "crc16": CRC-16/XMODEM (polynomial 0x1021, initial
// 0, as in Redis Cluster), except that twemproxy keeps the register in 32
// bits and never masks it, so the bits shifted out above bit 15 stay in the
// result. Its low 16 bits are the CRC; the whole uint32 is the hash. Later
// twemproxy sources replace this with a masked CRC-16/ARC; nutcracker 0.5.0
// places keys by this one (testdata/nutcracker/modula_crc16.txt).
func CRC16(key []byte) uint32 {
	var crc uint32
	for _, c := range key {
		crc = crc<<8 ^ uint32(crc16Table[(crc>>8^uint32(c))&0xff])
	}
	return crc
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// OneAtATime is twemproxy's "one_at_a_time": Bob Jenkins's one-at-a-time
// hash, with key bytes sign-extended.
func OneAtATime(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	var h uint32
	for _, c := range key {
		h += signed(c)
		h += h << 10
		h ^= h >> 6
	}
	h += h << 3
	h ^= h >> 11
	h += h << 15
	return h
}

// Hsieh is twemproxy's "hsieh": Paul Hsieh's SuperFastHash. Bytes are read
// unsigned, except the last of a key whose length is 3 mod 4, which is
// sign-extended before it is shifted in.
func Hsieh(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	var h uint32
	for ; len(key) >= 4; key = key[4:] {
		h += le16(key)
		h = h<<16 ^ le16(key[2:])<<11 ^ h
		h += h >> 11
	}
	switch len(key) {
	case 3:
		h += le16(key)
		h ^= h << 16
		h ^= signed(key[2]) << 18
		h += h >> 11
	case 2:
		h += le16(key)
		h ^= h << 11
		h += h >> 17
	case 1:
		h += uint32(key[0])
		h ^= h << 10
		h += h >> 1
	}
	h ^= h << 3
	h += h >> 5
	h ^= h << 4
	h += h >> 17
	h ^= h << 25
	h += h >> 6
	return h
}

func le16(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 }

// Murmur is twemproxy's "murmur": MurmurHash2 with seed 0xdeadbeef times
// the key's length, reading 4-byte blocks little-endian.
func Murmur(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	const m = 0x5bd1e995
	n := uint32(len(key))
	h := 0xdeadbeef*n ^ n
	for ; len(key) >= 4; key = key[4:] {
		k := le32(key)
		k *= m
		k ^= k >> 24
		k *= m
		h *= m
		h ^= k
	}
	switch len(key) {
	case 3:
		h ^= uint32(key[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Jenkins is twemproxy's "jenkins": Bob Jenkins's lookup3 hashlittle with
// initial value 13. twemproxy picks one of three ways to read the key by
// its alignment in memory; on a little-endian machine all three agree.
func Jenkins(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	a := 0xdeadbeef + uint32(len(key)) + 13
	b, c := a, a
	for ; len(key) > 12; key = key[12:] {
		a += le32(key)
		b += le32(key[4:])
		c += le32(key[8:])
		a -= c
		a ^= bits.RotateLeft32(c, 4)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 6)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 8)
		b += a
		a -= c
		a ^= bits.RotateLeft32(c, 16)
		c += b
		b -= a
		b ^= bits.RotateLeft32(a, 19)
		a += c
		c -= b
		c ^= bits.RotateLeft32(b, 4)
		b += a
	}
	// The last 1 to 12 bytes, zero-padded: lookup3 adds them as if so.
	var tail [12]byte
	copy(tail[:], key)
	a += le32(tail[:])
	b += le32(tail[4:])
	c += le32(tail[8:])
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return c
}
