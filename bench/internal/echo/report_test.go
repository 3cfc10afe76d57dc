package echo

import (
	"math"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/summary"
)

func TestCPUPerMillion(t *testing.T) {
	if got := cpuPerMillion(2.5, 500_000); got != 5 {
		t.Errorf("cpuPerMillion = %v, want 5", got)
	}
	if got := cpuPerMillion(1, 0); got != 0 {
		t.Errorf("cpuPerMillion with no messages = %v, want 0", got)
	}
}

// result makes a run with one repetition per throughput given; p99 is
// 1000/throughput ms, CPU per 1M is 1e6/throughput s.
func result(name string, failedReps int, tputs ...float64) *Result {
	r := &Result{Name: name, Load: Load{Conns: 100, Size: 64, Inflight: 1, WarmupSeconds: 2, DurationSeconds: 10, Clients: 2, Loops: 1}}
	for _, tp := range tputs {
		r.Reps = append(r.Reps, Rep{MsgsPerSec: tp, Latency: summary.Latency{P50: 500 / tp, P99: 1000 / tp},
			ServerCPUPerMillion: 1e6 / tp, Usage: runner.Usage{ServerRSS: 10 << 20}})
	}
	for range failedReps {
		r.Reps = append(r.Reps, Rep{MsgsPerSec: 1, Failure: "connections lost"})
		r.Failure = "repetition: connections lost"
	}
	r.Summary = summarize(r.Reps)
	return r
}

func TestSummarizeSkipsFailedReps(t *testing.T) {
	r := result("x", 1, 100, 300, 200)
	s := r.Summary
	if s.Reps != 3 || s.MsgsPerSec != (summary.Spread{Median: 200, Min: 100, Max: 300, N: 3}) {
		t.Fatalf("summary %+v", s.MsgsPerSec)
	}
	if s.P99MS.Median != 5 || s.P99MS.Min != 1000.0/300 || s.P99MS.Max != 10 {
		t.Errorf("p99 spread %+v", s.P99MS)
	}
	if s.RSSBytes.Median != 10<<20 {
		t.Errorf("rss %+v", s.RSSBytes)
	}
}

func TestCompareRatios(t *testing.T) {
	a := result("peer-gorilla", 0, 1000, 1100, 900)
	b := result("switchboard-epoll", 0, 2000, 2000, 2000)
	c := result("switchboard-netpoll", 0, 500)
	rows, base := Compare([]*Result{a, b, c}, "switchboard-epoll")
	if base != "switchboard-epoll" || rows[0].Name != "switchboard-epoll" || rows[1].Name != "peer-gorilla" || rows[2].Name != "switchboard-netpoll" {
		t.Fatalf("order %v %v %v, base %s", rows[0].Name, rows[1].Name, rows[2].Name, base)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if rows[0].Ratios != nil {
		t.Errorf("the baseline has ratios against itself: %+v", rows[0].Ratios)
	}
	// baseline ÷ gorilla over the 1×3 pairs of repetitions
	near("gorilla tput median", rows[1].Ratios["tput"].Median, 2)
	near("gorilla tput min", rows[1].Ratios["tput"].Min, 2000.0/1100)
	near("gorilla tput max", rows[1].Ratios["tput"].Max, 2000.0/900)
	near("gorilla p99", rows[1].Ratios["p99"].Median, 0.5)
	near("gorilla cpu", rows[1].Ratios["cpu"].Median, 0.5)
	near("netpoll tput", rows[2].Ratios["tput"].Median, 4)
	near("netpoll p99", rows[2].Ratios["p99"].Median, 0.25)

	// An absent baseline falls back to the first input.
	if _, base := Compare([]*Result{a, b}, "nope"); base != "peer-gorilla" {
		t.Errorf("fallback baseline %q", base)
	}
	// A baseline with nothing measured gives n/a, not Inf.
	empty := result("empty", 1)
	rows, _ = Compare([]*Result{empty, a}, "empty")
	if rows[1].Ratios["tput"].N != 0 || summary.RatioText(rows[1].Ratios["tput"]) != "n/a" {
		t.Errorf("ratio against an empty baseline = %+v", rows[1].Ratios["tput"])
	}
}

func TestWriteCombined(t *testing.T) {
	a := result("peer-gorilla", 0, 1000)
	b := result("switchboard-epoll", 0, 2000, 2200, 1800)
	groups := combined.Groups([]*Result{a, b}, []string{"r/echo-peer-gorilla.json", "r/echo-switchboard-epoll.json"}, "switchboard-epoll")
	var md strings.Builder
	combined.Write(&md, groups, "echo.svg")
	out := md.String()
	for _, want := range []string{
		"**Machine: quiet.**",
		"| switchboard-epoll | 3 | 2000 [1800..2200] | (baseline) |",
		"| peer-gorilla | 1 | 1000 | ×2.00 [×1.80..×2.20] |",
		"![throughput and latency percentiles per server](echo.svg)",
		"Highest median throughput: switchboard-epoll at 2,000 msgs/s. Against peer-gorilla, switchboard-epoll has ×2.00 [×1.80..×2.20] the msgs/s",
		"report: echo-peer-gorilla.md",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("combined report lacks %q:\n%s", want, out)
		}
	}
	if len(groups) != 1 {
		t.Fatalf("%d groups for one load", len(groups))
	}
	// Another load is its own table.
	c := result("other", 0, 10)
	c.Load.Size = 1024
	groups = combined.Groups([]*Result{a, c, b}, []string{"a.json", "c.json", "b.json"}, "switchboard-epoll")
	if len(groups) != 2 || len(groups[0].Rows) != 2 || groups[1].Rows[0].Name != "other" {
		t.Fatalf("groups %+v", groups)
	}
	panels := combined.Panels(groups)
	if len(panels) != 8 {
		t.Fatalf("%d panels, want 4 per load", len(panels))
	}
	tput := panels[0].(plot.BarChart)
	if len(tput.Bars) != 2 || tput.Bars[0].Label != "sb-epoll" || tput.Bars[1].Label != "gorilla" || tput.Bars[0].Value != 2000 {
		t.Errorf("throughput bars %+v", tput.Bars)
	}
}

