package room

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
)

func TestMetricsCountPublishesDeliveriesAndAckLatency(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	before := s.svc.Metrics()
	members := []*client{s.dial(t, "m0"), s.dial(t, "m1"), s.dial(t, "m2")}
	members[0].send(`{"type":"create","room":"r"}`)
	members[0].expect("created")
	for _, m := range members {
		m.send(`{"type":"join","room":"r"}`)
		m.expect("joined")
	}
	pub := members[0]
	for i := range 4 {
		pub.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"m%d","body":%d}`, i, i))
		pub.expect("ack")
	}
	pub.send(`{"type":"publish","room":"r","id":"m0","body":0}`) // a retry: acked, not stored again
	pub.expect("ack")
	// The publisher's frames run in order on its worker: once this answer
	// is here, every publish handler above has returned.
	pub.send(`{"type":"history","room":"r"}`)
	pub.expect("history")

	got := s.svc.Metrics().Sub(before)
	if got.Published != 4 || got.Deliveries != 12 || got.AckLatency.Count != 5 {
		t.Fatalf("published %d (want 4), deliveries %d (want 3 members × 4), acks timed %d (want 5)",
			got.Published, got.Deliveries, got.AckLatency.Count)
	}
	var inBuckets uint64
	for _, n := range got.AckLatency.Buckets {
		inBuckets += n
	}
	if inBuckets != 5 || got.AckLatency.Sum <= 0 {
		t.Fatalf("buckets hold %d, sum %v", inBuckets, got.AckLatency.Sum)
	}
	if p99 := got.AckLatency.Quantile(0.99); p99 <= 0 || p99 > got.AckLatency.Sum {
		t.Fatalf("p99 %v out of range (sum of all %v)", p99, got.AckLatency.Sum)
	}
}

func TestHistogramQuantile(t *testing.T) {
	var c counters
	obs := func(d time.Duration, n int) {
		for range n {
			c.observeAck(d)
		}
	}
	h := func() Histogram {
		var h Histogram
		for i := range c.buckets {
			h.Buckets[i] = c.buckets[i].Load()
		}
		h.Count = c.count.Load()
		return h
	}
	if q := h().Quantile(0.99); q != 0 {
		t.Fatalf("empty: %v", q)
	}
	obs(30*time.Microsecond, 98)                            // (0, 50µs]
	obs(3*time.Millisecond, 2)                              // (2ms, 5ms]
	if q := h().Quantile(0.5); q != 25510*time.Nanosecond { // rank 50 of 98 in the first bucket
		t.Fatalf("p50 %v", q)
	}
	if q := h().Quantile(0.99); q != 3500*time.Microsecond { // rank 99: halfway into (2ms, 5ms]
		t.Fatalf("p99 %v", q)
	}
	if q := h().Quantile(1); q != 5*time.Millisecond {
		t.Fatalf("p100 %v", q)
	}
	obs(time.Minute, 1000) // beyond the last bound
	if q := h().Quantile(0.99); q != LatencyBounds[len(LatencyBounds)-1] {
		t.Fatalf("p99 in the open bucket %v", q)
	}
	if c.buckets[0].Load() != 98 || c.buckets[6].Load() != 2 || c.buckets[len(LatencyBounds)].Load() != 1000 {
		t.Fatalf("buckets %v", h().Buckets)
	}
	// An observation exactly on a bound belongs to that bound's bucket.
	var on counters
	on.observeAck(time.Millisecond)
	if on.buckets[4].Load() != 1 {
		t.Fatal("1ms did not land in the (500µs, 1ms] bucket")
	}
}
