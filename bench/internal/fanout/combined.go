package fanout

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

// RunReport is `swload fanout-report --in A.json [B.json ...] --out X.md
// [--svg X.svg] [--baseline NAME]`. --in takes globs and every following
// argument that is not a flag, so an unquoted shell glob works. It also
// writes X.json with every result and comparison.
func RunReport(args []string) error {
	var baseline *string
	c, err := reportfile.ParseCombined("fanout-report", "SVG chart of deliveries/s and latency percentiles per server to write (optional)", args, func(fs *flag.FlagSet) {
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
	other := compare.GroupsOtherMax(groups)
	data := struct {
		Scenario    string  `json:"scenario"`
		Baseline    string  `json:"baseline"`
		OtherCPUMax float64 `json:"other_cpu_cores_max"`
		Quiet       bool    `json:"quiet"`
		Groups      []Group `json:"groups"`
	}{"fanout", *baseline, other, other <= NoiseCores, groups}
	return c.Write(md.String(), data, func(w io.Writer) error {
		return plot.WriteSideBySide(w, scenario.Panels(groups)...)
	})
}

// Group is the runs that applied one load.
type Group = compare.Group[Load, *Result]

var scenario = compare.Scenario[Load, *Result]{Load: func(r *Result) Load { return r.Load }, Series: series, Columns: columns}

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

// GroupByLoad splits results (read from sources) by load, in order of
// first appearance, and compares each group against baseline.
func GroupByLoad(results []*Result, sources []string, baseline string) []Group {
	return scenario.Groups(results, sources, baseline)
}

// WriteCombined renders the side-by-side report; svg, when not empty, is
// linked as an image.
func WriteCombined(w io.Writer, groups []Group, svg string) {
	fmt.Fprintf(w, "# Room fan-out, side by side\n\n")
	if len(groups) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\n", summary.Quietness(compare.GroupsOtherMax(groups)))
	if svg != "" {
		fmt.Fprintf(w, "![deliveries/s and publish→deliver latency per server](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "Members receive every message published to their room. switchboard runs its chat service (seq from the store, "+
		"acks, presence, rate limits); the peers run the minimal room hub of bench/internal/peer with the same frames and "+
		"none of that. Spreads are median [min..max] over the clean repetitions; a ratio is the baseline's value divided by "+
		"the server's over every pair of their repetitions (deliveries/s above ×1: the baseline delivered more; p99 and CPU "+
		"below ×1: it was faster and cheaper). Latency is from each message's due time, so a server that falls behind shows "+
		"it as growing latency instead of a slower publisher.\n")
	var runs []reportfile.Run
	for _, g := range groups {
		fmt.Fprintf(w, "\n## %s\n\n", g.Load.Describe())
		compare.WriteTable(w, g.Rows, g.Base, columns(g.Load))
		fmt.Fprintf(w, "\n| server | published / acks | gaps / dups | closed by server | undelivered | kept up |\n|---|---:|---:|---:|---:|---|\n")
		for _, r := range g.Results {
			s := r.Summary
			kept := "yes"
			if !sustained(r) {
				kept = "**no**"
			}
			fmt.Fprintf(w, "| %s | %d / %d | %d / %d | %d | %d | %s |\n", r.Name, s.Published, s.Acks, s.Gaps, s.Dups, s.ServerClosed, s.Undelivered, kept)
		}
		if n := compare.Noisy(g.Rows); n != "" {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		if rs := compare.RatioSentence(g.Rows, g.Base, columns(g.Load)); rs != "" {
			fmt.Fprintf(w, "\n**Conclusion:** %s\n", rs)
		}
		for i, r := range g.Results {
			runs = append(runs, reportfile.Run{Label: label(r), Meta: r.Meta, Source: g.Sources[i]})
		}
	}
	fmt.Fprintf(w, "\nCounters (published, acks, gaps, dups, closed, undelivered) are totals over all repetitions. \"Kept up\" means "+
		"at least 95%% of the asked deliveries/s in every clean repetition, p99 under 1 s, no member closed and nothing "+
		"undelivered after the drain. Load generator and server share the machine's cores; read server CPU per delivery "+
		"next to the throughput.\n")
	fmt.Fprintf(w, "\n## Each run\n\n")
	for _, g := range groups {
		for _, r := range g.Results {
			fmt.Fprintf(w, "- %s\n", conclusion(r))
		}
	}
	reportfile.WriteRuns(w, runs)
}

// label names a run in the table of runs: its name and its load.
func label(r *Result) string {
	return fmt.Sprintf("%s, %d×%d members @ %g/s", r.Name, r.Load.rooms(), r.Load.Members, r.Load.Rate)
}
