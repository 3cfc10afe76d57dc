package room

// Sub returns h minus an earlier snapshot of the same histogram: the
// observations made in between (for a windowed quantile, or a rate).
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts)),
		Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum}
	for i, n := range h.Counts {
		if i < len(earlier.Counts) {
			n -= earlier.Counts[i]
		}
		out.Counts[i] = n
	}
	return out
}

// Quantile estimates the q-quantile (0 < q <= 1), in the unit of Bounds,
// by linear interpolation inside the bucket that holds it, as Prometheus's
// histogram_quantile does. It is 0 without observations, and the highest
// bound when the quantile lies above it.
func (h Histogram) Quantile(q float64) float64 {
	if h.Count == 0 || len(h.Bounds) == 0 || q <= 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var below, lower float64 // observations and bound of the bucket before
	for i, bound := range h.Bounds {
		upTo := float64(h.Counts[i])
		if upTo >= rank {
			if upTo == below {
				return bound
			}
			return lower + (bound-lower)*(rank-below)/(upTo-below)
		}
		below, lower = upTo, bound
	}
	return h.Bounds[len(h.Bounds)-1]
}
