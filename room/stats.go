package room

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the chat layer's counters, for metrics and the
// dashboard. Reading it costs a few atomic loads; the hot paths pay one
// atomic add per fan-out task and per publish, never per recipient.
type Stats struct {
	// Published counts messages stored and handed to fan-out; a retried
	// id, acked with its first seq, is not counted again.
	Published uint64
	// Deliveries counts frames fan-out handed to members' connections:
	// messages, and presence, typing, read, role and kicked events.
	Deliveries uint64
	// DeliveryDrops counts fan-out frames a member's connection refused
	// because it was already closing (a slow consumer, for one).
	DeliveryDrops uint64
	// AckLatency is the time from a publish frame's handler starting (it
	// may have waited behind other messages on its worker) to its ack
	// being written: mostly the store's append.
	AckLatency Histogram
	// Cluster is the multi-instance side; all zero without a bus.
	Cluster ClusterStats
}

// ClusterStats counts what went over the bus between instances and what
// the store had to make up for.
type ClusterStats struct {
	// Relayed counts payloads handed to the bus for the other instances:
	// stored messages and events (presence, typing, read, roles, kicks).
	Relayed uint64
	// Received counts payloads the bus delivered from other instances.
	Received uint64
	// Gaps counts refills started because a room's delivery waited
	// GapTimeout for a missing seq (a publication the bus lost).
	Gaps uint64
	// Resyncs counts rooms the bus asked to refill (a relay of theirs
	// failed somewhere); Reconnects the bus reconnections, each of which
	// refills every live room.
	Resyncs, Reconnects uint64
	// Refills counts room refills run (each reads the store from the
	// room's next seq on), RefillFailures those that failed and were
	// retried, Refilled the messages refills handed to fan-out that live
	// delivery had not.
	Refills, RefillFailures, Refilled uint64
}

// Histogram is a latency distribution in seconds, in the shape Prometheus
// uses: Counts[i] is the number of observations at or below Bounds[i]
// (cumulative), Count all of them, Sum their total.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// ackLatencyBounds spans a memory store (tens of µs) to a struggling
// remote one (seconds).
var ackLatencyBounds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5}

// counters are the Service's statistics. Safe for concurrent use.
type counters struct {
	published, deliveries, drops atomic.Uint64
	ack                          latencyHistogram
}

// latencyHistogram counts observations per bucket with atomics; the last
// bucket is everything above the highest bound.
type latencyHistogram struct {
	buckets [16]atomic.Uint64 // len(ackLatencyBounds)+1
	sumNs   atomic.Int64
}

func (h *latencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(ackLatencyBounds) && s > ackLatencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *latencyHistogram) snapshot() Histogram {
	out := Histogram{Bounds: ackLatencyBounds, Counts: make([]uint64, len(ackLatencyBounds))}
	for i := range h.buckets {
		out.Count += h.buckets[i].Load()
		if i < len(ackLatencyBounds) {
			out.Counts[i] = out.Count
		}
	}
	out.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return out
}

// Stats returns the current counters. Safe for concurrent use.
func (s *Service) Stats() Stats {
	c := s.stats
	st := Stats{Published: c.published.Load(), Deliveries: c.deliveries.Load(), DeliveryDrops: c.drops.Load(),
		AckLatency: c.ack.snapshot()}
	if s.cl != nil {
		k := &s.cl.stats
		st.Cluster = ClusterStats{Relayed: k.relayed.Load(), Received: k.received.Load(), Gaps: k.gaps.Load(),
			Resyncs: k.resyncs.Load(), Reconnects: k.reconnects.Load(), Refills: k.refills.Load(),
			RefillFailures: k.refillFailures.Load(), Refilled: k.refilled.Load()}
	}
	return st
}
