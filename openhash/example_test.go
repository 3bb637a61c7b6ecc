package openhash_test

import (
	"errors"
	"fmt"

	"github.com/relcache/relcache/openhash"
)

func Example() {
	// A follow list: uids and the times the follows happened.
	uids := []uint64{1_000_000_001, 2_000_000_002, 3_000_000_003}
	times := []uint32{1_700_000_000, 1_700_000_500, 1_600_000_000}
	v, err := openhash.Build(nil, uids, times, openhash.Options{Seed: 7})
	if err != nil {
		panic(err)
	}

	// The server side: open once per request, no allocation.
	s, err := openhash.Open(v)
	if err != nil {
		panic(err)
	}
	hits := s.ContainsBatch(nil, []uint64{2_000_000_002, 42, 1_000_000_001})
	fmt.Println(s.Count(), hits)

	// A new follow, in place; grow when the set is full.
	if _, err := openhash.Insert(v, 4_000_000_004, 1_800_000_000); errors.Is(err, openhash.ErrFull) {
		v, _ = openhash.Grow(nil, v, 1, openhash.Member{UID: 4_000_000_004, Time: 1_800_000_000})
	}
	s, _ = openhash.Open(v)
	for _, m := range s.AppendByTime(nil) {
		fmt.Println(m.UID, m.Time)
	}
	// Output:
	// 3 [true false true]
	// 4000000004 1800000000
	// 2000000002 1700000500
	// 1000000001 1700000000
	// 3000000003 1600000000
}
