package room

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/postgres"
	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// pgServer starts a server on a fresh PostgreSQL database with one worker,
// so that without asynchronous appends it could have only one publish in
// flight at a time.
func pgServer(t *testing.T, mutate func(*Config)) (*server, *postgres.Store, string) {
	t.Helper()
	url := servicetest.PostgresURL(t)
	pg, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() }) // after the engine's shutdown, registered below
	s := startServer(t, func(e *engine.Config, c *Config) {
		e.Workers = 1
		c.Store = pg
		unlimited(c)
		if mutate != nil {
			mutate(c)
		}
	})
	return s, pg, url
}

// Many publishers on one worker keep many appends in flight: the group
// commit carries more than one message per transaction, and each client's
// publishes keep their send order in seq.
func TestAsyncPublishBatchesCommitsAndKeepsClientOrder(t *testing.T) {
	s, pg, _ := pgServer(t, nil)
	if s.svc.async == nil {
		t.Fatal("the postgres store is not used asynchronously")
	}
	const publishers, each = 8, 25
	reader, pubs := busyRoom(t, s, publishers)
	commits0, msgs0 := pg.CommitStats()
	publishAll(pubs, each) // everything sent before any ack is read
	for i, c := range pubs {
		last := uint64(0)
		for j := range each {
			ack := c.expect("ack")
			if want := fmt.Sprintf("%d-%d", i, j); ack["id"] != want {
				t.Fatalf("%s: ack %v, want id %s: acks out of send order", c.user, ack, want)
			}
			if seq := seqOf(ack); seq <= last {
				t.Fatalf("%s: ack %v after seq %d: send order not kept in seq", c.user, ack, last)
			} else {
				last = seq
			}
		}
	}
	commits, msgs := pg.CommitStats()
	commits, msgs = commits-commits0, msgs-msgs0
	if msgs != publishers*each {
		t.Fatalf("%d messages committed, want %d", msgs, publishers*each)
	}
	if commits >= msgs {
		t.Fatalf("%d commits for %d messages: no group commit carried more than one", commits, msgs)
	}
	t.Logf("%d messages in %d commits (%.1f per commit)", msgs, commits, float64(msgs)/float64(commits))
	// A member gets every message once, in seq order.
	for want := uint64(1); want <= publishers*each; want++ {
		if got := seqOf(reader.expect("message")); got != want {
			t.Fatalf("reader got seq %d, want %d", got, want)
		}
	}
}

// Over MaxPublishesInFlight the publish is refused with rate_limited; a
// connection closed with publishes in flight leaves them stored and
// delivered to the others.
func TestAsyncPublishInFlightCapAndCloseWhileInFlight(t *testing.T) {
	s, pg, url := pgServer(t, func(c *Config) { c.MaxPublishesInFlight = 2 })
	alice, bob := pairInRoom(t, s)
	// Hold the room's seq row lock from another session so that the
	// appends wait in the store.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM room_seqs q JOIN rooms r ON r.pk = q.pk WHERE r.id = 'r' FOR UPDATE OF q`); err != nil {
		tx.Rollback(ctx)
		t.Fatal(err)
	}
	for j := range 3 {
		alice.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"m%d","body":%d,"ref":"p%d"}`, j, j, j))
	}
	if f := alice.expect("error"); f["code"] != "rate_limited" || f["ref"] != "p2" {
		t.Fatalf("third publish in flight answered %v, want rate_limited for p2", f)
	}
	alice.c.Close()
	tx.Rollback(ctx)
	for j := range 2 {
		m := bob.expect("message")
		if m["from"] != "alice" || m["id"] != fmt.Sprintf("m%d", j) || seqOf(m) != uint64(j+1) {
			t.Fatalf("bob got %v, want alice's m%d as seq %d", m, j, j+1)
		}
	}
	msgs, _, err := pg.History(ctx, "r", 0, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("history after close: %v, %v; want the 2 messages in flight", msgs, err)
	}
}

var _ store.AsyncAppender = (*postgres.Store)(nil)

// A store without AppendAsync is called with Append on the worker: publish
// still acks, delivers and refuses nothing for being in flight.
func TestPublishWithASynchronousStore(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) {
		c.Store = struct{ store.Store }{c.Store} // only store.Store's methods
		c.MaxPublishesInFlight = 1
	})
	if s.svc.async != nil {
		t.Fatal("a store without AppendAsync is used asynchronously")
	}
	alice, bob := pairInRoom(t, s)
	for j := range 3 {
		alice.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"m%d","body":%d}`, j, j))
	}
	for j := range 3 {
		if ack := alice.expect("ack"); ack["id"] != fmt.Sprintf("m%d", j) || seqOf(ack) != uint64(j+1) {
			t.Fatalf("ack %v, want m%d as seq %d", ack, j, j+1)
		}
		if m := bob.expect("message"); seqOf(m) != uint64(j+1) {
			t.Fatalf("bob got %v, want seq %d", m, j+1)
		}
	}
}

// pairInRoom connects alice, who creates room "r", and bob, and joins both.
func pairInRoom(t *testing.T, s *server) (alice, bob *client) {
	t.Helper()
	alice, bob = s.dial(t, "alice"), s.dial(t, "bob")
	alice.send(`{"type":"create","room":"r"}`)
	alice.expect("created")
	for _, c := range []*client{alice, bob} {
		c.send(`{"type":"join","room":"r"}`)
		c.expect("joined")
	}
	return alice, bob
}
