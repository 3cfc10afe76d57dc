package echo

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// RunReport is `swload echo-report --in A.json [B.json ...] --out X.md
// [--svg X.svg] [--baseline NAME]`. --in takes globs and also every
// following argument that is not a flag, so an unquoted shell glob works.
// It also writes X.json with every result and comparison.
func RunReport(args []string) error {
	var baseline *string
	c, err := reportfile.ParseCombined("echo-report", "SVG chart of throughput and latency percentiles per server to write (optional)", args, func(fs *flag.FlagSet) {
		baseline = fs.String("baseline", "switchboard-epoll", "server the ratios are taken against (baseline ÷ other); the first input of a load when absent")
	})
	if err != nil {
		return err
	}
	results, err := reportfile.ReadAll[Result](c.Paths)
	if err != nil {
		return err
	}
	groups := GroupByLoad(results, c.Paths, *baseline)
	var md strings.Builder
	WriteCombined(&md, groups, c.SVGName())
	data := struct {
		Scenario    string  `json:"scenario"`
		Baseline    string  `json:"baseline"`
		OtherCPUMax float64 `json:"other_cpu_cores_max"`
		Quiet       bool    `json:"quiet"`
		Groups      []Group `json:"groups"`
	}{"echo", *baseline, otherMax(groups), otherMax(groups) <= NoiseCores, groups}
	return c.Write(md.String(), data, func(w io.Writer) error {
		return plot.WriteSideBySide(w, Charts(groups)...)
	})
}

// Group is the runs that applied one load, compared side by side.
type Group struct {
	Load    Load      `json:"load"`
	Base    string    `json:"baseline"` // the server the ratios are against
	Rows    []Row     `json:"rows"`     // baseline first
	Results []*Result `json:"results"`  // in input order
	Sources []string  `json:"sources"`  // the results' files
}

// Row is one server in a side-by-side table. Spreads are over its clean
// repetitions; ratios are baseline ÷ this server over every pair of their
// clean repetitions (N == 0 for the baseline itself).
type Row struct {
	Name      string  `json:"name"`
	Reps      int     `json:"reps"`
	Failed    bool    `json:"failed"`
	Tput      Spread  `json:"msgs_per_sec"`
	P50       Spread  `json:"p50_ms"`
	P99       Spread  `json:"p99_ms"`
	P999      Spread  `json:"p999_ms"`
	CPU       Spread  `json:"server_cpu_s_per_1m"`
	RSSMiB    Spread  `json:"rss_mib"`
	Client    float64 `json:"client_cpu_cores"` // load generator, median
	Other     float64 `json:"other_cpu_cores"`  // most CPU other processes used in a repetition
	TputRatio Spread  `json:"tput_ratio"`       // > 1: the baseline echoed more
	P99Ratio  Spread  `json:"p99_ratio"`        // < 1: the baseline's tail was lower
	CPURatio  Spread  `json:"cpu_ratio"`        // < 1: the baseline spent less CPU per message
}

// GroupByLoad splits results (read from sources) by load, in order of
// first appearance, and compares each group against baseline.
func GroupByLoad(results []*Result, sources []string, baseline string) []Group {
	var groups []Group
	for i, r := range results {
		gi := -1
		for j := range groups {
			if groups[j].Load == r.Load {
				gi = j
			}
		}
		if gi < 0 {
			groups = append(groups, Group{Load: r.Load})
			gi = len(groups) - 1
		}
		groups[gi].Results = append(groups[gi].Results, r)
		groups[gi].Sources = append(groups[gi].Sources, sources[i])
	}
	for i := range groups {
		groups[i].Rows, groups[i].Base = Compare(groups[i].Results, baseline)
	}
	return groups
}

// cleanValues collects f over r's clean repetitions.
func cleanValues(r *Result, f func(Rep) float64) []float64 {
	var out []float64
	for _, rep := range r.Reps {
		if rep.Failure == "" {
			out = append(out, f(rep))
		}
	}
	return out
}

