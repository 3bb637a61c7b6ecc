package server

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tidwall/redcon"
)

// Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
// PUBSUB, with Redis 7's replies. It is what a RESP2 client needs to be
// told of invalidations (CLIENT TRACKING ... REDIRECT to a subscribed
// connection gets them as messages on __redis__:invalidate), and a real
// pub/sub in its own right: channels and glob patterns, delivered through
// the subscribers' push queues (push.go), so a subscriber that stops
// reading is closed at its output limit rather than stalling a publisher.
//
// In RESP2 a connection with a subscription takes only (P)SUBSCRIBE,
// (P)UNSUBSCRIBE, PING and QUIT, as in Redis; in RESP3 anything. The
// subscription replies are push messages in RESP3.

// pubsubRegistry maps channels and patterns to their subscribers.
type pubsubRegistry struct {
	mu       sync.RWMutex // guards channels, patterns
	channels map[string]map[*client]struct{}
	patterns map[string]map[*client]struct{}
}

// clientPubSub is a client's subscriptions. channels, patterns and active
// belong to the client's goroutine; the atomics are for other goroutines.
type clientPubSub struct {
	channels map[string]struct{}
	patterns map[string]struct{}
	// active is Redis's CLIENT_PUBSUB: set by a subscription, cleared when
	// the last one goes. In RESP2 it restricts the commands the client
	// may send.
	active bool
	flag   atomic.Bool // active, for a tracker redirecting invalidations here
	nch    atomic.Int32
	npat   atomic.Int32
}

func newPubSubRegistry() *pubsubRegistry {
	return &pubsubRegistry{channels: map[string]map[*client]struct{}{}, patterns: map[string]map[*client]struct{}{}}
}

func (c *client) setPubSubActive(on bool) {
	c.ps.active = on
	c.ps.flag.Store(on)
}

// subCount is the number Redis's (un)subscribe replies carry: channels and
// patterns together.
func (c *client) subCount() int64 { return int64(len(c.ps.channels) + len(c.ps.patterns)) }

// add subscribes c to name (a pattern when pattern is set); false if it was.
func (r *pubsubRegistry) add(c *client, name string, pattern bool) bool {
	mine, all := &c.ps.channels, r.channels
	if pattern {
		mine, all = &c.ps.patterns, r.patterns
	}
	if _, ok := (*mine)[name]; ok {
		return false
	}
	if *mine == nil {
		*mine = map[string]struct{}{}
	}
	(*mine)[name] = struct{}{}
	r.mu.Lock()
	subs := all[name]
	if subs == nil {
		subs = map[*client]struct{}{}
		all[name] = subs
	}
	subs[c] = struct{}{}
	r.mu.Unlock()
	c.ps.nch.Store(int32(len(c.ps.channels)))
	c.ps.npat.Store(int32(len(c.ps.patterns)))
	return true
}

// remove unsubscribes c from name; false if it was not subscribed.
func (r *pubsubRegistry) remove(c *client, name string, pattern bool) bool {
	mine, all := c.ps.channels, r.channels
	if pattern {
		mine, all = c.ps.patterns, r.patterns
	}
	if _, ok := mine[name]; !ok {
		return false
	}
	delete(mine, name)
	r.mu.Lock()
	if subs := all[name]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(all, name)
		}
	}
	r.mu.Unlock()
	c.ps.nch.Store(int32(len(c.ps.channels)))
	c.ps.npat.Store(int32(len(c.ps.patterns)))
	return true
}

// unsubscribeAll drops every subscription of a client that is going.
func (r *pubsubRegistry) unsubscribeAll(c *client) {
	for name := range c.ps.channels {
		r.remove(c, name, false)
	}
	for name := range c.ps.patterns {
		r.remove(c, name, true)
	}
	c.setPubSubActive(false)
}

// publish delivers msg on channel to its subscribers and to those of
// matching patterns, and returns how many deliveries it made. from is the
// publisher: when it is itself a subscriber (RESP3) its message goes into
// its reply stream before PUBLISH's reply, as in Redis; inside EXEC it is
// queued instead, to follow the EXEC reply (Redis 7.0 writes it into the
// middle of the EXEC array, which no client can parse).
func (r *pubsubRegistry) publish(from *client, channel, msg []byte) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n int64
	deliver := func(to *client, pattern string) {
		n++
		build := func(dst []byte) []byte {
			resp3 := to.respVer.Load() == 3
			if pattern != "" {
				dst = appendPushHeader(dst, resp3, 4)
				dst = append(dst, "$8\r\npmessage\r\n"...)
				dst = redcon.AppendBulkString(dst, pattern)
			} else {
				dst = appendPushHeader(dst, resp3, 3)
				dst = append(dst, "$7\r\nmessage\r\n"...)
			}
			dst = redcon.AppendBulk(dst, channel)
			return redcon.AppendBulk(dst, msg)
		}
		if to == from && from.view == nil {
			from.out = build(from.out)
			return
		}
		to.enqueuePush(to == from, build)
	}
	for to := range r.channels[string(channel)] {
		deliver(to, "")
	}
	for pat, subs := range r.patterns {
		if globMatch([]byte(pat), channel) {
			for to := range subs {
				deliver(to, pat)
			}
		}
	}
	return n
}

