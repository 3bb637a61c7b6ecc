package server_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/relcache/relcache/internal/relcachetest"
	"github.com/relcache/relcache/internal/resp"
)

// TestRelMultiDecimalBatchOverTheWire sends batches of 500 decimal uids
// to the binary with go-redis: the answers, and a bad uid's error in the
// middle of a batch, are those of the uids one at a time.
func TestRelMultiDecimalBatchOverTheWire(t *testing.T) {
	p := relcachetest.Start(t)
	ctx := context.Background()
	c := client(t, p.Addr)
	load := []any{"RELLOAD", "u.following"}
	for i := range 1000 {
		load = append(load, uint64(i)*1_000_003_000_017)
	}
	if err := c.Do(ctx, load...).Err(); err != nil {
		t.Fatal(err)
	}
	batch := []any{"RELMULTI", "u.following"}
	var want []any
	for i := range 500 {
		u := uint64(i) * 1_000_003_000_017
		if i%3 == 1 {
			u++ // not a member
		}
		batch = append(batch, strconv.FormatUint(u, 10))
		want = append(want, int64(1-i%3%2))
	}
	got, err := c.Do(ctx, batch...).Slice()
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("RELMULTI of 500: %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"-1", "+1", "1.5", "18446744073709551616", "x"} {
		batch[250] = bad
		err := c.Do(ctx, batch...).Err()
		if err == nil || err.Error() != resp.ErrRelMember {
			t.Errorf("uid %q in a batch: %v, want %q", bad, err, resp.ErrRelMember)
		}
	}
}
