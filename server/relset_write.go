package server

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/relcache/relcache/fill"
	"github.com/relcache/relcache/openhash"
	"github.com/relcache/relcache/store"
)

// The relation-set write commands: RELLOAD builds a set and stores it with
// one write; RELADD and RELDEL edit one copy-on-write (fill.EditSet).

// RELLOAD key [TIMES] [TRUNCATED] uid [time] [uid [time] ...] [TRUNCATED]:
// build the set server-side and store it with one write, replacing the key
// (and its TTL). The build runs before the store is touched, so no lock is
// held while it runs. Replies the member count.
func cmdRelLoad(c *client, args [][]byte) {
	var withTimes, truncated bool
	rest := args[2:]
	for len(rest) > 0 {
		switch {
		case eqFold(rest[0], "TIMES"):
			withTimes = true
		case eqFold(rest[0], "TRUNCATED"):
			truncated = true
		default:
			goto members
		}
		rest = rest[1:]
	}
members:
	if n := len(rest); n > 0 && eqFold(rest[n-1], "TRUNCATED") {
		truncated, rest = true, rest[:n-1]
	}
	if !c.parseMembers(rest, withTimes) {
		return
	}
	var times []uint32
	if withTimes {
		// Never nil: Build reads a nil times as "without times", and the
		// connection's scratch is nil until some command grew it, so an
		// empty RELLOAD key TIMES built a set without times on a fresh
		// connection and one with them on a used one.
		times = nonNil(c.times)
	}
	buf, err := openhash.Build(nil, c.uids, times, openhash.Options{Seed: rand.Uint64(), Truncated: truncated, Version: c.srv.setVersion(), Fit: true})
	if err != nil {
		c.err("ERR " + err.Error())
		return
	}
	c.db().Set(args[1], store.Entry{Kind: store.KindRelSet, Value: buf})
	set, _ := openhash.Open(buf)
	c.integer(int64(set.Count()))
}

// replyMutation turns fill.EditSet's result into a reply.
func (c *client) replyMutation(n int, err error) {
	switch {
	case err == nil:
		c.integer(int64(n))
	case errors.Is(err, fill.ErrNotCached):
		c.integer(0)
	case errors.Is(err, errWrongTypeKind):
		c.err(errWrongType)
	default:
		c.err("ERR " + err.Error())
	}
}

// RELADD key [XX] [TIMES] uid [time] ...: add members (in place when the
// set has room, else grown). With TIMES the arguments are uid/time pairs;
// without, members of a set with times get the current time. XX: only if the
// set is cached — a cache must not create a one-member list that looks
// complete. Without XX an absent key becomes a new set (with times when
// TIMES is given). Replies the number of new members.
func cmdRelAdd(c *client, args [][]byte) {
	var xx, withTimes bool
	rest := args[2:]
	for len(rest) > 0 && (eqFold(rest[0], "XX") || eqFold(rest[0], "TIMES")) {
		if eqFold(rest[0], "XX") {
			xx = true
		} else {
			withTimes = true
		}
		rest = rest[1:]
	}
	if len(rest) == 0 {
		c.err("ERR wrong number of arguments for 'reladd' command")
		return
	}
	if !c.parseMembers(rest, withTimes) {
		return
	}
	var times []uint32
	if withTimes {
		times = c.times
	}
	var create func() ([]byte, error)
	if !xx {
		create = fill.EmptySet(withTimes, c.srv.setVersion())
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], create, fill.AddMembers(c.uids, times, uint32(time.Now().Unix()))))
}

// RELDEL key [XX] uid [uid ...]: remove members; replies how many were
// there. XX is accepted for symmetry with RELADD (removing never creates).
// A set emptied this way stays cached as an empty list.
func cmdRelDel(c *client, args [][]byte) {
	rest := args[2:]
	if len(rest) > 0 && eqFold(rest[0], "XX") {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		c.err("ERR wrong number of arguments for 'reldel' command")
		return
	}
	if !c.parseUIDs(rest) {
		return
	}
	c.replyMutation(fill.EditSet(c.db(), args[1], nil, fill.RemoveMembers(c.uids)))
}

// nonNil is times, or an empty slice for nil: Build's "with times" for a
// list of no members.
func nonNil(times []uint32) []uint32 {
	if times == nil {
		return []uint32{}
	}
	return times
}