// counts is INFO's pubsub_channels and pubsub_patterns.
func (r *pubsubRegistry) counts() (channels, patterns int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.channels), len(r.patterns)
}

// subscribeReply is one (un)subscribe confirmation: a push in RESP3, an
// array in RESP2; name nil is the null of an UNSUBSCRIBE with nothing to
// unsubscribe.
func (c *client) subscribeReply(kind string, name []byte, count int64) {
	c.out = appendPushHeader(c.out, c.proto == 3, 3)
	c.out = redcon.AppendBulkString(c.out, kind)
	if name == nil {
		c.out = appendNull(c.out, c.proto == 3)
	} else {
		c.out = redcon.AppendBulk(c.out, name)
	}
	c.integer(count)
}

// SUBSCRIBE channel [channel ...] and PSUBSCRIBE pattern [pattern ...]
func subscribeCmd(pattern bool) func(*client, [][]byte) {
	kind := "subscribe"
	if pattern {
		kind = "psubscribe"
	}
	return func(c *client, args [][]byte) {
		for _, name := range args[1:] {
			c.srv.pubsub.add(c, string(name), pattern)
			c.subscribeReply(kind, name, c.subCount())
		}
		c.setPubSubActive(true)
	}
}

// UNSUBSCRIBE [channel ...] and PUNSUBSCRIBE [pattern ...]: without names,
// every subscription of the kind (in sorted order; Redis's is its hash
// table's), or one reply with a null name when there is none.
func unsubscribeCmd(pattern bool) func(*client, [][]byte) {
	kind := "unsubscribe"
	if pattern {
		kind = "punsubscribe"
	}
	return func(c *client, args [][]byte) {
		names := args[1:]
		if len(names) == 0 {
			mine := c.ps.channels
			if pattern {
				mine = c.ps.patterns
			}
			for name := range mine {
				names = append(names, []byte(name))
			}
			slices.SortFunc(names, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
			if len(names) == 0 {
				c.subscribeReply(kind, nil, c.subCount())
			}
		}
		for _, name := range names {
			c.srv.pubsub.remove(c, string(name), pattern)
			c.subscribeReply(kind, name, c.subCount())
		}
		if c.subCount() == 0 {
			c.setPubSubActive(false)
		}
	}
}

// PUBLISH channel message
func cmdPublish(c *client, args [][]byte) {
	c.integer(c.srv.pubsub.publish(c, args[1], args[2]))
}

// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP
func cmdPubSub(c *client, args [][]byte) {
	r := c.srv.pubsub
	switch {
	case eqFold(args[1], "channels") && len(args) <= 3:
		r.mu.RLock()
		var names []string
		for name := range r.channels {
			if len(args) == 2 || globMatch(args[2], name) {
				names = append(names, name)
			}
		}
		r.mu.RUnlock()
		slices.Sort(names)
		c.arrayOfBulk(names)
	case eqFold(args[1], "numsub"):
		c.arrayHeader(2 * (len(args) - 2))
		r.mu.RLock()
		defer r.mu.RUnlock()
		for _, name := range args[2:] {
			c.bulk(name)
			c.integer(int64(len(r.channels[string(name)])))
		}
	case eqFold(args[1], "numpat"):
		r.mu.RLock()
		n := len(r.patterns)
		r.mu.RUnlock()
		c.integer(int64(n))
	case eqFold(args[1], "help"):
		lines := []string{
			"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CHANNELS [<pattern>]",
			"    Return the currently active channels matching a <pattern> (default: '*').",
			"NUMPAT",
			"    Return number of subscriptions to patterns.",
			"NUMSUB [<channel> ...]",
			"    Return the number of subscribers for the specified channels, excluding",
			"    pattern subscriptions(default: no channels).",
			"HELP",
			"    Prints this help.",
		}
		c.arrayHeader(len(lines))
		for _, l := range lines {
			c.simple(l)
		}
	default:
		c.err("ERR unknown subcommand or wrong number of arguments for '" + cString(args[1][:min(len(args[1]), 128)]) + "'. Try PUBSUB HELP.")
	}
}

// pubsubAllowed lists what a RESP2 client with subscriptions may send.
func pubsubAllowed(cmd *command) bool {
	switch cmd.name {
	case "ping", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "quit":
		return true
	}
	return false
}

// pubsubRefusal is Redis's error for any other command.
func pubsubRefusal(cmd *command, args [][]byte) string {
	name := cmd.name
	if cmd.subs != nil && len(args) > 1 {
		name += "|" + strings.ToLower(string(args[1]))
	}
	return "ERR Can't execute '" + name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}
