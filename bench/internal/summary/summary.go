// Package summary holds the statistics the repetition-based scenarios
// (echo, fanout) report: latency percentiles and the spread of a value over
// repetitions.
package summary

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/switchboard-chat/switchboard/bench/internal/hist"
)

// NoiseCores is the CPU, in cores, that other processes may use during a
// repetition before the reports call it noisy.
const NoiseCores = 0.1

// Latency is a latency summary in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// LatencyOf summarises a histogram of nanoseconds.
func LatencyOf(h *hist.Histogram) Latency {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Latency{
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: h.Mean() / 1e6,
	}
}

// Spread is the median of a set of repetitions and its range.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// SpreadOf computes a Spread; the median of an even count is the mean of
// the middle two. An empty input gives zeros.
func SpreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Spread{Median: med, Min: s[0], Max: s[n-1], N: n}
}

// RatioOf is the spread of a[i]/b[j] over every pair of repetitions: the
// ratio of two servers measured one after the other, with a range that
// says how far the repetitions let it move. Pairs with b[j] == 0 are left
// out; no pair gives N == 0.
func RatioOf(a, b []float64) Spread {
	var rs []float64
	for _, x := range a {
		for _, y := range b {
			if y != 0 {
				rs = append(rs, x/y)
			}
		}
	}
	return SpreadOf(rs)
}

// Text writes a spread as "median [min..max]" with format f, just the
// median when there is one value, or "n/a" when there is none.
func Text(s Spread, f string) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ["+f+".."+f+"]", s.Median, s.Min, s.Max)
}

// RatioText writes a ratio spread as "×1.23 [×1.10..×1.40]".
func RatioText(s Spread) string {
	if s.N == 0 || math.IsNaN(s.Median) || math.IsInf(s.Median, 0) {
		return "n/a"
	}
	return Text(s, "×%.2f")
}

// Scale divides every value of s by d (bytes to MiB, say).
func Scale(s Spread, d float64) Spread {
	return Spread{Median: s.Median / d, Min: s.Min / d, Max: s.Max / d, N: s.N}
}

// Thousands writes n rounded, with separators: 123456.7 -> "123,457".
func Thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Quietness says in one line whether the machine was quiet during a set
// of runs, given the most CPU other processes used in any repetition
// (cores): the line every combined report opens with.
func Quietness(otherMax float64) string {
	if otherMax > NoiseCores {
		return fmt.Sprintf("**Machine: NOISY.** Other processes used up to %.2f cores during some repetitions (more than %.1f): "+
			"absolute numbers understate the servers and ratios are less reliable. Rerun on a quiet machine.", otherMax, NoiseCores)
	}
	return fmt.Sprintf("**Machine: quiet.** Other processes used at most %.2f cores in any repetition (the limit is %.1f).", otherMax, NoiseCores)
}
