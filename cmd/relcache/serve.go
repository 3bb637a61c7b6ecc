package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/relcache/relcache/internal/datadir"
	"github.com/relcache/relcache/internal/fdlimit"
	"github.com/relcache/relcache/loader"
	"github.com/relcache/relcache/server"
)

func serveCmd() *cobra.Command {
	s := defaultSettings()
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the relcache server",
		Long: `Run the relcache server. Every setting is a flag and a key of the same name
in the TOML file given with --config; flags override the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := resolve(configPath, cmd.Flags())
			if err != nil {
				return err
			}
			log, err := newLogger(st.LogLevel, st.LogFormat)
			if err != nil {
				return err
			}
			defer log.Sync()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg, wordErr := st.serverConfig(versionString(), configPath)
			if cfg.Save, err = server.ParseSaveRules(st.Save); err != nil {
				return fmt.Errorf("--save: %w", err)
			}
			// A bad setting must not leave a source file behind.
			if err := errors.Join(cfg.Validate(), wordErr); err != nil {
				return fmt.Errorf("server config: %w", err)
			}
			// Before anything in the directory is opened: a second server
			// on it must not share the snapshot or the SQLite source.
			lock, err := datadir.Take(cfg.Dir)
			if err != nil {
				return err
			}
			defer lock.Release()
			src, err := openSource(ctx, st.sourceSettings, st.Dir, log)
			if err != nil {
				return err
			}
			if src != nil {
				defer src.Close()
				cfg.Source = src
				// For a proxy, which refuses FOLLOW across nodes that
				// do not share one source of record.
				lc, _ := st.loaderConfig(st.Dir) // openSource took it already
				cfg.SourceID = lc.Identity()
			}
			fit, err := fitClients(cfg.MaxClients, fdlimit.Reserve+st.sourceSettings.descriptors(), log)
			if err != nil {
				return err
			}
			cfg.MaxClients, cfg.MaxClientsRequested, cfg.OpenFilesLimit = fit.Clients, fit.Requested, fit.Limit
			setMemoryLimit(int64(st.MaxMemory), log)
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			// SIGHUP reloads the TLS certificates (before, it ended the
			// process: Go's default for a signal nobody asked for).
			defer onSIGHUP(ctx, func() { srv.ReloadTLS() })() // logs the outcome
			if err := srv.ListenAndServe(ctx); err != nil {
				log.Error("server stopped", zap.Error(err))
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "TOML file with settings (keys are the flag names)")
	s.bind(cmd.Flags())
	return cmd
}

// openSource opens the configured source of record, or returns nil for
// --source none. The embedded SQLite file is created with its schema on
// first start; a MySQL schema is created by `relcache schema`, never
// implicitly by a serving node.
func openSource(ctx context.Context, st sourceSettings, dir string, log *zap.Logger) (*loader.SQL, error) {
	cfg, err := st.loaderConfig(dir)
	if err != nil {
		return nil, err
	}
	if cfg.Kind == loader.SourceMySQL {
		// The driver logs dropped connections through its own logger to
		// stderr; send them through ours.
		_ = mysql.SetLogger(mysqlLogger{log.Named("mysql")})
	}
	src, err := loader.Open(ctx, cfg, cfg.Kind == loader.SourceSQLite)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if src != nil {
		log.Info("source of record", zap.String("kind", string(cfg.Kind)), zap.String("path", cfg.Path),
			zap.Int("databases", cfg.Layout.DBs), zap.Int("tables", cfg.Layout.Tables))
	}
	return src, nil
}

// mysqlLogger adapts zap to go-sql-driver/mysql's Logger.
type mysqlLogger struct{ log *zap.Logger }

func (m mysqlLogger) Print(v ...any) { m.log.Warn(strings.TrimSpace(fmt.Sprint(v...))) }

// newLogger builds the zap logger: console encoding on a terminal, JSON
// otherwise, unless format says which.
func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	f, err := parseLogFormat(format)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	if f == logAuto {
		f = logJSON
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			f = logConsole
		}
	}
	var cfg zap.Config
	switch f {
	case logJSON:
		cfg = zap.NewProductionConfig()
	case logConsole:
		cfg = zap.NewDevelopmentConfig()
		cfg.Development = false
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	cfg.DisableStacktrace = true
	return cfg.Build()
}

// setMemoryLimit derives the Go runtime's soft memory limit from maxmemory,
// unless GOMEMLIMIT is set. Go collects when the heap doubles its live data
// (GOGC=100), so a cache holding maxmemory of values could reach twice that
// in RSS under write churn; with a limit a quarter above maxmemory (at
// least 64 MiB more) the collector works harder as the heap nears it
// instead. GOGC still applies below the limit. Without maxmemory nothing
// changes. (CONFIG SET maxmemory does not move the limit.)
func setMemoryLimit(maxMemory int64, log *zap.Logger) {
	if maxMemory <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := maxMemory + max(maxMemory/4, 64<<20)
	debug.SetMemoryLimit(limit)
	log.Info("Go memory limit derived from maxmemory", zap.Int64("maxmemory", maxMemory), zap.Int64("limit", limit))
}
