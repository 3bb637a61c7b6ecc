package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/relcache/relcache/internal/fdlimit"
	"github.com/relcache/relcache/proxyfront"
)

func proxyCmd() *cobra.Command {
	var configPath, logLevel, logFormat, ioModel string
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the sharding proxy in front of many relcache nodes",
		Long: `Run proxyfront, the sharding front: it routes uid-keyed commands to the relcache
nodes of its pools (twemproxy-compatible placement), splits multi-key commands
into one sub-request per node and composes cross-node relation queries.
The TOML config is documented in docs/proxy.md; testdata/proxy.toml is an
example. SIGHUP (or "relcache proxy reload") reloads the pools.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return errors.New("--config is required (see testdata/proxy.toml)")
			}
			cfg, err := proxyfront.LoadConfig(configPath)
			if err != nil {
				return err
			}
			if ioModel != "" {
				cfg.IOModel = ioModel
				if err := cfg.Validate(); err != nil {
					return fmt.Errorf("--io-model: %w", err)
				}
			}
			log, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			defer log.Sync()
			fit, err := fitClients(cfg.MaxClients, fdlimit.Reserve+cfg.Descriptors(), log)
			if err != nil {
				return err
			}
			cfg.MaxClients, cfg.MaxClientsRequested, cfg.OpenFilesLimit = fit.Clients, fit.Requested, fit.Limit
			p, err := proxyfront.New(cfg, versionString(), log)
			if err != nil {
				return err
			}
			if err := p.Listen(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			defer onSIGHUP(ctx, func() { p.Reload() })() // logs the outcome
			log.Info("relcache proxy listening", zap.String("addr", p.Addr()),
				zap.String("admin_addr", p.AdminAddr()), zap.String("tls_addr", p.TLSAddr()),
				zap.String("memcache_addr", p.MemcacheAddr()), zap.String("http_addr", p.HTTPAddr()),
				zap.String("config", configPath),
				zap.Int("max_clients", cfg.MaxClients), zap.Int("max_clients_requested", fit.Requested),
				zap.Uint64("open_files_limit", fit.Limit),
				zap.String("version", versionString()))
			err = p.Serve(ctx)
			log.Info("relcache proxy stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "proxy config file (TOML; see docs/proxy.md)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "console", "console or json")
	cmd.Flags().StringVar(&ioModel, "io-model", "", `overrides the config's io_model: "goroutine", "eventloop" or "eventloop-backends" (docs/proxy.md)`)
	cmd.AddCommand(proxyReloadCmd())
	return cmd
}

func proxyReloadCmd() *cobra.Command {
	var admin, configPath string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Ask a running proxy to reload its config file",
		Long: `Ask a running proxy to reload its config file, through its admin address
(POST /reload). Give the address with --admin, or the config file with
--config to read it from there. Exits 1, printing the reason, when the proxy
refuses the file (it keeps its running config).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if admin == "" && configPath != "" {
				cfg, err := proxyfront.LoadConfig(configPath)
				if err != nil {
					return err
				}
				admin = cfg.Admin
			}
			if admin == "" || admin == "-" {
				return errors.New("give the proxy's admin address with --admin (or --config)")
			}
			hc := &http.Client{Timeout: 30 * time.Second}
			resp, err := hc.Post("http://"+admin+"/reload", "text/plain", nil)
			if err != nil {
				return fmt.Errorf("reload: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("reload refused: %s", strings.TrimSpace(string(body)))
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "", "the proxy's admin address, host:port")
	cmd.Flags().StringVar(&configPath, "config", "", "read the admin address from this proxy config")
	return cmd
}
