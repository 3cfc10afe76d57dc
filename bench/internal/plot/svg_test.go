package plot

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		max    int
		want   []float64
	}{
		{0, 19000, 8, []float64{0, 5000, 10000, 15000, 20000}},
		{0, 100, 6, []float64{0, 20, 40, 60, 80, 100}},
		{0, 0.9, 4, []float64{0, 0.5, 1}},
		{0, 0, 5, []float64{0, 0.5, 1}},
		{-3, 7, 6, []float64{-4, -2, 0, 2, 4, 6, 8}},
	}
	for _, tc := range tests {
		got := NiceTicks(tc.lo, tc.hi, tc.max)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NiceTicks(%v, %v, %d) = %v, want %v", tc.lo, tc.hi, tc.max, got, tc.want)
		}
	}
}

func TestNiceTicksCover(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {0, 123456}, {17, 18}, {0, 3.3e9}, {1e-3, 7e-3}} {
		ticks := NiceTicks(r[0], r[1], 7)
		if ticks[0] > r[0] || ticks[len(ticks)-1] < r[1] {
			t.Errorf("ticks %v do not cover %v", ticks, r)
		}
		if len(ticks) > 12 {
			t.Errorf("range %v: %d ticks", r, len(ticks))
		}
	}
}

func TestFormatSI(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 950: "950", 19000: "19k", 1.5e6: "1.5M", 2.25e9: "2.25G", 0.5: "0.5"} {
		if got := FormatSI(v); got != want {
			t.Errorf("FormatSI(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	c := Chart{
		Title:  "RSS <vs> connections & more",
		XLabel: "connections",
		YLabel: "RSS (MiB)",
		Series: []Series{
			{Name: "peer-gorilla", Points: []Point{{0, 8}, {1000, 33}, {19000, 480}}},
			{Name: "switchboard-epoll", Points: []Point{{0, 10}, {1000, 12}, {19000, 60}}},
		},
	}
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()

	// It must be well-formed XML from start to end.
	dec := xml.NewDecoder(strings.NewReader(out))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, out)
		}
	}
	for _, want := range []string{
		"<svg ", "</svg>", "RSS &lt;vs&gt; connections &amp; more",
		"peer-gorilla", "switchboard-epoll", ">15k<", ">20k<", ">500<",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if n := strings.Count(out, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2", n)
	}
	if n := strings.Count(out, "<circle"); n != 6 {
		t.Errorf("%d markers, want 6", n)
	}
}

func TestWriteSVGEmptySeries(t *testing.T) {
	c := Chart{Series: []Series{{Name: "ok", Points: []Point{{0, 1}, {10, 2}}}, {Name: "failed"}}}
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "<polyline") != 1 || !strings.Contains(out, "failed (no data)") {
		t.Errorf("empty series not shown as such:\n%s", out)
	}
}

func TestWriteSVGErrors(t *testing.T) {
	if err := (Chart{}).WriteSVG(io.Discard); err == nil {
		t.Error("empty chart: no error")
	}
	c := Chart{Series: []Series{{Name: "x", Points: []Point{{1, math.NaN()}}}}}
	if err := c.WriteSVG(io.Discard); err == nil {
		t.Error("NaN point: no error")
	}
}

func TestBarChartSideBySide(t *testing.T) {
	tput := BarChart{Title: "throughput", YLabel: "msgs/s", Bars: []Bar{
		{Label: "a", Value: 41000, Low: 40000, High: 42000},
		{Label: "b & c", Value: 20000}, // no spread: no whisker
	}}
	lat := BarChart{Title: "p99", Width: 300, Bars: []Bar{{Label: "a", Value: 1.5}, {Label: "b & c", Value: 3}}}
	var buf bytes.Buffer
	if err := WriteSideBySide(&buf, tput, lat); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, and the label is escaped.
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	rects, svgs := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "rect":
				rects++
			case "svg":
				svgs++
			}
		}
	}
	// One background per panel plus one rect per bar.
	if rects != 2+4 || svgs != 3 {
		t.Errorf("%d rects and %d svg elements, want 6 and 3", rects, svgs)
	}
	out := buf.String()
	if !strings.Contains(out, `width="740"`) || !strings.Contains(out, "b &amp; c") || !strings.Contains(out, "translate(440,0)") {
		t.Errorf("layout or escaping wrong:\n%s", out[:200])
	}
	if err := (BarChart{Bars: []Bar{{Label: "x", Value: math.NaN()}}}).WriteSVG(io.Discard); err == nil {
		t.Error("NaN bar accepted")
	}
	if err := (BarChart{}).WriteSVG(io.Discard); err == nil {
		t.Error("empty chart accepted")
	}
}
