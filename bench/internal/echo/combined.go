package echo

import (
	"fmt"

	"github.com/switchboard-chat/switchboard/bench/internal/compare"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// RunReport is `swload echo-report --in A.json [B.json ...] --out X.md
// [--svg X.svg] [--baseline NAME]`; it also writes X.json with every
// result and comparison.
func RunReport(args []string) error { return combined.RunReport(args) }

// Group is the runs that applied one load, compared side by side.
type Group = compare.Group[Load, *Result]

var combined = compare.Report[Load, *Result]{
	Scenario: compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns},
	Name:     "echo",
	Title:    "Echo throughput and latency, side by side",
	SVGUsage: "SVG chart of throughput and latency percentiles per server to write (optional)",
	ChartAlt: "throughput and latency percentiles per server",
	Intro: "Every server ran one after the other under the same load, each repetition against a fresh process. " +
		"Spreads are median [min..max] over the clean repetitions. A ratio is the baseline's value divided by the other " +
		"server's, over every pair of their repetitions: throughput above ×1 means the baseline echoed more, p99 and CPU " +
		"below ×1 mean it was faster and cheaper.",
	Footer: "msgs/s counts echoes received in the measured window. Load generator and server share the machine's cores, " +
		"so the client's CPU use is part of the picture: a server that needs less CPU per message " +
		"leaves more to the clients and so may also show more throughput. \"Other CPU\" is what the rest of the machine used in the worst repetition.",
	EachTitle:       "Each server",
	Read:            reportfile.ReadAll[Result],
	Conclusion:      conclusion,
	Run:             func(r *Result) reportfile.Run { return reportfile.Run{Label: r.Name, Meta: r.Meta} },
	GroupConclusion: combinedConclusion,
}

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
