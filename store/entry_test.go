package store

import (
	"slices"
	"testing"
	"unsafe"
)

// TestEntryRoundTrip: the compact entry gives back exactly the Entry it
// was given — the same backing array, length and capacity (nil stays nil,
// empty stays empty: a spare capacity left by APPEND is accounted and
// reused), the TTL, the kind and both marks — in both shapes, and in the
// boxed form of a value too long for 32 bits.
func TestEntryRoundTrip(t *testing.T) {
	spare := append(make([]byte, 0, 64), "abc"...)
	values := map[string][]byte{
		"nil":   nil,
		"empty": {},
		"short": []byte("v"),
		"spare": spare,
		"tail":  spare[1:2],
	}
	for _, boxed := range []bool{false, true} {
		if boxed {
			old := inlineCap
			inlineCap = 0
			t.Cleanup(func() { inlineCap = old })
		}
		for name, v := range values {
			for _, in := range []Entry{
				{Kind: KindString, Value: v},
				{Kind: KindRelSet, Value: v, ExpireAt: 1_800_000_000_000, Unchecked: true},
				{Kind: KindString, Value: v, Enc: EncRaw},
			} {
				key := []byte("user:" + name)
				e := newEntry(key, in)
				check := func(when string) {
					t.Helper()
					if e.key() != string(key) {
						t.Fatalf("boxed %v, %s value, %s: key %q, want %q", boxed, name, when, e.key(), key)
					}
					got := e.get()
					if got.Kind != in.Kind || got.Unchecked != in.Unchecked || got.Enc != in.Enc || got.ExpireAt != in.ExpireAt ||
						(got.Value == nil) != (in.Value == nil) || len(got.Value) != len(in.Value) || cap(got.Value) != cap(in.Value) ||
						(cap(in.Value) > 0 && &got.Value[:1][0] != &in.Value[:1][0]) {
						t.Fatalf("boxed %v, %s value, %s: got %+v, want %+v", boxed, name, when, got, in)
					}
					if e.size(3) != entrySize(3, in) {
						t.Fatalf("boxed %v, %s value, %s: size %d, entrySize %d", boxed, name, when, e.size(3), entrySize(3, in))
					}
				}
				check("new")
				// An overwrite in place keeps the shape and takes every field.
				flipped := in
				flipped.Unchecked, flipped.Enc, flipped.Value = !in.Unchecked, EncNoInt, slices.Clip(spare)
				if !e.fits(flipped) {
					t.Fatal("an entry does not fit a value of its own shape")
				}
				e.set(flipped)
				in = flipped
				check("overwritten")
			}
		}
	}
}

// TestTTLChangesShape: giving a key a TTL and taking it away moves it
// between the two shapes of entry, with its value, its place in the
// volatile set and the accounting following, and the key stays readable.
func TestTTLChangesShape(t *testing.T) {
	s, _ := newTestStore(t, Config{Shards: 4})
	key := []byte("k")
	s.Set(key, str("v"))
	steps := []int64{s.Now() + 60_000, s.Now() + 120_000, 0, s.Now() + 1000}
	for _, at := range steps {
		s.Update(key, func(e Entry, _ bool) (Entry, Action) { e.ExpireAt = at; return e, Put })
		e, ok := s.Get(key)
		if !ok || string(e.Value) != "v" || e.ExpireAt != at {
			t.Fatalf("after ExpireAt = %d: %+v %v", at, e, ok)
		}
		var st Stats
		s.ReadStats(&st)
		if want := int64(map[bool]int{true: 1}[at != 0]); st.VolatileKey != want {
			t.Fatalf("after ExpireAt = %d: %d volatile keys, want %d", at, st.VolatileKey, want)
		}
		if got, want := s.UsedMemory(), entrySize(len(key), e); got != want {
			t.Fatalf("after ExpireAt = %d: used memory %d, want %d", at, got, want)
		}
		if checked, err := s.recount(); !checked || err != nil {
			t.Fatalf("after ExpireAt = %d: recount %v %v", at, checked, err)
		}
	}
}

// TestEntryKeys: every key length, across the inline sizes and past them
// to the string form, with and without a TTL, comes back whole from the
// entry's allocation, and the allocation is the size class it was made to
// fill.
func TestEntryKeys(t *testing.T) {
	for _, ttl := range []int64{0, 1_800_000_000_000} {
		for n := 0; n <= 130; n++ {
			key := make([]byte, n)
			for i := range key {
				key[i] = byte('a' + (n+i)%26)
			}
			e := newEntry(key, Entry{Kind: KindString, Value: []byte("v"), ExpireAt: ttl})
			if e.key() != string(key) || e.expireAt() != ttl || string(e.value()) != "v" {
				t.Fatalf("key of %d bytes, TTL %d: got key %q, expiry %d, value %q", n, ttl, e.key(), e.expireAt(), e.value())
			}
			if inline := e.flags&flagLongKey == 0; inline != (n <= map[bool]int{false: 104, true: 96}[ttl != 0]) {
				t.Fatalf("key of %d bytes, TTL %d: inline %v", n, ttl, inline)
			}
		}
	}
	// The generic layouts put the key right after the header.
	if off := unsafe.Offsetof(keyed[[24]byte]{}.key); off != keyOff || keyOff != 24 {
		t.Fatalf("keyed key at %d, keyOff %d", off, keyOff)
	}
	if off := unsafe.Offsetof(vkeyed[[16]byte]{}.key); off != vkeyOff || vkeyOff != 32 {
		t.Fatalf("vkeyed key at %d, vkeyOff %d", off, vkeyOff)
	}
	for _, c := range []struct {
		size, want uintptr
	}{
		{unsafe.Sizeof(keyed[[8]byte]{}), 32}, {unsafe.Sizeof(keyed[[24]byte]{}), 48},
		{unsafe.Sizeof(keyed[[104]byte]{}), 128}, {unsafe.Sizeof(vkeyed[[16]byte]{}), 48},
		{unsafe.Sizeof(vkeyed[[96]byte]{}), 128},
	} {
		if c.size != c.want {
			t.Fatalf("a keyed entry is %d bytes, want %d", c.size, c.want)
		}
	}
}
