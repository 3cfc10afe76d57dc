package summary

import (
	"math"
	"testing"
)

func TestSpreadOf(t *testing.T) {
	if s := SpreadOf([]float64{3, 1, 2, 10}); s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.N != 4 {
		t.Errorf("SpreadOf = %+v", s)
	}
	if s := SpreadOf(nil); s.N != 0 {
		t.Errorf("SpreadOf(nil) = %+v", s)
	}
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
