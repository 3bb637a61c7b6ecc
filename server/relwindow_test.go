package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// run dispatches one command line on c and returns its raw reply.
func run(s *Server, c *client, line string) string {
	var args [][]byte
	for _, f := range strings.Fields(line) {
		args = append(args, []byte(f))
	}
	c.out = c.out[:0]
	s.dispatch(c, args, time.Now())
	return string(c.out)
}

// TestRelCheckBatchIsAlwaysAnArray is issue 17's reply-shape symptom: a
// client batching a list whose length happens to be 1 must get an array,
// as it does for 2 uids, while the single form RELCHECK a b stays an
// integer.
func TestRelCheckBatchIsAlwaysAnArray(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	run(s, c, "RELLOAD 1.following 2 3")
	run(s, c, "RELLOAD 2.following 1")
	expect(t, s, c, []struct{ line, want string }{
		{"RELCHECK 1 2", ":3\r\n"},
		{"RELCHECK 1 BATCH 2", "*1\r\n:3\r\n"},
		{"RELCHECK 1 batch 2 3", "*2\r\n:3\r\n:-1\r\n"},
		{"RELCHECK 9 BATCH 2", "*1\r\n:-1\r\n"},
	})
}

// TestRelWindows checks SINCE/UNTIL (both inclusive) on RELMULTI,
// RELFOLLOWS and RELCHECK, the refusal on a set without times, and that a
// member outside the window of a truncated set is a known 0.
func TestRelWindows(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	run(s, c, "RELLOAD 1.following TIMES 2 100 3 200 4 300")
	run(s, c, "RELLOAD 2.following TIMES 1 150")
	run(s, c, "RELLOAD 3.following 1")                    // no times
	run(s, c, "RELLOAD 5.following")                      // empty, no times
	run(s, c, "RELLOAD 6.following TIMES TRUNCATED 1 50") // truncated
	noTimes := "-ERR SINCE and UNTIL need follow times, and the relation set '%s' was stored without them\r\n"
	expect(t, s, c, []struct{ line, want string }{
		{"RELMULTI 1.following SINCE 200 2 3 4 9", "*4\r\n:0\r\n:1\r\n:1\r\n:0\r\n"},
		{"RELMULTI 1.following UNTIL 200 2 3 4", "*3\r\n:1\r\n:1\r\n:0\r\n"},
		{"RELMULTI 1.following SINCE 200 UNTIL 200 2 3 4", "*3\r\n:0\r\n:1\r\n:0\r\n"},
		{"RELMULTI 1.following since 300 until 100 2 3 4", "*3\r\n:0\r\n:0\r\n:0\r\n"},
		{"RELMULTI 1.following BITS SINCE 200 2 3 4", "$1\r\n\x60\r\n"},
		{"RELMULTI 1.following SINCE 200 BITS 2 3 4", "$1\r\n\x60\r\n"},
		{"RELMULTI 6.following SINCE 60 1 2", "*2\r\n:0\r\n:-1\r\n"},
		{"RELMULTI 6.following SINCE 10 1 2", "*2\r\n:1\r\n:-1\r\n"},
		{"RELMULTI 3.following SINCE 1 1", strings.ReplaceAll(noTimes, "%s", "3.following")},
		{"RELMULTI 3.following 1", "*1\r\n:1\r\n"},
		{"RELMULTI 5.following SINCE 1 1", "*1\r\n:0\r\n"},
		{"RELMULTI 7.following SINCE 1 1", "*-1\r\n"},
		{"RELFOLLOWS 1 SINCE 100 2 6 3 7", "*4\r\n:1\r\n:0\r\n-ERR SINCE and UNTIL need follow times, and the relation set '3.following' was stored without them\r\n:-1\r\n"},
		{"RELCHECK 1 2", ":3\r\n"},
		{"RELCHECK 1 SINCE 120 2", ":2\r\n"},
		{"RELCHECK 1 UNTIL 120 2", ":1\r\n"},
		{"RELCHECK 1 SINCE 120 UNTIL 140 2", ":0\r\n"},
		{"RELCHECK 1 SINCE 120 BATCH 2", "*1\r\n:2\r\n"},
		{"RELCHECK 1 SINCE 120 BATCH 2 5 7", "*3\r\n:2\r\n:0\r\n:-1\r\n"},
		{"RELCHECK 1 SINCE 1 3", strings.ReplaceAll(noTimes, "%s", "3.following")},
		{"RELCHECK 1 SINCE 1 BATCH 3 2", "*2\r\n" + strings.ReplaceAll(noTimes, "%s", "3.following") + ":3\r\n"},
		{"RELCHECK 3 SINCE 1 BATCH 1 2", strings.ReplaceAll(noTimes, "%s", "3.following")},
		{"RELCHECK 3 1", ":3\r\n"},
		// Refusals.
		{"RELMULTI 1.following SINCE 2", "-ERR wrong number of arguments for 'relmulti' command\r\n"},
		{"RELMULTI 1.following SINCE", "-ERR syntax error\r\n"},
		{"RELMULTI 1.following SINCE -1 2", "-ERR relation times must be unsigned 32-bit integers\r\n"},
		{"RELMULTI 1.following UNTIL 4294967296 2", "-ERR relation times must be unsigned 32-bit integers\r\n"},
		{"RELCHECK 1 BATCH", "-ERR wrong number of arguments for 'relcheck' command\r\n"},
		{"RELCHECK 1 BITS 2", "-ERR relation members must be unsigned 64-bit integers\r\n"},
		{"RELFOLLOWS 1 BATCH 2", "-ERR relation members must be unsigned 64-bit integers\r\n"},
		{"RELFOLLOWS 1 SINCE 3", "-ERR wrong number of arguments for 'relfollows' command\r\n"},
	})
}

