package room

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/engine"
)

func TestStatsCountPublishesDeliveriesAndAckLatency(t *testing.T) {
	s := startServer(t, nil)
	alice, bob, carol := s.dial(t, "alice"), s.dial(t, "bob"), s.dial(t, "carol")
	alice.send(`{"type":"create","room":"general"}`)
	alice.expect("created")
	for _, c := range []*client{alice, bob, carol} {
		c.send(`{"type":"join","room":"general"}`)
		c.expect("joined")
	}
	// Presence as the others joined: bob's to alice, carol's to both. The
	// counter moves after the frames are written, so wait for it.
	const before = 3
	waitDeliveries(t, s.svc, before)
	alice.send(`{"type":"publish","room":"general","id":"m1","body":"hi"}`)
	// The ack and alice's own copy leave on different paths (the handler,
	// the fan-out task), in either order.
	alice.expectEach("ack", "message")
	for _, c := range []*client{bob, carol} {
		c.expect("message")
	}
	alice.send(`{"type":"publish","room":"general","id":"m1","body":"hi"}`) // a retry: acked, not delivered again
	alice.expect("ack")
	waitDeliveries(t, s.svc, before+3)
	st := s.svc.Stats()
	if st.Published != 1 {
		t.Errorf("Published = %d, want 1 (the retry is not a new message)", st.Published)
	}
	if got := st.Deliveries - before; got != 3 {
		t.Errorf("Deliveries grew by %d for one message to three members, want 3", got)
	}
	h := st.AckLatency
	if h.Count != 2 || len(h.Counts) != len(h.Bounds) || h.Counts[len(h.Counts)-1] > h.Count || h.Sum <= 0 {
		t.Fatalf("AckLatency = %+v, want two observations", h)
	}
	for i := 1; i < len(h.Counts); i++ {
		if h.Counts[i] < h.Counts[i-1] || h.Bounds[i] <= h.Bounds[i-1] {
			t.Fatalf("AckLatency buckets not cumulative and ascending: %+v", h)
		}
	}
}

// expectEach returns the next frame of each of types, in whatever order
// they arrive, skipping room broadcasts as expect does.
func (cl *client) expectEach(types ...string) map[string]map[string]any {
	cl.t.Helper()
	got := map[string]map[string]any{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(types) {
		select {
		case f, ok := <-cl.frames:
			if !ok {
				cl.t.Fatalf("%s: connection closed waiting for %v", cl.user, types)
			}
			typ, _ := f["type"].(string)
			if slices.Contains(types, typ) && got[typ] == nil {
				cl.answered(f)
				got[typ] = f
				continue
			}
			switch typ {
			case "presence", "typing", "read", "message", "role", "kicked":
				continue
			}
			cl.t.Fatalf("%s: got %v while waiting for %v", cl.user, f, types)
		case <-deadline:
			cl.t.Fatalf("%s: timed out waiting for %v (got %v)", cl.user, types, got)
		}
	}
	return got
}

// waitDeliveries waits until the Deliveries counter reaches n (it moves
// after the fan-out task has written to every member), and fails t if it
// does not within 10 s.
func waitDeliveries(t *testing.T, svc *Service, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.Stats().Deliveries < n {
		if time.Now().After(deadline) {
			t.Fatalf("Deliveries = %d after 10 s, want %d", svc.Stats().Deliveries, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLatencyHistogramBuckets(t *testing.T) {
	var h latencyHistogram
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond, time.Minute} {
		h.observe(d)
	}
	got := h.snapshot()
	// 50µs and exactly 100µs are at or below the first bound; 3ms below
	// 5ms; a minute only in Count.
	want := map[float64]uint64{0.0001: 2, 0.0025: 2, 0.005: 3, 5: 3}
	for i, b := range got.Bounds {
		if n, ok := want[b]; ok && got.Counts[i] != n {
			t.Errorf("bucket le=%g: %d, want %d", b, got.Counts[i], n)
		}
	}
	if got.Count != 4 || got.Sum < 60 {
		t.Errorf("Count %d Sum %g, want 4 and over 60 s", got.Count, got.Sum)
	}
}

func TestShutdownSendsGoawayThenClose1001(t *testing.T) {
	s := startServer(t, func(e *engine.Config, _ *Config) { e.ReconnectWindow = 3 * time.Second })
	alice := s.dial(t, "alice")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.e.Shutdown(ctx)
	}()
	g := alice.expect("goaway") // checked against the schema by the client
	ms := g["reconnect_after_ms"].(float64)
	if ms < 0 || ms >= 3000 || ms != float64(int64(ms)) {
		t.Fatalf("goaway = %v, want whole milliseconds in [0, 3000)", g)
	}
	if f, ok := <-alice.frames; ok {
		t.Fatalf("frame after goaway: %v", f)
	}
	var ce *websocket.CloseError
	want := engine.GoingAwayReason(time.Duration(ms) * time.Millisecond)
	if !errors.As(alice.readErr, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != want {
		t.Fatalf("close = %v, want 1001 %q", alice.readErr, want)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
}
