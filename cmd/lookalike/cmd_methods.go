package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/lookalike/lookalike/hashing"
)

func init() {
	register(&command{
		Name:  "methods",
		Usage: "methods [--json]",
		Short: "List the hashing methods with their papers",
		Long: `
Methods lists every registered hashing method: its name (for --method), its
title, whether it uses labels, and its paper.

Example:

	lookalike methods`,
		Flags: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print as JSON")
			return func(_ context.Context, args []string, out, _ io.Writer) error {
				if len(args) > 0 {
					return badInput("unexpected arguments %q", args)
				}
				var infos []hashing.Info
				semi := map[string]bool{}
				for _, m := range hashing.All() {
					infos = append(infos, m.Info())
					_, semi[m.Info().Name] = m.(hashing.SemiSupervised)
				}
				if *asJSON {
					return json.NewEncoder(out).Encode(infos)
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tMETHOD\tLABELS\tPAPER")
				for _, i := range infos {
					labels := "unsupervised"
					if i.Supervised {
						labels = "supervised"
					}
					if semi[i.Name] {
						labels = "semi-supervised"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.Name, i.Title, labels, i.Paper)
				}
				return tw.Flush()
			}
		},
	})
}
