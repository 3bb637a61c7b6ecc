package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
			srv, err := server.New(st.serverConfig(versionString(), configPath), log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
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

// newLogger builds the zap logger: console encoding on a terminal, JSON
// otherwise, unless format says which.
func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if format == "auto" {
		format = "json"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "console"
		}
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.Development = false
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		return nil, fmt.Errorf("--log-format: want auto, console or json, got %q", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	cfg.DisableStacktrace = true
	return cfg.Build()
}
