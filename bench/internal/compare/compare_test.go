package compare

import (
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/plot"
)

var cols = []Column{
	{Key: "tput", Title: "msgs/s", Format: "%.0f", Ratio: true, Chart: "Throughput"},
	{Key: "p99", Title: "p99 ms", Format: "%.1f"},
}

func TestRowsAndTable(t *testing.T) {
	series := []Series{
		{Name: "peer-x", Values: map[string][]float64{"tput": {50, 100}, "p99": {2}}, Other: 0.3},
		{Name: "switchboard-epoll", Values: map[string][]float64{"tput": {200}, "p99": {1}}},
	}
	rows, base := Rows(series, "switchboard-epoll", cols)
	if base != "switchboard-epoll" || rows[0].Name != base || rows[1].Name != "peer-x" {
		t.Fatalf("rows %+v, base %s", rows, base)
	}
	if r := rows[1].Ratios["tput"]; r.Min != 2 || r.Max != 4 || r.Median != 3 {
		t.Errorf("tput ratio %+v, want 3 [2..4]", r)
	}
	if _, ok := rows[1].Ratios["p99"]; ok {
		t.Error("a column without Ratio got one")
	}
	var md strings.Builder
	WriteTable(&md, rows, base, cols)
	for _, want := range []string{
		"| server | reps | msgs/s | switchboard-epoll ÷ server | p99 ms | other CPU cores (max) |",
		"| switchboard-epoll | 1 | 200 | (baseline) | 1.0 | 0.00 |",
		"| peer-x | 2 | 75 [50..100] | ×3.00 [×2.00..×4.00] | 2.0 | 0.30 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, md.String())
		}
	}
	if n := Noisy(rows); !strings.Contains(n, "peer-x (up to 0.30 cores)") {
		t.Errorf("Noisy = %q", n)
	}
	if s := RatioSentence(rows, base, cols); s != "Against peer-x, switchboard-epoll has ×3.00 [×2.00..×4.00] the msgs/s." {
		t.Errorf("RatioSentence = %q", s)
	}
	panels := Panels(rows, cols)
	if len(panels) != 1 {
		t.Fatalf("%d panels, want the one charted column", len(panels))
	}
	if b := panels[0].(plot.BarChart).Bars; len(b) != 2 || b[0].Label != "sb-epoll" || b[1].Value != 75 || b[1].Low != 50 {
		t.Errorf("bars %+v", b)
	}
}

func TestGroupBy(t *testing.T) {
	keys := []string{"a", "b", "a", "c", "b"}
	got := GroupBy(len(keys), func(i int) string { return keys[i] })
	if want := [][]int{{0, 2}, {1, 4}, {3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("GroupBy = %v, want %v", got, want)
	}
}
