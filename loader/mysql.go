package loader

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// OpenMySQL opens the sharded MySQL source: one connection pool per
// physical server in cfg.MySQL, whose database ranges must cover
// 0..Layout.DBs-1 exactly once. It does not wait for the servers (a shard
// that is down fails its own loads, not the start), except that with
// create set it creates every database and its tables.
func OpenMySQL(ctx context.Context, cfg Config, create bool) (*SQL, error) {
	l := cfg.Layout
	if err := l.fill(); err != nil {
		return nil, fmt.Errorf("mysql source: %w", err)
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 2 * time.Second
	}
	if len(cfg.MySQL) == 0 {
		return nil, fmt.Errorf("mysql source: no servers (want FIRST-LAST=DSN for databases 0-%d)", l.DBs-1)
	}
	connectors := make([]*mysql.Config, len(cfg.MySQL))
	for i, srv := range cfg.MySQL {
		c, err := mysqlConfig(srv.DSN, cfg.QueryTimeout)
		if err != nil {
			// The DSN may hold a password: name the server by its index.
			return nil, fmt.Errorf("mysql source: server %d (databases %d-%d): %w", i, srv.First, srv.Last, err)
		}
		connectors[i] = c
	}
	owner, err := owners(l, cfg.MySQL, connectors)
	if err != nil {
		return nil, err
	}
	pools := make([]*sql.DB, len(cfg.MySQL))
	for i, c := range connectors {
		conn, err := mysql.NewConnector(c)
		if err != nil {
			closeAll(pools)
			return nil, fmt.Errorf("mysql source: server %d (%s): %w", i, c.Addr, err)
		}
		pools[i] = sql.OpenDB(conn)
		// database/sql keeps 2 idle connections by default: under a burst of
		// cache misses most loads would dial. The cap on open ones is left
		// to the server's max_connections.
		pools[i].SetMaxIdleConns(16)
		pools[i].SetConnMaxIdleTime(5 * time.Minute)
	}
	dbs := make([]*sql.DB, l.DBs)
	for d, i := range owner {
		dbs[d] = pools[i]
	}
	s, err := NewSQL(SQLConfig{Layout: l, Dialect: MySQL, QueryTimeout: cfg.QueryTimeout}, dbs)
	if err != nil {
		closeAll(pools)
		return nil, err
	}
	if create {
		if err := s.CreateSchema(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("mysql source: %w", err)
		}
	}
	return s, nil
}

// mysqlConfig parses dsn and sets what the source relies on: server-side
// prepared statements (no client interpolation), and I/O timeouts, unless
// the DSN sets its own, so a server that stops answering (packets dropped,
// not refused) cannot hold a query or a pooled connection much beyond
// QueryTimeout even where no context reaches.
func mysqlConfig(dsn string, timeout time.Duration) (*mysql.Config, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	c.InterpolateParams = false
	if c.Timeout == 0 {
		c.Timeout = timeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = timeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = timeout
	}
	return c, nil
}

// owners maps each database index to the server holding it, refusing
// ranges past the layout, overlaps and gaps.
func owners(l Layout, servers []MySQLServer, conf []*mysql.Config) ([]int, error) {
	owner := make([]int, l.DBs)
	for d := range owner {
		owner[d] = -1
	}
	for i, srv := range servers {
		if srv.First < 0 || srv.Last < srv.First || srv.Last >= l.DBs {
			return nil, fmt.Errorf("mysql source: server %d (%s) holds databases %d-%d, but the layout has databases 0-%d",
				i, conf[i].Addr, srv.First, srv.Last, l.DBs-1)
		}
		for d := srv.First; d <= srv.Last; d++ {
			if j := owner[d]; j >= 0 {
				return nil, fmt.Errorf("mysql source: database %d is on two servers: %d (%s, %d-%d) and %d (%s, %d-%d)",
					d, j, conf[j].Addr, servers[j].First, servers[j].Last, i, conf[i].Addr, srv.First, srv.Last)
			}
			owner[d] = i
		}
	}
	for d, i := range owner {
		if i < 0 {
			end := d
			for end+1 < l.DBs && owner[end+1] < 0 {
				end++
			}
			return nil, fmt.Errorf("mysql source: databases %d-%d of 0-%d are on no server", d, end, l.DBs-1)
		}
	}
	return owner, nil
}

func closeAll(dbs []*sql.DB) {
	for _, db := range dbs {
		if db != nil {
			db.Close()
		}
	}
}
