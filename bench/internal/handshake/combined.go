package handshake

import (
	"fmt"

	"github.com/switchboard-chat/switchboard/bench/internal/compare"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
)

// RunReport is `swload handshake-report --in A.json [B.json ...] --out
// X.md [--svg X.svg] [--baseline NAME]`; it also writes X.json.
func RunReport(args []string) error { return combined.RunReport(args) }

// Group is the runs that applied one load.
type Group = compare.Group[Load, *Result]

var combined = compare.Report[Load, *Result]{
	Scenario: compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns},
	Name:     "handshake",
	Title:    "Connection churn, side by side",
	SVGUsage: "SVG chart of connections/s and upgrade latency per server to write (optional)",
	ChartAlt: "connections/s and upgrade latency per server",
	Intro: "Each connection: TCP connect, HTTP upgrade (upgrade latency ends at the 101), one message and its echo, " +
		"close handshake (cycle latency). Spreads are median [min..max] over the clean repetitions; a ratio is the " +
		"baseline's value divided by the server's over every pair of repetitions (conns/s above ×1: the baseline " +
		"completed more; latency and CPU below ×1: it was faster and cheaper).",
	EachTitle:  "Each server",
	Read:       reportfile.ReadAll[Result],
	Conclusion: conclusion,
	Run:        func(r *Result) reportfile.Run { return reportfile.Run{Label: r.Name, Meta: r.Meta} },
}

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
