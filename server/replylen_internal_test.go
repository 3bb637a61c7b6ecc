package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// runStrict dispatches cmds in order on c and parses everything they wrote
// with resp.DecodeAll: exactly one reply per command, each holding exactly
// the elements its header declares, nothing left over.
func runStrict(t testing.TB, s *Server, c *client, cmds [][][]byte) []resp.Value {
	t.Helper()
	c.out = c.out[:0]
	now := time.Now()
	for _, args := range cmds {
		now = s.dispatch(c, args, now)
	}
	vals, err := resp.DecodeAll(c.out, len(cmds))
	if err != nil {
		var names []string
		for _, a := range cmds {
			names = append(names, string(a[0]))
		}
		t.Fatalf("RESP%d replies to %v: %v", c.proto, names, err)
	}
	return vals
}

func argv(parts ...any) [][]byte {
	out := make([][]byte, len(parts))
	for i, p := range parts {
		switch v := p.(type) {
		case []byte:
			out[i] = v
		case string:
			out[i] = []byte(v)
		default:
			out[i] = fmt.Append(nil, v)
		}
	}
	return out
}

// tableUIDs lists the uids in the full slots of a validated set, read from
// the bytes as docs/openhash-format.md describes, not through openhash;
// a version-3 set's slots hold quotients, which openhash decodes.
func tableUIDs(buf []byte) []uint64 {
	if buf[4] == 3 {
		var out []uint64
		s, _ := openhash.Open(buf)
		s.Range(func(u uint64, _ uint32) bool { out = append(out, u); return true })
		return out
	}
	width, ng, gb := craftLayout(buf)
	var out []uint64
	for g := range ng {
		grp := buf[craftHeaderOf(buf)+g*gb : craftHeaderOf(buf)+(g+1)*gb]
		for i := range 8 {
			if grp[8*width+i]&0x80 == 0 {
				continue
			}
			var u [8]byte
			copy(u[:], grp[i*width:(i+1)*width])
			out = append(out, binary.LittleEndian.Uint64(u[:]))
		}
	}
	return out
}

// relReads are the commands that read one relation set, with probes for
// the given uids (members and not).
func relReads(key string, probes []uint64) [][][]byte {
	uidArgs := func(cmd ...any) [][]byte {
		for _, u := range probes {
			cmd = append(cmd, u)
		}
		return argv(cmd...)
	}
	first := uint64(0)
	if len(probes) > 0 {
		first = probes[0]
	}
	return [][][]byte{
		argv("HLEN", key), argv("SCARD", key), argv("RELCARD", key),
		argv("HKEYS", key), argv("HVALS", key), argv("HGETALL", key), argv("SMEMBERS", key),
		argv("RELMEMBERS", key), argv("RELMEMBERS", key, "WITHTIMES"), argv("RELMEMBERS", key, "WITHTIMES", "NEWEST", 3),
		uidArgs("HMGET", key), uidArgs("SMISMEMBER", key), uidArgs("RELMULTI", key), uidArgs("RELMULTI", key, "BITS"),
		argv("HEXISTS", key, first), argv("HGET", key, first), argv("SISMEMBER", key, first),
		argv("RELINFO", key), argv("TYPE", key), argv("GET", key),
		// Issue 17's pages and windows, framed like the rest.
		argv("RELMEMBERS", key, "WITHTIMES", "BEFORE", 1_600_000_003, first, "LIMIT", 5),
		uidArgs("RELMULTI", key, "SINCE", 1_600_000_002, "UNTIL", 1_600_000_030),
	}
}

// checkReads runs relReads on key and holds the replies to one another:
// every listing has as many members as the others and, when counted is
// true (the set came in through SET), as many as HLEN says.
func checkReads(t testing.TB, s *Server, c *client, key string, probes []uint64, counted bool) {
	t.Helper()
	v := runStrict(t, s, c, relReads(key, probes))
	hlen := int(v[0].Int)
	members := len(v[3].Elems)
	for name, got := range map[string]int{
		"HVALS": len(v[4].Elems), "HGETALL/2": len(v[5].Elems) / 2, "SMEMBERS": len(v[6].Elems),
		"RELMEMBERS": len(v[7].Elems), "RELMEMBERS WITHTIMES/2": len(v[8].Elems) / 2,
	} {
		if got != members {
			t.Fatalf("%s lists %d members, HKEYS %d", name, got, members)
		}
	}
	if counted && (hlen != members || v[1].Int != int64(hlen) || v[2].Int != int64(hlen)) {
		t.Fatalf("HLEN %d, SCARD %d, RELCARD %d, HKEYS lists %d", hlen, v[1].Int, v[2].Int, members)
	}
	if n := len(v[9].Elems); n != 2*min(3, members) {
		t.Fatalf("RELMEMBERS WITHTIMES NEWEST 3: %d elements for %d members", n, members)
	}
	for i, name := range []string{"HMGET", "SMISMEMBER", "RELMULTI"} {
		if n := len(v[10+i].Elems); n != len(probes) {
			t.Fatalf("%s of %d uids: %d elements", name, len(probes), n)
		}
	}
}

