package proxyfront

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/relcache/relcache/internal/resp"
	"github.com/relcache/relcache/shard"
)

// Relation commands that read more than one user's lists are composed from
// per-node primitives, one parallel round per step, so that a client sees
// what a single node holding every list would answer:
//
//	RELCHECK a b1..bn  = RELMULTI a.following b1..bn on a's node (bit 1)
//	                   + RELFOLLOWS a <the b's of each node> (bit 2),
//	                   both with RELCHECK's SINCE/UNTIL window
//	RELFOLLOWS x u...  = RELFOLLOWS x <the u's of each node>, with its window
//	RELWHO a x         = RELMEMBERS a.following, then RELFOLLOWS x <a's
//	                     members on each node>, kept in list order
//	RELCOMMON a b      = RELCARD … CACHED of both, RELMEMBERS of the smaller, then
//	                     RELMULTI of the larger with those members
//	FOLLOW a b         = FOLLOW on a's node (it writes the source of record),
//	                     then RELEDGE on b's node for the cached b.follower
//
// When every user involved lives on one node the command is forwarded
// whole. Fail-over to a replica pool re-sends each sub-request to the
// replica node owning its first user; that is exact when the pools'
// servers have the same names and weights, as copies of one layout do.

// userKey builds uid's list key of kind k in c.keyBuf and returns its ring
// position.
func (c *client) userKey(t *topology, uid uint64, k shard.Kind) ([]byte, uint32) {
	var err error
	c.keyBuf, err = t.keys.Append(c.keyBuf[:0], uid, k)
	if err != nil {
		// A pattern without {kind} names no fan lists: route by the
		// following key, which shares the uid.
		c.keyBuf, _ = t.keys.Append(c.keyBuf[:0], uid, shard.Following)
	}
	return c.keyBuf, t.hashOf(c.keyBuf, c.scratch)
}

// userHash is the ring position of uid's lists. With route_by = "uid" and
// no hash tag that is the hash of the uid's decimal text, with no key to
// build and parse back (a RELCHECK of 500 routes 501 users).
func (c *client) userHash(t *topology, uid uint64) uint32 {
	if t.routeUID && t.cfg.HashTag == "" {
		c.scratch = strconv.AppendUint(c.scratch[:0], uid, 10)
		return t.hash(c.scratch)
	}
	_, h := c.userKey(t, uid, shard.Following)
	return h
}

// parseUIDs reads uids, answering the node's refusal for a bad one. The
// slice is the caller's to keep (a composed command's op reads it after
// the reader has moved on).
func (c *client) parseUIDs(name string, args [][]byte) ([]uint64, bool) {
	uids, ok := c.appendUIDs(make([]uint64, 0, len(args)), args)
	if !ok {
		c.fail(name, resp.ErrRelMember)
		return nil, false
	}
	return uids, true
}

// uidGroup is the part of a relation command bound for one backend.
type uidGroup struct {
	be   *backend
	h    uint32   // ring position of the group's first user
	pos  []int    // positions in the caller's uid list
	uids [][]byte // the uids as the client wrote them
	k    *call
}

// groupUsers groups uids by the node holding each one's following list.
// dec says text[i] is the decimal uids[i] was parsed from (not a packed
// word): where it is the uid's own decimal, its ring position is hashed
// from it with no decimal to write.
func (c *client) groupUsers(t *topology, uids []uint64, text [][]byte, dec bool) []*uidGroup {
	var gs []*uidGroup
	dec = dec && t.routeUID && t.cfg.HashTag == ""
	for i, u := range uids {
		var h uint32
		if w := text[i]; dec && len(w) > 0 && (w[0] != '0' || len(w) == 1) {
			// ParseUint took it, and it has no leading zero: it is what
			// userHash would write.
			h = t.hash(w)
		} else {
			h = c.userHash(t, u)
		}
		be := t.reads[0].backendFor(h)
		var g *uidGroup
		for _, x := range gs {
			if x.be == be {
				g = x
				break
			}
		}
		if g == nil {
			// Sized for the worst case: growing these was an eighth of a
			// 100-uid RELCHECK's CPU in the proxy.
			g = &uidGroup{be: be, h: h, pos: make([]int, 0, len(uids)-i), uids: make([][]byte, 0, len(uids)-i)}
			gs = append(gs, g)
		}
		g.pos = append(g.pos, i)
		g.uids = append(g.uids, text[i])
	}
	c.p.metrics.fanout.Observe(float64(len(gs)))
	return gs
}