// TestRelMembersPaging pages through a list with many equal times by the
// (time, uid) cursor and checks that the pages, joined, are the whole
// listing in order: no member skipped or repeated at a tie.
func TestRelMembersPaging(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	// 40 members, times 100..104: eight members share each time.
	line := "RELLOAD 1.following TIMES"
	for i := range 40 {
		line += " " + strconv.Itoa(1000-i*7) + " " + strconv.Itoa(100+i%5)
	}
	run(s, c, line)
	whole := members(t, run(s, c, "RELMEMBERS 1.following WITHTIMES"))
	if len(whole) != 80 {
		t.Fatalf("RELMEMBERS lists %d fields, want 80", len(whole))
	}
	for _, limit := range []int{1, 3, 8, 13, 40, 100} {
		var joined []string
		cmd := "RELMEMBERS 1.following WITHTIMES LIMIT " + strconv.Itoa(limit)
		for pages := 0; ; pages++ {
			page := members(t, run(s, c, cmd))
			joined = append(joined, page...)
			if len(page) < 2*limit {
				break
			}
			if pages > 100 {
				t.Fatalf("LIMIT %d: paging does not end", limit)
			}
			last := page[len(page)-2:]
			cmd = "RELMEMBERS 1.following WITHTIMES BEFORE " + last[1] + " " + last[0] + " LIMIT " + strconv.Itoa(limit)
		}
		if !slices.Equal(joined, whole) {
			t.Errorf("LIMIT %d: pages joined = %v, want %v", limit, joined, whole)
		}
	}
	expect(t, s, c, []struct{ line, want string }{
		// The cursor need not be a member: it is a place in the order.
		{"RELMEMBERS 1.following BEFORE 104 0 LIMIT 2", "*2\r\n$3\r\n727\r\n$3\r\n762\r\n"},
		{"RELMEMBERS 1.following BEFORE 104 727 LIMIT 2", "*2\r\n$3\r\n762\r\n$3\r\n797\r\n"},
		{"RELMEMBERS 1.following NEWEST 1", "*1\r\n$3\r\n727\r\n"},
		{"RELMEMBERS 1.following SINCE 104 UNTIL 104 BEFORE 104 937 WITHTIMES", "*2\r\n$3\r\n972\r\n$3\r\n104\r\n"},
		{"RELMEMBERS 1.following UNTIL 104 SINCE 104 BEFORE 104 972", "*0\r\n"},
		{"RELMEMBERS 1.following BEFORE 100 1000", "*0\r\n"},
		{"RELMEMBERS 1.following BEFORE 100", "-ERR syntax error\r\n"},
		{"RELMEMBERS 1.following BEFORE x 1", "-ERR relation times must be unsigned 32-bit integers\r\n"},
		{"RELMEMBERS 1.following BEFORE 1 x", "-ERR relation members must be unsigned 64-bit integers\r\n"},
		{"RELMEMBERS 1.following LIMIT 0", "-ERR LIMIT must be a positive integer\r\n"},
		{"RELMEMBERS 1.following NEWEST 0", "-ERR NEWEST must be a positive integer\r\n"},
		{"RELMEMBERS 9.following BEFORE 1 1", "*-1\r\n"},
	})
	// A set without times pages by uid alone; a window on it is refused.
	run(s, c, "RELLOAD 2.following 5 4 3")
	expect(t, s, c, []struct{ line, want string }{
		{"RELMEMBERS 2.following BEFORE 0 3", "*2\r\n$1\r\n4\r\n$1\r\n5\r\n"},
		{"RELMEMBERS 2.following SINCE 0", "-ERR SINCE and UNTIL need follow times, and the relation set '2.following' was stored without them\r\n"},
	})
}