// Compare builds the rows, baseline first, then the others in input order.
// base is the name actually used: the requested one, or the first result's
// when no result has that name.
func Compare(results []*Result, baseline string) (rows []Row, base string) {
	if len(results) == 0 {
		return nil, baseline
	}
	bi := 0
	for i, r := range results {
		if r.Name == baseline {
			bi = i
			break
		}
	}
	order := append([]*Result{results[bi]}, append(append([]*Result{}, results[:bi]...), results[bi+1:]...)...)
	tput := func(r Rep) float64 { return r.MsgsPerSec }
	p99 := func(r Rep) float64 { return r.Latency.P99 }
	cpu := func(r Rep) float64 { return r.ServerCPUPerMillion }
	b := order[0]
	for i, r := range order {
		s := r.Summary
		row := Row{
			Name: r.Name, Reps: s.Reps, Failed: r.Failure != "",
			Tput: s.MsgsPerSec, P50: s.P50MS, P99: s.P99MS, P999: s.P999MS, CPU: s.CPUPerMillion,
			RSSMiB: summary.Scale(s.RSSBytes, 1<<20),
			Client: s.ClientCPU.Median / r.Load.DurationSeconds,
			Other:  s.OtherCPUMax,
		}
		if i > 0 {
			row.TputRatio = summary.RatioOf(cleanValues(b, tput), cleanValues(r, tput))
			row.P99Ratio = summary.RatioOf(cleanValues(b, p99), cleanValues(r, p99))
			row.CPURatio = summary.RatioOf(cleanValues(b, cpu), cleanValues(r, cpu))
		}
		rows = append(rows, row)
	}
	return rows, b.Name
}

func otherMax(groups []Group) float64 {
	m := 0.0
	for _, g := range groups {
		for _, r := range g.Rows {
			m = max(m, r.Other)
		}
	}
	return m
}

