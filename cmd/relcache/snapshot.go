package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relcache/relcache/persistence"
	"github.com/relcache/relcache/store"
)

func snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Inspect and verify snapshot files",
		Long: `Tools for the snapshot files relcache serve writes and loads at start
(format: docs/persistence.md). Both read the whole file and check every
checksum and every relation set, as the server does before loading it.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "inspect FILE",
		Short: "Print what a snapshot holds: header, keys and bytes per kind, expiries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := persistence.Inspect(args[0], time.Now())
			if err != nil {
				return err
			}
			return printStats(cmd.OutOrStdout(), args[0], st)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "verify FILE",
		Short: `Check a snapshot; print "FILE: ok, N keys, B bytes" or the error (exit status 1)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := persistence.Inspect(args[0], time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d keys, %d bytes\n", args[0], st.Header.Keys, st.FileBytes)
			return nil
		},
	})
	return cmd
}

func printStats(out io.Writer, path string, st persistence.Stats) error {
	h := st.Header
	var b strings.Builder
	writeTable(&b, [][]string{
		{"file:", path},
		{"version:", strconv.Itoa(int(h.Version))},
		{"created:", h.Created.UTC().Format("2006-01-02T15:04:05.000Z07:00")},
		{"keys:", u64(h.Keys)},
		{"file bytes:", strconv.FormatInt(st.FileBytes, 10)},
	}, false)
	b.WriteString("\n")

	kinds := [][]string{{"kind", "keys", "key bytes", "value bytes"}}
	var total persistence.KindStats
	for _, k := range []store.Kind{store.KindString, store.KindRelSet} {
		ks := st.ByKind[k]
		total.Keys += ks.Keys
		total.KeyBytes += ks.KeyBytes
		total.ValueBytes += ks.ValueBytes
		// The store's names (relset, not TYPE's hash): this is a file's
		// contents, not what a client sees.
		kinds = append(kinds, []string{k.String(), u64(ks.Keys), u64(ks.KeyBytes), u64(ks.ValueBytes)})
	}
	kinds = append(kinds, []string{"total", u64(total.Keys), u64(total.KeyBytes), u64(total.ValueBytes)})
	writeTable(&b, kinds, true)
	b.WriteString("\n")

	exp := [][]string{{"expiring:", u64(st.Expiring)}, {"expired:", u64(st.Expired)}}
	for i, bk := range st.ExpiryHist {
		label := "  <" + shortDuration(bk.Below)
		if bk.Below == 0 && i > 0 {
			label = "  >=" + shortDuration(st.ExpiryHist[i-1].Below)
		}
		exp = append(exp, []string{label, u64(bk.Keys)})
	}
	writeTable(&b, exp, true)
	_, err := io.WriteString(out, b.String())
	return err
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// writeTable writes rows as aligned columns, the first left-aligned and,
// with numeric, the others right-aligned.
func writeTable(b *strings.Builder, rows [][]string, numeric bool) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len(c))
			switch {
			case i == 0:
				b.WriteString(c)
				if len(r) > 1 {
					b.WriteString(pad)
				}
			case numeric:
				b.WriteString("  " + pad + c)
			default:
				b.WriteString(" " + c)
			}
		}
		b.WriteString("\n")
	}
}

// shortDuration writes the histogram bounds as people say them.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
