package fanout

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
)

// RunReport is `swload fanout-report --in A.json [B.json ...] --out X.md
// [--svg X.svg]`. --in takes globs and every following argument that is
// not a flag, so an unquoted shell glob works.
func RunReport(args []string) error {
	c, err := reportfile.ParseCombined("fanout-report", "SVG chart of deliveries/s and latency percentiles per run to write (optional)", args, nil)
	if err != nil {
		return err
	}
	results, err := reportfile.ReadAll[Result](c.Paths)
	if err != nil {
		return err
	}
	paths := c.Paths
	order(results, paths)
	var md strings.Builder
	WriteCombined(&md, results, paths, c.SVGName())
	return c.Write(md.String(), func(w io.Writer) error {
		return plot.WriteSideBySide(w, Charts(results)...)
	})
}

// order sorts results (and their paths alike) by members, then by rate
// from high to low, then by name, so each load's configurations sit together.
func order(results []*Result, paths []string) {
	idx := make([]int, len(results))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := results[idx[a]], results[idx[b]]
		if x.Load.Members != y.Load.Members {
			return x.Load.Members > y.Load.Members
		}
		if x.Load.Rate != y.Load.Rate {
			return x.Load.Rate > y.Load.Rate
		}
		return x.Name < y.Name
	})
	rs, ps := make([]*Result, len(results)), make([]string, len(paths))
	for i, j := range idx {
		rs[i], ps[i] = results[j], paths[j]
	}
	copy(results, rs)
	copy(paths, ps)
}

// label names a run in tables and charts: its name and its load.
func label(r *Result) string {
	return fmt.Sprintf("%s, %d members @ %g/s", r.Name, r.Load.Members, r.Load.Rate)
}

// WriteCombined renders the side-by-side report; svg, when not empty, is
// linked as an image.
func WriteCombined(w io.Writer, results []*Result, sources []string, svg string) {
	fmt.Fprintf(w, "# Room fan-out, side by side\n\n")
	if len(results) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "One room; members receive every message published to it. Only switchboard speaks the chat protocol, "+
		"so the peer servers of the other scenarios (gorilla) are not in this table: the rows compare switchboard's "+
		"poller backends and loads.\n\n")
	fmt.Fprintf(w, "**Conclusion:** %s\n\n", combinedConclusion(results))
	if svg != "" {
		fmt.Fprintf(w, "![deliveries/s and publish→deliver latency per run](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "Spreads are median [min..max] over the clean repetitions; counters (published, acks, gaps, dups, closed, "+
		"undelivered) are totals over all repetitions.\n\n")
	fmt.Fprintf(w, "| run | load | reps | deliveries/s | asked | p50 ms | p99 ms | p99.9 ms | max ms | published / acks | gaps / dups | closed by server | undelivered | server CPU s per 1M deliveries | server CPU cores | client CPU cores | RSS MiB | setup s | other CPU cores (max) | kept up |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		s := r.Summary
		name := r.Name
		if r.Failure != "" {
			name += " (FAILED reps)"
		}
		kept := "yes"
		if !sustained(r) {
			kept = "**no**"
		}
		load := fmt.Sprintf("%d members, %d pub @ %g/s", r.Load.Members, r.Load.Publishers, r.Load.Rate)
		if r.Load.Users > 0 && r.Load.Users < r.Load.Members {
			load += fmt.Sprintf(", %d users", r.Load.Users)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %d / %d | %d / %d | %d | %d | %s | %s | %s | %s | %s | %.2f | %s |\n",
			name, load, s.Reps, spreadText(s.DeliveriesPerSec, "%.0f"), thousands(r.Load.expected()),
			spreadText(s.P50MS, "%.3f"), spreadText(s.P99MS, "%.3f"), spreadText(s.P999MS, "%.3f"), spreadText(s.MaxMS, "%.1f"),
			s.Published, s.Acks, s.Gaps, s.Dups, s.ServerClosed, s.Undelivered,
			spreadText(s.CPUPerMillion, "%.2f"), spreadText(s.CPUCores, "%.2f"), spreadText(s.ClientCPUCores, "%.2f"),
			spreadText(mibSpread(s.RSSBytes), "%.1f"), spreadText(s.SetupSeconds, "%.1f"), s.OtherCPUMax, kept)
	}
	var noisy []string
	for _, r := range results {
		if r.Summary.OtherCPUMax > NoiseCores {
			noisy = append(noisy, fmt.Sprintf("%s (up to %.2f cores)", label(r), r.Summary.OtherCPUMax))
		}
	}
	if len(noisy) > 0 {
		fmt.Fprintf(w, "\n**NOISY:** other processes competed for the CPU during %s; those rows understate the server. Rerun on a quiet machine.\n",
			strings.Join(noisy, ", "))
	}
	fmt.Fprintf(w, "\n\"Kept up\" means at least 95%% of the asked deliveries/s in every clean repetition, p99 under 1 s, no member "+
		"closed and nothing undelivered after the drain. Load generator and server share the machine's cores; read server "+
		"CPU per delivery next to the throughput. Latency is from each message's due time, so a server that falls behind "+
		"shows it as growing latency instead of a slower publisher.\n")
	fmt.Fprintf(w, "\n## Each run\n\n")
	for _, r := range results {
		fmt.Fprintf(w, "- %s\n", conclusion(r))
	}
	fmt.Fprintf(w, "\n## Runs\n\n| run | commit | server built with | swload built with | machine | command |\n|---|---|---|---|---|---|\n")
	for i, r := range results {
		m := r.Meta
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d CPUs, %s, %.2f GiB, kernel %s | `%s` (report: %s) |\n", label(r), m.ServerCommit, m.ServerGo,
			m.Machine.GoVersion, m.Machine.NProc, m.Machine.CPUModel, float64(m.Machine.MemTotal)/(1<<30), m.Machine.Kernel, m.Command,
			strings.TrimSuffix(filepath.Base(sources[i]), ".json")+".md")
	}
}