// startFollows sends RELFOLLOWS x <opts> <group's uids> to each group's
// node; opts is the window as userAndUIDs wrote it and WITHTIMES, or nil.
// With bin the uids go packed (BIN), as the client sent them.
func (c *client) startFollows(t *topology, gs []*uidGroup, x []byte, opts [][]byte, bin bool) {
	for _, g := range gs {
		args := make([][]byte, 0, 4+len(opts)+len(g.uids))
		args = append(append(args, []byte("RELFOLLOWS"), x), opts...)
		g.k = c.start(t, g.h, true, appendUIDArgs(args, g.uids, bin)...)
	}
}

// appendUIDArgs appends uids to a sub-request's arguments: one argument
// each, or with bin "BIN" and one argument of them packed. uids are the
// client's own words (decimal text, or 8-byte slices of its packed
// argument), so a packed batch is split per shard without ever being
// written as decimal.
func appendUIDArgs(args, uids [][]byte, bin bool) [][]byte {
	if !bin {
		return append(args, uids...)
	}
	n := 0
	for _, u := range uids {
		n += len(u)
	}
	packed := make([]byte, 0, n)
	for _, u := range uids {
		packed = append(packed, u...)
	}
	return append(args, []byte("BIN"), packed)
}

// userAndUIDs reads "CMD x [options] uid [uid ...]" (RELCHECK, RELFOLLOWS;
// or "CMD x [options] BIN <packed uids>") as a node does, answering its
// refusals: the options, the uids, each uid as the client wrote it (text),
// and the window's words to pass on to the nodes (a fresh slice: a caller
// may append its own words).
func (c *client) userAndUIDs(name string, args [][]byte, takes int) (o resp.RelOpts, window [][]byte, uids []uint64, text [][]byte, ok bool) {
	if _, ok := resp.ParseUint(args[1]); !ok {
		c.fail(name, resp.ErrRelMember)
		return o, nil, nil, nil, false
	}
	o, msg := resp.ParseRelOpts(args[2:], takes|resp.OptBin)
	switch {
	case msg != "":
		c.fail(name, msg)
		return o, nil, nil, nil, false
	case len(args) == 2+o.N:
		c.fail(name, "ERR wrong number of arguments for '"+name+"' command")
		return o, nil, nil, nil, false
	}
	if o.Windowed {
		// Both ends, whatever the client repeated or left out.
		window = [][]byte{[]byte("SINCE"), strconv.AppendUint(nil, uint64(o.Since), 10),
			[]byte("UNTIL"), strconv.AppendUint(nil, uint64(o.Until), 10)}
	}
	text = args[2+o.N:]
	if !o.Bin {
		uids, ok = c.parseUIDs(name, text)
		return o, window, uids, text, ok
	}
	n, packed := resp.PackedUIDs(text)
	if !packed {
		c.fail(name, resp.ErrRelBin)
		return o, nil, nil, nil, false
	}
	uids = resp.AppendPackedUIDs(make([]uint64, 0, n), text[0])
	words := make([][]byte, n)
	for i := range words {
		words[i] = text[0][8*i : 8*i+8 : 8*i+8]
	}
	return o, window, uids, words, true
}

// followCodes waits for the groups' RELFOLLOWS and returns each uid's
// answer (1, 0, -1) by position; a position the node answered with an
// error (the uid's key holds another kind) gets that error reply in
// elemErr, as a single node puts it in its array. errMsg is set when a
// whole sub-request failed.
func (c *client) followCodes(gs []*uidGroup, n int) (codes []int64, elemErr [][]byte, errMsg string) {
	codes, elemErr = make([]int64, n), make([][]byte, n)
	var elems [][]byte
	for _, g := range gs {
		if elems, errMsg = c.groupElems(g, elems[:0], 1, "RELFOLLOWS", errMsg); errMsg != "" {
			continue
		}
		for j, p := range g.pos {
			v, ok := resp.Int(elems[j])
			switch {
			case ok:
				codes[p] = v
			case resp.IsError(elems[j]):
				elemErr[p] = append([]byte(nil), elems[j]...)
			default:
				errMsg = "ERR proxy: backend " + g.be.name + " answered RELFOLLOWS with " + strconv.Quote(string(elems[j]))
			}
		}
	}
	for _, g := range gs {
		g.k.release()
	}
	return codes, elemErr, errMsg
}

