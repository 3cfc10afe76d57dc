package hist

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// reference is the exact answer Quantile approximates: the
// ceil(q*n)-th smallest value.
func reference(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestQuantileAgainstSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func() int64
	}{
		{"small exact", func() int64 { return rng.Int64N(200) }},
		{"uniform µs..ms", func() int64 { return 1000 + rng.Int64N(5_000_000) }},
		{"lognormal latency", func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + 11)) }},
		{"bimodal with tail", func() int64 {
			if rng.IntN(100) == 0 {
				return 50_000_000 + rng.Int64N(1e9)
			}
			return 40_000 + rng.Int64N(20_000)
		}},
		{"constant", func() int64 { return 123_456 }},
	}
	quantiles := []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := New()
			vals := make([]int64, 100_000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range quantiles {
				want := reference(vals, q)
				got := h.Quantile(q)
				// Never below the true value, and at most one bucket
				// width (≤ value/2^SubBits) above it.
				if got < want || float64(got-want) > float64(want)/subCount {
					t.Errorf("Quantile(%v) = %d, reference %d", q, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
				t.Errorf("min/max/count = %d/%d/%d, want %d/%d/%d", h.Min(), h.Max(), h.Count(), vals[0], vals[len(vals)-1], len(vals))
			}
			var sum float64
			for _, v := range vals {
				sum += float64(v)
			}
			if mean := sum / float64(len(vals)); math.Abs(h.Mean()-mean) > mean*1e-9 {
				t.Errorf("Mean = %v, want %v", h.Mean(), mean)
			}
		})
	}
}

func TestBucketsTileTheRange(t *testing.T) {
	// Every bucket starts right after the previous one ends, and index
	// maps both ends of a bucket back to it.
	prevHi := int64(-1)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if index(lo) != i || index(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] but index gives %d, %d", i, lo, hi, index(lo), index(hi))
		}
		if lo >= 2*subCount && float64(hi-lo) > float64(lo)/subCount {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/%d of its start", i, lo, hi, subCount)
		}
		prevHi = hi
	}
	if prevHi != MaxTrackable {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, MaxTrackable)
	}
}

func TestEdges(t *testing.T) {
	h := New()
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Error("empty histogram must answer zeros")
	}
	h.Record(-5)
	h.Record(MaxTrackable * 4)
	if h.Min() != 0 || h.Max() != MaxTrackable*4 {
		t.Errorf("min %d max %d", h.Min(), h.Max())
	}
	if got := h.Quantile(1); got != MaxTrackable {
		t.Errorf("Quantile(1) of an over-range value = %d, want the last bucket's top %d", got, int64(MaxTrackable))
	}
}

func TestMergeAndJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b, all := New(), New(), New()
	for i := range 20_000 {
		v := rng.Int64N(1e8)
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	// Through JSON, as worker processes send them.
	var a2, b2 Histogram
	for _, p := range []struct {
		from *Histogram
		to   *Histogram
	}{{a, &a2}, {b, &b2}} {
		js, err := json.Marshal(p.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, p.to); err != nil {
			t.Fatal(err)
		}
	}
	merged := New()
	merged.Merge(&a2)
	merged.Merge(&b2)
	merged.Merge(New()) // an empty one changes nothing
	if merged.Count() != all.Count() || merged.Min() != all.Min() || merged.Max() != all.Max() {
		t.Fatalf("merged count/min/max %d/%d/%d, want %d/%d/%d", merged.Count(), merged.Min(), merged.Max(), all.Count(), all.Min(), all.Max())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("Quantile(%v): merged %d, direct %d", q, merged.Quantile(q), all.Quantile(q))
		}
	}
	var bad Histogram
	if err := json.Unmarshal([]byte(`{"sub_bits":7,"total":2,"buckets":[[5,1]]}`), &bad); err == nil {
		t.Error("inconsistent total accepted")
	}
	if err := json.Unmarshal([]byte(`{"sub_bits":3,"total":0,"buckets":[]}`), &bad); err == nil {
		t.Error("foreign sub_bits accepted")
	}
}

func BenchmarkRecord(b *testing.B) {
	h := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 7919 % 50_000_000)
	}
}
