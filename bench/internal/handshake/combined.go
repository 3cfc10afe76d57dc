package handshake

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

// RunReport is `swload handshake-report --in A.json [B.json ...] --out
// X.md [--svg X.svg] [--baseline NAME]`; it also writes X.json.
func RunReport(args []string) error {
	var baseline *string
	c, err := reportfile.ParseCombined("handshake-report", "SVG chart of connections/s and upgrade latency per server to write (optional)", args, func(fs *flag.FlagSet) {
		baseline = fs.String("baseline", "switchboard-epoll", "server the ratios are taken against (baseline ÷ other)")
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
	other := compare.GroupsOtherMax(groups)
	data := struct {
		Scenario    string  `json:"scenario"`
		Baseline    string  `json:"baseline"`
		OtherCPUMax float64 `json:"other_cpu_cores_max"`
		Quiet       bool    `json:"quiet"`
		Groups      []Group `json:"groups"`
	}{"handshake", *baseline, other, other <= summary.NoiseCores, groups}
	return c.Write(md.String(), data, func(w io.Writer) error {
		return plot.WriteSideBySide(w, scenario.Panels(groups)...)
	})
}

// Group is the runs that applied one load.
type Group = compare.Group[Load, *Result]

var scenario = compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns}

func columns(l Load) []compare.Column {
	what := fmt.Sprintf("%d in flight", l.Concurrency)
	if l.Rate > 0 {
		what = fmt.Sprintf("%g/s", l.Rate)
	}
	return []compare.Column{
		{Key: "tput", Title: "conns/s", Format: "%.0f", Ratio: true, Chart: "Connections/s, " + what},
		{Key: "up50", Title: "upgrade p50 ms", Format: "%.3f", Chart: "p50 upgrade"},
		{Key: "up99", Title: "upgrade p99 ms", Format: "%.3f", Ratio: true, Chart: "p99 upgrade"},
		{Key: "up999", Title: "upgrade p99.9 ms", Format: "%.3f", Chart: "p99.9 upgrade"},
		{Key: "cy99", Title: "cycle p99 ms", Format: "%.3f"},
		{Key: "cpu", Title: "server CPU ms per conn", Format: "%.3f", Ratio: true},
	}
}

func series(r *Result) compare.Series {
	s := compare.Series{Name: r.Name, Failed: r.Failure != "", Other: r.Summary.OtherCPUMax, Values: map[string][]float64{}}
	for _, rep := range r.Reps {
		if rep.Failure != "" {
			continue
		}
		add := func(k string, v float64) { s.Values[k] = append(s.Values[k], v) }
		add("tput", rep.ConnsPerSec)
		add("up50", rep.Upgrade.P50)
		add("up99", rep.Upgrade.P99)
		add("up999", rep.Upgrade.P999)
		add("cy99", rep.Cycle.P99)
		add("cpu", rep.ServerCPUPer1k)
	}
	return s
}

// GroupByLoad splits results by load and compares each group.
func GroupByLoad(results []*Result, sources []string, baseline string) []Group {
	return scenario.Groups(results, sources, baseline)
}

// WriteCombined renders the side-by-side report.
func WriteCombined(w io.Writer, groups []Group, svg string) {
	fmt.Fprintf(w, "# Connection churn, side by side\n\n")
	if len(groups) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\n", summary.Quietness(compare.GroupsOtherMax(groups)))
	if svg != "" {
		fmt.Fprintf(w, "![connections/s and upgrade latency per server](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "Each connection: TCP connect, HTTP upgrade (upgrade latency ends at the 101), one message and its echo, "+
		"close handshake (cycle latency). Spreads are median [min..max] over the clean repetitions; a ratio is the "+
		"baseline's value divided by the server's over every pair of repetitions (conns/s above ×1: the baseline "+
		"completed more; latency and CPU below ×1: it was faster and cheaper).\n")
	var runs []reportfile.Run
	for _, g := range groups {
		fmt.Fprintf(w, "\n## %s\n\n", g.Load.Describe())
		compare.WriteTable(w, g.Rows, g.Base, columns(g.Load))
		if n := compare.Noisy(g.Rows); n != "" {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		if rs := compare.RatioSentence(g.Rows, g.Base, columns(g.Load)); rs != "" {
			fmt.Fprintf(w, "\n**Conclusion:** %s\n", rs)
		}
		for i, r := range g.Results {
			runs = append(runs, reportfile.Run{Label: r.Name, Meta: r.Meta, Source: g.Sources[i]})
		}
	}
	fmt.Fprintf(w, "\n## Each server\n\n")
	for _, g := range groups {
		for _, r := range g.Results {
			fmt.Fprintf(w, "- %s\n", conclusion(r))
		}
	}
	reportfile.WriteRuns(w, runs)
}
