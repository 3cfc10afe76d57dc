// Package compare builds the side-by-side tables and charts of the
// repetition-based scenarios: one row per server, each metric as the
// median [min..max] of its clean repetitions, and for chosen metrics the
// ratio baseline ÷ server over every pair of repetitions. A scenario turns
// its results into Series and chooses the Columns; compare knows nothing
// about what the numbers mean. Report (report.go) is the whole
// `<scenario>-report` command around those tables, with the scenario's
// texts. It has no state.
package compare

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// Series is one server's run: per metric key, the values of its clean
// repetitions.
type Series struct {
	Name   string
	Failed bool // some repetition failed
	Values map[string][]float64
	Other  float64 // most CPU other processes used in any repetition, cores
}

// Column is one metric of the table.
type Column struct {
	Key    string // in Series.Values
	Title  string // column header, with its unit
	Format string // for the median, e.g. "%.0f"
	Ratio  bool   // also show baseline ÷ server
	Chart  string // when not empty, a bar chart panel with this title
}

// Row is one server's line: the spread of every column and the ratios.
type Row struct {
	Name   string                    `json:"name"`
	Reps   int                       `json:"reps"`
	Failed bool                      `json:"failed"`
	Cells  map[string]summary.Spread `json:"values"`
	Ratios map[string]summary.Spread `json:"ratios,omitempty"` // baseline ÷ this server; none for the baseline
	Other  float64                   `json:"other_cpu_cores"`
}

// Rows orders the series baseline first (the first series when none has
// that name), the others in input order, and computes every spread and
// ratio. base is the baseline's name.
func Rows(series []Series, baseline string, cols []Column) (rows []Row, base string) {
	if len(series) == 0 {
		return nil, baseline
	}
	bi := 0
	for i, s := range series {
		if s.Name == baseline {
			bi = i
			break
		}
	}
	order := append([]Series{series[bi]}, append(append([]Series{}, series[:bi]...), series[bi+1:]...)...)
	b := order[0]
	for i, s := range order {
		r := Row{Name: s.Name, Failed: s.Failed, Other: s.Other, Cells: map[string]summary.Spread{}}
		for _, c := range cols {
			r.Cells[c.Key] = summary.SpreadOf(s.Values[c.Key])
			r.Reps = max(r.Reps, len(s.Values[c.Key]))
			if c.Ratio && i > 0 {
				if r.Ratios == nil {
					r.Ratios = map[string]summary.Spread{}
				}
				r.Ratios[c.Key] = summary.RatioOf(b.Values[c.Key], s.Values[c.Key])
			}
		}
		rows = append(rows, r)
	}
	return rows, b.Name
}

// WriteTable renders rows as a Markdown table: server, repetitions, then
// each column (and its ratio column), then other CPU.
func WriteTable(w io.Writer, rows []Row, base string, cols []Column) {
	fmt.Fprintf(w, "| server | reps |")
	align := "|---|---:|"
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.Title)
		align += "---:|"
		if c.Ratio {
			fmt.Fprintf(w, " %s ÷ server |", base)
			align += "---:|"
		}
	}
	fmt.Fprintf(w, " other CPU cores (max) |\n%s---:|\n", align)
	for i, r := range rows {
		name := r.Name
		if r.Failed {
			name += " (FAILED reps)"
		}
		fmt.Fprintf(w, "| %s | %d |", name, r.Reps)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", summary.Text(r.Cells[c.Key], c.Format))
			if c.Ratio {
				if i == 0 {
					fmt.Fprintf(w, " (baseline) |")
				} else {
					fmt.Fprintf(w, " %s |", summary.RatioText(r.Ratios[c.Key]))
				}
			}
		}
		fmt.Fprintf(w, " %.2f |\n", r.Other)
	}
}

// OtherMax is the most other CPU of any row.
func OtherMax(rows []Row) float64 {
	m := 0.0
	for _, r := range rows {
		m = max(m, r.Other)
	}
	return m
}

// Noisy lists the rows whose repetitions had other CPU over the limit, in
// words, or "" when none did.
func Noisy(rows []Row) string {
	var noisy []string
	for _, r := range rows {
		if r.Other > summary.NoiseCores {
			noisy = append(noisy, fmt.Sprintf("%s (up to %.2f cores)", r.Name, r.Other))
		}
	}
	if len(noisy) == 0 {
		return ""
	}
	return "**NOISY:** other processes competed for the CPU during runs of " + strings.Join(noisy, ", ") +
		"; those rows understate the server and the ratios are unreliable. Rerun on a quiet machine."
}

