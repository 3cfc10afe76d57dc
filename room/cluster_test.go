package room

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/memory"
	"github.com/switchboard-chat/switchboard/store/redis"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// sharedStore is one memory store used by several in-process instances, as
// PostgreSQL is by several processes. Close is left to the test.
type sharedStore struct{ *memory.Store }

func (sharedStore) Close() error { return nil }

// cluster starts n instances on one store and one Redis, under a key prefix
// of the test's own.
func startCluster(t *testing.T, n int, mutate func(*Config)) []*server {
	t.Helper()
	url := servicetest.RedisURL(t)
	prefix := servicetest.UniqueName("sbtest") + ":"
	mem, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := sharedStore{mem}
	servers := make([]*server, n)
	for i := range servers {
		bus, err := redis.New(redis.Options{URL: url, InstanceID: fmt.Sprintf("i%d", i), Prefix: prefix,
			Heartbeat: 200 * time.Millisecond, TTL: time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = startServer(t, func(_ *engine.Config, c *Config) {
			c.Store, c.Bus = st, bus
			if mutate != nil {
				mutate(c)
			}
		})
		servers[i].st = mem
		svc := servers[i].svc
		// Registered after startServer's cleanup, so it runs before it:
		// shut the engine down first, then close the bus.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			servers[i].e.Shutdown(ctx)
			svc.Close()
		})
	}
	for _, s := range servers {
		waitBusUp(t, s.svc)
	}
	return servers
}

// waitBusUp waits until the instance's bus relays.
func waitBusUp(t testing.TB, svc *Service) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.cl.bus.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("bus not up: %v", svc.cl.bus.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectOf waits for the next frame of type typ that satisfies ok.
func (cl *client) expectWhere(typ string, ok func(map[string]any) bool) map[string]any {
	cl.t.Helper()
	for {
		if f := cl.expect(typ); ok(f) {
			return f
		}
	}
}

func TestClusterTwoInstancesShareOneRoom(t *testing.T) {
	srv := startCluster(t, 2, unlimited)
	a, b := srv[0], srv[1]
	alice := a.dial(t, "alice")
	alice.send(`{"type":"create","room":"lobby"}`)
	alice.expect("created")
	alice.send(`{"type":"join","room":"lobby"}`)
	if j := alice.expect("joined"); j["online"] != float64(1) {
		t.Fatalf("alice joined = %v", j)
	}
	bob := b.dial(t, "bob")
	bob.send(`{"type":"join","room":"lobby"}`)
	if j := bob.expect("joined"); j["online"] != float64(2) {
		t.Fatalf("bob joined = %v, want online 2 (alice on the other instance)", j)
	}
	// Presence crosses: alice hears bob come online.
	alice.expectWhere("presence", func(f map[string]any) bool { return f["user"] == "bob" && f["status"] == "online" })

	// Both publish at once, from both instances: both see one sequence.
	const each = 100
	var wg sync.WaitGroup
	for _, c := range []*client{alice, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c.send(fmt.Sprintf(`{"type":"publish","room":"lobby","id":"%s-%d","body":%d}`, c.user, i, i))
			}
		}()
	}
	wg.Wait()
	got := map[string][]string{}
	for _, c := range []*client{alice, bob} {
		for want := uint64(1); want <= 2*each; want++ {
			m := c.expectAny("message") // acks interleave
			if seqOf(m) != want {
				t.Fatalf("%s got seq %d, want %d", c.user, seqOf(m), want)
			}
			got[c.user] = append(got[c.user], m["id"].(string))
		}
	}
	for i := range got["alice"] {
		if got["alice"][i] != got["bob"][i] {
			t.Fatalf("seq %d is %s for alice and %s for bob", i+1, got["alice"][i], got["bob"][i])
		}
	}

	// Both instances relayed their messages and received the other's.
	for i, srv := range []*server{a, b} {
		if cs := srv.svc.Stats().Cluster; cs.Relayed < each || cs.Received < each {
			t.Fatalf("instance %d: relayed %d, received %d; want at least %d each", i, cs.Relayed, cs.Received, each)
		}
	}

	// Typing and read receipts cross; typing skips the typist.
	bob.send(`{"type":"typing","room":"lobby"}`)
	alice.expectWhere("typing", func(f map[string]any) bool { return f["user"] == "bob" })
	bob.send(`{"type":"read","room":"lobby","seq":5}`)
	alice.expectWhere("read", func(f map[string]any) bool { return f["user"] == "bob" && seqOf(f) == 5 })

	// Members are online across instances.
	alice.send(`{"type":"members","room":"lobby"}`)
	mem := alice.expect("members")
	for _, m := range mem["members"].([]any) {
		if m := m.(map[string]any); m["online"] != true {
			t.Fatalf("members = %v: %s is connected to the other instance", mem, m["user"])
		}
	}

	// Presence status changes cross.
	bob.send(`{"type":"presence","status":"away"}`)
	alice.expectWhere("presence", func(f map[string]any) bool { return f["user"] == "bob" && f["status"] == "away" })

	// A second connection of bob's, on A: no new online; bob goes offline
	// only when his last connection anywhere is gone.
	bob2 := a.dial(t, "bob")
	bob2.send(`{"type":"join","room":"lobby"}`)
	bob2.expect("joined")
	bob.c.Close()
	bob2.c.Close()
	alice.expectWhere("presence", func(f map[string]any) bool { return f["user"] == "bob" && f["status"] == "offline" })
}

