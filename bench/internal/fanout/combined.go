package fanout

import (
	"fmt"
	"io"

	"github.com/switchboard-chat/switchboard/bench/internal/compare"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
)

// RunReport is `swload fanout-report --in A.json [B.json ...] --out X.md
// [--svg X.svg] [--baseline NAME]`; it also writes X.json with every
// result and comparison.
func RunReport(args []string) error { return combined.RunReport(args) }

// Group is the runs that applied one load.
type Group = compare.Group[Load, *Result]

var combined = compare.Report[Load, *Result]{
	Scenario: compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns},
	Name:     "fanout",
	Title:    "Room fan-out, side by side",
	SVGUsage: "SVG chart of deliveries/s and latency percentiles per server to write (optional)",
	ChartAlt: "deliveries/s and publish→deliver latency per server",
	Intro: "Members receive every message published to their room. switchboard runs its chat service (seq from the store, " +
		"acks, presence, rate limits); the peers run the minimal room hub of bench/internal/peer with the same frames and " +
		"none of that. Spreads are median [min..max] over the clean repetitions; a ratio is the baseline's value divided by " +
		"the server's over every pair of their repetitions (deliveries/s above ×1: the baseline delivered more; p99 and CPU " +
		"below ×1: it was faster and cheaper). Latency is from each message's due time, so a server that falls behind shows " +
		"it as growing latency instead of a slower publisher.",
	Footer: "Counters (published, acks, gaps, dups, closed, undelivered) are totals over all repetitions. \"Kept up\" means " +
		"at least 95% of the asked deliveries/s in every clean repetition, p99 under 1 s, no member closed and nothing " +
		"undelivered after the drain. Load generator and server share the machine's cores; read server CPU per delivery " +
		"next to the throughput.",
	EachTitle:  "Each run",
	Read:       reportfile.ReadAll[Result],
	Conclusion: conclusion,
	Run:        func(r *Result) reportfile.Run { return reportfile.Run{Label: label(r), Meta: r.Meta} },
	Extra:      writeCounters,
}

// columns are the fan-out table's metrics; chart titles name the load.
func columns(l Load) []compare.Column {
	what := fmt.Sprintf("%d×%d members @ %g/s", l.rooms(), l.Members, l.Rate)
	return []compare.Column{
		{Key: "tput", Title: "deliveries/s", Format: "%.0f", Ratio: true, Chart: "Deliveries/s, " + what},
		{Key: "p50", Title: "p50 ms", Format: "%.3f", Chart: "p50 publish→deliver"},
		{Key: "p99", Title: "p99 ms", Format: "%.3f", Ratio: true, Chart: "p99 publish→deliver"},
		{Key: "p999", Title: "p99.9 ms", Format: "%.3f", Chart: "p99.9 publish→deliver"},
		{Key: "cpu", Title: "server CPU s per 1M deliveries", Format: "%.2f", Ratio: true},
		{Key: "rss", Title: "RSS MiB", Format: "%.1f"},
		{Key: "setup", Title: "setup s", Format: "%.1f"},
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
		add("tput", rep.DeliveriesPerSec)
		add("p50", rep.Latency.P50)
		add("p99", rep.Latency.P99)
		add("p999", rep.Latency.P999)
		add("cpu", rep.ServerCPUPerMillion)
		add("rss", float64(rep.ServerRSS)/(1<<20))
		add("setup", rep.SetupSeconds)
	}
	return s
}

// writeCounters is the table of a load's counters and whether each server
// kept up, after its comparison table.
func writeCounters(w io.Writer, g Group) {
	fmt.Fprintf(w, "\n| server | published / acks | gaps / dups | closed by server | undelivered | kept up |\n|---|---:|---:|---:|---:|---|\n")
	for _, r := range g.Results {
		s := r.Summary
		kept := "yes"
		if !sustained(r) {
			kept = "**no**"
		}
		fmt.Fprintf(w, "| %s | %d / %d | %d / %d | %d | %d | %s |\n", r.Name, s.Published, s.Acks, s.Gaps, s.Dups, s.ServerClosed, s.Undelivered, kept)
	}
}

// label names a run in the table of runs: its name and its load.
func label(r *Result) string {
	return fmt.Sprintf("%s, %d×%d members @ %g/s", r.Name, r.Load.rooms(), r.Load.Members, r.Load.Rate)
}
