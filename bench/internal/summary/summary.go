// Package summary holds the statistics the repetition-based scenarios
// (echo, fanout) report: latency percentiles and the spread of a value over
// repetitions.
package summary

import (
	"slices"

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
