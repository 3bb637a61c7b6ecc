package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/relcache/relcache/loader"
)

func schemaCmd() *cobra.Command {
	s := defaultSettings()
	var configPath string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Create the source's relation tables",
		Long: `Creates the source's relation tables (following_NN and follower_NN, in each
database) and the journal's (edge_changes, relcache_meta, and for MySQL
edge_intents: see docs/mysql.md) where they are missing, and says what it did. Idempotent: tables
already there are left as they are. "relcache import" creates it too, and
"relcache serve" does for the embedded SQLite file; it never creates MySQL
tables, so a MySQL source is set up with this command first.

The source is chosen by the same settings as serve's (--source, --source-path
in --dir, --source-dbs, --source-tables, ...), as flags or from --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := resolve(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			cfg, err := st.sourceSettings.loaderConfig(st.Dir)
			if err != nil {
				return err
			}
			if cfg.Kind == loader.SourceNone {
				return fmt.Errorf("--source none: there is no source to create tables in")
			}
			ctx := cmd.Context()
			var before []string
			isSQLite := cfg.Kind == loader.SourceSQLite || cfg.Kind == ""
			if isSQLite {
				if before, err = sqliteTables(ctx, cfg.Path); err != nil {
					return err
				}
			}
			src, err := loader.Open(ctx, cfg, true)
			if err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			if err := src.Close(); err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			out := cmd.OutOrStdout()
			if !isSQLite {
				fmt.Fprintf(out, "%s source: %d databases x %d following and %d follower tables each: created where missing\n",
					cfg.Kind, cfg.Layout.DBs, cfg.Layout.Tables, cfg.Layout.Tables)
				return nil
			}
			after, err := sqliteTables(ctx, cfg.Path)
			if err != nil {
				return err
			}
			var created, kept []string
			for _, t := range after {
				if slices.Contains(before, t) {
					kept = append(kept, t)
				} else {
					created = append(created, t)
				}
			}
			fmt.Fprintf(out, "sqlite source %s\n", cfg.Path)
			fmt.Fprintf(out, "created:       %s\n", tableList(created))
			fmt.Fprintf(out, "already there: %s\n", tableList(kept))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "TOML file with settings (keys are the flag names; serve's file works)")
	f.StringVar(&s.Dir, "dir", s.Dir, "directory a relative --source-path is taken in (serve's --dir)")
	s.sourceSettings.bind(f)
	return cmd
}

func tableList(ts []string) string {
	if len(ts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d tables (%s)", len(ts), strings.Join(ts, " "))
}

// sqliteTables lists the tables of the SQLite file at path, sorted; none if
// the file does not exist yet.
func sqliteTables(ctx context.Context, path string) ([]string, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, fmt.Errorf("schema: open %s: %w", path, err)
	}
	defer db.Close()
	// sqlite_* tables are SQLite's own (sqlite_sequence, for AUTOINCREMENT).
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("schema: list tables of %s: %w", path, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("schema: list tables of %s: %w", path, err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("schema: list tables of %s: %w", path, err)
	}
	return out, nil
}