// WriteCombined renders the side-by-side report of every group. svg,
// when not empty, is linked as an image.
func WriteCombined(w io.Writer, groups []Group, svg string) {
	fmt.Fprintf(w, "# Echo throughput and latency, side by side\n\n")
	if len(groups) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\n", summary.Quietness(otherMax(groups)))
	if svg != "" {
		fmt.Fprintf(w, "![throughput and latency percentiles per server](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "Every server ran one after the other under the same load, each repetition against a fresh process. "+
		"Spreads are median [min..max] over the clean repetitions. A ratio is the baseline's value divided by the other "+
		"server's, over every pair of their repetitions: throughput above ×1 means the baseline echoed more, p99 and CPU "+
		"below ×1 mean it was faster and cheaper.\n")
	var runs []reportfile.Run
	for _, g := range groups {
		writeGroup(w, g)
		for i, r := range g.Results {
			runs = append(runs, reportfile.Run{Label: r.Name, Meta: r.Meta, Source: g.Sources[i]})
		}
	}
	fmt.Fprintf(w, "\nmsgs/s counts echoes received in the measured window. Load generator and server share the machine's cores, "+
		"so the client's CPU use is part of the picture: a server that needs less CPU per message "+
		"leaves more to the clients and so may also show more throughput. \"Other CPU\" is what the rest of the machine used in the worst repetition.\n")
	fmt.Fprintf(w, "\n## Each server\n\n")
	for _, g := range groups {
		for _, r := range g.Results {
			fmt.Fprintf(w, "- %s\n", conclusion(r))
		}
	}
	reportfile.WriteRuns(w, runs)
}

func writeGroup(w io.Writer, g Group) {
	base := g.Base
	fmt.Fprintf(w, "\n## %s\n\n", g.Load.Describe())
	fmt.Fprintf(w, "| server | reps | msgs/s | %s ÷ server | p50 ms | p99 ms | p99.9 ms | %s ÷ server | server CPU s per 1M msgs | %s ÷ server | RSS MiB | client CPU cores | other CPU cores (max) |\n", base, base, base)
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, r := range g.Rows {
		name := r.Name
		if r.Failed {
			name += " (FAILED reps)"
		}
		if r.Reps == 0 {
			fmt.Fprintf(w, "| %s | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n", name)
			continue
		}
		tr, pr, cr := summary.RatioText(r.TputRatio), summary.RatioText(r.P99Ratio), summary.RatioText(r.CPURatio)
		if i == 0 {
			tr, pr, cr = "(baseline)", "(baseline)", "(baseline)"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", name, r.Reps,
			summary.Text(r.Tput, "%.0f"), tr, summary.Text(r.P50, "%.3f"), summary.Text(r.P99, "%.3f"),
			summary.Text(r.P999, "%.3f"), pr, summary.Text(r.CPU, "%.2f"), cr, summary.Text(r.RSSMiB, "%.1f"), r.Client, r.Other)
	}
	var noisy []string
	for _, r := range g.Rows {
		if r.Other > NoiseCores {
			noisy = append(noisy, fmt.Sprintf("%s (up to %.2f cores)", r.Name, r.Other))
		}
	}
	if len(noisy) > 0 {
		fmt.Fprintf(w, "\n**NOISY:** other processes competed for the CPU during runs of %s; those rows understate the server and the ratios are unreliable. Rerun on a quiet machine.\n",
			strings.Join(noisy, ", "))
	}
	fmt.Fprintf(w, "\n**Conclusion:** %s\n", combinedConclusion(g.Rows, base))
}

// combinedConclusion names the fastest server and how the baseline
// compares with each other one.
func combinedConclusion(rows []Row, base string) string {
	best := -1
	for i, r := range rows {
		if r.Reps > 0 && (best < 0 || r.Tput.Median > rows[best].Tput.Median) {
			best = i
		}
	}
	if best < 0 {
		return "No server completed a clean repetition."
	}
	var parts []string
	for i, r := range rows {
		if i == 0 || r.Reps == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("against %s, %s has %s the throughput, %s the p99 and %s the CPU per message", r.Name, base,
			summary.RatioText(r.TputRatio), summary.RatioText(r.P99Ratio), summary.RatioText(r.CPURatio)))
	}
	s := fmt.Sprintf("Highest median throughput: %s at %s msgs/s.", rows[best].Name, summary.Thousands(rows[best].Tput.Median))
	if len(parts) > 0 {
		s += " " + strings.ToUpper(parts[0][:1]) + parts[0][1:]
		if len(parts) > 1 {
			s += "; " + strings.Join(parts[1:], "; ")
		}
		s += "."
	}
	return s
}

// Charts draws, for each group, median throughput and the median p50, p99
// and p99.9 per server, with the min..max of the repetitions as whiskers.
func Charts(groups []Group) []plot.Panel {
	msFmt := func(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000) }
	var panels []plot.Panel
	for _, g := range groups {
		what := fmt.Sprintf("%d conns × %d B", g.Load.Conns, g.Load.Size)
		if g.Load.Rate > 0 {
			what += fmt.Sprintf(" @ %g/s", g.Load.Rate)
		}
		tput := plot.BarChart{Title: "Echo msgs/s, " + what, YLabel: "messages per second (median, min..max)"}
		p50 := plot.BarChart{Title: "p50 round trip", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
		p99 := plot.BarChart{Title: "p99 round trip", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
		p999 := plot.BarChart{Title: "p99.9 round trip", YLabel: "milliseconds (median, min..max)", YFormat: msFmt}
		for _, r := range g.Rows {
			tput.Bars = append(tput.Bars, bar(r.Name, r.Tput))
			p50.Bars = append(p50.Bars, bar(r.Name, r.P50))
			p99.Bars = append(p99.Bars, bar(r.Name, r.P99))
			p999.Bars = append(p999.Bars, bar(r.Name, r.P999))
		}
		panels = append(panels, tput, p50, p99, p999)
	}
	return panels
}

func bar(label string, s Spread) plot.Bar {
	return plot.Bar{Label: plot.ShortLabel(label), Value: s.Median, Low: s.Min, High: s.Max}
}
