package server

import (
	"bytes"
)

// Handlers for client-side caching: CLIENT TRACKING, CACHING, GETREDIR and
// TRACKINGINFO (tracking.go does the work), with Redis 7.0's checks in its
// order and its wording.

// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
func clientTracking(c *client, args [][]byte) {
	var cfg trackConfig
	var prefixes []string
	for j := 3; j < len(args); j++ {
		more := j < len(args)-1
		switch a := args[j]; {
		case cEqFold(a, "redirect") && more:
			j++
			if cfg.redirect != 0 {
				c.err("ERR A client can only redirect to a single other client")
				return
			}
			id, ok := parseInt(args[j])
			if !ok {
				c.err(errNotInt)
				return
			}
			// The client must exist now; if it leaves later, the tracking
			// client is told (tracking-redir-broken).
			to := c.srv.clientByID(id)
			if to == nil {
				c.err("ERR The client ID you want redirect to does not exist")
				return
			}
			cfg.redirect, cfg.redirectTo = id, to
		case cEqFold(a, "bcast"):
			cfg.bcast = true
		case cEqFold(a, "optin"):
			cfg.optin = true
		case cEqFold(a, "optout"):
			cfg.optout = true
		case cEqFold(a, "noloop"):
			cfg.noloop = true
		case cEqFold(a, "prefix") && more:
			j++
			prefixes = append(prefixes, string(args[j]))
		default:
			c.err(errSyntax)
			return
		}
	}
	switch {
	case cEqFold(args[2], "off"):
		c.srv.track.disable(c)
		c.ok()
		return
	case !cEqFold(args[2], "on"):
		c.err(errSyntax)
		return
	}
	old := c.track.cfg.Load()
	switch {
	case !cfg.bcast && len(prefixes) > 0:
		c.err("ERR PREFIX option requires BCAST mode to be enabled")
	case old != nil && old.bcast != cfg.bcast:
		c.err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
	case cfg.bcast && (cfg.optin || cfg.optout):
		c.err("ERR OPTIN and OPTOUT are not compatible with BCAST")
	case cfg.optin && cfg.optout:
		c.err("ERR You can't specify both OPTIN mode and OPTOUT mode")
	case old != nil && ((cfg.optin && old.optout) || (cfg.optout && old.optin)):
		c.err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
	default:
		if cfg.bcast {
			var have []string
			if old != nil {
				have = old.prefixes
			}
			if msg := prefixCollision(have, prefixes); msg != "" {
				c.err(msg)
				return
			}
		}
		c.srv.track.enable(c, &cfg, prefixes)
		c.ok()
	}
}

// prefixCollision is Redis's check that no two prefixes of one client
// overlap (one a prefix of the other: both would announce the same key).
// Where Redis 7.0, finding two new prefixes that overlap past the first,
// answers the error and then OK and enables tracking anyway (two replies
// to one command), relcache answers the error alone and changes nothing.
func prefixCollision(have, add []string) string {
	overlap := func(a, b string) bool { n := min(len(a), len(b)); return a[:n] == b[:n] }
	for i, p := range add {
		for _, h := range have {
			if overlap(h, p) {
				return "ERR Prefix '" + cStr(p) + "' overlaps with an existing prefix '" + cStr(h) + "'. Prefixes for a single client must not overlap."
			}
		}
		for _, q := range add[i+1:] {
			if overlap(p, q) {
				return "ERR Prefix '" + cStr(p) + "' overlaps with another provided prefix '" + cStr(q) + "'. Prefixes for a single client must not overlap."
			}
		}
	}
	return ""
}

// cStr is s as C's %s prints it: up to its first NUL.
func cStr(s string) string {
	if i := bytes.IndexByte([]byte(s), 0); i >= 0 {
		return s[:i]
	}
	return s
}

// CLIENT CACHING yes|no: whether the next command's keys are remembered,
// in OPTIN (yes) or OPTOUT (no) mode.
func clientCaching(c *client, args [][]byte) {
	cfg := c.track.cfg.Load()
	if cfg == nil {
		c.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch {
	case cEqFold(args[2], "yes"):
		if !cfg.optin {
			c.err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
	case cEqFold(args[2], "no"):
		if !cfg.optout {
			c.err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
	default:
		c.err(errSyntax)
		return
	}
	c.track.caching = true
	c.ok()
}

// CLIENT GETREDIR: the redirect id, 0 without one, -1 with tracking off.
func clientGetRedir(c *client) {
	if cfg := c.track.cfg.Load(); cfg != nil {
		c.integer(cfg.redirect)
		return
	}
	c.integer(-1)
}

// CLIENT TRACKINGINFO: a map of flags (a set), redirect and prefixes.
func clientTrackingInfo(c *client) {
	cfg := c.track.cfg.Load()
	flags := []string{"off"}
	redirect := int64(-1)
	var prefixes []string
	if cfg != nil {
		flags[0], redirect, prefixes = "on", cfg.redirect, cfg.prefixes
		if cfg.bcast {
			flags = append(flags, "bcast")
		}
		if cfg.optin {
			flags = append(flags, "optin")
			if c.track.caching {
				flags = append(flags, "caching-yes")
			}
		}
		if cfg.optout {
			flags = append(flags, "optout")
			if c.track.caching {
				flags = append(flags, "caching-no")
			}
		}
		if cfg.noloop {
			flags = append(flags, "noloop")
		}
		if c.track.brokenRedir.Load() {
			flags = append(flags, "broken_redirect")
		}
	}
	c.mapHeader(3)
	c.bulkString("flags")
	c.setHeader(len(flags))
	for _, f := range flags {
		c.bulkString(f)
	}
	c.bulkString("redirect")
	c.integer(redirect)
	c.bulkString("prefixes")
	c.arrayOfBulk(prefixes)
}