// groupElems waits for g's reply and appends its elements to dst, per of
// them for each of the group's uids. Once errMsg is set (this or an earlier
// group's sub-request failed) it only waits, so every call is awaited.
func (c *client) groupElems(g *uidGroup, dst [][]byte, per int, what, errMsg string) ([][]byte, string) {
	c.await(g.k)
	switch {
	case errMsg != "":
		return dst, errMsg
	case g.k.err != nil:
		return dst, g.k.err.Error()
	case resp.IsError(g.k.reply):
		return dst, resp.ErrorText(g.k.reply)
	}
	dst, ok := resp.AppendElements(dst, g.k.reply)
	if !ok || len(dst) != per*len(g.pos) {
		return dst, "ERR proxy: backend " + g.be.name + " answered " + what + " with " + strconv.Quote(string(g.k.reply))
	}
	return dst, ""
}

// RELCHECK a [SINCE t] [UNTIL t] [BATCH] b [b ...] (or BIN <packed b's>)
func cmdRelCheck(c *client, t *topology, args [][]byte) {
	o, window, bs, text, ok := c.userAndUIDs("relcheck", args, resp.OptBatch)
	if !ok {
		return
	}
	if !o.Batch && !o.Bin && len(bs) > 1 {
		c.fail("relcheck", resp.ErrRelCheckBatch)
		return
	}
	a, _ := resp.ParseUint(args[1])
	if c.l1Serves() && c.l1RelCheck(t, args, o, a, bs) {
		return
	}
	aKey, hA := c.userKey(t, a, shard.Following)
	aKey = append([]byte(nil), aKey...) // groupUsers reuses the key buffer
	gs := c.groupUsers(t, bs, text, !o.Bin)
	if len(gs) == 1 && gs[0].be == t.reads[0].backendFor(hA) {
		c.pending = append(c.pending, c.start(t, hA, true, args...))
		return
	}
	multi := make([][]byte, 0, 4+len(window)+len(text))
	multi = append(append(multi, []byte("RELMULTI"), aKey), window...)
	if o.Bin {
		multi = append(multi, []byte("BIN"), args[len(args)-1]) // all of them: the client's own bytes
	} else {
		multi = append(multi, text...)
	}
	km := c.start(t, hA, true, multi...)
	c.startFollows(t, gs, args[1], window, o.Bin)
	ks := make([]*call, 1, 1+len(gs))
	ks[0] = km
	for _, g := range gs {
		ks = append(ks, g.k)
	}
	c.pending = append(c.pending, joinOp{ks: ks, fn: func(c *client) {
		c.await(km)
		defer km.release()
		follows, elemErr, errMsg := c.followCodes(gs, len(bs))
		var mine [][]byte
		aCached := false
		switch {
		case errMsg != "":
		case km.err != nil:
			errMsg = km.err.Error()
		case resp.IsError(km.reply):
			errMsg = resp.ErrorText(km.reply)
		case resp.IsNil(km.reply):
		default:
			mine, aCached = resp.AppendElements(nil, km.reply)
			if !aCached || len(mine) != len(bs) {
				errMsg = "ERR proxy: backend " + km.be.name + " answered RELMULTI with " + strconv.Quote(string(km.reply))
			}
		}
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		if o.Batch || o.Bin {
			c.out = redcon.AppendArray(c.out, len(bs))
		}
		for i := range bs {
			if elemErr[i] != nil {
				c.out = append(c.out, elemErr[i]...)
				continue
			}
			code := int64(-1)
			if aCached {
				m, _ := resp.Int(mine[i])
				if m >= 0 && follows[i] >= 0 {
					code = m | follows[i]<<1
				}
			}
			c.out = redcon.AppendInt(c.out, code)
		}
	}})
}

// RELFOLLOWS x [WITHTIMES] [SINCE t] [UNTIL t] u [u ...] (or BIN <packed u's>)
func cmdRelFollows(c *client, t *topology, args [][]byte) {
	o, window, us, text, ok := c.userAndUIDs("relfollows", args, resp.OptWithTimes)
	if !ok {
		return
	}
	gs := c.groupUsers(t, us, text, !o.Bin)
	if len(gs) == 1 {
		c.pending = append(c.pending, c.start(t, gs[0].h, true, args...))
		return
	}
	if o.WithTimes {
		c.startFollows(t, gs, args[1], append(window, []byte("WITHTIMES")), o.Bin)
		c.pending = append(c.pending, composeFollowPairs(gs, len(us)))
		return
	}
	c.startFollows(t, gs, args[1], window, o.Bin)
	c.pending = append(c.pending, opFunc(func(c *client) {
		codes, elemErr, errMsg := c.followCodes(gs, len(us))
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		c.out = redcon.AppendArray(c.out, len(codes))
		for i, v := range codes {
			if elemErr[i] != nil {
				c.out = append(c.out, elemErr[i]...)
				continue
			}
			c.out = redcon.AppendInt(c.out, v)
		}
	}))
}

