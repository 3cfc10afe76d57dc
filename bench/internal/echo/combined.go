package echo

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
)

// RunReport is `swload echo-report --in A.json [B.json ...] --out X.md
// [--svg X.svg] [--baseline NAME]`. --in takes globs and also every
// following argument that is not a flag, so an unquoted shell glob works.
func RunReport(args []string) error {
	var baseline *string
	c, err := reportfile.ParseCombined("echo-report", "SVG chart of throughput and p99 per server to write (optional)", args, func(fs *flag.FlagSet) {
		baseline = fs.String("baseline", "switchboard-epoll", "server the ratios are against; the first input when absent")
	})
	if err != nil {
		return err
	}
	results, err := reportfile.ReadAll[Result](c.Paths)
	if err != nil {
		return err
	}
	rows, base := Compare(results, *baseline)

	var md strings.Builder
	WriteCombined(&md, results, rows, base, c.Paths, c.SVGName())
	return c.Write(md.String(), func(w io.Writer) error {
		tput, p99 := Charts(rows, results[0].Load)
		return plot.WriteSideBySide(w, tput, p99)
	})
}

// Row is one server in the side-by-side table, with its ratios against the
// baseline (NaN where the baseline has no value to divide by).
type Row struct {
	Name      string
	Reps      int
	Failed    bool
	Tput      Spread // msgs/s
	P50       float64
	P99       Spread  // ms
	CPU       float64 // server CPU s per 1M msgs, median
	RSSMiB    float64
	Client    float64 // load generator CPU cores, median
	Other     float64 // most CPU other processes used in a repetition, cores
	TputRatio float64 // > 1: more throughput than the baseline
	P99Ratio  float64 // < 1: lower tail latency than the baseline
	CPURatio  float64 // < 1: cheaper per message than the baseline
}

// Compare builds the rows, baseline first, then the others in input order.
// base is the name actually used: the requested one, or the first result's
// when no result has that name.
func Compare(results []*Result, baseline string) (rows []Row, base string) {
	bi := 0
	for i, r := range results {
		if r.Name == baseline {
			bi = i
			break
		}
	}
	if len(results) == 0 {
		return nil, baseline
	}
	order := append([]*Result{results[bi]}, append(append([]*Result{}, results[:bi]...), results[bi+1:]...)...)
	b := order[0].Summary
	ratio := func(x, y float64) float64 {
		if y == 0 {
			return math.NaN()
		}
		return x / y
	}
	for _, r := range order {
		s := r.Summary
		rows = append(rows, Row{
			Name: r.Name, Reps: s.Reps, Failed: r.Failure != "",
			Tput: s.MsgsPerSec, P50: s.P50MS.Median, P99: s.P99MS, CPU: s.CPUPerMillion.Median,
			RSSMiB:    s.RSSBytes.Median / (1 << 20),
			Client:    s.ClientCPU.Median / r.Load.DurationSeconds,
			Other:     s.OtherCPUMax,
			TputRatio: ratio(s.MsgsPerSec.Median, b.MsgsPerSec.Median),
			P99Ratio:  ratio(s.P99MS.Median, b.P99MS.Median),
			CPURatio:  ratio(s.CPUPerMillion.Median, b.CPUPerMillion.Median),
		})
	}
	return rows, order[0].Name
}

// sameLoad reports whether every result applied the same load; if not, it
// says how they differ.
func sameLoad(results []*Result) (bool, string) {
	var diffs []string
	for _, r := range results[1:] {
		if r.Load != results[0].Load {
			diffs = append(diffs, fmt.Sprintf("%s: %s", r.Name, r.Load.Describe()))
		}
	}
	if len(diffs) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%s: %s; %s", results[0].Name, results[0].Load.Describe(), strings.Join(diffs, "; "))
}

func ratioText(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("×%.2f", x)
}

