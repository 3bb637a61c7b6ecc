package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/relcache/relcache/internal/resp"
)

// Handlers for connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT
// and CLIENT.

// redisCompatVersion is the Redis version whose behaviour relcache follows;
// HELLO and INFO report it as redis_version because clients use it to pick
// features.
const redisCompatVersion = "7.2.0"

func cmdPing(c *client, args [][]byte) {
	if c.ps.active && c.proto == 2 {
		// With subscriptions, RESP2 answers in the shape of a message.
		c.arrayHeader(2)
		c.bulkString("pong")
		if len(args) > 1 {
			c.bulk(args[1])
		} else {
			c.bulkString("")
		}
		return
	}
	switch len(args) {
	case 1:
		c.simple("PONG")
	case 2:
		c.bulk(args[1])
	default:
		c.err("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *client, args [][]byte) { c.bulk(args[1]) }

func cmdQuit(c *client, _ [][]byte) {
	c.ok()
	c.closeAfterReply = true
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// AUTH [username] password
func cmdAuth(c *client, args [][]byte) {
	if len(args) > 3 {
		c.err(errSyntax)
		return
	}
	var user []byte
	pass := args[1]
	if len(args) == 3 {
		user, pass = args[1], args[2]
	}
	if user == nil && c.srv.acl.users.Default().User().NoPass() {
		c.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if !c.authenticate(user, pass, args[0]) {
		c.err(errWrongPass)
		return
	}
	c.ok()
}

// HELLO [protover [AUTH username password] [SETNAME clientname]], checked
// in Redis 7.2's order: the version; the options in turn (a syntax error
// or a bad name ends it there; of repeated options the last counts); then
// the password; then that the client is authenticated. Nothing changes
// (name, protocol, authentication) unless every check passed: Redis 7.0
// set a name before a later option's syntax error, and authenticated
// before one.
func cmdHello(c *client, args [][]byte) {
	proto := c.proto
	if len(args) > 1 {
		v, ok := parseInt(args[1])
		if !ok {
			c.err("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.err("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
	}
	var name, user, pass []byte
	var hasName, hasAuth bool
	for i := 2; i < len(args); i++ {
		switch {
		case cEqFold(args[i], "AUTH") && i+2 < len(args):
			user, pass, hasAuth = args[i+1], args[i+2], true
			i += 2
		case cEqFold(args[i], "SETNAME") && i+1 < len(args):
			name, hasName = args[i+1], true
			if !validClientName(name) {
				c.err(errClientName)
				return
			}
			i++
		default:
			c.err("ERR Syntax error in HELLO option '" + cString(args[i]) + "'")
			return
		}
	}
	if hasAuth {
		if !c.authenticate(user, pass, args[0]) {
			c.err(errWrongPass)
			return
		}
	}
	if !c.authed {
		c.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if hasName {
		c.setName(string(name))
	}
	c.proto = proto
	c.respVer.Store(int32(proto))
	// Redis's seven fields, no more: clients (and redis-cli) print or
	// check them; relcache's own version is in INFO's relcache_version.
	c.mapHeader(7)
	c.bulkString("server")
	c.bulkString("redis")
	c.bulkString("version")
	c.bulkString(redisCompatVersion)
	c.bulkString("proto")
	c.integer(int64(proto))
	c.bulkString("id")
	c.integer(c.id)
	c.bulkString("mode")
	c.bulkString("standalone")
	c.bulkString("role")
	c.bulkString("master")
	c.bulkString("modules")
	c.arrayHeader(0)
}

func cmdSelect(c *client, args [][]byte) {
	if msg := resp.SelectError(args[1]); msg != "" {
		c.err(msg)
		return
	}
	c.ok()
}

const errClientName = "ERR Client names cannot contain spaces, newlines or special characters."

func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func (c *client) setName(n string) {
	c.mu.Lock()
	c.name = n
	c.mu.Unlock()
}

func (c *client) getName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.name
}

// info is the client's line in CLIENT LIST / CLIENT INFO, with the fields
// tools read; fields relcache has no equivalent for are omitted rather than
// faked.
func (c *client) info(now time.Time) string {
	cmd := "NULL"
	if lc := c.lastCmd.Load(); lc != nil {
		cmd = lc.name
	}
	var sb strings.Builder
	sb.WriteString("id=")
	sb.WriteString(strconv.FormatInt(c.id, 10))
	sb.WriteString(" addr=" + c.addr + " laddr=" + c.laddr + " name=" + c.getName())
	sb.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	idle := now.Sub(time.Unix(0, c.lastActive.Load()))
	sb.WriteString(" idle=" + strconv.FormatInt(int64(max(idle, 0)/time.Second), 10))
	flags := ""
	if c.ps.flag.Load() {
		flags += "P"
	}
	n := c.txLen.Load()
	if n >= 0 {
		flags += "x"
	}
	redir := int64(-1)
	if cfg := c.track.cfg.Load(); cfg != nil {
		flags += "t"
		if c.track.brokenRedir.Load() {
			flags += "R"
		}
		if cfg.bcast {
			flags += "B"
		}
		redir = cfg.redirect
	}
	if c.watchTouched.Load() {
		flags += "d"
	}
	if flags == "" {
		flags = "N"
	}
	sb.WriteString(" flags=" + flags + " db=0 sub=" + strconv.Itoa(int(c.ps.nch.Load())) + " psub=" + strconv.Itoa(int(c.ps.npat.Load())) +
		" ssub=0 multi=" + strconv.Itoa(int(n)) + " cmd=" + cmd + " user=" + c.user.Load().Name())
	sb.WriteString(" redir=" + strconv.FormatInt(redir, 10))
	sb.WriteString(" resp=" + strconv.Itoa(int(c.respVer.Load())))
	c.mu.Lock()
	sb.WriteString(" lib-name=" + c.libName + " lib-ver=" + c.libVer)
	c.mu.Unlock()
	return sb.String()
}

// clientSetInfo is CLIENT SETINFO LIB-NAME|LIB-VER value, as Redis 7.2 has
// it: the value is read as a C string (up to a NUL byte) and must be
// printable ASCII without spaces, so CLIENT LIST stays split by spaces; ""
// clears it. The refusals quote the attribute as the client wrote it.
func clientSetInfo(c *client, attr, val []byte) {
	var dst *string
	switch {
	case cEqFold(attr, "LIB-NAME"):
		dst = &c.libName
	case cEqFold(attr, "LIB-VER"):
		dst = &c.libVer
	default:
		c.err("ERR Unrecognized option '" + cString(attr) + "'")
		return
	}
	v := cString(val)
	if !validClientName([]byte(v)) {
		c.err("ERR " + cString(attr) + " cannot contain spaces, newlines or special characters.")
		return
	}
	c.mu.Lock()
	*dst = v
	c.mu.Unlock()
	c.ok()
}

// CLIENT ID | SETNAME | GETNAME | LIST | KILL | INFO | SETINFO | PROXY | HELP
func cmdClient(c *client, args [][]byte) {
	// dispatch has checked the subcommand and its argument count.
	switch sub := strings.ToLower(string(args[1])); sub {
	case "id":
		c.integer(c.id)
	case "getname":
		if n := c.getName(); n != "" {
			c.bulkString(n)
		} else {
			c.null()
		}
	case "setname":
		if !validClientName(args[2]) {
			c.err(errClientName)
			return
		}
		c.setName(string(args[2]))
		c.ok()
	case "setinfo":
		clientSetInfo(c, args[2], args[3])
	case "proxy":
		// A proxy's connection carries many clients' commands: a reply
		// over client-output-buffer-limit becomes an error for that one
		// command instead of closing the connection (conn.go).
		switch {
		case eqFold(args[2], "on"):
			c.proxy = true
		case eqFold(args[2], "off"):
			c.proxy = false
		default:
			c.err(errSyntax)
			return
		}
		c.ok()
	case "tracking":
		clientTracking(c, args)
	case "caching":
		clientCaching(c, args)
	case "getredir":
		clientGetRedir(c)
	case "trackinginfo":
		clientTrackingInfo(c)
	case "info":
		c.verbatim([]byte(c.info(time.Now()) + "\n"))
	case "list":
		clientList(c, args)
	case "kill":
		clientKill(c, args)
	case "help":
		c.arrayOfBulk([]string{
			"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ID", "GETNAME", "SETNAME <name>", "INFO", "LIST [TYPE normal] [ID id ...]",
			"KILL <ip:port> | KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]",
			"SETINFO <LIB-NAME|LIB-VER> <value>",
			"PROXY <ON|OFF>",
			"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
			"CACHING (YES|NO)", "GETREDIR", "TRACKINGINFO",
		})
	default:
		c.err(unknownSubcommand(args[1], "client"))
	}
}

func clientList(c *client, args [][]byte) {
	var ids map[int64]bool
	pubsubType := -1 // TYPE normal: 0, TYPE pubsub: 1 (Redis's pub/sub flag decides)
	for i := 2; i < len(args); i++ {
		switch {
		case eqFold(args[i], "TYPE") && i+1 < len(args):
			switch {
			case eqFold(args[i+1], "normal"):
				pubsubType = 0
			case eqFold(args[i+1], "pubsub"):
				pubsubType = 1
			default:
				// relcache has no replicas.
				c.verbatim(nil)
				return
			}
			i++
		case eqFold(args[i], "ID") && i+1 < len(args):
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				// Any int64, as in Redis: one that no client has matches none.
				id, ok := parseInt(args[i])
				if !ok {
					c.err("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.err(errSyntax)
			return
		}
	}
	now := time.Now()
	var sb strings.Builder
	c.srv.eachClient(func(o *client) {
		if (ids == nil || ids[o.id]) && (pubsubType < 0 || o.ps.flag.Load() == (pubsubType == 1)) {
			sb.WriteString(o.info(now))
			sb.WriteByte('\n')
		}
	})
	c.verbatim([]byte(sb.String()))
}

// clientKill supports the old form (CLIENT KILL addr, replies OK) and the
// filter form (CLIENT KILL [ID id] [ADDR a] [LADDR a] [SKIPME yes|no],
// replies the number killed).
func clientKill(c *client, args [][]byte) {
	if len(args) < 3 {
		c.err(subArity("client", "kill"))
		return
	}
	var id int64
	var addr, laddr string
	skipMe := true
	oldForm := len(args) == 3
	if oldForm {
		addr = string(args[2])
	} else {
		if len(args)%2 != 0 {
			c.err(errSyntax)
			return
		}
		for i := 2; i < len(args); i += 2 {
			v := args[i+1]
			switch {
			case eqFold(args[i], "ID"):
				n, ok := parseInt(v)
				if !ok || n <= 0 {
					c.err("ERR client-id should be greater than 0")
					return
				}
				id = n
			case eqFold(args[i], "ADDR"):
				addr = string(v)
			case eqFold(args[i], "LADDR"):
				laddr = string(v)
			case eqFold(args[i], "SKIPME"):
				switch {
				case eqFold(v, "yes"):
					skipMe = true
				case eqFold(v, "no"):
					skipMe = false
				default:
					c.err(errSyntax)
					return
				}
			default:
				c.err(errSyntax)
				return
			}
		}
	}
	var killed int64
	c.srv.eachClient(func(o *client) {
		if (id != 0 && o.id != id) || (addr != "" && o.addr != addr) || (laddr != "" && o.laddr != laddr) {
			return
		}
		if o == c {
			if skipMe && !oldForm {
				return
			}
			// Killing yourself: answer first, then go.
			c.closeAfterReply = true
		} else {
			o.conn.Close()
		}
		killed++
	})
	if oldForm {
		if killed == 0 {
			c.err("ERR No such client")
			return
		}
		c.ok()
		return
	}
	c.integer(killed)
}
