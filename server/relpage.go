package server

import (
	"math"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
)

// RELMEMBERS's pages (TAO's assoc_time_range): a window, a (time, uid)
// cursor and a LIMIT over a list in openhash.NewestFirst order.

// pageArgs is what a RELMEMBERS command line asks for.
type pageArgs struct {
	withTimes bool
	limit     int          // -1 without LIMIT or NEWEST
	win       resp.RelOpts // SINCE and UNTIL only
	after     openhash.Member
	paged     bool // BEFORE: list only the members after `after`
}

// parsePage reads RELMEMBERS's options; on bad input it replies and
// reports false.
func (c *client) parsePage(args [][]byte) (p pageArgs, ok bool) {
	p.limit, p.win.Until = -1, math.MaxUint32
	for i := 0; i < len(args); i++ {
		switch {
		case eqFold(args[i], "WITHTIMES"):
			p.withTimes = true
		case (eqFold(args[i], "LIMIT") || eqFold(args[i], "NEWEST")) && i+1 < len(args):
			n, isInt := parseInt(args[i+1])
			if !isInt || n < 1 {
				name := "LIMIT"
				if eqFold(args[i], "NEWEST") {
					name = "NEWEST"
				}
				c.err("ERR " + name + " must be a positive integer")
				return p, false
			}
			p.limit = int(min(n, 1<<31))
			i++
		case eqFold(args[i], "SINCE") || eqFold(args[i], "UNTIL"):
			n, msg := p.win.ParseWindow(args[i:])
			if msg != "" {
				c.err(msg)
				return p, false
			}
			i += n - 1
		case eqFold(args[i], "BEFORE") && i+2 < len(args):
			t, isTime := parseTime(args[i+1])
			if !isTime {
				c.err(errRelTime)
				return p, false
			}
			u, isUID := parseUID(args[i+2])
			if !isUID {
				c.err(errRelMember)
				return p, false
			}
			p.after, p.paged = openhash.Member{UID: u, Time: t}, true
			i += 2
		default:
			c.err(errSyntax)
			return p, false
		}
	}
	return p, true
}

// page gathers p's members of set into c.members, in order. known is false
// for a page of a truncated list that reaches its oldest cached time:
// below it members are missing, and at it too (the source keeps a tie's
// largest uids, the listing starts a tie with the smallest). The plain
// listing (no window, cursor or LIMIT) is the cached part, as HGETALL's.
func (c *client) page(p *pageArgs, set *openhash.Set) (ms []openhash.Member, known bool) {
	var keep func(openhash.Member) bool
	if p.win.Windowed || p.paged {
		keep = func(m openhash.Member) bool {
			return p.win.Holds(m.Time) && (!p.paged || openhash.NewestFirst(p.after, m) < 0)
		}
	}
	oldest := uint32(math.MaxUint32)
	cut := (p.win.Windowed || p.paged || p.limit >= 0) && set.Truncated()
	if cut {
		inner := keep
		keep = func(m openhash.Member) bool {
			oldest = min(oldest, m.Time)
			return inner == nil || inner(m)
		}
	}
	c.members = set.AppendNewest(c.members[:0], p.limit, keep)
	ms = c.members
	return ms, !cut || truncatedPageKnown(ms, p.limit, p.win.Since, oldest, set.Count())
}

// errTruncatedPage is RELMEMBERS's reply for a page of a truncated list
// that reaches its oldest cached time.
const errTruncatedPage = "TRUNCATED the relation set holds only the newest part of the list, and this page reaches its oldest cached follow time: members there and past it are unknown"

// truncatedPageKnown reports whether a page of a truncated list whose
// oldest cached time is oldest is exact: its window starts above oldest
// (every member it can hold is cached), or it is full and ends above it.
func truncatedPageKnown(ms []openhash.Member, limit int, since, oldest uint32, count int) bool {
	switch {
	case count == 0:
		return false
	case since > oldest:
		return true
	}
	return limit >= 0 && len(ms) == limit && ms[len(ms)-1].Time > oldest
}
