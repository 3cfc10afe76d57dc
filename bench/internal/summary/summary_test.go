package summary

import (
	"math"
	"testing"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		in   []float64
		want Spread
	}{
		{nil, Spread{}},
		{[]float64{7}, Spread{Median: 7, Min: 7, Max: 7, N: 1}},
		{[]float64{3, 1, 2}, Spread{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{10, 40, 20, 30}, Spread{Median: 25, Min: 10, Max: 40, N: 4}},
	}
	for _, tc := range tests {
		in := append([]float64(nil), tc.in...)
		if got := SpreadOf(tc.in); got != tc.want {
			t.Errorf("SpreadOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("SpreadOf reordered its input")
			}
		}
	}
}

func TestLatencyOf(t *testing.T) {
	h := hist.New()
	for i := 1; i <= 1000; i++ {
		h.Record(int64(i) * 1000) // 1 µs .. 1 ms
	}
	l := LatencyOf(h)
	near := func(name string, got, want float64) {
		t.Helper()
		if got < want || got > want*1.01 {
			t.Errorf("%s = %v ms, want %v (+1%%)", name, got, want)
		}
	}
	near("p50", l.P50, 0.5)
	near("p90", l.P90, 0.9)
	near("p99", l.P99, 0.99)
	near("p999", l.P999, 0.999)
	near("max", l.Max, 1)
	near("mean", l.Mean, 0.5005)
}

func TestRatioOf(t *testing.T) {
	s := RatioOf([]float64{100, 120}, []float64{50, 60, 0})
	// pairs: 2, 1.667, 2.4, 2 (the zero divisor is left out)
	if s.N != 4 || s.Min != 100.0/60 || s.Max != 2.4 || s.Median != 2 {
		t.Errorf("RatioOf = %+v", s)
	}
	if s := RatioOf([]float64{1}, []float64{0}); s.N != 0 || RatioText(s) != "n/a" {
		t.Errorf("ratio against zero = %+v %q", s, RatioText(s))
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		s    Spread
		want string
	}{
		{Spread{}, "n/a"},
		{Spread{Median: 2, Min: 2, Max: 2, N: 3}, "2.0"},
		{Spread{Median: 2, Min: 1, Max: 3, N: 3}, "2.0 [1.0..3.0]"},
	} {
		if got := Text(tc.s, "%.1f"); got != tc.want {
			t.Errorf("Text(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
	if got := RatioText(Spread{Median: 1.234, Min: 1.1, Max: 1.4, N: 2}); got != "×1.23 [×1.10..×1.40]" {
		t.Errorf("RatioText = %q", got)
	}
	if got := RatioText(Spread{Median: math.NaN(), N: 1}); got != "n/a" {
		t.Errorf("RatioText(NaN) = %q", got)
	}
	if got := Thousands(1234567.6); got != "1,234,568" {
		t.Errorf("Thousands = %q", got)
	}
}