// combinedConclusion names, per member count, the highest rate some
// configuration kept up with, and what happened above it.
func combinedConclusion(results []*Result) string {
	var parts []string
	var best *Result
	for _, r := range results {
		if sustained(r) && (best == nil || r.Summary.DeliveriesPerSec.Median > best.Summary.DeliveriesPerSec.Median) {
			best = r
		}
	}
	if best != nil {
		s := best.Summary
		parts = append(parts, fmt.Sprintf("The most deliveries/s sustained: %s at %s/s (p99 %.3f ms, %.2f server CPU s per 1M deliveries).",
			label(best), thousands(s.DeliveriesPerSec.Median), s.P99MS.Median, s.CPUPerMillion.Median))
	} else {
		parts = append(parts, "No run kept up with its load.")
	}
	var over []string
	for _, r := range results {
		if !sustained(r) {
			s := r.Summary
			if s.Reps == 0 {
				over = append(over, fmt.Sprintf("%s had no clean repetition", label(r)))
				continue
			}
			over = append(over, fmt.Sprintf("%s delivered %s of the asked %s/s (p99 %s ms)", label(r),
				thousands(s.DeliveriesPerSec.Median), thousands(r.Load.expected()), trimMS(s.P99MS.Median)))
		}
	}
	if len(over) > 0 {
		parts = append(parts, "Overloaded: "+strings.Join(over, "; ")+".")
	}
	return strings.Join(parts, " ")
}

func trimMS(v float64) string {
	if v >= 100 {
		return thousands(v)
	}
	return fmt.Sprintf("%.3f", v)
}

// Charts draws deliveries/s and the p50, p99 and p99.9 publish→deliver
// latency per run (median, min..max whiskers), one bar per run in the
// same order and colour in every panel.
func Charts(results []*Result) []plot.Panel {
	msFmt := func(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000) }
	tput := plot.BarChart{Title: "Deliveries per second", YLabel: "messages received by members per second"}
	p50 := plot.BarChart{Title: "p50 publish→deliver", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
	p99 := plot.BarChart{Title: "p99 publish→deliver", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
	p999 := plot.BarChart{Title: "p99.9 publish→deliver", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
	for _, r := range results {
		s, l := r.Summary, fmt.Sprintf("%s @%g/s", strings.TrimPrefix(r.Name, "switchboard-"), r.Load.Rate)
		tput.Bars = append(tput.Bars, plot.Bar{Label: l, Value: s.DeliveriesPerSec.Median, Low: s.DeliveriesPerSec.Min, High: s.DeliveriesPerSec.Max})
		p50.Bars = append(p50.Bars, plot.Bar{Label: l, Value: s.P50MS.Median, Low: s.P50MS.Min, High: s.P50MS.Max})
		p99.Bars = append(p99.Bars, plot.Bar{Label: l, Value: s.P99MS.Median, Low: s.P99MS.Min, High: s.P99MS.Max})
		p999.Bars = append(p999.Bars, plot.Bar{Label: l, Value: s.P999MS.Median, Low: s.P999MS.Min, High: s.P999MS.Max})
	}
	return []plot.Panel{tput, p50, p99, p999}
}