// pairArgs reads "CMD a b [LIMIT n]" as the node does, answering its
// refusals; limit is -1 without LIMIT.
func (c *client) pairArgs(name string, args [][]byte) (a, b uint64, limit int, ok bool) {
	a, ok1 := resp.ParseUint(args[1])
	b, ok2 := resp.ParseUint(args[2])
	if !ok1 || !ok2 {
		c.fail(name, resp.ErrRelMember)
		return 0, 0, 0, false
	}
	switch rest := args[3:]; {
	case len(rest) == 0:
		return a, b, -1, true
	case len(rest) == 2 && strings.EqualFold(string(rest[0]), "LIMIT"):
		n, isInt := resp.ParseInt(rest[1])
		if !isInt || n < 1 {
			c.fail(name, resp.ErrLimit)
			return 0, 0, 0, false
		}
		return a, b, int(min(n, 1<<31)), true
	}
	c.fail(name, resp.ErrSyntax)
	return 0, 0, 0, false
}

// listReply sorts out a RELMEMBERS-like reply: the elements' payloads, or
// nil for a nil array, or an error text.
func listReply(k *call, name string) (members [][]byte, isNil bool, errMsg string) {
	switch {
	case k.err != nil:
		return nil, false, k.err.Error()
	case resp.IsError(k.reply):
		return nil, false, resp.ErrorText(k.reply)
	case resp.IsNil(k.reply):
		return nil, true, ""
	}
	elems, ok := resp.AppendElements(nil, k.reply)
	if !ok {
		return nil, false, "ERR proxy: backend " + k.be.name + " answered " + name + " with " + strconv.Quote(string(k.reply))
	}
	members = make([][]byte, len(elems))
	for i, e := range elems {
		if members[i], ok = resp.Bulk(e); !ok {
			return nil, false, "ERR proxy: backend " + k.be.name + " answered " + name + " with " + strconv.Quote(string(e))
		}
	}
	return members, false, ""
}

// members reads a RELMEMBERS reply; when there are none to work on (an
// error, or the list is not cached) it has answered the client and reports
// false.
func (c *client) members(k *call) ([][]byte, bool) {
	members, isNil, errMsg := listReply(k, "RELMEMBERS")
	switch {
	case errMsg != "":
		c.out = redcon.AppendError(c.out, errMsg)
		return nil, false
	case isNil:
		c.out = append(c.out, "*-1\r\n"...)
		return nil, false
	}
	return members, true
}

// uidList replies the members at positions where keep is true, up to limit.
func (c *client) uidList(members [][]byte, keep func(i int) bool, limit int) {
	var out [][]byte
	for i, m := range members {
		if limit >= 0 && len(out) >= limit {
			break
		}
		if keep(i) {
			out = append(out, m)
		}
	}
	c.out = redcon.AppendArray(c.out, len(out))
	for _, m := range out {
		c.out = redcon.AppendBulk(c.out, m)
	}
}

// RELWHO a x [LIMIT n]
func cmdRelWho(c *client, t *topology, args [][]byte) {
	a, _, limit, ok := c.pairArgs("relwho", args)
	if !ok {
		return
	}
	aKey, hA := c.userKey(t, a, shard.Following)
	if len(t.reads[0].backends) == 1 {
		c.pending = append(c.pending, c.start(t, hA, true, args...))
		return
	}
	km := c.start(t, hA, true, []byte("RELMEMBERS"), aKey)
	x := append([]byte(nil), args[2]...)
	c.pending = append(c.pending, opFunc(func(c *client) {
		c.await(km)
		defer km.release() // members point into its reply
		members, ok := c.members(km)
		if !ok {
			return
		}
		uids, ok := c.parseMembers(members)
		if !ok {
			return
		}
		gs := c.groupUsers(t, uids, members, true)
		c.startFollows(t, gs, x, nil, false)
		// A member whose key holds another kind is skipped, as a node's
		// RELWHO skips it.
		codes, _, errMsg := c.followCodes(gs, len(uids))
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		c.uidList(members, func(i int) bool { return codes[i] == 1 }, limit)
	}))
}

