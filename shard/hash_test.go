package shard

import (
	"bytes"
	"hash/crc32"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
)

func TestHashByName(t *testing.T) {
	names := HashNames()
	if len(names) != 12 || !slices.Contains(names, DefaultHash) {
		t.Fatalf("HashNames() = %v", names)
	}
	for _, name := range names {
		if h, err := HashByName(name); err != nil || h == nil {
			t.Errorf("HashByName(%q) = %v, %v", name, h, err)
		}
	}
	names[0] = "changed"
	if HashNames()[0] == "changed" {
		t.Error("HashNames returns a slice the caller can change under it")
	}
	for _, name := range []string{"", "FNV1A_64", "fnv1a-64", "rcrc32", "sha1"} {
		_, err := HashByName(name)
		if err == nil {
			t.Errorf("HashByName(%q) accepted", name)
			continue
		}
		// The error must tell the user what would have worked.
		if !strings.Contains(err.Error(), "one_at_a_time, md5, crc16") || !strings.Contains(err.Error(), "jenkins") {
			t.Errorf("HashByName(%q): error %q does not list the valid names", name, err)
		}
	}
}

func TestNewDistribution(t *testing.T) {
	servers := []Server{{"h:1", "a", 1}, {"h:2", "b", 1}}
	for _, name := range []string{"ketama", "modula", DefaultDistribution} {
		d, err := NewDistribution(name, servers)
		if err != nil {
			t.Fatalf("NewDistribution(%q): %v", name, err)
		}
		if i := d.Index(12345); i < 0 || i >= len(servers) {
			t.Errorf("%s: Index = %d", name, i)
		}
	}
	for _, tc := range []struct {
		name    string
		servers []Server
		want    string // in the error
	}{
		{"random", servers, "not supported"},
		{"", servers, "want ketama or modula"},
		{"Ketama", servers, "want ketama or modula"},
		{"ketama", nil, "no servers"},
		{"modula", []Server{{"h:1", "a", 1}, {"h:2", "a", 1}}, "same name"},
	} {
		d, err := NewDistribution(tc.name, tc.servers)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewDistribution(%q, %v) = %v, %v; want an error containing %q", tc.name, tc.servers, d, err, tc.want)
		}
	}
}

// TestHashVectors pins each hash to a known value or to a standard library
// hash it must agree with. The golden files check them against nutcracker.
func TestHashVectors(t *testing.T) {
	check := []byte("123456789")
	e9 := uint32(0xffffffe9) // how twemproxy reads the byte 0xe9
	for _, tc := range []struct {
		name string
		got  uint32
		want uint32
	}{
		// The CRC catalogue's check values: CRC-32 0xcbf43926, XMODEM 0x31c3.
		{"crc32a", CRC32a(check), 0xcbf43926},
		{"crc32", CRC32(check), 0xcbf43926 >> 16 & 0x7fff},
		{"crc16 low half", CRC16(check) & 0xffff, 0x31c3},
		{"fnv1a_32", FNV1a_32(check), fnv32a(check)},
		{"fnv1a_64", FNV1a_64(check), uint32(fnv64a(check))},
		{"fnv1_32", FNV1_32(check), fnv32(check)},
		{"fnv1_64", FNV1_64(check), uint32(fnv64(check))},
		{"fnv1a_32 signed", FNV1a_32([]byte{0xe9}), (fnv32Init ^ e9) * fnv32Prime},
		{"fnv1a_64 signed", FNV1a_64([]byte{0xe9}), (fnv64Init ^ e9) * fnv64Prime},
		{"hsieh empty", Hsieh(nil), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	for _, h := range hashes {
		if got := h.fn(nil); got != 0 {
			t.Errorf("%s of the empty key = %#x; twemproxy hashes it to 0", h.name, got)
		}
	}
}

func fnv32a(b []byte) uint32 { h := fnv.New32a(); h.Write(b); return h.Sum32() }
func fnv32(b []byte) uint32  { h := fnv.New32(); h.Write(b); return h.Sum32() }
func fnv64a(b []byte) uint64 { h := fnv.New64a(); h.Write(b); return h.Sum64() }
func fnv64(b []byte) uint64  { h := fnv.New64(); h.Write(b); return h.Sum64() }

func TestHashTag(t *testing.T) {
	for _, tc := range []struct {
		key, tag, want string
	}{
		{"user:{42}.following", "{}", "42"},
		{"{42}", "{}", "42"},
		{"{42}{43}", "{}", "42"},
		{"{{42}}", "{}", "{42"},
		{"a{b{c}d", "{}", "b{c"},
		// twemproxy looks no further than the first start and its end.
		{"{}{42}", "{}", "{}{42}"},
		{"{42", "{}", "{42"},
		{"}42{", "{}", "}42{"},
		{"42}{", "{}", "42}{"},
		{"no tag", "{}", "no tag"},
		{"", "{}", ""},
		{"{", "{}", "{"},
		{"a$b$c$d", "$$", "b"},
		{"$$b$", "$$", "$$b$"},
		{"x\xe9y\xe9z", "\xe9\xe9", "y"},
		{"{42}", "", "{42}"},
	} {
		key := []byte(tc.key)
		got := HashTag(key, tc.tag)
		if string(got) != tc.want {
			t.Errorf("HashTag(%q, %q) = %q, want %q", tc.key, tc.tag, got, tc.want)
		}
		if len(got) > 0 && !aliases(key, got) {
			t.Errorf("HashTag(%q, %q) does not alias the key", tc.key, tc.tag)
		}
	}
	for _, tag := range []string{"{", "{}}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HashTag with tag %q did not panic", tag)
				}
			}()
			HashTag([]byte("{a}"), tag)
		}()
	}
}

// aliases reports whether sub lies within b's memory.
func aliases(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if &b[i] == &sub[0] && len(b[i:]) >= len(sub) {
			return bytes.Equal(b[i:i+len(sub)], sub)
		}
	}
	return false
}

func TestHashTagDoesNotAllocate(t *testing.T) {
	key := []byte("user:{1234567890}.following")
	var h uint32
	if n := testing.AllocsPerRun(100, func() { h += FNV1a_64(HashTag(key, "{}")) }); n != 0 {
		t.Fatalf("HashTag and FNV1a_64 allocate %v times", n)
	}
}

func FuzzHash(f *testing.F) {
	f.Add([]byte("user:{42}.following"), "{}")
	f.Add([]byte("\xe9{\x80}"), "$$")
	f.Fuzz(func(t *testing.T, key []byte, tag string) {
		if len(tag) == 2 {
			part := HashTag(key, tag)
			if len(part) == 0 && len(key) != 0 {
				t.Fatalf("HashTag(%q, %q) is empty", key, tag)
			}
			if len(part) < len(key) {
				i := bytes.IndexByte(key, tag[0])
				if i < 0 || !bytes.HasPrefix(key[i+1:], part) || key[i+1+len(part)] != tag[1] {
					t.Fatalf("HashTag(%q, %q) = %q is not the first tag", key, tag, part)
				}
			}
		}
		for _, h := range hashes {
			h.fn(key) // must not panic on any length
		}
		ascii := true
		for _, c := range key {
			ascii = ascii && c < 0x80
		}
		if ascii && len(key) > 0 {
			if got, want := FNV1a_64(key), uint32(fnv64a(key)); got != want {
				t.Fatalf("FNV1a_64(%q) = %#x, hash/fnv says %#x", key, got, want)
			}
			if got, want := CRC32(key), crc32.ChecksumIEEE(key)>>16&0x7fff; got != want {
				t.Fatalf("CRC32(%q) = %#x, want %#x", key, got, want)
			}
		}
	})
}
