package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/reportfile"
)

// testLoad and testRun stand in for a scenario's load and result.
type testLoad struct{ Conns int }

func (l testLoad) Describe() string { return fmt.Sprintf("%d connections", l.Conns) }

type testRun struct {
	Name  string
	Load  testLoad
	Tputs []float64
	Other float64
}

func testReport() Report[testLoad, *testRun] {
	return Report[testLoad, *testRun]{
		Scenario: Scenario[testLoad, *testRun]{
			Load: func(r *testRun) testLoad { return r.Load },
			Series: func(r *testRun) Series {
				return Series{Name: r.Name, Other: r.Other, Values: map[string][]float64{"tput": r.Tputs, "p99": {1}}}
			},
			Columns: func(testLoad) []Column { return cols },
		},
		Name: "test", Title: "Test, side by side", SVGUsage: "chart", ChartAlt: "the chart", Intro: "What the tables say.",
		EachTitle:  "Each server",
		Conclusion: func(r *testRun) string { return r.Name + " ran." },
		Run:        func(r *testRun) reportfile.Run { return reportfile.Run{Label: r.Name + " (label)"} },
		Read: func(paths []string) ([]*testRun, error) {
			var runs []*testRun
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					return nil, err
				}
				var r testRun
				if err := json.Unmarshal(b, &r); err != nil {
					return nil, err
				}
				runs = append(runs, &r)
			}
			return runs, nil
		},
	}
}

func TestReportWrite(t *testing.T) {
	rp := testReport()
	runs := []*testRun{
		{Name: "peer-x", Load: testLoad{10}, Tputs: []float64{100}, Other: 0.5},
		{Name: "switchboard-epoll", Load: testLoad{10}, Tputs: []float64{200}},
		{Name: "switchboard-epoll", Load: testLoad{20}, Tputs: []float64{300}},
	}
	groups := rp.Groups(runs, []string{"r/a.json", "r/b.json", "r/c.json"}, "switchboard-epoll")
	var md strings.Builder
	rp.Write(&md, groups, "test.svg")
	out := md.String()
	for _, want := range []string{
		"# Test, side by side\n\n**Machine: NOISY.**",
		"![the chart](test.svg)\n\nWhat the tables say.\n\n## 10 connections\n\n| server |",
		"**NOISY:** other processes competed for the CPU during runs of peer-x (up to 0.50 cores)",
		"**Conclusion:** Against peer-x, switchboard-epoll has ×2.00 the msgs/s.",
		"## 20 connections",
		"## Each server\n\n- peer-x ran.\n- switchboard-epoll ran.\n- switchboard-epoll ran.\n",
		"| peer-x (label) |", "(report: a.md)", "(report: c.md)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// The second load has no other server: no ratio, so no conclusion.
	if strings.Count(out, "**Conclusion:**") != 1 {
		t.Errorf("want one conclusion:\n%s", out)
	}

	rp.Footer = "The footer."
	rp.GroupConclusion = func(rows []Row, base string, _ []Column) string {
		return fmt.Sprintf("%d rows against %s.", len(rows), base)
	}
	rp.Extra = func(w io.Writer, g Group[testLoad, *testRun]) {
		fmt.Fprintf(w, "\nextra for %d runs\n", len(g.Results))
	}
	md.Reset()
	rp.Write(&md, groups, "")
	out = md.String()
	for _, want := range []string{"\nextra for 2 runs\n", "**Conclusion:** 2 rows against switchboard-epoll.", "**Conclusion:** 1 rows against switchboard-epoll.",
		"\nThe footer.\n\n## Each server"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "![") {
		t.Error("a chart is linked without --svg")
	}
	md.Reset()
	rp.Write(&md, nil, "")
	if md.String() != "# Test, side by side\n\nNo results.\n" {
		t.Errorf("no results: %q", md.String())
	}
}

func TestRunReport(t *testing.T) {
	dir := t.TempDir()
	for name, r := range map[string]testRun{
		"test-a.json": {Name: "peer-x", Load: testLoad{10}, Tputs: []float64{100}},
		"test-b.json": {Name: "switchboard-epoll", Load: testLoad{10}, Tputs: []float64{150}},
	} {
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "test.md")
	err := testReport().RunReport([]string{"--in", filepath.Join(dir, "test-*.json"), "--out", out, "--svg", filepath.Join(dir, "test.svg")})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(out)
	if !strings.Contains(string(md), "![the chart](test.svg)") || !strings.Contains(string(md), "×1.50 the msgs/s") {
		t.Errorf("report:\n%s", md)
	}
	var data struct {
		Scenario    string                      `json:"scenario"`
		Baseline    string                      `json:"baseline"`
		OtherCPUMax float64                     `json:"other_cpu_cores_max"`
		Quiet       bool                        `json:"quiet"`
		Groups      []Group[testLoad, *testRun] `json:"groups"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "test.json"))
	if err != nil || json.Unmarshal(b, &data) != nil {
		t.Fatalf("test.json: %v", err)
	}
	if data.Scenario != "test" || data.Baseline != "switchboard-epoll" || !data.Quiet || len(data.Groups) != 1 || len(data.Groups[0].Rows) != 2 {
		t.Errorf("data %+v", data)
	}
	if svg, err := os.ReadFile(filepath.Join(dir, "test.svg")); err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("svg: %v", err)
	}
	rp := testReport()
	rp.Read = func([]string) ([]*testRun, error) { return nil, errors.New("unreadable") }
	if err := rp.RunReport([]string{"--in", filepath.Join(dir, "test-*.json"), "--out", out}); err == nil {
		t.Error("a result that cannot be read: no error")
	}
}
