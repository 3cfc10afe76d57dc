package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/fit"
	"github.com/switchboard-chat/switchboard/bench/internal/plot"
)

// trend is a fitted growth rate over the second half of a run (the first
// half is warm-up: rooms fill their history, pools grow).
type trend struct {
	Name      string
	PerHour   float64 // units per hour
	Mean      float64
	Unit      string
	GrowthPct float64 // over the whole run, as a share of the mean
}

func trends(r *Result) []trend {
	half := r.Samples[len(r.Samples)/2:]
	series := []struct {
		name, unit string
		v          func(Sample) float64
	}{
		{"RSS", "MiB", func(s Sample) float64 { return mib(s.RSS) }},
		{"heap", "MiB", func(s Sample) float64 { return mib(s.Heap) }},
		{"goroutines", "", func(s Sample) float64 { return float64(s.Goroutines) }},
		{"fds", "", func(s Sample) float64 { return float64(s.FDs) }},
		{"p99", "ms", func(s Sample) float64 { return s.P99ms }},
	}
	var out []trend
	for _, se := range series {
		var x, y []float64
		for _, s := range half {
			x = append(x, s.At/3600)
			y = append(y, se.v(s))
		}
		line, err := fit.Linear(x, y)
		if err != nil {
			continue
		}
		mean := 0.0
		for _, v := range y {
			mean += v
		}
		mean /= float64(len(y))
		t := trend{Name: se.name, PerHour: line.Slope, Mean: mean, Unit: se.unit}
		if mean != 0 {
			t.GrowthPct = 100 * line.Slope * r.Config.Duration.Hours() / mean
		}
		out = append(out, t)
	}
	return out
}

// flatPct is how much a resource may grow over the run, by the trend
// fitted to its second half, before the report calls it growth.
const flatPct = 10

func writeReport(out string, r *Result) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(out+".json", js, 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	markdown(&md, r, filepath.Base(out)+".svg")
	if err := os.WriteFile(out+".md", md.Bytes(), 0o644); err != nil {
		return err
	}
	f, err := os.Create(out + ".svg")
	if err != nil {
		return err
	}
	defer f.Close()
	return chart(r).WriteSVG(f)
}

func chart(r *Result) plot.Chart {
	c := plot.Chart{Title: "switchboard soak: server over time", XLabel: "minutes", YLabel: "value (see legend)"}
	add := func(name string, v func(Sample) float64) {
		s := plot.Series{Name: name}
		for _, x := range r.Samples {
			s.Points = append(s.Points, plot.Point{X: x.At / 60, Y: v(x)})
		}
		c.Series = append(c.Series, s)
	}
	add("RSS (MiB)", func(s Sample) float64 { return mib(s.RSS) })
	add("heap after GC (MiB)", func(s Sample) float64 { return mib(s.Heap) })
	add("goroutines", func(s Sample) float64 { return float64(s.Goroutines) })
	add("open fds / 10", func(s Sample) float64 { return float64(s.FDs) / 10 })
	add("live p99 publish→deliver (ms)", func(s Sample) float64 { return s.P99ms })
	return c
}

func markdown(w io.Writer, r *Result, svg string) {
	c := r.Config
	fmt.Fprintf(w, "# Soak: %v of mixed chat load with churn\n\n", c.Duration)
	fmt.Fprintf(w, "- command: `%s` (via `make soak`, scripts/soak.sh)\n", r.Command)
	fmt.Fprintf(w, "- server: `%s %s`\n", c.ServerBin, c.ServerArgs)
	fmt.Fprintf(w, "- commit: %s\n", r.Commit)
	m := r.Machine
	fmt.Fprintf(w, "- machine: %d CPUs (%s), %.1f GiB, Linux %s, load generator %s in one process beside the server\n",
		m.NProc, m.CPUModel, float64(m.MemTotal)/(1<<30), m.Kernel, m.GoVersion)
	fmt.Fprintf(w, "- started: %s\n\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "Load: %d clients in %d rooms, each publishing %.2f messages/s (exponential gaps) and "+
		"receiving its room's messages; every %v a random %.0f%% of the clients disconnect and rejoin "+
		"with since = the last seq they saw. Samples every %v; \"delivered\" counts live and replayed "+
		"messages, the latency only live ones (a replayed message's delay is the time its client was away).\n\n",
		c.Clients, c.Rooms, c.Rate, c.Interval, 100*c.Churn, c.Interval)

	fmt.Fprintf(w, "## Verdict\n\n")
	verdict := func(ok bool, what string) {
		mark := "PASS"
		if !ok {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "- **%s** %s\n", mark, what)
	}
	verdict(r.Lost == 0, fmt.Sprintf("no lost acked message: %d published, %d acked, %d acked seqs a member never saw",
		r.Published, r.Acked, r.Lost))
	verdict(r.Dups == 0, fmt.Sprintf("no duplicate delivery: %d (across %d reconnects with since)", r.Dups, r.Reconnect))
	verdict(r.FinalFDs == r.IdleFDs, fmt.Sprintf("no leaked fd: %d open before the clients came, %d after they all left",
		r.IdleFDs, r.FinalFDs))
	ts := trends(r)
	for _, t := range ts {
		if t.Name == "p99" {
			continue
		}
		verdict(math.Abs(t.GrowthPct) < flatPct, fmt.Sprintf("no growth trend in %s: %+.2f %s/hour over the second half "+
			"(mean %.1f), %+.1f%% over the run (bound ±%d%%)", t.Name, t.PerHour, t.Unit, t.Mean, t.GrowthPct, flatPct))
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nErrors and anomalies (first %d):\n\n", len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s\n", e)
		}
	}
	fmt.Fprintf(w, "\n![server over time](%s)\n\n## Samples\n\n", svg)
	fmt.Fprintf(w, "| minute | RSS MiB (after GC) | heap MiB (after GC) | goroutines | fds | conns | delivered | live p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "| %.1f | %.1f | %.1f | %d | %d | %d | %d | %.1f |\n",
			s.At/60, mib(s.RSS), mib(s.Heap), s.Goroutines, s.FDs, s.Conns, s.Delivered, s.P99ms)
	}
}
