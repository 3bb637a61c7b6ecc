package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"

	"github.com/relcache/relcache/internal/acl"
)

// ACL <subcommand>: thin handlers over internal/acl. Dispatch has already
// found the subcommand and checked its argument count.
func cmdACL(c *client, args [][]byte) {
	users := c.srv.acl.users
	switch sub := strings.ToLower(string(args[1])); sub {
	case "setuser":
		name := string(args[2])
		if !acl.ValidName(name) {
			c.err("ERR Usernames can't contain spaces or null characters")
			return
		}
		rules := make([]string, len(args)-3)
		for i, a := range args[3:] {
			rules[i] = string(a)
		}
		if err := users.SetUser(name, rules); err != nil {
			c.err("ERR " + acl.SetUserError(err))
			return
		}
		c.ok()
	case "deluser":
		names := make([]string, len(args)-2)
		for i, a := range args[2:] {
			names[i] = string(a)
		}
		gone, err := users.Delete(names)
		if err != nil {
			c.err("ERR " + err.Error())
			return
		}
		c.srv.closeClientsOf(c, gone)
		c.integer(int64(len(gone)))
	case "getuser":
		u := users.Get(string(args[2]))
		if u == nil {
			c.null()
			return
		}
		c.mapHeader(6)
		c.bulkString("flags")
		c.arrayOfBulk(u.Flags())
		c.bulkString("passwords")
		c.arrayOfBulk(u.PasswordHashes())
		c.bulkString("commands")
		c.bulkString(u.CommandRules())
		c.bulkString("keys")
		c.bulkString(u.KeyRules())
		c.bulkString("channels")
		c.bulkString(u.ChannelRules())
		c.bulkString("selectors")
		c.arrayHeader(0)
	case "list", "users":
		all := users.List()
		c.arrayHeader(len(all))
		for _, u := range all {
			if sub == "list" {
				c.bulkString(u.Describe())
			} else {
				c.bulkString(u.Name())
			}
		}
	case "whoami":
		c.bulkString(c.user.Load().Name())
	case "cat":
		aclCat(c, users.Catalog(), args)
	case "log":
		aclLogCmd(c, args)
	case "save", "load":
		aclFileCmd(c, sub)
	case "genpass":
		aclGenPass(c, args)
	case "dryrun":
		aclDryRun(c, args)
	case "help":
		c.help("ACL", aclHelp...)
	}
}

func aclCat(c *client, cat *acl.Catalog, args [][]byte) {
	if len(args) == 2 {
		c.arrayOfBulk(cat.Categories())
		return
	}
	names, ok := cat.InCategory(string(args[2]))
	if !ok {
		c.err("ERR Unknown category '" + cString(args[2]) + "'")
		return
	}
	c.arrayOfBulk(names)
}

// ACL LOG [count | RESET]
func aclLogCmd(c *client, args [][]byte) {
	if len(args) > 3 {
		c.err("ERR unknown subcommand or wrong number of arguments for '" + cString(args[1]) + "'. Try ACL HELP.")
		return
	}
	n := 10
	if len(args) == 3 {
		if eqFold(args[2], "reset") {
			c.srv.acl.log.reset()
			c.ok()
			return
		}
		v, ok := parseInt(args[2])
		if !ok {
			c.err(errNotInt)
			return
		}
		n = int(max(v, 0))
	}
	c.srv.acl.log.reply(c, n)
}

func aclFileCmd(c *client, sub string) {
	s := c.srv
	if s.acl.file == "" {
		c.err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
		return
	}
	if sub == "save" {
		if err := s.saveACLFile(); err != nil {
			c.err("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
			s.log.Warn("ACL SAVE failed: " + err.Error())
			return
		}
		c.ok()
		return
	}
	s.acl.saveMu.Lock()
	users, err := s.readACLFile()
	if err == nil {
		s.closeClientsOf(c, s.acl.users.Replace(users))
	}
	s.acl.saveMu.Unlock()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.err("ERR Error loading ACLs, opening file '" + s.acl.file + "': No such file or directory")
	case err != nil:
		c.err("ERR " + oneLine(err.Error()))
	default:
		c.ok()
	}
}

// ACL GENPASS [bits]: random hex, 256 bits unless asked, as Redis.
func aclGenPass(c *client, args [][]byte) {
	bits := int64(256)
	if len(args) == 3 {
		v, ok := parseInt(args[2])
		if !ok || v <= 0 || v > 4096 {
			c.err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
			return
		}
		bits = v
	}
	chars := (bits + 3) / 4
	b := make([]byte, (chars+1)/2)
	_, _ = rand.Read(b)
	c.bulkString(hex.EncodeToString(b)[:chars])
}

// ACL DRYRUN username command [arg ...]
func aclDryRun(c *client, args [][]byte) {
	s := c.srv
	u := s.acl.users.Get(string(args[2]))
	if u == nil {
		c.err("ERR User '" + cString(args[2]) + "' not found")
		return
	}
	line := args[3:]
	cmd := s.lookup(c, line[0])
	if cmd == nil {
		c.err("ERR Command '" + cString(line[0]) + "' not found")
		return
	}
	if (cmd.arity > 0 && len(line) != cmd.arity) || len(line) < -cmd.arity {
		c.err("ERR wrong number of arguments for '" + cmd.name + "' command")
		return
	}
	if cmd.subs != nil && len(line) > 1 {
		sub, msg := cmd.subcommand(c, line)
		if msg != "" {
			c.err(msg)
			return
		}
		cmd = sub
	}
	if d := u.Check(cmd.acl, line); d.Denied() && cmd.flags&flagNoAuth == 0 {
		// Redis 7.0's words for a dry run, which name the key.
		msg := "This user has no permissions to run the '" + cmd.name + "' command"
		switch d.Reason {
		case "key":
			msg = "This user has no permissions to access the '" + d.Object + "' key"
		case "channel":
			msg = "This user has no permissions to access the '" + d.Object + "' channel"
		}
		c.bulkString(msg)
		return
	}
	c.ok()
}

var aclHelp = []string{
	"CAT [<category>]",
	"    List all commands that belong to <category>, or all command categories",
	"    when no category is specified.",
	"DELUSER <username> [<username> ...]",
	"    Delete a list of users.",
	"DRYRUN <username> <command> [<arg> ...]",
	"    Returns whether the user can execute the given command without executing the command.",
	"GETUSER <username>",
	"    Get the user's details.",
	"GENPASS [<bits>]",
	"    Generate a secure 256-bit user password. The optional `bits` argument can",
	"    be used to specify a different size.",
	"LIST",
	"    Show users details in config file format.",
	"LOAD",
	"    Reload users from the ACL file.",
	"LOG [<count> | RESET]",
	"    Show the ACL log entries.",
	"SAVE",
	"    Save the current config to the ACL file.",
	"SETUSER <username> <attribute> [<attribute> ...]",
	"    Create or modify a user with the specified attributes.",
	"USERS",
	"    List all the registered usernames.",
	"WHOAMI",
	"    Return the current connection username.",
}