func TestClusterKickLeavesEveryInstance(t *testing.T) {
	srv := startCluster(t, 2, nil)
	owner, mallory := roomOnTwo(t, srv, "k", "owner", "mallory")
	owner.send(`{"type":"kick","room":"k","user":"mallory"}`)
	mallory.expectWhere("kicked", func(f map[string]any) bool { return f["user"] == "mallory" })
	// Her connection on B has left: a publish is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mallory.send(`{"type":"publish","room":"k","id":"x","body":1}`)
		f := mallory.expectAny("ack", "error")
		if f["type"] == "error" && f["code"] == "not_joined" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mallory can still publish after the kick: %v", f)
		}
	}
}

// roomOnTwo has creator create room on the first instance and join it,
// then other join it on the second.
func roomOnTwo(t *testing.T, srv []*server, room, creator, other string) (*client, *client) {
	t.Helper()
	c := srv[0].dial(t, creator)
	c.send(fmt.Sprintf(`{"type":"create","room":%q}`, room))
	c.expect("created")
	c.send(fmt.Sprintf(`{"type":"join","room":%q}`, room))
	c.expect("joined")
	o := srv[1].dial(t, other)
	o.send(fmt.Sprintf(`{"type":"join","room":%q}`, room))
	o.expect("joined")
	return c, o
}

// expectAny returns the next frame of one of types (broadcasts skipped).
func (cl *client) expectAny(types ...string) map[string]any {
	cl.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-cl.frames:
			if !ok {
				cl.t.Fatalf("%s: connection closed waiting for %v", cl.user, types)
			}
			for _, typ := range types {
				if f["type"] == typ {
					return f
				}
			}
		case <-deadline:
			cl.t.Fatalf("%s: timed out waiting for %v", cl.user, types)
		}
	}
}

