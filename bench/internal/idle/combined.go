package idle

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

// RunReport is `swload idle-report --in A.json [B.json ...] --out X.md
// [--svg X.svg]`. --in takes globs and also every following argument that
// is not a flag, so an unquoted shell glob works.
func RunReport(args []string) error {
	c, err := reportfile.ParseCombined("idle-report", "SVG plot of RSS vs connections to write (optional)", args, nil)
	if err != nil {
		return err
	}
	results, err := reportfile.ReadAll[Result](c.Paths)
	if err != nil {
		return err
	}
	var md strings.Builder
	WriteCombined(&md, results, c.Paths, c.SVGName())
	data := struct {
		Scenario string    `json:"scenario"`
		Results  []*Result `json:"results"`
		Sources  []string  `json:"sources"`
	}{"idle", results, c.Paths}
	return c.Write(md.String(), data, func(w io.Writer) error {
		return RSSChart(results).WriteSVG(w)
	})
}

// WriteCombined renders the side-by-side table of several runs. svg, when
// not empty, is linked as an image.
func WriteCombined(w io.Writer, results []*Result, sources []string, svg string) {
	fmt.Fprintf(w, "# Idle connections, side by side\n\n")
	other := 0.0
	for _, r := range results {
		for _, s := range r.points() {
			other = max(other, s.OtherCPUCores)
		}
	}
	fmt.Fprintf(w, "%s\n\n", summary.Quietness(other))
	if svg != "" {
		fmt.Fprintf(w, "![RSS vs connections](%s)\n\n", svg)
	}
	fmt.Fprintf(w, "| server | max conns | user B/conn (RSS) | Go heap B/conn | kernel B/socket | of which socket slab B | goroutines/conn | R² RSS | R² kernel | projected 1M user | projected 1M kernel | projected 1M total |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		p := r.Projection
		var max int64
		for _, s := range r.Steps {
			max = s.Conns
		}
		name := r.Name
		if r.Failure != "" {
			name += " (FAILED)"
		}
		if _, ok := r.Fits[FitRSS]; !ok {
			fmt.Fprintf(w, "| %s | %d | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n", name, max)
			continue
		}
		slab := "n/a"
		if p.SlabPerSocket != 0 {
			slab = fmt.Sprintf("%.0f", p.SlabPerSocket)
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.0f | %s | %.4f | %s | %s | %s | %s | %s |\n",
			name, max, p.UserPerConn, p.HeapPerConn, p.KernelPerSocket, slab, p.GoroutinesPerConn,
			r2(r, FitRSS), r2(r, FitKernel), human(p.UserBytes), human(p.KernelBytes), human(p.TotalBytes))
	}
	fmt.Fprintf(w, "\nKernel bytes per socket are half the machine-wide kernel slope, because on loopback both ends of each connection "+
		"live in one kernel; it is machine-wide (meminfo Slab + TCP buffer pages), so other activity on the machine is noise in it. "+
		"\"Socket slab\" counts only the slab caches a socket fd lives in (TCP, sock_inode_cache, dentry, filp, eventpoll) and is steadier. "+
		"User bytes are the slope of the server's VmRSS after a forced GC.\n")
	fmt.Fprintf(w, "\n## Conclusions\n\n")
	for _, r := range results {
		fmt.Fprintf(w, "- %s\n", conclusion(r))
	}
	fmt.Fprintf(w, "\n## Runs\n\n| server | commit | machine | command |\n|---|---|---|---|\n")
	for i, r := range results {
		m := r.Meta
		fmt.Fprintf(w, "| %s | %s | %d CPUs, %s, kernel %s | `%s` (report: %s) |\n", r.Name, m.ServerCommit,
			m.Machine.NProc, human(float64(m.Machine.MemTotal)), m.Machine.Kernel, m.Command,
			strings.TrimSuffix(filepath.Base(sources[i]), ".json")+".md")
	}
}

func r2(r *Result, name string) string {
	l, ok := r.Fits[name]
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", l.R2)
}

// RSSChart plots server RSS against connections, one line per run.
func RSSChart(results []*Result) plot.Chart {
	c := plot.Chart{
		Title:   "Idle WebSocket connections: server RSS",
		XLabel:  "open connections",
		YLabel:  "server RSS (MiB, after GC)",
		YFormat: func(v float64) string { return fmt.Sprintf("%g", v) },
	}
	for _, r := range results {
		s := plot.Series{Name: r.Name}
		if r.Failure != "" {
			s.Name += " (failed)"
		}
		for _, p := range r.points() {
			s.Points = append(s.Points, plot.Point{X: float64(p.Conns), Y: mibf(p.Proc.VmRSS)})
		}
		c.Series = append(c.Series, s)
	}
	return c
}
