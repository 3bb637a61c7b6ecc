// Command relcache-bench is relcache's load generators: each loads a
// synthetic follow graph into relcache (and into a stock Redis beside it)
// and measures both with the same client. They are a binary of their own
// because their reports link plotting, font and PDF packages the server has
// no use for; `relcache bench ...` runs this binary when it is installed
// next to relcache (`make build` builds both into bin/).
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:          "relcache-bench",
		Short:        "Load generators that measure relcache beside a stock Redis",
		SilenceUsage: true,
	}
	root.AddCommand(benchRelationsCmd(), benchSnapshotCmd(), benchCapacityCmd(), benchTxCmd(), benchPreludeCmd())
	return root
}
