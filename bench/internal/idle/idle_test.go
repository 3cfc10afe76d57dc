package idle

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/fit"
	"github.com/switchboard-chat/switchboard/bench/internal/procfs"
)

// synthetic builds a run whose server costs userPer bytes per connection
// in RSS and whose machine-wide kernel memory grows by kernelPer per
// connection (both ends of a loopback connection).
func synthetic(name string, userPer, kernelPer float64, steps ...int) *Result {
	mk := func(n int) Sample {
		return Sample{
			Target:      n,
			Conns:       int64(n),
			Proc:        procfs.Status{VmRSS: uint64(10<<20 + userPer*float64(n)), Threads: 7},
			Go:          GoStats{Conns: int64(n), Goroutines: 9, HeapInuse: uint64(1<<20 + 0.5*userPer*float64(n))},
			FDs:         12 + n,
			KernelBytes: uint64(60<<20 + kernelPer*float64(n)),
			Sockstat:    procfs.Sockstat{TCPInuse: 5 + 2*n},
		}
	}
	base := mk(0)
	r := &Result{Name: name, Baseline: &base, Meta: Meta{Command: "swload idle --name " + name, SlabinfoOK: false}}
	for _, n := range steps {
		r.Steps = append(r.Steps, mk(n))
	}
	r.ComputeFits()
	return r
}

func TestComputeFitsAndProjection(t *testing.T) {
	r := synthetic("flat-server", 2048, 10000, 1000, 2000, 4000, 19000)
	rss := r.Fits[FitRSS]
	if math.Abs(rss.Slope-2048) > 0.01 || rss.R2 < 0.999999 || rss.N != 5 {
		t.Errorf("rss fit = %+v, want slope 2048, R² 1, 5 points", rss)
	}
	if g := r.Fits[FitGoroutines]; g.Slope != 0 {
		t.Errorf("goroutine slope = %v, want 0", g.Slope)
	}
	if _, ok := r.Fits[FitSocketSlab]; ok {
		t.Error("socket_slab fitted although slabinfo was unreadable")
	}
	p := r.Projection
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > math.Abs(want)*1e-6+1 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("kernel per TCP socket", r.Fits[FitKernelPerTCP].Slope, 5000)
	near("UserPerConn", p.UserPerConn, 2048)
	// Loopback: the kernel slope covers two sockets per connection.
	near("KernelPerSocket", p.KernelPerSocket, 5000)
	near("UserBytes", p.UserBytes, 10<<20+2048*1e6)
	near("KernelBytes", p.KernelBytes, 5000*1e6)
	near("TotalBytes", p.TotalBytes, 10<<20+2048*1e6+5000*1e6)
}

func TestProjectMissingFits(t *testing.T) {
	p := Project(map[string]fit.Line{}, 1e6)
	if p.TotalBytes != 0 || p.Conns != 1e6 {
		t.Errorf("got %+v", p)
	}
	p = Project(map[string]fit.Line{FitCPU: {Slope: 1e-6}}, 1e6)
	if math.Abs(p.CPUCoresPer1k-1e-3) > 1e-12 {
		t.Errorf("CPUCoresPer1k = %v", p.CPUCoresPer1k)
	}
}

func TestTooFewPointsNoFit(t *testing.T) {
	r := &Result{Name: "x", Failure: "step 1000: reached 10 connections"}
	r.ComputeFits()
	if len(r.Fits) != 0 {
		t.Errorf("fits from no points: %v", r.Fits)
	}
	var b strings.Builder
	WriteMarkdown(&b, r)
	if !strings.Contains(b.String(), "FAILED") {
		t.Error("failure not in report")
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := synthetic("peer", 20000, 10000, 1000, 2000)
	var b strings.Builder
	WriteMarkdown(&b, r)
	out := b.String()
	for _, want := range []string{
		"# Idle connections: peer", "swload idle --name peer", "| rss | 20000.0 B |",
		"Projected RSS at 1M:", "kernel at 1M:", "slope / 2", "## Conclusion", "/proc/slabinfo was not readable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunReport(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []*Result{
		synthetic("switchboard-epoll", 1500, 9000, 1000, 2000, 4000),
		synthetic("peer-gorilla", 17000, 11000, 1000, 2000, 4000),
	} {
		if err := writeResult(filepath.Join(dir, "idle-"+r.Name), r); err != nil {
			t.Fatal(err)
		}
	}
	out, svg := filepath.Join(dir, "idle.md"), filepath.Join(dir, "idle.svg")
	// As an unquoted shell glob arrives: several paths after --in.
	args := []string{"--in", filepath.Join(dir, "idle-peer-gorilla.json"), filepath.Join(dir, "idle-switchboard-epoll.json"), "--out", out, "--svg", svg}
	if err := RunReport(args); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| peer-gorilla | 4000 | 17000 | 8500 | 5500 | n/a | 0.0000 |", "| switchboard-epoll | 4000 | 1500 |", "](idle.svg)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("combined report lacks %q:\n%s", want, md)
		}
	}
	s, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(s), "<polyline") != 2 {
		t.Errorf("SVG does not have two lines")
	}

	// A quoted glob works too.
	if err := RunReport([]string{"--in", filepath.Join(dir, "idle-*.json"), "--out", out}); err != nil {
		t.Fatal(err)
	}
	if err := RunReport([]string{"--in", filepath.Join(dir, "nothing-*.json"), "--out", out}); err == nil {
		t.Error("glob matching nothing: no error")
	}
}

func TestParseConfig(t *testing.T) {
	ok := []string{"--server-bin", "/bin/x", "--name", "x", "--out", "/tmp/x"}
	c, err := parseConfig(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Clients != 4 || len(c.Steps) != 8 || c.Steps[7] != 19000 || c.SrcBase.String() != "127.0.0.2" {
		t.Errorf("defaults: %+v", c)
	}
	bad := map[string][]string{
		"no name":           {"--server-bin", "/bin/x", "--out", "/tmp/x"},
		"decreasing steps":  append(ok, "--steps", "2000,1000"),
		"too many per proc": append(ok, "--steps", "19000", "--clients", "2"),
		"non-loopback src":  append(ok, "--src-base", "10.0.0.1"),
		"stray argument":    append(ok, "extra"),
		"zero clients":      append(ok, "--clients", "0"),
		"non-numeric step":  append(ok, "--steps", "1k"),
	}
	for name, args := range bad {
		if _, err := parseConfig(args); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestKeepSlab(t *testing.T) {
	for name, want := range map[string]bool{"TCP": true, "dentry": true, "kmalloc-cg-1k": true, "btrfs_inode": false, "TCPv6": true} {
		if got := keepSlab(name); got != want {
			t.Errorf("keepSlab(%q) = %v", name, got)
		}
	}
}