// parseMembers reads the uids a node listed; a node that lists something
// else is answered for as a failure.
func (c *client) parseMembers(members [][]byte) ([]uint64, bool) {
	uids := make([]uint64, len(members))
	for i, m := range members {
		u, ok := resp.ParseUint(m)
		if !ok {
			c.out = redcon.AppendError(c.out, "ERR proxy: a node listed "+strconv.Quote(string(m))+" as a member")
			return nil, false
		}
		uids[i] = u
	}
	return uids, true
}

// RELCOMMON a b [LIMIT n]
func cmdRelCommon(c *client, t *topology, args [][]byte) {
	a, b, limit, ok := c.pairArgs("relcommon", args)
	if !ok {
		return
	}
	aKey, hA := c.userKey(t, a, shard.Following)
	aKey = append([]byte(nil), aKey...)
	bKey, hB := c.userKey(t, b, shard.Following)
	bKey = append([]byte(nil), bKey...)
	if t.reads[0].backendFor(hA) == t.reads[0].backendFor(hB) {
		c.pending = append(c.pending, c.start(t, hA, true, args...))
		return
	}
	// The cached counts, as the node's RELCOMMON compares them (a
	// truncated list's RELCARD is its whole length).
	card, cached := []byte("RELCARD"), []byte("CACHED")
	ka := c.start(t, hA, true, card, aKey, cached)
	kb := c.start(t, hB, true, card, bKey, cached)
	c.p.metrics.fanout.Observe(2)
	c.pending = append(c.pending, opFunc(func(c *client) {
		c.await(ka)
		c.await(kb)
		counts := [2]int64{}
		nils, errMsg := 0, ""
		for i, k := range []*call{ka, kb} {
			switch {
			case errMsg != "":
			case k.err != nil:
				errMsg = k.err.Error()
			case resp.IsError(k.reply):
				errMsg = resp.ErrorText(k.reply)
			case resp.IsNil(k.reply):
				nils++
			default:
				n, ok := resp.Int(k.reply)
				if !ok {
					errMsg = "ERR proxy: backend " + k.be.name + " answered RELCARD with " + strconv.Quote(string(k.reply))
				}
				counts[i] = n
			}
			k.release()
		}
		switch {
		case errMsg != "":
			c.out = redcon.AppendError(c.out, errMsg)
			return
		case nils > 0:
			c.out = append(c.out, "*-1\r\n"...)
			return
		}
		smallKey, hS, largeKey, hL := aKey, hA, bKey, hB
		if counts[0] > counts[1] {
			smallKey, hS, largeKey, hL = bKey, hB, aKey, hA
		}
		km := c.start(t, hS, true, []byte("RELMEMBERS"), smallKey)
		c.await(km)
		defer km.release()           // members point into its reply
		members, ok := c.members(km) // nil if evicted between the rounds
		if !ok {
			return
		}
		if len(members) == 0 {
			c.out = append(c.out, "*0\r\n"...)
			return
		}
		probe := make([][]byte, 0, 2+len(members))
		probe = append(probe, []byte("RELMULTI"), largeKey)
		kl := c.start(t, hL, true, append(probe, members...)...)
		c.await(kl)
		defer kl.release()
		var in [][]byte
		switch {
		case kl.err != nil:
			errMsg = kl.err.Error()
		case resp.IsError(kl.reply):
			errMsg = resp.ErrorText(kl.reply)
		case resp.IsNil(kl.reply):
			c.out = append(c.out, "*-1\r\n"...)
			return
		default:
			var ok bool
			if in, ok = resp.AppendElements(nil, kl.reply); !ok || len(in) != len(members) {
				errMsg = "ERR proxy: backend " + kl.be.name + " answered RELMULTI with " + strconv.Quote(string(kl.reply))
			}
		}
		if errMsg != "" {
			c.out = redcon.AppendError(c.out, errMsg)
			return
		}
		c.uidList(members, func(i int) bool { n, _ := resp.Int(in[i]); return n == 1 }, limit)
	}))
}

