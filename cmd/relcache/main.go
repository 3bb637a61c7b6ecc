// Command relcache is the relcache server and its tools.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	if err := rootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "relcache",
		Short: "A Redis-protocol cache for social-graph relations",
		Long: `relcache is a Redis-protocol (RESP) cache server for social-graph relations:
who follows whom, answered in one round trip from compact per-user arrays.`,
		SilenceUsage: true,
	}
	root.AddCommand(serveCmd(), schemaCmd(), importCmd(), genGraphCmd(), benchCmd(), versionCmd())
	root.AddCommand(snapshotCmd(), proxyCmd(), repairCmd())
	return root
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "relcache", versionString())
		},
	}
}
