package redis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handler records what a bus hands over; present is what Present says.
type handler struct {
	mu        sync.Mutex
	delivered map[string][]string
	resyncs   []string
	present   map[string]bool // "<room>\0<user>"
	changed   chan struct{}
}

func newHandler() *handler {
	return &handler{delivered: map[string][]string{}, present: map[string]bool{}, changed: make(chan struct{}, 1)}
}

func (h *handler) poke() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *handler) Deliver(room string, payload []byte) {
	h.mu.Lock()
	h.delivered[room] = append(h.delivered[room], string(payload))
	h.mu.Unlock()
	h.poke()
}

func (h *handler) Resync(room string) {
	h.mu.Lock()
	h.resyncs = append(h.resyncs, room)
	h.mu.Unlock()
	h.poke()
}

func (h *handler) Present(room, user string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.present[member(room, user)]
}

func (h *handler) LocalPresence(yield func(room, user string) bool) {
	h.mu.Lock()
	var list []string
	for m, ok := range h.present {
		if ok {
			list = append(list, m)
		}
	}
	h.mu.Unlock()
	for _, m := range list {
		r, u, _ := splitMember(m)
		if !yield(r, u) {
			return
		}
	}
}

func (h *handler) Announcement(room, user string, online bool) ([]byte, int) {
	s := "off:"
	if online {
		s = "on:"
	}
	return []byte(s + user), 1000
}

func (h *handler) setPresent(room, user string, on bool) {
	h.mu.Lock()
	h.present[member(room, user)] = on
	h.mu.Unlock()
}