// TestClusterJoinRaceMissesNothing joins a room on B while A publishes
// into it without pause: the joiner must see every seq after its joined
// seq exactly once, without the help of gap refills (which would hide a
// subscription made after the last seq was read).
func TestClusterJoinRaceMissesNothing(t *testing.T) {
	srv := startCluster(t, 2, func(c *Config) {
		unlimited(c)
		c.GapTimeout = time.Hour
	})
	w := srv[0].dial(t, "writer")
	w.send(`{"type":"create","room":"race"}`)
	w.expect("created")
	w.send(`{"type":"join","room":"race"}`)
	w.expect("joined")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // publishes one message per ack until stopped
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w.send(fmt.Sprintf(`{"type":"publish","room":"race","id":"m%d","body":%d}`, i, i))
			for f := range w.frames {
				if f["type"] == "ack" {
					break
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for round := 0; round < 10; round++ {
		r := srv[1].dial(t, fmt.Sprintf("reader%d", round))
		r.send(`{"type":"join","room":"race"}`)
		next := seqOf(r.expect("joined")) + 1
		for i := 0; i < 10; i++ {
			if m := r.expect("message"); seqOf(m) != next {
				t.Fatalf("round %d: got seq %d, want %d", round, seqOf(m), next)
			}
			next++
		}
		r.c.Close()
	}
}

// TestClusterGapIsRefilledFromTheStore stores a message behind the bus's
// back (as an instance killed between its commit and its relay leaves
// one): the next relayed message opens a gap, and the refill closes it.
func TestClusterGapIsRefilledFromTheStore(t *testing.T) {
	srv := startCluster(t, 2, nil)
	a, b := roomOnTwo(t, srv, "gap", "a", "b")
	if _, _, err := srv[0].st.Append(context.Background(), store.Message{Room: "gap", ID: "ghost", From: "a", Body: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	a.send(`{"type":"publish","room":"gap","id":"m2","body":2}`)
	for _, c := range []*client{b} {
		for want := uint64(1); want <= 2; want++ {
			if m := c.expect("message"); seqOf(m) != want {
				t.Fatalf("%s got seq %d, want %d", c.user, seqOf(m), want)
			}
		}
	}
	// The instance that waited counted the gap, the refill and the message
	// it brought.
	if cs := srv[1].svc.Stats().Cluster; cs.Gaps < 1 || cs.Refills < 1 || cs.Refilled < 1 || cs.RefillFailures != 0 {
		t.Fatalf("stats after a refilled gap: %+v", cs)
	}
}

// gatedStore holds every Since while gate is set until gateAt calls are in
// flight at once (or a few seconds pass), and records the most in flight.
type gatedStore struct {
	store.Store
	gate           atomic.Bool
	gateAt         int32
	inFlight, peak atomic.Int32
}

func (g *gatedStore) Since(ctx context.Context, room string, after uint64, limit int) ([]store.Message, bool, error) {
	if g.gate.Load() {
		n := g.inFlight.Add(1)
		defer g.inFlight.Add(-1)
		for {
			p := g.peak.Load()
			if n <= p || g.peak.CompareAndSwap(p, n) {
				break
			}
		}
		for deadline := time.Now().Add(3 * time.Second); g.inFlight.Load() < g.gateAt && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	return g.Store.Since(ctx, room, after, limit)
}

// TestClusterReconnectRefillsRoomsInParallel: after a bus reconnect every
// live room is refilled, several at a time (not one after another) and
// never more than refillParallel at once.
func TestClusterReconnectRefillsRoomsInParallel(t *testing.T) {
	var gs *gatedStore
	srv := startCluster(t, 1, func(c *Config) {
		unlimited(c)
		gs = &gatedStore{Store: c.Store, gateAt: 4}
		c.Store = gs
	})
	const rooms = 3 * refillParallel
	alice := srv[0].dial(t, "alice")
	for i := range rooms {
		alice.send(fmt.Sprintf(`{"type":"create","room":"r%d"}`, i))
		alice.expect("created")
		alice.send(fmt.Sprintf(`{"type":"join","room":"r%d"}`, i))
		alice.expect("joined")
	}
	cl := srv[0].svc.cl
	before := srv[0].svc.Stats().Cluster
	gs.gate.Store(true)
	cl.Resync("") // what the bus does on reconnect
	deadline := time.Now().Add(20 * time.Second)
	for srv[0].svc.Stats().Cluster.Refills-before.Refills < rooms {
		if time.Now().After(deadline) {
			t.Fatalf("refilled %d of %d rooms", srv[0].svc.Stats().Cluster.Refills-before.Refills, rooms)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := gs.peak.Load(); p < gs.gateAt || p > refillParallel {
		t.Fatalf("at most %d refills ran at once, want %d to %d", p, gs.gateAt, refillParallel)
	}
	if cs := srv[0].svc.Stats().Cluster; cs.Reconnects != before.Reconnects+1 || cs.RefillFailures != 0 {
		t.Fatalf("stats after a reconnect: %+v (before %+v)", cs, before)
	}
}

// TestClusterUserRateLimit: with local limits out of the way, a user
// publishing from both instances is refused by the cluster-wide limit.
func TestClusterUserRateLimit(t *testing.T) {
	srv := startCluster(t, 2, func(c *Config) {
		unlimited(c)
		c.ClusterUserRate = 20
	})
	ua, ub := roomOnTwo(t, srv, "rl", "u", "u")
	for i := 0; i < 5000; i++ {
		c := []*client{ua, ub}[i%2]
		c.send(fmt.Sprintf(`{"type":"publish","room":"rl","id":"m%d","body":%d}`, i, i))
		f := c.expectAny("ack", "error")
		if f["type"] == "error" {
			if f["code"] != "rate_limited" || !strings.Contains(f["message"].(string), "across the cluster") {
				t.Fatalf("error %v, want the cluster-wide rate_limited", f)
			}
			return
		}
	}
	t.Fatal("5000 publishes in a row from two instances, none refused by a limit of 20 per second")
}

// TestClusterConnectionLimitPerUser: two connections of u are allowed,
// wherever they are; a third on either instance is closed with 1008, and
// once one closes a new one is allowed again.
func TestClusterConnectionLimitPerUser(t *testing.T) {
	srv := startCluster(t, 2, func(c *Config) { c.MaxConnsPerUser = 2 })
	first := srv[0].dial(t, "u")
	srv[1].dial(t, "u")
	if code := dialCloseCode(t, srv[0], "u"); code != websocket.ClosePolicyViolation {
		t.Fatalf("third connection closed with %d, want 1008", code)
	}
	srv[1].dial(t, "v") // other users are not affected
	first.c.Close()
	// The close reaches Redis asynchronously: retry until let in.
	deadline := time.Now().Add(10 * time.Second)
	for dialCloseCode(t, srv[1], "u") == websocket.ClosePolicyViolation {
		if time.Now().After(deadline) {
			t.Fatal("still refused after one of the two connections closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialCloseCode connects user and returns the close code the server sent
// before any welcome, or 0 when a welcome came.
func dialCloseCode(t *testing.T, s *server, user string) int {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/ws?user=%s", s.e.Addr(), user), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	if !strings.Contains(string(p), `"welcome"`) {
		t.Fatalf("%s: first frame %s", user, p)
	}
	return 0
}