// FOLLOW a b [time] / UNFOLLOW a b
func cmdFollow(c *client, t *topology, args [][]byte) {
	name := strings.ToLower(string(args[0]))
	add := name == "follow"
	if add && len(args) > 4 {
		c.fail(name, "ERR wrong number of arguments for 'follow' command")
		return
	}
	a, ok1 := resp.ParseUint(args[1])
	b, ok2 := resp.ParseUint(args[2])
	if !ok1 || !ok2 {
		c.fail(name, resp.ErrRelMember)
		return
	}
	if a == b {
		c.fail(name, "ERR a user cannot follow itself")
		return
	}
	// The proxy fixes the time, so a's node and b's agree on it.
	ts := strconv.AppendInt(nil, time.Now().Unix(), 10)
	if len(args) == 4 {
		if v, ok := resp.ParseUint(args[3]); !ok || v > 1<<32-1 {
			c.fail(name, resp.ErrRelTime)
			return
		}
		ts = append(ts[:0], args[3]...)
	}
	aText := append([]byte(nil), args[1]...)
	bText := append([]byte(nil), args[2]...)
	_, hA := c.userKey(t, a, shard.Following)
	bKey, hB := c.userKey(t, b, shard.Follower)
	bKey = append([]byte(nil), bKey...)

	write := []byte("FOLLOW")
	edge := [][]byte{[]byte("RELEDGE"), []byte("ADD"), aText, bText, ts}
	if !add {
		write = []byte("UNFOLLOW")
		edge = [][]byte{[]byte("RELEDGE"), []byte("DEL"), aText, bText}
	}
	k := newCall()
	k.req = resp.AppendCommand(k.req[:0], write, aText, bText)
	if add {
		k.req = resp.AppendCommand(k.req[:0], write, aText, bText, ts)
	}
	beA, beB := t.primary.backendFor(hA), t.primary.backendFor(hB)
	// Users on two nodes: both must write one source of record (source.go).
	checkFirst := false
	if beA != beB {
		msg, known := followAcross(name, beA, beB)
		if msg != "" {
			k.release()
			c.fail(name, msg)
			return
		}
		checkFirst = !known
	}
	if !checkFirst {
		c.send(beA, k)
	}
	c.pending = append(c.pending, opFunc(func(c *client) {
		if checkFirst {
			msg := c.learnSources(beA, beB)
			if msg == "" {
				var known bool
				if msg, known = followAcross(name, beA, beB); !known {
					msg = "ERR proxy: " + name + " of users on different nodes needs both nodes to write one source of record, and a node answered INFO loader with something else"
				}
			}
			if msg != "" {
				k.release()
				c.p.metrics.errors.WithLabelValues(name).Inc()
				c.out = redcon.AppendError(c.out, msg)
				return
			}
			c.send(beA, k)
		}
		c.wait(k)
		defer k.release()
		ok := k.err == nil && !resp.IsError(k.reply)
		if ok {
			edge = withEdgeChange(edge, k.reply)
		}
		if beB != beA {
			// b.follower on b's node: patched, or, after a failed write,
			// dropped (the next read loads what the source holds).
			patch := newCall()
			if ok {
				patch.req = resp.AppendCommand(patch.req[:0], edge...)
			} else {
				patch.req = resp.AppendCommand(patch.req[:0], []byte("UNLINK"), bKey)
			}
			c.send(beB, patch)
			c.wait(patch)
			if patch.err != nil || resp.IsError(patch.reply) {
				c.p.log.Warn("follow: could not update the fan list on its node; it may be stale until it expires")
			}
			patch.release()
		}
		if ok && t.cfg.ReplicateWrites {
			for _, p := range t.replicas {
				for _, be := range []*backend{p.backendFor(hA), p.backendFor(hB)} {
					r := &call{req: resp.AppendCommand(nil, edge...), done: make(chan struct{}, 1), noReply: true}
					c.replicate(be, r)
					if p.backendFor(hA) == p.backendFor(hB) {
						break
					}
				}
			}
		}
		if k.err != nil {
			c.out = redcon.AppendError(c.out, k.err.Error())
			return
		}
		c.out = append(c.out, k.reply...)
	}))
}

// withEdgeChange adds to a RELEDGE what the writing node's FOLLOW or
// UNFOLLOW replied (1: the edge was new, or was there to remove; 0: not),
// so the other nodes keep the true totals of truncated fan lists instead
// of dropping them.
func withEdgeChange(edge [][]byte, reply []byte) [][]byte {
	switch string(reply) {
	case ":1\r\n", "#t\r\n":
		return append(edge, []byte("CHANGED"))
	case ":0\r\n", "#f\r\n":
		return append(edge, []byte("UNCHANGED"))
	}
	return edge
}