// RatioSentence says how the baseline compares with each other row on the
// ratio columns, e.g. "Against peer-nbio, switchboard-epoll has ×1.20
// [×1.10..×1.30] the msgs/s and ×0.80 the p99 ms."
func RatioSentence(rows []Row, base string, cols []Column) string {
	var parts []string
	for i, r := range rows {
		if i == 0 || r.Reps == 0 {
			continue
		}
		var what []string
		for _, c := range cols {
			if c.Ratio {
				what = append(what, fmt.Sprintf("%s the %s", summary.RatioText(r.Ratios[c.Key]), c.Title))
			}
		}
		parts = append(parts, fmt.Sprintf("against %s, %s has %s", r.Name, base, strings.Join(what, ", ")))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

// Panels draws a bar chart per column with a Chart title: the median of
// each row with its min..max as whiskers, bars in row order.
func Panels(rows []Row, cols []Column) []plot.Panel {
	var panels []plot.Panel
	for _, c := range cols {
		if c.Chart == "" {
			continue
		}
		bc := plot.BarChart{Title: c.Chart, YLabel: c.Title + " (median, min..max)"}
		if strings.Contains(c.Title, "ms") {
			bc.YFormat = func(v float64) string { return fmt.Sprintf("%g", math.Round(v*1000)/1000) }
		}
		for _, r := range rows {
			s := r.Cells[c.Key]
			bc.Bars = append(bc.Bars, plot.Bar{Label: plot.ShortLabel(r.Name), Value: s.Median, Low: s.Min, High: s.Max})
		}
		panels = append(panels, bc)
	}
	return panels
}

// GroupBy splits the indexes 0..n-1 by key, groups in order of their first
// index: the runs of one load, say.
func GroupBy[K comparable](n int, key func(i int) K) [][]int {
	var keys []K
	var groups [][]int
	for i := range n {
		k := key(i)
		gi := -1
		for j, seen := range keys {
			if seen == k {
				gi = j
				break
			}
		}
		if gi < 0 {
			keys = append(keys, k)
			groups = append(groups, nil)
			gi = len(groups) - 1
		}
		groups[gi] = append(groups[gi], i)
	}
	return groups
}

// Group is the runs of results of type R that applied one load of type L,
// compared side by side.
type Group[L comparable, R any] struct {
	Load    L        `json:"load"`
	Base    string   `json:"baseline"` // the server the ratios are against
	Rows    []Row    `json:"rows"`     // baseline first
	Results []R      `json:"results"`  // in input order
	Sources []string `json:"sources"`  // the results' files
}

// Scenario is how a scenario's results become rows: its load, its series
// and the columns of a load.
type Scenario[L comparable, R any] struct {
	Load    func(R) L
	Series  func(R) Series
	Columns func(L) []Column
}

// Groups splits results (read from sources) by load, in order of first
// appearance, and compares each group against baseline.
func (sc Scenario[L, R]) Groups(results []R, sources []string, baseline string) []Group[L, R] {
	var groups []Group[L, R]
	for _, idx := range GroupBy(len(results), func(i int) L { return sc.Load(results[i]) }) {
		g := Group[L, R]{Load: sc.Load(results[idx[0]])}
		var ss []Series
		for _, i := range idx {
			g.Results = append(g.Results, results[i])
			g.Sources = append(g.Sources, sources[i])
			ss = append(ss, sc.Series(results[i]))
		}
		g.Rows, g.Base = Rows(ss, baseline, sc.Columns(g.Load))
		groups = append(groups, g)
	}
	return groups
}

// Panels draws every group's charted columns, side by side in one list.
func (sc Scenario[L, R]) Panels(groups []Group[L, R]) []plot.Panel {
	var panels []plot.Panel
	for _, g := range groups {
		panels = append(panels, Panels(g.Rows, sc.Columns(g.Load))...)
	}
	return panels
}

// GroupsOtherMax is the most other CPU of any row of any group.
func GroupsOtherMax[L comparable, R any](groups []Group[L, R]) float64 {
	m := 0.0
	for _, g := range groups {
		m = max(m, OtherMax(g.Rows))
	}
	return m
}
