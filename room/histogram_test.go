package room

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantileAndSub(t *testing.T) {
	var lh latencyHistogram
	snap := lh.snapshot()
	if q := snap.Quantile(0.99); q != 0 {
		t.Fatalf("empty: p99 %v", q)
	}
	for range 98 {
		lh.observe(50 * time.Microsecond) // bucket (0, 100µs]
	}
	for range 2 {
		lh.observe(3 * time.Millisecond) // bucket (2.5ms, 5ms]
	}
	h := lh.snapshot()
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-12 }
	if p50 := h.Quantile(0.5); !near(p50, 0.0001*50/98) { // rank 50 of 98 in the first bucket
		t.Fatalf("p50 %v", p50)
	}
	if p99 := h.Quantile(0.99); !near(p99, 0.0025+0.0025*0.5) { // rank 99: halfway into (2.5ms, 5ms]
		t.Fatalf("p99 %v", p99)
	}
	if p100 := h.Quantile(1); !near(p100, 0.005) {
		t.Fatalf("p100 %v", p100)
	}
	lh.observe(time.Minute) // above every bound
	window := lh.snapshot().Sub(h)
	if window.Count != 1 || window.Counts[len(window.Counts)-1] != 0 || !near(window.Sum, 60) {
		t.Fatalf("window %+v", window)
	}
	if q := window.Quantile(0.99); q != ackLatencyBounds[len(ackLatencyBounds)-1] {
		t.Fatalf("p99 above the last bound: %v", q)
	}
}
