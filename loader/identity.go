package loader

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Identity names the source of record c opens, so that processes can tell
// whether they write the same one: "sqlite:<host>:<absolute path>",
// "mysql:<first>-<last>@<net>(<address>),..." (the servers in database
// order, without credentials), or "none". Two relcache nodes behind one
// proxy keep FOLLOW consistent only when their identities are equal: FOLLOW
// writes both rows through the first user's node, and the second user's
// node loads its lists from its own source. Equal identities can still
// name one MySQL server reached by two addresses differently; unequal
// ones are then a false alarm, never a silent loss.
func (c Config) Identity() string {
	switch c.Kind {
	case SourceNone:
		return "none"
	case SourceMySQL:
		servers := slices.Clone(c.MySQL)
		slices.SortFunc(servers, func(a, b MySQLServer) int { return a.First - b.First })
		parts := make([]string, len(servers))
		for i, s := range servers {
			addr := "?"
			if mc, err := mysql.ParseDSN(s.DSN); err == nil {
				addr = mc.Net + "(" + mc.Addr + ")"
			}
			parts[i] = strconv.Itoa(s.First) + "-" + strconv.Itoa(s.Last) + "@" + addr
		}
		return "mysql:" + strings.Join(parts, ",")
	}
	path := c.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	host, err := os.Hostname()
	if err != nil {
		host = "?"
	}
	return "sqlite:" + host + ":" + path
}
