package room

import (
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of the chat layer's counters, for the dashboard and
// for exporters. Counters only grow; rates and windowed quantiles come from
// the difference of two snapshots (Sub).
type Metrics struct {
	// Published counts messages stored and acked (a retried id that was
	// stored already is acked again but not counted).
	Published uint64
	// Deliveries counts message frames handed by fan-out to members'
	// connections (replay on join is not fan-out and is not counted).
	Deliveries uint64
	// AckLatency is the time from the publish handler starting to the ack
	// being written: the store write and the encoding, not the wait in the
	// worker queue before it.
	AckLatency Histogram
}

// Sub returns m minus an earlier snapshot: the activity in between.
func (m Metrics) Sub(earlier Metrics) Metrics {
	return Metrics{Published: m.Published - earlier.Published, Deliveries: m.Deliveries - earlier.Deliveries,
		AckLatency: m.AckLatency.Sub(earlier.AckLatency)}
}

// LatencyBounds are the histogram's bucket upper bounds, 50 µs to 10 s in
// 1-2-5 steps; a last bucket holds everything slower. Read-only.
var LatencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// Histogram is a latency histogram snapshot over LatencyBounds.
type Histogram struct {
	// Buckets[i] counts observations in (LatencyBounds[i-1], LatencyBounds[i]];
	// the last, len(LatencyBounds), those above the last bound. Not
	// cumulative (a Prometheus exporter sums them).
	Buckets [len(LatencyBounds) + 1]uint64
	Count   uint64
	Sum     time.Duration
}

// Sub returns h minus an earlier snapshot.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{Count: h.Count - earlier.Count, Sum: h.Sum - earlier.Sum}
	for i := range h.Buckets {
		out.Buckets[i] = h.Buckets[i] - earlier.Buckets[i]
	}
	return out
}

// Quantile estimates the q-quantile (0 < q <= 1) by linear interpolation
// inside its bucket, as Prometheus's histogram_quantile does; 0 when empty.
// In the last, unbounded bucket it answers the last bound.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var seen float64
	for i, n := range h.Buckets {
		if n == 0 || seen+float64(n) < rank {
			seen += float64(n)
			continue
		}
		if i == len(LatencyBounds) {
			return LatencyBounds[i-1]
		}
		lo := time.Duration(0)
		if i > 0 {
			lo = LatencyBounds[i-1]
		}
		frac := (rank - seen) / float64(n)
		return lo + time.Duration(frac*float64(LatencyBounds[i]-lo))
	}
	return LatencyBounds[len(LatencyBounds)-1]
}

// counters is the live form of Metrics: atomics, updated without a lock.
type counters struct {
	published, deliveries atomic.Uint64
	buckets               [len(Histogram{}.Buckets)]atomic.Uint64
	count, sumNanos       atomic.Uint64
}

// observeAck records one publish→ack latency.
func (c *counters) observeAck(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.count.Add(1)
	c.sumNanos.Add(uint64(max(d, 0)))
}

// Metrics returns the chat layer's counters. Safe for concurrent use; the
// fields are read one by one, so a snapshot taken during traffic may be a
// few events apart between fields.
func (s *Service) Metrics() Metrics {
	c := &s.counters
	m := Metrics{Published: c.published.Load(), Deliveries: c.deliveries.Load()}
	for i := range c.buckets {
		m.AckLatency.Buckets[i] = c.buckets[i].Load()
	}
	m.AckLatency.Count = c.count.Load()
	m.AckLatency.Sum = time.Duration(c.sumNanos.Load())
	return m
}
