package compare

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Load is a scenario's load as a combined report groups by it: comparable
// and said in words.
type Load interface {
	comparable
	Describe() string
}

// Report is a scenario's `<scenario>-report` command and the side-by-side
// Markdown it writes: a table per load, each run's conclusion, the table
// of runs. R is the scenario's result, read by Read; the texts are the
// scenario's.
type Report[L Load, R any] struct {
	Scenario[L, R]
	Name      string // the scenario, e.g. "echo"; the command is <Name>-report
	Title     string // the report's heading
	SVGUsage  string // the help of --svg: what the chart draws
	ChartAlt  string // the chart's alt text
	Intro     string // what the tables say, before the first
	Footer    string // after the last table; optional
	EachTitle string // the heading of the list of each run's conclusion

	Read       func(paths []string) ([]R, error)
	Conclusion func(R) string         // a run's conclusion, for the list
	Run        func(R) reportfile.Run // a run in the table of runs; Source is filled in
	// GroupConclusion concludes a load's table; nil means the ratio
	// sentence, when there is one.
	GroupConclusion func(rows []Row, base string, cols []Column) string
	// Extra writes what a load shows after its table, if anything.
	Extra func(w io.Writer, g Group[L, R])
}

// RunReport is `swload <scenario>-report --in A.json [B.json ...] --out
// X.md [--svg X.svg] [--baseline NAME]`. --in takes globs and every
// following argument that is not a flag, so an unquoted shell glob works.
// It also writes X.json with every result and comparison.
func (rp Report[L, R]) RunReport(args []string) error {
	var baseline *string
	c, err := reportfile.ParseCombined(rp.Name+"-report", rp.SVGUsage, args, func(fs *flag.FlagSet) {
		baseline = fs.String("baseline", "switchboard-epoll", "server the ratios are taken against (baseline ÷ other); the first input of a load when absent")
	})
	if err != nil {
		return err
	}
	results, err := rp.Read(c.Paths)
	if err != nil {
		return err
	}
	groups := rp.Groups(results, c.Paths, *baseline)
	var md strings.Builder
	rp.Write(&md, groups, c.SVGName())
	other := GroupsOtherMax(groups)
	data := struct {
		Scenario    string        `json:"scenario"`
		Baseline    string        `json:"baseline"`
		OtherCPUMax float64       `json:"other_cpu_cores_max"`
		Quiet       bool          `json:"quiet"`
		Groups      []Group[L, R] `json:"groups"`
	}{rp.Name, *baseline, other, other <= summary.NoiseCores, groups}
	return c.Write(md.String(), data, func(w io.Writer) error {
		return plot.WriteSideBySide(w, rp.Panels(groups)...)
	})
}

// Write renders the side-by-side report of groups; svg, when not empty,
// is linked as the chart.
func (rp Report[L, R]) Write(w io.Writer, groups []Group[L, R], svg string) {
	fmt.Fprintf(w, "# %s\n\n", rp.Title)
	if len(groups) == 0 {
		fmt.Fprintf(w, "No results.\n")
		return
	}
	fmt.Fprintf(w, "%s\n\n", summary.Quietness(GroupsOtherMax(groups)))
	if svg != "" {
		fmt.Fprintf(w, "![%s](%s)\n\n", rp.ChartAlt, svg)
	}
	fmt.Fprintln(w, rp.Intro)
	var runs []reportfile.Run
	for _, g := range groups {
		cols := rp.Columns(g.Load)
		fmt.Fprintf(w, "\n## %s\n\n", g.Load.Describe())
		WriteTable(w, g.Rows, g.Base, cols)
		if rp.Extra != nil {
			rp.Extra(w, g)
		}
		if n := Noisy(g.Rows); n != "" {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		conclusion := RatioSentence(g.Rows, g.Base, cols)
		if rp.GroupConclusion != nil {
			conclusion = rp.GroupConclusion(g.Rows, g.Base, cols)
		}
		if conclusion != "" {
			fmt.Fprintf(w, "\n**Conclusion:** %s\n", conclusion)
		}
		for i, r := range g.Results {
			run := rp.Run(r)
			run.Source = g.Sources[i]
			runs = append(runs, run)
		}
	}
	if rp.Footer != "" {
		fmt.Fprintf(w, "\n%s\n", rp.Footer)
	}
	fmt.Fprintf(w, "\n## %s\n\n", rp.EachTitle)
	for _, g := range groups {
		for _, r := range g.Results {
			fmt.Fprintf(w, "- %s\n", rp.Conclusion(r))
		}
	}
	reportfile.WriteRuns(w, runs)
}