// TestListRepliesAgreeWithTheirLength: whatever table a stored set holds,
// the listing replies declare the members they send. The set is put in the
// store directly, past every ingress check, so this holds the reply code
// itself to "one walk decides both".
func TestListRepliesAgreeWithTheirLength(t *testing.T) {
	s := newTestServer(t)
	good := mustBuild(t, 100, true)
	for _, proto := range []int{2, 3} {
		c := newTestClient(s)
		c.proto = proto
		for _, count := range []uint32{0, 88, 100, 112} {
			bad := CraftCount(good, count)
			s.store.Set([]byte("k"), store.Entry{Kind: store.KindRelSet, Value: bad})
			checkReads(t, s, c, "k", tableUIDs(bad)[:5], count == 100)
		}
		c.conn.Close()
	}
}

func mustBuild(tb testing.TB, n int, withTimes bool) []byte {
	tb.Helper()
	uids := make([]uint64, n)
	var times []uint32
	if withTimes {
		times = make([]uint32, n)
	}
	for i := range uids {
		uids[i] = 1_000_000_000 + uint64(i)*7919
		if withTimes {
			times[i] = 1_600_000_000 + uint32(i)
		}
	}
	// Version 1: the crafting here edits uid bytes, which a version-3
	// slot does not hold (FuzzRelSetReplies adds version-3 seeds).
	b, err := openhash.Build(nil, uids, times, openhash.Options{Seed: uint64(n), Version: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzRelSetReplies is issue 14's fuzz target: valid arrays with random
// header-count and control-byte mutations (and a few uid-byte ones) go in
// by SET with rel-verify header. SET refuses or accepts; after an accepted
// one, every read and edit of the set replies in frames a strict RESP
// parser takes apart into exactly one reply per command, each with the
// elements its header declares, in RESP2 and RESP3, and the listings agree
// with HLEN. A refused array is also put in the store directly, to hold
// the reply code to its framing on tables no ingress would let in.
func FuzzRelSetReplies(f *testing.F) {
	s := newTestServer(f)
	s.cfg.RelVerify = CheckHeader
	var seeds [][]byte
	for _, n := range []int{0, 1, 7, 40, 100} {
		seeds = append(seeds, mustBuild(f, n, n%2 == 0), mustBuild(f, n, n%2 == 1))
	}
	wide, err := openhash.Build(nil, []uint64{1, 1 << 40, 1<<64 - 1}, nil, openhash.Options{Extra: 30})
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, wide)
	for _, n := range []int{1, 40, 100} {
		uids := make([]uint64, n)
		for i := range uids {
			uids[i] = 1_000_000_000 + uint64(i)*7919
		}
		v3, err := openhash.Build(nil, uids, make([]uint32, n), openhash.Options{Seed: uint64(n), Version: 3})
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, v3)
	}
	f.Add(byte(0), []byte{})
	f.Add(byte(7), []byte{0, 0, 0xff})             // count
	f.Add(byte(7), []byte{1, 3, 0x80})             // a control byte
	f.Add(byte(8), []byte{1, 5, 0x00, 2, 9, 0x01}) // control, then uid bytes
	f.Add(byte(9), []byte{1, 5, 0x85, 0, 0, 0x01}) // control and count
	f.Add(byte(3), []byte{3, 0, 0, 1, 2, 0x7f})    // duplicate, then control
	f.Fuzz(func(t *testing.T, pick byte, muts []byte) {
		buf := bytes.Clone(seeds[int(pick)%len(seeds)])
		mutate(buf, muts)
		c2, c3 := newTestClient(s), newTestClient(s)
		defer c2.conn.Close()
		defer c3.conn.Close()
		c3.proto = 3
		set := runStrict(t, s, c2, [][][]byte{argv("SET", "k", buf)})[0]
		accepted := set.Type == '+'
		switch {
		case !accepted && !strings.HasPrefix(string(set.Str), "ERR invalid relation set: "):
			t.Fatalf("SET refused with %q", set.Str)
		case accepted && openhash.Validate(buf) != nil:
			t.Fatal("SET accepted a set that fails Validate")
		case accepted && Occupied(buf) != int(binary.LittleEndian.Uint32(buf[craftCount:])):
			t.Fatalf("SET accepted a set whose header says %d members and whose table holds %d",
				binary.LittleEndian.Uint32(buf[craftCount:]), Occupied(buf))
		}
		if !accepted {
			if openhash.Validate(buf) != nil {
				return
			}
			s.store.Set([]byte("k"), store.Entry{Kind: store.KindRelSet, Value: buf})
		}
		probes := append(tableUIDs(buf), 0, 1, 1<<64-1)
		if len(probes) > 40 {
			probes = probes[len(probes)-40:]
		}
		checkReads(t, s, c2, "k", probes, accepted)
		checkReads(t, s, c3, "k", probes, accepted)
		if !accepted {
			return
		}
		// Edits of an accepted set keep it servable.
		edits := [][][]byte{argv("RELADD", "k", 5, 6, 7), argv("HDEL", "k", probes[0]), argv("SADD", "k", probes[len(probes)-1], 8)}
		for _, r := range runStrict(t, s, c2, edits) {
			if r.Type != ':' {
				t.Fatalf("edit of an accepted set: %c%q", r.Type, r.Str)
			}
		}
		checkReads(t, s, c2, "k", probes, true)
	})
}

// mutate applies muts to a valid set, three bytes an edit: what, where,
// value. What (mod 4): 0 the header count (value: a signed offset from the
// occupied slots), 1 a control byte set to value, 2 a uid byte xored with
// value, 3 a duplicate of a member into a free slot of its group.
func mutate(buf []byte, muts []byte) {
	width, ng, gb := craftLayout(buf)
	for ; len(muts) >= 3; muts = muts[3:] {
		what, where, val := muts[0]%4, int(muts[1]), muts[2]
		g := where % ng
		grp := buf[craftHeaderOf(buf)+g*gb : craftHeaderOf(buf)+(g+1)*gb]
		switch what {
		case 0:
			n := max(0, Occupied(buf)+int(int8(val)))
			binary.LittleEndian.PutUint32(buf[craftCount:], uint32(n))
		case 1:
			grp[8*width+where%8] = val
		case 2:
			grp[where%(8*width)] ^= val
		case 3:
			if d, ok := CraftDuplicate(buf); ok {
				copy(buf, d)
			}
		}
	}
}

// TestSaveChecksUncheckedSetsOnce: rel-verify header marks a SET set
// unchecked; edits keep the mark; a save runs the full check, leaves out
// the set that fails it and clears the mark of the one that passes, so the
// next save does not walk it again.
func TestSaveChecksUncheckedSetsOnce(t *testing.T) {
	s := newTestServer(t)
	s.cfg.RelVerify = CheckHeader
	c := newTestClient(s)
	defer c.conn.Close()
	good := mustBuild(t, 300, true)
	dup, _ := CraftDuplicate(good)
	for _, r := range runStrict(t, s, c, [][][]byte{
		argv("SET", "good", good), argv("SET", "dup", dup), argv("RELADD", "dup", 1),
		argv("RELLOAD", "built", 1, 2, 3), argv("SET", "str", "x"),
	}) {
		if r.Type == '-' {
			t.Fatalf("setup: %s", r.Str)
		}
	}
	unchecked := func(key string) bool {
		e, ok := s.store.Peek([]byte(key))
		if !ok {
			t.Fatalf("%s is gone", key)
		}
		return e.Unchecked
	}
	if !unchecked("good") || !unchecked("dup") || unchecked("built") || unchecked("str") {
		t.Fatal("SET in header mode (and only it) marks a set unchecked; RELADD keeps the mark")
	}
	for range 2 {
		if r := runStrict(t, s, c, [][][]byte{argv("SAVE")})[0]; r.Type != '+' {
			t.Fatalf("SAVE: %s", r.Str)
		}
		if unchecked("good") || !unchecked("dup") {
			t.Fatalf("after SAVE: good unchecked %v, dup unchecked %v", unchecked("good"), unchecked("dup"))
		}
		if got := s.persist.lastSkipped.Load(); got != 1 {
			t.Fatalf("rdb_last_save_skipped_sets %d, want 1", got)
		}
		if got := s.persist.lastKeys.Load(); got != 3 {
			t.Fatalf("%d keys saved, want 3", got)
		}
	}
	if got := s.persist.skipped.Load(); got != 2 {
		t.Fatalf("rdb_skipped_sets %d after two saves, want 2", got)
	}
}