func TestMarkdownOfOneRun(t *testing.T) {
	r := result("switchboard-epoll", 1, 40000, 42000)
	r.Meta.Command = "swload echo --name switchboard-epoll"
	r.Meta.ServerCommit = "abc1234"
	var md strings.Builder
	WriteMarkdown(&md, r)
	out := md.String()
	for _, want := range []string{"swload echo --name switchboard-epoll", "abc1234", "FAILED: connections lost",
		"| msgs/s | 41000 [40000..42000] |", "echoed 41,000 msgs/s (median of 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	base := []string{"--server-bin", "/bin/true", "--name", "x", "--out", "/tmp/x"}
	c, err := parseConfig(append(base, "--rate", "5000", "--inflight", "4"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Load.Rate != 5000 || c.Load.Inflight != 0 || c.Load.Conns != 100 || c.Load.Clients != 2 || c.Reps != 1 {
		t.Errorf("config %+v", c.Load)
	}
	for _, bad := range [][]string{
		{"--name", "x", "--out", "o", "--server-bin", "b", "--conns", "0"},
		{"--name", "x", "--out", "o", "--server-bin", "b", "--src-base", "10.0.0.1"},
		{"--name", "x", "--out", "o", "--server-bin", "b", "--conns", "20000", "--clients", "2"},
		{"--name", "x", "--out", "o", "--server-bin", "b", "--clients", "3", "--conns", "2"},
		{"--name", "x", "--out", "o", "--server-bin", "b", "--reps", "0"},
		{"--out", "o", "--server-bin", "b"},
	} {
		if _, err := parseConfig(bad); err == nil {
			t.Errorf("parseConfig(%v) accepted", bad)
		}
	}
}

func TestNoisyRepsFlagged(t *testing.T) {
	r := result("x", 0, 100, 200)
	r.Reps[1].OtherCPUCores = 0.5
	r.Summary = summarize(r.Reps)
	if r.Summary.NoisyReps != 1 || r.Summary.OtherCPUMax != 0.5 {
		t.Fatalf("summary %+v", r.Summary)
	}
	if !strings.Contains(conclusion(r), "NOISY") {
		t.Error("conclusion does not say the run was noisy")
	}
	var md strings.Builder
	combined.Write(&md, combined.Groups([]*Result{r}, []string{"x.json"}, "x"), "")
	if !strings.Contains(md.String(), "**NOISY:**") || !strings.Contains(md.String(), "**Machine: NOISY.**") {
		t.Error("combined report does not flag the noisy run")
	}
}
