package fit

import (
	"errors"
	"math"
	"testing"
)

func near(t testing.TB, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v (±%v)", name, got, want, tol)
	}
}

func TestLinear(t *testing.T) {
	tests := []struct {
		name                 string
		x, y                 []float64
		slope, intercept, r2 float64
	}{
		{"exact", []float64{0, 1, 2, 3}, []float64{5, 7, 9, 11}, 2, 5, 1},
		{"flat", []float64{1000, 2000, 4000}, []float64{9, 9, 9}, 0, 9, 1},
		{"big numbers", []float64{1000, 2000, 4000, 19000}, []float64{
			30e6 + 1000*25000, 30e6 + 2000*25000, 30e6 + 4000*25000, 30e6 + 19000*25000,
		}, 25000, 30e6, 1},
		// Worked by hand: mean x = mean y = 1.5, Sxy = Sxx = 5 so slope 1,
		// intercept 0; residuals +1,-1,-1,+1 give ss_res 4, ss_tot 9.
		{"noisy", []float64{0, 1, 2, 3}, []float64{1, 0, 1, 4}, 1, 0, 1 - 4.0/9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Linear(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "slope", l.Slope, tc.slope, 1e-9*math.Max(1, math.Abs(tc.slope)))
			near(t, "intercept", l.Intercept, tc.intercept, 1e-6*math.Max(1, math.Abs(tc.intercept)))
			near(t, "r2", l.R2, tc.r2, 1e-9)
			if l.N != len(tc.x) {
				t.Errorf("N = %d, want %d", l.N, len(tc.x))
			}
		})
	}
}

func TestLinearErrors(t *testing.T) {
	if _, err := Linear([]float64{1}, []float64{1}); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("one point: err = %v", err)
	}
	if _, err := Linear([]float64{2, 2, 2}, []float64{1, 2, 3}); !errors.Is(err, ErrDegenerate) {
		t.Errorf("equal x: err = %v", err)
	}
	if _, err := Linear([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("length mismatch: no error")
	}
}

func TestAt(t *testing.T) {
	l := Line{Slope: 25000, Intercept: 8 << 20}
	near(t, "At(1e6)", l.At(1e6), 25e9+8<<20, 0)
}
