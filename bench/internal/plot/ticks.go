package plot

import (
	"math"
	"strconv"
)

// NiceTicks returns evenly spaced tick values covering [lo, hi] whose step
// is 1, 2 or 5 times a power of ten, using at most about maxTicks ticks.
// The first tick is <= lo and the last is >= hi.
func NiceTicks(lo, hi float64, maxTicks int) []float64 {
	if maxTicks < 2 {
		maxTicks = 2
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		// A flat range still needs an axis: widen it around the value.
		if lo == 0 {
			hi = 1
		} else {
			d := math.Abs(lo) / 2
			lo, hi = lo-d, hi+d
		}
	}
	step := niceStep((hi - lo) / float64(maxTicks-1))
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	var ticks []float64
	for i := 0; ; i++ {
		v := start + float64(i)*step
		// Round away float noise such as 0.30000000000000004.
		v = math.Round(v/step) * step
		ticks = append(ticks, v)
		if v >= end-step/1e6 {
			break
		}
	}
	return ticks
}

// niceStep rounds raw up to 1, 2, 5 or 10 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw*(1-1e-9) {
			return m * pow
		}
	}
	return 10 * pow
}

// FormatSI writes v compactly with a k/M/G suffix: 19000 -> "19k",
// 1500000 -> "1.5M". It suits connection counts on an axis.
func FormatSI(v float64) string {
	abs := math.Abs(v)
	switch {
	case abs >= 1e9:
		return trim(v/1e9) + "G"
	case abs >= 1e6:
		return trim(v/1e6) + "M"
	case abs >= 1e3:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

func trim(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