// WriteCombined renders the side-by-side report. svg, when not empty, is
// linked as an image.
func WriteCombined(w io.Writer, results []*Result, rows []Row, base string, sources []string, svg string) {
	fmt.Fprintf(w, "# Echo throughput and latency, side by side\n\n")
	if len(results) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "**Load:** %s.\n\n", results[0].Load.Describe())
	if ok, why := sameLoad(results); !ok {
		fmt.Fprintf(w, "**WARNING: the runs did not apply the same load, so they are not comparable:** %s\n\n", why)
	}
	if svg != "" {
		fmt.Fprintf(w, "![throughput and p99 per server](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "Ratios are against **%s**. Spreads are median [min..max] over the clean repetitions.\n\n", base)
	fmt.Fprintf(w, "| server | reps | msgs/s | vs %s | p50 ms | p99 ms | vs %s | server CPU s per 1M msgs | vs %s | RSS MiB | client CPU cores | other CPU cores (max) |\n", base, base, base)
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		name := r.Name
		if r.Failed {
			name += " (FAILED reps)"
		}
		if r.Reps == 0 {
			fmt.Fprintf(w, "| %s | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n", name)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.3f | %s | %s | %.2f | %s | %.1f | %.2f | %.2f |\n", name, r.Reps,
			spreadText(r.Tput, "%.0f"), ratioText(r.TputRatio), r.P50, spreadText(r.P99, "%.3f"), ratioText(r.P99Ratio),
			r.CPU, ratioText(r.CPURatio), r.RSSMiB, r.Client, r.Other)
	}
	var noisy []string
	for _, r := range rows {
		if r.Other > NoiseCores {
			noisy = append(noisy, fmt.Sprintf("%s (up to %.2f cores)", r.Name, r.Other))
		}
	}
	if len(noisy) > 0 {
		fmt.Fprintf(w, "\n**NOISY:** other processes competed for the CPU during runs of %s; those rows understate the server and the ratios are unreliable. Rerun on a quiet machine.\n",
			strings.Join(noisy, ", "))
	}
	fmt.Fprintf(w, "\nmsgs/s counts echoes received in the measured window. Load generator and server share the machine's cores, "+
		"so the client's CPU use is part of the picture: a server that needs less CPU per message "+
		"leaves more to the clients and so may also show more throughput. \"Other CPU\" is what the rest of the machine used in the worst repetition.\n")
	fmt.Fprintf(w, "\n## Conclusion\n\n%s\n", combinedConclusion(rows, base))
	fmt.Fprintf(w, "\n## Each server\n\n")
	for _, r := range results {
		fmt.Fprintf(w, "- %s\n", conclusion(r))
	}
	fmt.Fprintf(w, "\n## Runs\n\n| server | commit | server built with | machine | command |\n|---|---|---|---|---|\n")
	for i, r := range results {
		m := r.Meta
		fmt.Fprintf(w, "| %s | %s | %s | %d CPUs, %s, %.2f GiB, kernel %s | `%s` (report: %s) |\n", r.Name, m.ServerCommit, m.ServerGo,
			m.Machine.NProc, m.Machine.CPUModel, float64(m.Machine.MemTotal)/(1<<30), m.Machine.Kernel, m.Command,
			strings.TrimSuffix(filepath.Base(sources[i]), ".json")+".md")
	}
}

// combinedConclusion names the fastest server and how the others compare.
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
	for _, r := range rows {
		if r.Name == base || r.Reps == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s throughput, %s p99, %s CPU per message", r.Name,
			ratioText(r.TputRatio), ratioText(r.P99Ratio), ratioText(r.CPURatio)))
	}
	s := fmt.Sprintf("Highest median throughput: %s at %s msgs/s.", rows[best].Name, thousands(rows[best].Tput.Median))
	if len(parts) > 0 {
		s += fmt.Sprintf(" Against %s: %s.", base, strings.Join(parts, "; "))
	}
	return s
}

// Charts draws median throughput and median p99 per server, with the
// min..max of the repetitions as whiskers.
func Charts(rows []Row, load Load) (tput, p99 plot.BarChart) {
	what := fmt.Sprintf("%d conns × %d B", load.Conns, load.Size)
	tput = plot.BarChart{Title: "Echo throughput, " + what, YLabel: "messages per second (median, min..max)"}
	p99 = plot.BarChart{Title: "p99 round trip, " + what, YLabel: "milliseconds (median, min..max)",
		YFormat: func(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000) }}
	for _, r := range rows {
		tput.Bars = append(tput.Bars, plot.Bar{Label: r.Name, Value: r.Tput.Median, Low: r.Tput.Min, High: r.Tput.Max})
		p99.Bars = append(p99.Bars, plot.Bar{Label: r.Name, Value: r.P99.Median, Low: r.P99.Min, High: r.P99.Max})
	}
	return tput, p99
}