// waitFor waits until cond holds under h.mu.
func (h *handler) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		ok := cond()
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-h.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startBus starts a bus for instance id under prefix on url.
func startBus(t *testing.T, url, prefix, id string) (*Bus, *handler) {
	t.Helper()
	b, err := New(Options{URL: url, InstanceID: id, Prefix: prefix, Heartbeat: 100 * time.Millisecond,
		TTL: 500 * time.Millisecond, Timeout: time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler()
	if err := b.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	waitUp(t, b)
	return b, h
}

func waitUp(t *testing.T, b *Bus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("bus %s not up: %v", b.opts.InstanceID, b.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, o := range []Options{
		{InstanceID: "a"},
		{URL: "redis://127.0.0.1:1/0"},
		{URL: "redis://127.0.0.1:1/0", InstanceID: "has space"},
		{URL: "redis://127.0.0.1:1/0", InstanceID: "a", Heartbeat: time.Second, TTL: time.Second},
		{URL: "http://x", InstanceID: "a"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestPublishReachesOtherInstancesOnlyWhenSubscribed(t *testing.T) {
	url, prefix := servicetest.RedisURL(t), servicetest.UniqueName("sbtest")+":"
	a, ha := startBus(t, url, prefix, "a")
	b, hb := startBus(t, url, prefix, "b")
	ctx := context.Background()
	if err := b.Subscribe(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	a.Publish("r2", []byte("nobody")) // no subscriber
	a.Publish("r1", []byte("one"))
	a.Publish("r1", []byte("two"))
	hb.waitFor(t, "two payloads on b", func() bool { return len(hb.delivered["r1"]) == 2 })
	if got := hb.delivered["r1"]; got[0] != "one" || got[1] != "two" || len(hb.delivered["r2"]) != 0 {
		t.Fatalf("b got %v", hb.delivered)
	}
	// a's own relays do not come back to it.
	b.Publish("r1", []byte("from b"))
	ha.waitFor(t, "b's payload on a", func() bool { return len(ha.delivered["r1"]) == 1 })
	if ha.delivered["r1"][0] != "from b" {
		t.Fatalf("a got %v", ha.delivered)
	}
	// After Unsubscribe nothing more arrives (a marker published after it
	// by a still-subscribed instance shows the order).
	b.Unsubscribe("r1")
	a.Publish("r1", []byte("after"))
	c, hc := startBus(t, url, prefix, "c")
	if err := c.Subscribe(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	a.Publish("r1", []byte("marker"))
	hc.waitFor(t, "marker on c", func() bool { return len(hc.delivered["r1"]) == 1 })
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if len(hb.delivered["r1"]) != 2 {
		t.Fatalf("b got %v after unsubscribing", hb.delivered["r1"])
	}
}

func TestPresenceCountsAcrossInstancesAndAnnouncesOnce(t *testing.T) {
	url, prefix := servicetest.RedisURL(t), servicetest.UniqueName("sbtest")+":"
	a, ha := startBus(t, url, prefix, "a")
	b, hb := startBus(t, url, prefix, "b")
	ctx := context.Background()
	for _, x := range []*Bus{a, b} {
		if err := x.Subscribe(ctx, "room"); err != nil {
			t.Fatal(err)
		}
	}
	ha.setPresent("room", "u", true)
	if n, err := a.SyncPresence(ctx, "room", "u"); err != nil || n != 1 {
		t.Fatalf("SyncPresence = %d, %v", n, err)
	}
	hb.setPresent("room", "u", true)
	if n, err := b.SyncPresence(ctx, "room", "u"); err != nil || n != 1 {
		t.Fatalf("second instance: SyncPresence = %d, %v", n, err)
	}
	hb.setPresent("room", "v", true)
	b.SyncPresence(ctx, "room", "v")
	count, online, err := a.Online(ctx, "room", []string{"u", "v", "w"})
	if err != nil || count != 2 || !online[0] || !online[1] || online[2] {
		t.Fatalf("Online = %d %v %v", count, online, err)
	}
	// u leaves a: still online on b, no announcement; then b: offline.
	ha.setPresent("room", "u", false)
	a.PresenceChanged("room", "u")
	hb.setPresent("room", "u", false)
	b.PresenceChanged("room", "u")
	hb.waitFor(t, "u offline", func() bool {
		for _, p := range hb.delivered["room"] {
			if p == "off:u" {
				return true
			}
		}
		return false
	})
	hb.mu.Lock()
	got := append([]string(nil), hb.delivered["room"]...)
	hb.mu.Unlock()
	want := []string{"on:u", "on:v", "off:u"}
	if len(got) != len(want) {
		t.Fatalf("announcements %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("announcements %v, want %v", got, want)
		}
	}
}

// TestDeadInstanceIsSwept: an instance that stops without withdrawing
// (kill -9) has its users taken offline by a survivor once its liveness
// key expires, and its rooms are told to resync.
func TestDeadInstanceIsSwept(t *testing.T) {
	url, prefix := servicetest.RedisURL(t), servicetest.UniqueName("sbtest")+":"
	a, _ := startBus(t, url, prefix, "a")
	b, hb := startBus(t, url, prefix, "b")
	ctx := context.Background()
	a.Subscribe(ctx, "room")
	b.Subscribe(ctx, "room")
	a.h.(*handler).setPresent("room", "ghost", true)
	if _, err := a.SyncPresence(ctx, "room", "ghost"); err != nil {
		t.Fatal(err)
	}
	a.die()
	hb.waitFor(t, "ghost offline and a resync", func() bool {
		off := false
		for _, p := range hb.delivered["room"] {
			off = off || p == "off:ghost"
		}
		resync := false
		for _, r := range hb.resyncs {
			resync = resync || r == "room"
		}
		return off && resync
	})
	if n, _, err := b.Online(ctx, "room", nil); err != nil || n != 0 {
		t.Fatalf("Online after the sweep = %d, %v", n, err)
	}
}

// die stops the bus as kill -9 would: no withdrawal.
func (b *Bus) die() {
	b.closed.Store(true)
	b.cancel()
	b.sub.shutdown()
	b.pipe.shutdown()
	b.wg.Wait()
	b.client.Close()
}

// TestRedisOutageThenResyncAndReregister uses a Redis server of its own,
// kills it and starts a fresh one on the same port: the bus reports
// unavailable meanwhile, then resubscribes, resyncs every room and
// registers its presence again.
func TestRedisOutageThenResyncAndReregister(t *testing.T) {
	rs := servicetest.StartRedis(t)
	a, ha := startBus(t, rs.URL(), "t:", "a")
	ctx := context.Background()
	if err := a.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	ha.setPresent("room", "u", true)
	a.SyncPresence(ctx, "room", "u")
	ha.mu.Lock()
	ha.resyncs = nil
	ha.mu.Unlock()

	rs.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for a.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Err(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Err while Redis is down = %v", err)
	}
	if err := a.Health(ctx); err == nil {
		t.Fatal("Health passed while Redis is down")
	}
	rs.Start(t)
	waitUp(t, a)
	ha.waitFor(t, "a resync of every room", func() bool { return len(ha.resyncs) > 0 && ha.resyncs[0] == "" })
	// The fresh server knows nothing; the bus registers u again.
	client := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer client.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		n, _ := client.HLen(ctx, "t:online:room").Result()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("presence not registered again after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.Health(ctx); err != nil {
		t.Fatalf("Health after the restart: %v", err)
	}
}

// TestChargeLimitsAUserAcrossInstances: counts from two instances add up
// in Redis; once the window's total passes the limit, both refuse the
// user until the window ends, and other users are unaffected.
func TestChargeLimitsAUserAcrossInstances(t *testing.T) {
	url, prefix := servicetest.RedisURL(t), servicetest.UniqueName("sbtest")+":"
	var buses []*Bus
	for _, id := range []string{"a", "b"} {
		// An hour-long window: the test's charges all fall in one.
		b, err := New(Options{URL: url, InstanceID: id, Prefix: prefix, RateWindow: time.Hour,
			RateFlush: time.Hour, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(newHandler()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		waitUp(t, b)
		buses = append(buses, b)
	}
	a, b := buses[0], buses[1]
	for i := range 6 {
		if a.Charge("u", 10) || b.Charge("u", 10) {
			t.Fatalf("refused at charge %d of 6 per instance, under the limit until a flush", i+1)
		}
	}
	a.flushRates() // window total 6: under 10
	if a.Charge("u", 10) {
		t.Fatal("refused with 6 of 10 counted")
	}
	b.flushRates() // total 12: over
	if !b.Charge("u", 10) {
		t.Fatal("b: not refused with 12 of 10 counted")
	}
	if b.Charge("v", 10) {
		t.Fatal("another user refused")
	}
	a.flushRates() // a learns the total with its own pending charge
	if !a.Charge("u", 10) {
		t.Fatal("a: not refused after the cluster total passed the limit")
	}
}

// TestConnectionCountsAcrossInstances: each instance writes its own count;
// totals add up, closes come off, and a dead instance's count is swept.
func TestConnectionCountsAcrossInstances(t *testing.T) {
	url, prefix := servicetest.RedisURL(t), servicetest.UniqueName("sbtest")+":"
	a, _ := startBus(t, url, prefix, "a")
	b, _ := startBus(t, url, prefix, "b")
	ctx := context.Background()
	for want, bus := range []*Bus{a, a, b} {
		if n, err := bus.OpenConn(ctx, "u"); err != nil || n != want+1 {
			t.Fatalf("OpenConn #%d = %d, %v; want %d", want+1, n, err, want+1)
		}
	}
	b.CloseConn("u")
	if n, err := b.OpenConn(ctx, "u"); err != nil || n != 3 {
		t.Fatalf("after a close and an open: %d, %v; want 3", n, err)
	}
	a.die() // its 2 go when a survivor sweeps it
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.CloseConn("u")
		n, err := b.OpenConn(ctx, "u")
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead instance's connections still count: %d, %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
