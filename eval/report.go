package eval

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the report's figures and its PR curve as text.
func WriteTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "protocol\t%s\n", r.Protocol)
	fmt.Fprintf(tw, "method\t%s\n", r.Method)
	fmt.Fprintf(tw, "bits\t%d\n", r.Bits)
	fmt.Fprintf(tw, "seed\t%d\n", r.Seed)
	fmt.Fprintf(tw, "queries / database\t%d / %d\n", r.Queries, r.Database)
	fmt.Fprintf(tw, "mAP@all\t%.4f\n", r.MAPAll)
	fmt.Fprintf(tw, "mAP@%d\t%.4f\n", K, r.MAPAt1000)
	fmt.Fprintf(tw, "P@%d\t%.4f\n", K, r.PAt1000)
	if r.PR == nil {
		// Ranked by a real-valued score (Euclidean, or a quantizer's
		// asymmetric distance): there are no Hamming balls.
		fmt.Fprintf(tw, "P@r<=2\tn/a (ranked by a real-valued score)\n")
		tw.Flush()
		return
	}
	fmt.Fprintf(tw, "P@r<=2\t%.4f (empty ball for %.1f%% of queries)\n", r.PR2, 100*r.EmptyR2)
	tw.Flush()
	fmt.Fprintln(w, "\nPR curve (radius: precision recall)")
	for _, p := range r.PR {
		fmt.Fprintf(w, "  r=%-3d %.4f %.4f\n", p.Radius, p.Precision, p.Recall)
		if p.Recall >= 0.9999 {
			break // the rest of the curve is the whole database
		}
	}
}
