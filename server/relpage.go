package server

import (
	"math"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/openhash"
)

// RELMEMBERS's pages (TAO's assoc_time_range): a window, a (time, uid)
// cursor and a LIMIT over a list in openhash.NewestFirst order.

// parsePage reads RELMEMBERS's options (resp.ParsePage); on bad input it
// replies and reports false.
func (c *client) parsePage(args [][]byte) (p resp.Page, ok bool) {
	p, msg := resp.ParsePage(args)
	if msg != "" {
		c.err(msg)
		return p, false
	}
	return p, true
}

// page gathers p's members of set into c.members, in order. known is false
// for a page of a truncated list that reaches its oldest cached time:
// below it members are missing, and at it too (the source keeps a tie's
// largest uids, the listing starts a tie with the smallest). The plain
// listing (no window, cursor or LIMIT) is the cached part, as HGETALL's.
func (c *client) page(p *resp.Page, set *openhash.Set) (ms []openhash.Member, known bool) {
	var keep func(openhash.Member) bool
	if p.Win.Windowed || p.Paged {
		keep = func(m openhash.Member) bool { return p.Keeps(m.UID, m.Time) }
	}
	oldest := uint32(math.MaxUint32)
	cut := (p.Win.Windowed || p.Paged || p.Limit >= 0) && set.Truncated()
	if cut {
		inner := keep
		keep = func(m openhash.Member) bool {
			oldest = min(oldest, m.Time)
			return inner == nil || inner(m)
		}
	}
	c.members = set.AppendNewest(c.members[:0], p.Limit, keep)
	ms = c.members
	return ms, !cut || truncatedPageKnown(ms, p.Limit, p.Win.Since, oldest, set.Count())
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
