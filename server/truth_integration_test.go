package server_test

import (
	"context"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestIssue17NeverContradicts is the issue's report, run as a new user
// would: relcache serve with its default source (an empty SQLite file),
// two lists loaded by RELLOAD, then RELWHO must agree with RELCHECK, and
// the bi-follow lists with both.
func TestIssue17NeverContradicts(t *testing.T) {
	p := relcachetest.Start(t, "--source", "sqlite")
	ctx := context.Background()
	c := client(t, p.Addr)
	for _, cmd := range [][]any{{"RELLOAD", "1.following", "2"}, {"RELLOAD", "2.following", "3"}, {"RELLOAD", "3.following", "2"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	if code, err := c.Do(ctx, "RELCHECK", "2", "3").Int64(); err != nil || code != 3 {
		t.Fatalf("RELCHECK 2 3 = %d, %v; want 3", code, err)
	}
	if who, err := c.Do(ctx, "RELWHO", "1", "3").StringSlice(); err != nil || len(who) != 1 || who[0] != "2" {
		t.Fatalf("RELWHO 1 3 = %q, %v; want [2] (RELCHECK 2 3 says 2 follows 3)", who, err)
	}
	for key, want := range map[string]string{"2.bifollow": "3", "3.bifollow": "2"} {
		if got, err := c.Do(ctx, "RELMEMBERS", key).StringSlice(); err != nil || len(got) != 1 || got[0] != want {
			t.Fatalf("RELMEMBERS %s = %q, %v; want [%s]", key, got, err, want)
		}
	}
	if got, err := c.Do(ctx, "RELMEMBERS", "1.bifollow").StringSlice(); err != nil || len(got) != 0 {
		t.Fatalf("RELMEMBERS 1.bifollow = %q, %v; want [] (2 does not follow 1)", got, err)
	}
}