// expect runs each line and compares its raw reply.
func expect(t *testing.T, s *Server, c *client, cases []struct{ line, want string }) {
	t.Helper()
	for _, tc := range cases {
		if got := run(s, c, tc.line); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// members reads a flat array of bulk strings.
func members(t *testing.T, reply string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(reply, "\r\n"), "\r\n")
	if !strings.HasPrefix(lines[0], "*") {
		t.Fatalf("not an array: %q", reply)
	}
	var out []string
	for i := 2; i < len(lines); i += 2 {
		out = append(out, lines[i])
	}
	return out
}

// windowFixture loads 1000 users following 300 others each, with times
// spread over 300 seconds, and returns the windowed forms to measure: a
// RELCHECK BATCH of 10 and a RELMULTI of 500 with a window that holds
// about half of each list, and the RELMULTI without the window.
func windowFixture(tb testing.TB) (s *Server, c *client, check, multi, plain [][]byte) {
	s = newTestServer(tb)
	c = newTestClient(s)
	for u := range 1000 {
		args := [][]byte{[]byte("RELLOAD"), fmt.Appendf(nil, "%d.following", 1_000_000_000+u), []byte("TIMES")}
		for v := range 300 {
			args = append(args, strconv.AppendUint(nil, uint64(1_000_000_000+(u*7+v*13)%1000), 10),
				strconv.AppendUint(nil, uint64(1_700_000_000+v), 10))
		}
		c.out = c.out[:0]
		s.dispatch(c, args, time.Now())
	}
	window := [][]byte{[]byte("SINCE"), []byte("1700000075"), []byte("UNTIL"), []byte("1700000224")}
	check = append([][]byte{[]byte("RELCHECK"), []byte("1000000001")}, window...)
	check = append(check, []byte("BATCH"))
	for v := range 10 {
		check = append(check, strconv.AppendUint(nil, uint64(1_000_000_000+v*97), 10))
	}
	plain = [][]byte{[]byte("RELMULTI"), []byte("1000000001.following")}
	for v := range 500 {
		plain = append(plain, strconv.AppendUint(nil, uint64(1_000_000_000+v*3), 10))
	}
	multi = append(append(slices.Clone(plain[:2]), window...), plain[2:]...)
	return s, c, check, multi, plain
}

// TestRelWindowAllocatesNothing holds the hot-path rule for the windowed
// and BATCH forms too.
func TestRelWindowAllocatesNothing(t *testing.T) {
	s, c, check, multi, _ := windowFixture(t)
	allocatesNothing(t, s, c, check, multi)
}

// BenchmarkRelWindow measures RELMULTI of 500 uids with and without a
// window (each windowed uid reads its time after the probe) and RELCHECK
// BATCH of 10 with one, in the server, without the network.
func BenchmarkRelWindow(b *testing.B) {
	s, c, check, multi, plain := windowFixture(b)
	benchDispatch(b, s, c, "RELMULTI/500", plain)
	benchDispatch(b, s, c, "RELMULTI/500/window", multi)
	benchDispatch(b, s, c, "RELCHECK/BATCH/10/window", check)
}

// BenchmarkRelMembersPage measures pages of 100 of a 5000-member list with
// times: the first page, and a page from a cursor halfway down (which sorts
// only the 2500 members after it).
func BenchmarkRelMembersPage(b *testing.B) {
	s := newTestServer(b)
	c := newTestClient(s)
	args := [][]byte{[]byte("RELLOAD"), []byte("1.following"), []byte("TIMES")}
	for v := range 5000 {
		args = append(args, strconv.AppendUint(nil, uint64(1_000_000_000+v*7), 10),
			strconv.AppendUint(nil, uint64(1_700_000_000+v/3), 10)) // ties of three
	}
	s.dispatch(c, args, time.Now())
	first := [][]byte{[]byte("RELMEMBERS"), []byte("1.following"), []byte("WITHTIMES"), []byte("LIMIT"), []byte("100")}
	mid := append(slices.Clone(first), []byte("BEFORE"), []byte("1700000833"), []byte("1000017493"))
	benchDispatch(b, s, c, "first/100", first)
	benchDispatch(b, s, c, "BEFORE/halfway/100", mid)
}

// TestRelMembersPageOfTruncatedList: a truncated list holds only its
// newest members, so a page that reaches its oldest cached time cannot be
// answered (a short or tied page would say "no more" or skip an older
// member with a smaller uid); one that stays above it can.
func TestRelMembersPageOfTruncatedList(t *testing.T) {
	s := newTestServer(t)
	c := newTestClient(s)
	// The newest five of a longer list; 300 is its oldest cached time.
	run(s, c, "RELLOAD 1.follower TIMES TRUNCATED 11 500 12 400 13 400 14 300 15 300")
	run(s, c, "RELLOAD 2.follower TIMES TRUNCATED")
	const unknown = "-TRUNCATED the relation set holds only the newest part of the list, and this page reaches its oldest cached follow time: members there and past it are unknown\r\n"
	expect(t, s, c, []struct{ line, want string }{
		{"RELMEMBERS 1.follower LIMIT 3", "*3\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n"},
		{"RELMEMBERS 1.follower BEFORE 400 12 LIMIT 1", "*1\r\n$2\r\n13\r\n"},
		{"RELMEMBERS 1.follower SINCE 301", "*3\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n"},
		{"RELMEMBERS 1.follower SINCE 301 BEFORE 400 12", "*1\r\n$2\r\n13\r\n"},
		{"RELMEMBERS 1.follower BEFORE 400 13 LIMIT 2", unknown},
		{"RELMEMBERS 1.follower BEFORE 400 13 LIMIT 1", unknown},
		{"RELMEMBERS 1.follower NEWEST 10", unknown},
		{"RELMEMBERS 1.follower SINCE 300", unknown},
		{"RELMEMBERS 1.follower UNTIL 450", unknown},
		{"RELMEMBERS 2.follower LIMIT 1", unknown},
		// The whole cached part, as HGETALL lists it (docs: truncated lists).
		{"RELMEMBERS 1.follower", "*5\r\n$2\r\n11\r\n$2\r\n12\r\n$2\r\n13\r\n$2\r\n14\r\n$2\r\n15\r\n"},
	})
}
