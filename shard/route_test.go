package shard

import (
	"strings"
	"testing"
)

func TestHashes(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    HashFunc
		key  string
		want uint32
	}{
		// The CRC-32 check value; twemproxy's crc32a is plain IEEE CRC-32.
		{"crc32a", CRC32a, "123456789", 0xcbf43926},
		{"crc32a", CRC32a, "", 0},
		// twemproxy hashes no empty key: it places it as hash 0, not as
		// md5("") = d41d8cd9... (testdata/nutcracker/modula_fnv1a_64.txt).
		{"md5", MD5, "", 0},
		// md5("a") = 0cc175b9...: bytes 0c c1 75 b9 read little-endian.
		{"md5", MD5, "a", 0xb975c10c},
	} {
		if got := tc.h([]byte(tc.key)); got != tc.want {
			t.Errorf("%s(%q) = %#08x, want %#08x", tc.name, tc.key, got, tc.want)
		}
	}
}

func TestSourceTable(t *testing.T) {
	for _, tc := range []struct {
		uid           uint64
		dbs, tables   int
		wantDB, wantT int
	}{
		// One table per database: the database is uid mod dbs.
		{0, 1, 1, 0, 0},
		{42, 32, 1, 10, 0},
		{1000000042, 32, 1, 10, 0},
		{18446744073709551615, 10, 1, 5, 0},
		{7, 7, 1, 0, 0},
		// docs/mysql.md's example: 4 x 16, uid 1000000042 is shard 42.
		{1000000042, 4, 16, 2, 10},
		{0, 4, 16, 0, 0},
		{63, 4, 16, 3, 15},
		{64, 4, 16, 0, 0},
		{5, 1, 4, 0, 1},
	} {
		db, table := SourceTable(tc.uid, tc.dbs, tc.tables)
		if db != tc.wantDB || table != tc.wantT {
			t.Errorf("SourceTable(%d, %d, %d) = %d, %d, want %d, %d", tc.uid, tc.dbs, tc.tables, db, table, tc.wantDB, tc.wantT)
		}
	}
	for _, bad := range [][2]int{{0, 1}, {1, 0}, {-1, 4}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SourceTable(1, %d, %d) did not panic", bad[0], bad[1])
				}
			}()
			SourceTable(1, bad[0], bad[1])
		}()
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Following: "following", Follower: "follower"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}

func TestParseServer(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Server // zero means the line must be rejected
	}{
		{"127.0.0.1:6379:1", Server{"127.0.0.1:6379", "127.0.0.1:6379", 1}},
		{"127.0.0.1:6379:10 redis-a", Server{"127.0.0.1:6379", "redis-a", 10}},
		// libmemcached compatibility: port 11211 is left out of the name.
		{"cache1:11211:1", Server{"cache1:11211", "cache1", 1}},
		{"cache1:11211:1 c1", Server{"cache1:11211", "c1", 1}},
		{"::1:6379:2", Server{"::1:6379", "::1:6379", 2}},
		{"/var/run/redis.sock:1", Server{"/var/run/redis.sock", "/var/run/redis.sock:", 1}},
		{"/var/run/redis.sock:3 local", Server{"/var/run/redis.sock", "local", 3}},
		{"", Server{}},
		{"127.0.0.1:6379", Server{}},   // no weight: "6379" is the weight, "127.0.0.1" has no port
		{"127.0.0.1:6379:0", Server{}}, // twemproxy rejects zero weight
		{"127.0.0.1:6379:-1", Server{}},
		{"127.0.0.1:6379:1x", Server{}},
		{"127.0.0.1:6379:1 ", Server{}},
		{"127.0.0.1:0:1", Server{}},
		{"127.0.0.1:65536:1", Server{}},
		{":6379:1", Server{}},
		{"/a:b:1", Server{}},
		{"host:6379:1000000000", Server{}},
	} {
		got, err := ParseServer(tc.line)
		if tc.want == (Server{}) {
			if err == nil {
				t.Errorf("ParseServer(%q) = %+v, want error", tc.line, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseServer(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"127.0.0.1:6379:1", "h:11211:2 n", "/tmp/s:1", "::1:1:1 x", "a b:1:1 c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseServer(line)
		if err != nil {
			return
		}
		if s.Weight <= 0 || s.Name == "" || strings.ContainsRune(s.Name, ' ') {
			t.Fatalf("ParseServer(%q) = %+v", line, s)
		}
		back, err := ParseServer(s.String())
		if err != nil || back != s {
			t.Fatalf("ParseServer(%q) = %+v; its String %q parses as %+v, %v", line, s, s.String(), back, err)
		}
	})
}

// byteHash is a predictable HashFunc: the key's first byte.
func byteHash(key []byte) uint32 { return uint32(key[0]) }

func TestModula(t *testing.T) {
	// Slots go by twemproxy's name order: "a" (weight 2), "zz" (1), "bbb" (3),
	// so slots 0-1 are "a", 2 is "zz", 3-5 are "bbb".
	servers := []Server{{"h:1", "zz", 1}, {"h:2", "a", 2}, {"h:3", "bbb", 3}}
	m, err := NewModula(servers)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hash uint32
		want int
	}{
		{0, 1}, {1, 1}, {2, 0}, {3, 2}, {4, 2}, {5, 2}, {6, 1}, {8, 0}, {4294967295, 2}, // 4294967295 % 6 = 3
	} {
		if got := m.Index(tc.hash); got != tc.want {
			t.Errorf("Index(%d) = %d, want %d", tc.hash, got, tc.want)
		}
		if got := m.Locate([]byte{byte(tc.hash)}, byteHash); tc.hash < 256 && got != tc.want {
			t.Errorf("Locate(%d) = %d, want %d", tc.hash, got, tc.want)
		}
	}
}

func TestDistributionsReject(t *testing.T) {
	for _, tc := range []struct {
		name    string
		servers []Server
	}{
		{"none", nil},
		{"zero weight", []Server{{"h:1", "a", 1}, {"h:2", "b", 0}}},
		{"no name", []Server{{"h:1", "", 1}}},
		{"same name", []Server{{"h:1", "a", 1}, {"h:2", "b", 1}, {"h:3", "a", 1}}},
	} {
		if _, err := NewModula(tc.servers); err == nil {
			t.Errorf("NewModula accepted %s", tc.name)
		}
		if _, err := NewKetama(tc.servers); err == nil {
			t.Errorf("NewKetama accepted %s", tc.name)
		}
	}
	long := strings.Repeat("x", 84) // "x…x-0" is 86 bytes, past twemproxy's buffer
	if _, err := NewKetama([]Server{{"h:1", long, 1}}); err == nil {
		t.Error("NewKetama accepted an 84-byte name")
	}
	if _, err := NewKetama([]Server{{"h:1", long[:81], 1}}); err != nil { // "x…x-39" is 85 bytes
		t.Errorf("NewKetama rejected an 81-byte name: %v", err)
	}
}
