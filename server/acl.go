package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relcache/relcache/internal/acl"
	"github.com/relcache/relcache/internal/cmdmeta"
	"github.com/relcache/relcache/internal/safefile"
	"go.uber.org/zap"
)

// Users and permissions (Redis 6+'s ACL): internal/acl owns the users, the
// rules and the check; this file binds them to connections, dispatch, the
// aclfile and ACL LOG.

// aclState is the server's users, its ACL LOG and its aclfile.
type aclState struct {
	users *acl.Users
	log   aclLog
	// file is the aclfile's path, "" when there is none (aclfile "-").
	file   string
	saveMu sync.Mutex // one ACL SAVE or LOAD at a time
}

// initACL builds the users from the command table (the catalog of what
// rules can name) and requirepass.
func (s *Server) initACL() {
	all := map[string]*command{} // commands and subcommands, by full name
	for name, cmd := range s.cmds {
		all[name] = cmd
		for _, sub := range cmd.subs {
			all[sub.name] = sub
		}
	}
	cat := acl.NewCatalog(metaOf(all))
	for name, cmd := range all {
		cmd.acl = cat.Lookup(name)
	}
	s.acl.users = acl.NewUsers(cat, s.cfg.RequirePass)
	s.acl.log.max.Store(int64(s.cfg.ACLLogMaxLen))
	if f := s.cfg.ACLFile; f != "-" {
		if !filepath.IsAbs(f) {
			f = filepath.Join(s.cfg.Dir, f)
		}
		s.acl.file = f
	}
}

// loadACLFile loads the aclfile at start: a missing file is no error (the
// default user alone, as without one); a bad one stops the start, with
// Redis's words and line numbers.
func (s *Server) loadACLFile() error {
	if s.acl.file == "" {
		return nil
	}
	users, err := s.readACLFile()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.log.Info("no aclfile yet; only the default user exists", zap.String("aclfile", s.acl.file))
		return nil
	case err != nil:
		return fmt.Errorf("aborting start because of ACL errors: %w", err)
	}
	s.acl.users.Replace(users)
	s.log.Info("users loaded", zap.String("aclfile", s.acl.file), zap.Int("users", len(users)))
	return nil
}

// readACLFile parses the aclfile as Redis's ACLLoadFromFile does: one
// "user <name> <rules...>" per line, split on single spaces; every error is
// reported (path:line: reason) and none of the users is taken.
func (s *Server) readACLFile() ([]*acl.User, error) {
	f, err := safefile.OpenRegular(s.acl.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// An aclfile holds a few lines per user; anything past this is not one.
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.acl.file, err)
	}
	return acl.ParseFile(s.acl.users.Catalog(), s.acl.file, data)
}

// saveACLFile writes every user to the aclfile atomically (ACL SAVE).
func (s *Server) saveACLFile() error {
	s.acl.saveMu.Lock()
	defer s.acl.saveMu.Unlock()
	users := s.acl.users.List()
	return safefile.WriteFile(s.acl.file, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, u := range users {
			bw.WriteString(u.Describe())
			bw.WriteByte('\n')
		}
		return bw.Flush()
	})
}

// closeClientsOf closes the connections authenticated as users that were
// deleted (ACL DELUSER, ACL LOAD), as Redis does; the caller's own
// connection is closed after its reply.
func (s *Server) closeClientsOf(c *client, gone []*acl.Handle) {
	if len(gone) == 0 {
		return
	}
	s.eachClient(func(o *client) {
		h := o.user.Load()
		if !h.Gone() {
			return
		}
		if o == c {
			c.closeAfterReply = true
			return
		}
		o.conn.Close()
	})
}

// aclDenied records a refusal in ACL LOG and answers it.
func (c *client) aclDenied(d acl.Denial, context string) {
	c.srv.acl.log.add(c, d.Reason, context, d.Object, c.user.Load().Name())
	c.err(d.Error())
}

// checkACL is the permission check dispatch runs before a command runs
// or is queued: nothing at all for a user with every permission (the
// default user as it starts), which is what keeps the hot path free.
func (c *client) checkACL(cmd *command, args [][]byte) bool {
	u := c.user.Load().User()
	if u.Open() || cmd.flags&flagNoAuth != 0 {
		return true
	}
	if d := u.Check(cmd.acl, args); d.Denied() {
		ctx := "toplevel"
		if c.tx != nil {
			ctx = "multi"
		}
		c.aclDenied(d, ctx)
		return false
	}
	return true
}

