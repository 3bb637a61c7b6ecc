// Package sourcetest wraps a real source of record for tests that need the
// faults a remote shard has. It lives apart from relcachetest, which the
// loader's own tests import.
package sourcetest

import (
	"context"
	"sync/atomic"

	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/shard"
)

// FaultySource wraps a real source (SQLite, MariaDB), journal included, to
// count its queries and to inject the faults a remote shard has: errors,
// hangs until the deadline, and writes held at a gate. Its zero faults
// pass everything through.
type FaultySource struct {
	*loader.SQL
	Loads atomic.Int64
	Fail  atomic.Pointer[error]
	Hang  atomic.Bool
	Gate  chan struct{} // when not nil, each Load waits for it to close
	// AfterLoad, when set, runs once after a query answered and before
	// the caller stores the list: the window a racing FOLLOW falls in.
	AfterLoad atomic.Pointer[func()]
	// AfterLookup is AfterLoad for Lookup: the window between the source's
	// answer about uids a truncated list lacks and the cache keeping it.
	AfterLookup atomic.Pointer[func()]
	// WriteGate, when not nil, holds each Follow and Unfollow until it
	// closes; InWrite counts those in the source now, MaxInWrite the
	// most at once. WriteFail fails them.
	WriteGate           chan struct{}
	InWrite, MaxInWrite atomic.Int64
	WriteFail           atomic.Pointer[error]
}

// Load counts the query and applies the load faults.
func (s *FaultySource) Load(ctx context.Context, uid uint64, k shard.Kind, limit int) (loader.List, error) {
	s.Loads.Add(1)
	if s.Gate != nil {
		<-s.Gate
	}
	if s.Hang.Load() {
		<-ctx.Done()
		return loader.List{}, ctx.Err()
	}
	if err := s.Fail.Load(); err != nil {
		return loader.List{}, *err
	}
	l, err := s.SQL.Load(ctx, uid, k, limit)
	if hook := s.AfterLoad.Swap(nil); hook != nil {
		(*hook)()
	}
	return l, err
}

// Lookup applies the load faults, then asks.
func (s *FaultySource) Lookup(ctx context.Context, uid uint64, k shard.Kind, others []uint64) ([]loader.Member, error) {
	if err := s.Fail.Load(); err != nil {
		return nil, *err
	}
	found, err := s.SQL.Lookup(ctx, uid, k, others)
	if hook := s.AfterLookup.Swap(nil); hook != nil {
		(*hook)()
	}
	return found, err
}

// Follow applies the write faults, then writes.
func (s *FaultySource) Follow(ctx context.Context, from, to uint64, t uint32) (bool, error) {
	return s.write(func() (bool, error) { return s.SQL.Follow(ctx, from, to, t) })
}

// Unfollow applies the write faults, then writes.
func (s *FaultySource) Unfollow(ctx context.Context, from, to uint64) (bool, error) {
	return s.write(func() (bool, error) { return s.SQL.Unfollow(ctx, from, to) })
}

func (s *FaultySource) write(w func() (bool, error)) (bool, error) {
	n := s.InWrite.Add(1)
	defer s.InWrite.Add(-1)
	for m := s.MaxInWrite.Load(); n > m && !s.MaxInWrite.CompareAndSwap(m, n); m = s.MaxInWrite.Load() {
	}
	if s.WriteGate != nil {
		<-s.WriteGate
	}
	if err := s.WriteFail.Load(); err != nil {
		return false, *err
	}
	return w()
}
