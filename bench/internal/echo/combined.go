package echo

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/compare"
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
type Group = compare.Group[Load, *Result]

var scenario = compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns}

// columns are the echo table's metrics; chart titles name the load.
func columns(l Load) []compare.Column {
	what := fmt.Sprintf("%d conns × %d B", l.Conns, l.Size)
	if l.Rate > 0 {
		what += fmt.Sprintf(" @ %g/s", l.Rate)
	}
	return []compare.Column{
		{Key: "tput", Title: "msgs/s", Format: "%.0f", Ratio: true, Chart: "Echo msgs/s, " + what},
		{Key: "p50", Title: "p50 ms", Format: "%.3f", Chart: "p50 round trip"},
		{Key: "p99", Title: "p99 ms", Format: "%.3f", Ratio: true, Chart: "p99 round trip"},
		{Key: "p999", Title: "p99.9 ms", Format: "%.3f", Chart: "p99.9 round trip"},
		{Key: "cpu", Title: "server CPU s per 1M msgs", Format: "%.2f", Ratio: true},
		{Key: "rss", Title: "RSS MiB", Format: "%.1f"},
		{Key: "client", Title: "client CPU cores", Format: "%.2f"},
	}
}

// series is r's clean repetitions by column key.
func series(r *Result) compare.Series {
	s := compare.Series{Name: r.Name, Failed: r.Failure != "", Other: r.Summary.OtherCPUMax, Values: map[string][]float64{}}
	for _, rep := range r.Reps {
		if rep.Failure != "" {
			continue
		}
		add := func(k string, v float64) { s.Values[k] = append(s.Values[k], v) }
		add("tput", rep.MsgsPerSec)
		add("p50", rep.Latency.P50)
		add("p99", rep.Latency.P99)
		add("p999", rep.Latency.P999)
		add("cpu", rep.ServerCPUPerMillion)
		add("rss", float64(rep.ServerRSS)/(1<<20))
		add("client", rep.ClientCPUSeconds/r.Load.DurationSeconds)
	}
	return s
}

// GroupByLoad splits results (read from sources) by load, in order of
// first appearance, and compares each group against baseline.
func GroupByLoad(results []*Result, sources []string, baseline string) []Group {
	return scenario.Groups(results, sources, baseline)
}

// Compare builds the rows of results that applied one load, baseline
// first (the first result when none has that name); base is the name
// used.
func Compare(results []*Result, baseline string) (rows []compare.Row, base string) {
	var ss []compare.Series
	for _, r := range results {
		ss = append(ss, series(r))
	}
	if len(results) == 0 {
		return nil, baseline
	}
	return compare.Rows(ss, baseline, columns(results[0].Load))
}

func otherMax(groups []Group) float64 { return compare.GroupsOtherMax(groups) }

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
		fmt.Fprintf(w, "\n## %s\n\n", g.Load.Describe())
		cols := columns(g.Load)
		compare.WriteTable(w, g.Rows, g.Base, cols)
		if n := compare.Noisy(g.Rows); n != "" {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		fmt.Fprintf(w, "\n**Conclusion:** %s\n", combinedConclusion(g.Rows, g.Base, cols))
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

// combinedConclusion names the fastest server and how the baseline
// compares with each other one.
func combinedConclusion(rows []compare.Row, base string, cols []compare.Column) string {
	best := -1
	for i, r := range rows {
		if r.Reps > 0 && (best < 0 || r.Cells["tput"].Median > rows[best].Cells["tput"].Median) {
			best = i
		}
	}
	if best < 0 {
		return "No server completed a clean repetition."
	}
	s := fmt.Sprintf("Highest median throughput: %s at %s msgs/s.", rows[best].Name, summary.Thousands(rows[best].Cells["tput"].Median))
	if rs := compare.RatioSentence(rows, base, cols); rs != "" {
		s += " " + rs
	}
	return s
}

// Charts draws, for each group, median throughput and the median p50, p99
// and p99.9 per server, with the min..max of the repetitions as whiskers.
func Charts(groups []Group) []plot.Panel { return scenario.Panels(groups) }