// checkQueuedACL is EXEC's check of a queued command against the rules in
// force now, which may have changed since it was queued (Redis's words).
func (c *client) checkQueuedACL(q queued) bool {
	u := c.user.Load().User()
	if u.Open() || q.cmd.flags&flagNoAuth != 0 {
		return true
	}
	d := u.Check(q.cmd.acl, q.args)
	if !d.Denied() {
		return true
	}
	c.srv.acl.log.add(c, d.Reason, "multi", d.Object, c.user.Load().Name())
	why := "no permission to execute the command or subcommand"
	switch d.Reason {
	case "key":
		why = "no permission to touch the specified keys"
	case "channel":
		why = "no permission to access one of the channels used as arguments"
	}
	c.err("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + why)
	return false
}

// authenticate checks a user name and password (AUTH, HELLO AUTH) and
// makes the connection that user; a failure is logged in ACL LOG with
// the command as the client named it.
func (c *client) authenticate(user, pass, cmdName []byte) bool {
	name := "default"
	if user != nil {
		name = string(user)
	}
	h := c.srv.acl.users.Authenticate(name, pass)
	if h == nil {
		ctx := "toplevel"
		if c.tx != nil {
			ctx = "multi"
		}
		c.srv.acl.log.add(c, "auth", ctx, string(cmdName), name)
		return false
	}
	c.user.Store(h)
	c.authed = true
	return true
}

// aclLog is ACL LOG: the newest entries first, at most acllog-max-len.
type aclLog struct {
	mu      sync.Mutex // guards entries
	entries []*aclLogEntry
	max     atomic.Int64
}

type aclLogEntry struct {
	count                                    int64
	reason, context, object, username, cinfo string
	created                                  time.Time
}

// aclLogGroup is Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA: a refusal like
// one less than this old counts into it instead of adding an entry.
const aclLogGroup = 60 * time.Second

func (l *aclLog) add(c *client, reason, context, object, username string) {
	now := time.Now()
	info := c.info(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if e.reason == reason && e.context == context && e.object == object && e.username == username && now.Sub(e.created) < aclLogGroup {
			e.count++
			e.created, e.cinfo = now, info
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = e
			return
		}
	}
	e := &aclLogEntry{count: 1, reason: reason, context: context, object: object, username: username, cinfo: info, created: now}
	l.entries = append([]*aclLogEntry{e}, l.entries...)
	l.trimLocked()
}

func (l *aclLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// reply writes the newest n entries as Redis's ACL LOG does.
func (l *aclLog) reply(c *client, n int) {
	l.mu.Lock()
	entries := l.entries[:min(n, len(l.entries))]
	snap := make([]aclLogEntry, len(entries))
	for i, e := range entries {
		snap[i] = *e
	}
	l.mu.Unlock()
	now := time.Now()
	c.arrayHeader(len(snap))
	for _, e := range snap {
		c.mapHeader(7)
		c.bulkString("count")
		c.integer(e.count)
		for _, kv := range [][2]string{{"reason", e.reason}, {"context", e.context}, {"object", e.object}, {"username", e.username}} {
			c.bulkString(kv[0])
			c.bulkString(kv[1])
		}
		c.bulkString("age-seconds")
		c.doubleFloat(float64(now.Sub(e.created).Milliseconds()) / 1000)
		c.bulkString("client-info")
		c.bulkString(e.cinfo)
	}
}

// doubleFloat is a floating-point reply as Redis's addReplyDouble writes it:
// %.17g, a RESP3 double or a RESP2 bulk string.
func (c *client) doubleFloat(v float64) {
	s := strconv.FormatFloat(v, 'g', 17, 64)
	if c.proto == 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.bulkString(s)
}

// metaOf gives the catalog each command's metadata.
func metaOf(cmds map[string]*command) map[string]*cmdmeta.Command {
	out := make(map[string]*cmdmeta.Command, len(cmds))
	for n, c := range cmds {
		out[n] = c.meta
	}
	return out
}

// aclConfigParams are CONFIG GET/SET's ACL parameters.
func (s *Server) aclConfigParams() []configParam {
	return []configParam{
		{name: "acllog-max-len",
			get: func(s *Server) string { return strconv.FormatInt(s.acl.log.max.Load(), 10) },
			set: func(s *Server, v string) (func(), error) {
				n, err := configInt(v, 0, math.MaxInt32)
				return func() { s.acl.log.max.Store(n); s.acl.log.trim() }, err
			}},
		// Immutable, as in Redis.
		{name: "aclfile", get: func(s *Server) string { return s.acl.file }},
	}
}

func (l *aclLog) trim() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trimLocked()
}

// trimLocked drops the oldest entries past acllog-max-len; l.mu is held.
func (l *aclLog) trimLocked() {
	if m := int(l.max.Load()); len(l.entries) > m {
		clear(l.entries[m:])
		l.entries = l.entries[:m]
	}
}
