package room

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/store/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

type server struct {
	e   *engine.Engine
	svc *Service
	st  *memory.Store
}

func startServer(t testing.TB, mutate func(*engine.Config, *Config)) *server {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ecfg := engine.Config{Addr: "127.0.0.1:0", Loops: 2, Workers: 4, Logger: quiet}
	st, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := Config{Store: st, Logger: quiet}
	if mutate != nil {
		mutate(&ecfg, &rcfg)
	}
	e, err := engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(e, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/ws", svc)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	st, _ = rcfg.Store.(*memory.Store)
	return &server{e: e, svc: svc, st: st}
}

// client is a test chat client: frames arrive on a channel from a reader
// goroutine, so a test can wait for a specific frame with a deadline.
//
// Every frame is checked against docs/protocol.schema.json: each server
// frame as it arrives, and each client frame as it is sent. A client frame
// the schema rejects must be answered with an error before any other
// answer the test waits for, and by the end of the test.
type client struct {
	t       testing.TB
	c       *websocket.Conn
	frames  chan map[string]any
	user    string
	schemas *protocolSchemas

	mu       sync.Mutex
	rejected []string // frames sent that the schema rejects, not yet answered by an error

	readErr error // why the reader stopped; read it once frames is closed
}

func (s *server) dial(t testing.TB, user string) *client {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/ws?user=%s", s.e.Addr(), user), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	cl := &client{t: t, c: c, frames: make(chan map[string]any, 10000), user: user, schemas: mustLoadSchemas(t)}
	go func() {
		defer close(cl.frames)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				cl.readErr = err
				return
			}
			var f map[string]any
			if err := json.Unmarshal(p, &f); err != nil {
				t.Errorf("server sent invalid JSON %q: %v", p, err)
				return
			}
			if err := cl.schemas.server.check(p); err != nil {
				t.Errorf("%s: server frame does not match docs/protocol.schema.json: %s\n%v", user, p, err)
			}
			cl.frames <- f
		}
	}()
	t.Cleanup(func() {
		c.Close()
		for range cl.frames { // the reader has stopped: no report after the test ends
		}
		cl.mu.Lock()
		defer cl.mu.Unlock()
		if len(cl.rejected) > 0 && !t.Failed() {
			t.Errorf("%s: sent frames docs/protocol.schema.json rejects, and no error answered them: %v", user, cl.rejected)
		}
	})
	w := cl.expect("welcome")
	if w["user"] != user || w["protocol"] != float64(1) {
		t.Fatalf("welcome = %v", w)
	}
	return cl
}

func (cl *client) send(frame string) {
	cl.t.Helper()
	if err := cl.schemas.client.check([]byte(frame)); err != nil {
		cl.mu.Lock()
		cl.rejected = append(cl.rejected, fmt.Sprintf("%s (%v)", frame, err))
		cl.mu.Unlock()
	}
	if err := cl.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		cl.t.Fatalf("%s send: %v", cl.user, err)
	}
}

// expect returns the next frame of type typ, skipping room broadcasts
// (presence, typing, read, message, role, kicked) unless they are what is
// asked for; any other frame, an error above all, fails the test.
func (cl *client) expect(typ string) map[string]any {
	cl.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-cl.frames:
			if !ok {
				cl.t.Fatalf("%s: connection closed waiting for %s", cl.user, typ)
			}
			if f["type"] == typ {
				cl.answered(f)
				return f
			}
			switch f["type"] {
			case "presence", "typing", "read", "message", "role", "kicked":
				continue
			}
			cl.t.Fatalf("%s: got %v while waiting for %s", cl.user, f, typ)
		case <-deadline:
			cl.t.Fatalf("%s: timed out waiting for %s", cl.user, typ)
			return nil
		}
	}
}

// answered notes an answer the test waited for: an error answers the
// oldest frame the schema rejected; any other answer while such a frame
// is unanswered means the server accepted what the schema rejects.
func (cl *client) answered(f map[string]any) {
	cl.t.Helper()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.rejected) == 0 {
		return
	}
	if f["type"] == "error" {
		cl.rejected = cl.rejected[1:]
		return
	}
	cl.t.Fatalf("%s: sent %s, which docs/protocol.schema.json rejects, and got %v instead of an error", cl.user, cl.rejected[0], f)
}

func (cl *client) expectError(code string) {
	cl.t.Helper()
	if f := cl.expect("error"); f["code"] != code {
		cl.t.Fatalf("%s: error %v, want code %s", cl.user, f, code)
	}
}

// unlimited lifts the rate limits for tests that publish in bulk.
func unlimited(c *Config) {
	c.RatePerSecond, c.RateBurst = 1e6, 1e6
	c.UserRatePerSecond, c.UserRateBurst = 1e6, 1e6
}

func seqOf(f map[string]any) uint64 { return uint64(f["seq"].(float64)) }

func TestPublishAckAndDeliveryToEveryMember(t *testing.T) {
	s := startServer(t, nil)
	alice, bob := s.dial(t, "alice"), s.dial(t, "bob")
	alice.send(`{"type":"create","room":"general"}`)
	alice.expect("created")
	for _, c := range []*client{alice, bob} {
		c.send(`{"type":"join","room":"general"}`)
		if j := c.expect("joined"); j["seq"] != float64(0) {
			t.Fatalf("joined = %v", j)
		}
	}
	alice.send(`{"type":"publish","room":"general","id":"m1","body":{"text":"hello"}}`)
	ack := alice.expect("ack")
	if ack["id"] != "m1" || seqOf(ack) != 1 {
		t.Fatalf("ack = %v", ack)
	}
	for _, c := range []*client{alice, bob} {
		m := c.expect("message")
		if m["from"] != "alice" || seqOf(m) != 1 || m["body"].(map[string]any)["text"] != "hello" {
			t.Fatalf("%s got %v", c.user, m)
		}
	}
	// A retried id gets the same ack and no second delivery.
	alice.send(`{"type":"publish","room":"general","id":"m1","body":{"text":"hello"}}`)
	if ack := alice.expect("ack"); seqOf(ack) != 1 {
		t.Fatalf("retried ack = %v", ack)
	}
	alice.send(`{"type":"publish","room":"general","id":"m2","body":2}`)
	alice.expect("ack")
	if m := bob.expect("message"); seqOf(m) != 2 {
		t.Fatalf("bob got seq %v after a retried id, want 2 (no duplicate)", m["seq"])
	}
}

// busyRoom connects a reader and n publishers p0... to room "busy".
func busyRoom(t *testing.T, s *server, n int) (reader *client, pubs []*client) {
	t.Helper()
	reader = s.dial(t, "reader")
	pubs = make([]*client, n)
	for i := range pubs {
		pubs[i] = s.dial(t, fmt.Sprintf("p%d", i))
	}
	pubs[0].send(`{"type":"create","room":"busy"}`)
	pubs[0].expect("created")
	for _, c := range append([]*client{reader}, pubs...) {
		c.send(`{"type":"join","room":"busy"}`)
		c.expect("joined")
	}
	return reader, pubs
}

// publishAll has every publisher send each publishes to "busy" at once,
// without waiting for acks; publisher i's j-th has id "i-j".
func publishAll(pubs []*client, each int) {
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Go(func() {
			for j := range each {
				c.send(fmt.Sprintf(`{"type":"publish","room":"busy","id":"%d-%d","body":%d}`, i, j, j))
			}
		})
	}
	wg.Wait()
}

func TestOrderBySeqUnderConcurrentPublishers(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	const publishers, each = 8, 50
	reader, pubs := busyRoom(t, s, publishers)
	publishAll(pubs, each)
	for want := uint64(1); want <= publishers*each; want++ {
		if got := seqOf(reader.expect("message")); got != want {
			t.Fatalf("reader got seq %d, want %d: delivery is not in seq order", got, want)
		}
	}
}

func TestReplayAfterDisconnectHasNoGapAndNoDuplicate(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	writer := s.dial(t, "writer")
	writer.send(`{"type":"create","room":"r"}`)
	writer.expect("created")
	writer.send(`{"type":"join","room":"r"}`)
	writer.expect("joined")

	rng := rand.New(rand.NewPCG(1, 2))
	const total = 300
	var mu sync.Mutex
	published := 0
	done := make(chan struct{})
	go func() { // keeps publishing while the reader comes and goes
		defer close(done)
		for i := 0; i < total; i++ {
			writer.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"w%d","body":%d}`, i, i))
			writer.expect("ack")
			mu.Lock()
			published++
			mu.Unlock()
		}
	}()
	var seen []uint64
	last := uint64(0)
	for round := 0; ; round++ {
		rd := s.dial(t, "reader")
		if round == 0 {
			rd.send(`{"type":"join","room":"r","since":0}`)
		} else {
			rd.send(fmt.Sprintf(`{"type":"join","room":"r","since":%d}`, last))
		}
		rd.expect("joined")
		// Read a random number of messages, then vanish.
		n := 1 + rng.IntN(40)
		for i := 0; i < n; i++ {
			select {
			case <-done:
				mu.Lock()
				finished := published == total
				mu.Unlock()
				if finished && last == total {
					goto check
				}
			default:
			}
			if last == total {
				break
			}
			m := rd.expect("message")
			seen = append(seen, seqOf(m))
			last = seqOf(m)
		}
		rd.c.Close()
		if last == total {
			break
		}
	}
check:
	<-done
	for i, seq := range seen {
		if seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d: gap or duplicate across reconnects (seen %v...)", i, seq, seen[:i+1])
		}
	}
	if len(seen) != total {
		t.Fatalf("saw %d messages, want %d", len(seen), total)
	}
}

func TestResetWhenHistoryTrimmed(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) {
		unlimited(c)
		c.Store, _ = memory.New(memory.Options{MaxMessagesPerRoom: 10}) // keeps 10 per room
	})
	w := s.dial(t, "w")
	w.send(`{"type":"create","room":"r"}`)
	w.expect("created")
	w.send(`{"type":"join","room":"r"}`)
	w.expect("joined")
	for i := 0; i < 30; i++ {
		w.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"%d","body":%d}`, i, i))
		w.expect("ack")
	}
	r := s.dial(t, "r")
	r.send(`{"type":"join","room":"r","since":3}`)
	reset := r.expect("reset")
	if seqOf(reset) != 30 {
		t.Fatalf("reset = %v, want seq 30", reset)
	}
	j := r.expect("joined")
	if h := j["history"].([]any); len(h) != 10 {
		t.Fatalf("joined after reset has %d messages, want the 10 kept", len(h))
	}
}

func TestJoinDeliversLast50AndHistoryPagesBack(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	w := s.dial(t, "w")
	w.send(`{"type":"create","room":"r"}`)
	w.expect("created")
	w.send(`{"type":"join","room":"r"}`)
	w.expect("joined")
	for i := 1; i <= 120; i++ {
		w.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"%d","body":%d}`, i, i))
		w.expect("ack")
	}
	r := s.dial(t, "r")
	r.send(`{"type":"join","room":"r"}`)
	j := r.expect("joined")
	h := j["history"].([]any)
	if len(h) != 50 || seqOf(h[0].(map[string]any)) != 71 || seqOf(h[49].(map[string]any)) != 120 {
		t.Fatalf("joined history: %d messages from %v", len(h), h[0])
	}
	before := uint64(71)
	var got []uint64
	for {
		r.send(fmt.Sprintf(`{"type":"history","room":"r","before":%d,"limit":30}`, before))
		page := r.expect("history")
		msgs := page["messages"].([]any)
		for i := len(msgs) - 1; i >= 0; i-- {
			got = append(got, seqOf(msgs[i].(map[string]any)))
		}
		if page["more"] != true {
			break
		}
		before = seqOf(msgs[0].(map[string]any))
	}
	if len(got) != 70 || got[0] != 70 || got[69] != 1 {
		t.Fatalf("paged back %d messages: %v", len(got), got)
	}
}

func TestPrivateRoomsAndInvites(t *testing.T) {
	s := startServer(t, nil)
	owner, guest := s.dial(t, "owner"), s.dial(t, "guest")
	owner.send(`{"type":"create","room":"secret","private":true}`)
	owner.expect("created")
	owner.send(`{"type":"join","room":"secret"}`)
	owner.expect("joined")

	guest.send(`{"type":"join","room":"secret"}`)
	guest.expectError("forbidden")
	guest.send(`{"type":"invite","room":"secret"}`)
	guest.expectError("forbidden") // not an admin

	owner.send(`{"type":"invite","room":"secret","ttl":60}`)
	token := owner.expect("invite")["token"].(string)
	guest.send(fmt.Sprintf(`{"type":"join","room":"secret","invite":%q}`, token+"x"))
	guest.expectError("forbidden") // tampered
	guest.send(fmt.Sprintf(`{"type":"join","room":"secret","invite":%q}`, token))
	guest.expect("joined")

	// A revoked invite is refused, even before it expires; only admins
	// and the owner may revoke.
	guest.send(fmt.Sprintf(`{"type":"revoke","room":"secret","invite":%q}`, token))
	guest.expectError("forbidden")
	owner.send(fmt.Sprintf(`{"type":"revoke","room":"secret","invite":%q}`, token))
	owner.expect("revoked")
	third := s.dial(t, "third")
	third.send(fmt.Sprintf(`{"type":"join","room":"secret","invite":%q}`, token))
	third.expectError("forbidden")

	// An expired invite is refused.
	late := s.dial(t, "late")
	expired := s.svc.invites.sign("nope", "secret", time.Now().Add(-time.Second))
	late.send(fmt.Sprintf(`{"type":"join","room":"secret","invite":%q}`, expired))
	late.expectError("forbidden")
	late.send(`{"type":"join","room":"nowhere"}`)
	late.expectError("not_found")
}

func TestRoleRules(t *testing.T) {
	s := startServer(t, nil)
	owner, admin, member := s.dial(t, "owner"), s.dial(t, "admin"), s.dial(t, "member")
	owner.send(`{"type":"create","room":"r"}`)
	owner.expect("created")
	for _, c := range []*client{owner, admin, member} {
		c.send(`{"type":"join","room":"r"}`)
		c.expect("joined")
	}
	member.send(`{"type":"role","room":"r","user":"admin","role":"admin"}`)
	member.expectError("forbidden")
	owner.send(`{"type":"role","room":"r","user":"admin","role":"admin"}`)
	if f := admin.expect("role"); f["user"] != "admin" || f["role"] != "admin" {
		t.Fatalf("role announcement %v", f)
	}
	admin.send(`{"type":"role","room":"r","user":"member","role":"admin"}`)
	admin.expectError("forbidden") // only the owner sets roles
	admin.send(`{"type":"kick","room":"r","user":"owner"}`)
	admin.expectError("forbidden")
	owner.send(`{"type":"role","room":"r","user":"admin","role":"owner"}`)
	owner.expectError("bad_request")
	admin.send(`{"type":"kick","room":"r","user":"member"}`)
	if f := member.expect("kicked"); f["user"] != "member" || f["by"] != "admin" {
		t.Fatalf("kick announcement %v", f)
	}
	member.send(`{"type":"publish","room":"r","id":"x","body":1}`)
	member.expectError("not_joined")
}

func TestTypingDebouncedAndReadCursorMonotonic(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { c.TypingInterval = time.Hour })
	a, b := s.dial(t, "a"), s.dial(t, "b")
	a.send(`{"type":"create","room":"r"}`)
	a.expect("created")
	for _, c := range []*client{a, b} {
		c.send(`{"type":"join","room":"r"}`)
		c.expect("joined")
	}
	a.send(`{"type":"typing","room":"r"}`)
	a.send(`{"type":"typing","room":"r"}`)
	a.send(`{"type":"typing","room":"r"}`)
	if f := b.expect("typing"); f["user"] != "a" {
		t.Fatalf("typing %v", f)
	}
	a.send(`{"type":"publish","room":"r","id":"1","body":1}`)
	a.send(`{"type":"publish","room":"r","id":"2","body":2}`)
	// b sees exactly one typing frame, then the messages.
	for want := uint64(1); want <= 2; want++ {
		f := <-b.frames
		for f["type"] == "presence" {
			f = <-b.frames
		}
		if f["type"] != "message" || seqOf(f) != want {
			t.Fatalf("b got %v, want message %d (typing not debounced?)", f, want)
		}
	}
	a.send(`{"type":"read","room":"r","seq":2}`)
	if f := b.expect("read"); f["user"] != "a" || seqOf(f) != 2 {
		t.Fatalf("read %v", f)
	}
	a.send(`{"type":"read","room":"r","seq":1}`) // backwards: ignored, not broadcast
	a.send(`{"type":"publish","room":"r","id":"3","body":3}`)
	if f := b.expect("message"); seqOf(f) != 3 {
		t.Fatalf("got %v", f)
	}
	if c, _ := s.st.ReadCursor(context.Background(), "r", "a"); c != 2 {
		t.Fatalf("read cursor = %d, want 2", c)
	}
}

func TestPresenceOfflineWhenAClientVanishes(t *testing.T) {
	s := startServer(t, func(e *engine.Config, _ *Config) {
		e.PingInterval = 200 * time.Millisecond
		e.PongTimeout = 200 * time.Millisecond
		e.TickInterval = 20 * time.Millisecond
	})
	a, b := s.dial(t, "a"), s.dial(t, "b")
	a.send(`{"type":"create","room":"r"}`)
	a.expect("created")
	a.send(`{"type":"join","room":"r"}`)
	a.expect("joined")
	b.send(`{"type":"join","room":"r"}`)
	b.expect("joined")
	if f := a.expect("presence"); f["user"] != "b" || f["status"] != "online" {
		t.Fatalf("presence %v", f)
	}
	b.send(`{"type":"presence","status":"away"}`)
	if f := a.expect("presence"); f["status"] != "away" {
		t.Fatalf("presence %v", f)
	}
	// b's process "vanishes": it stops answering pings without a close
	// frame. Stop its reader from answering by closing only our side's
	// reading: the simplest faithful model is to freeze the TCP peer, which
	// the engine sees as missed pongs.
	b.c.UnderlyingConn().(interface{ CloseRead() error }).CloseRead()
	start := time.Now()
	for {
		f := a.expect("presence")
		if f["user"] == "b" && f["status"] == "offline" {
			break
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("offline after %v, want within 1s with a 200ms ping interval", took)
	}
}

func TestBadFramesGetErrorsAndOthersAreUnaffected(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { c.Limits.MaxBodyBytes = 100 })
	a, b := s.dial(t, "a"), s.dial(t, "b")
	a.send(`{"type":"create","room":"r"}`)
	a.expect("created")
	b.send(`{"type":"join","room":"r"}`)
	b.expect("joined")
	for _, tc := range []struct{ frame, code string }{
		{`not json`, "bad_request"},
		{`{"type":"teleport"}`, "unknown_type"},
		{`{"type":"join","room":"Bad Room"}`, "bad_request"},
		{`{"type":"join","room":5}`, "bad_request"},
		{`{"type":"publish","room":"r","id":"x","body":"` + strings.Repeat("y", 200) + `"}`, "too_large"},
		{`{"type":"publish","room":"r","id":"x","body":1}`, "not_joined"},
		{`{"type":"create","room":"r"}`, "exists"},
	} {
		a.send(tc.frame)
		a.expectError(tc.code)
	}
	a.c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"leave","room":"r"}`))
	a.expectError("bad_request")
	// b still works.
	b.send(`{"type":"publish","room":"r","id":"ok","body":1}`)
	b.expect("ack")
}

func TestRateLimitThenPolicyClose(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) {
		c.RatePerSecond = 0.001
		c.RateBurst = 2
		c.MaxRateLimited = 3
	})
	a := s.dial(t, "a")
	for i := 0; i < 2; i++ {
		a.send(`{"type":"presence","status":"online"}`)
	}
	a.send(`{"type":"presence","status":"online","ref":"r3"}`)
	if f := a.expect("error"); f["code"] != "rate_limited" || f["ref"] != "r3" {
		t.Fatalf("third message answered %v, want rate_limited echoing ref r3", f)
	}
	a.send(`{"type":"presence","status":"online"}`)
	a.send(`{"type":"presence","status":"online"}`)
	for range a.frames { // drain until the server closes
	}
	_, _, err := a.c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); ok && ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("close %v, want 1008", ce)
	}
}

func TestUserRateLimitIsSharedAcrossConnections(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) {
		unlimited(c) // connections alone would never be limited
		c.UserRatePerSecond, c.UserRateBurst = 0.001, 4
	})
	a1, a2 := s.dial(t, "ann"), s.dial(t, "ann")
	// a2 spends the user's four tokens, each answered before the next.
	a2.send(`{"type":"create","room":"x"}`)
	a2.expect("created")
	for i := 0; i < 3; i++ {
		a2.send(`{"type":"create","room":"x"}`)
		a2.expectError("exists")
	}
	// a1 has its own connection bucket to spare, but the user has none.
	a1.send(`{"type":"create","room":"y"}`)
	a1.expectError("rate_limited")
	other := s.dial(t, "zed") // another user has its own bucket
	other.send(`{"type":"create","room":"z"}`)
	other.expect("created")
}

func TestMembersArePagedWithCountAndOnline(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	owner := s.dial(t, "owner")
	owner.send(`{"type":"create","room":"big"}`)
	owner.expect("created")
	owner.send(`{"type":"join","room":"big"}`)
	owner.expect("joined")
	for i := 0; i < 5; i++ {
		c := s.dial(t, fmt.Sprintf("u%d", i))
		c.send(`{"type":"join","room":"big"}`)
		c.expect("joined")
		if i >= 3 { // u3 and u4 go away again; they stay members
			c.send(`{"type":"leave","room":"big"}`)
			c.expect("left")
		}
	}
	var users []string
	online := map[string]bool{}
	after := ""
	for {
		owner.send(fmt.Sprintf(`{"type":"members","room":"big","after":%q,"limit":2}`, after))
		page := owner.expect("members")
		if page["count"] != float64(6) {
			t.Fatalf("count %v, want 6", page["count"])
		}
		for _, m := range page["members"].([]any) {
			mm := m.(map[string]any)
			users = append(users, mm["user"].(string))
			online[mm["user"].(string)] = mm["online"].(bool)
		}
		if page["more"] != true {
			break
		}
		after = users[len(users)-1]
	}
	if strings.Join(users, ",") != "owner,u0,u1,u2,u3,u4" {
		t.Fatalf("members %v", users)
	}
	if !online["u0"] || online["u3"] {
		t.Fatalf("online %v: u0 is connected, u3 left", online)
	}
}

func TestJWTAuthAtTheHandshakeAndExpiryWhileConnected(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.NewVerifier(auth.Config{Secret: secret, Leeway: -1})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := auth.NewSigner(secret)
	s := startServer(t, func(e *engine.Config, c *Config) {
		c.Auth = v
		e.TickInterval = 20 * time.Millisecond
		e.Subprotocols = []string{auth.Subprotocol}
		e.CheckOrigin = func(o []byte) bool { return len(o) == 0 || string(o) == "https://chat.example" }
	})
	url := fmt.Sprintf("ws://%s/ws", s.e.Addr())

	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v, want 401", resp, err)
	}
	forged, _ := auth.NewSigner([]byte("another secret, 32 bytes long!!!"))
	bad, _ := forged.Mint("mallory", "", time.Hour)
	_, resp, err = websocket.DefaultDialer.Dial(url+"?token="+bad, nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("forged token: %v %v, want 401", resp, err)
	}
	good, _ := signer.Mint("alice", "", time.Hour)
	_, resp, err = websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + good},
		"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v, want 403", resp, err)
	}

	// A browser-style token in the subprotocol, expiring in a second.
	short, _ := signer.Mint("alice", "", time.Second)
	d := websocket.Dialer{Subprotocols: []string{auth.Subprotocol, auth.SubprotocolTokenPrefix + short}}
	c, resp, err := d.Dial(url, http.Header{"Origin": {"https://chat.example"}})
	if err != nil {
		t.Fatalf("valid token: %v", err)
	}
	defer c.Close()
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != auth.Subprotocol {
		t.Fatalf("selected subprotocol %q, want %q (never the token)", got, auth.Subprotocol)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, p, err := c.ReadMessage()
	if err != nil || !strings.Contains(string(p), `"user":"alice"`) {
		t.Fatalf("welcome %q %v", p, err)
	}
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4003 {
		t.Fatalf("after expiry: %v, want close 4003", err)
	}
}

func TestReadReceiptsAreCoalesced(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c); c.ReadInterval = 300 * time.Millisecond })
	a, b := s.dial(t, "a"), s.dial(t, "b")
	a.send(`{"type":"create","room":"r"}`)
	a.expect("created")
	for _, c := range []*client{a, b} {
		c.send(`{"type":"join","room":"r"}`)
		c.expect("joined")
	}
	for i := 1; i <= 10; i++ {
		a.send(fmt.Sprintf(`{"type":"publish","room":"r","id":"%d","body":%d}`, i, i))
		a.expect("ack")
	}
	for i := 1; i <= 10; i++ {
		a.send(fmt.Sprintf(`{"type":"read","room":"r","seq":%d}`, i))
	}
	// b sees the first at once and then one more with the latest seq.
	var got []uint64
	deadline := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case f := <-b.frames:
			if f["type"] == "read" {
				got = append(got, seqOf(f))
			}
		case <-deadline:
			t.Fatalf("read broadcasts %v, want [1 10]", got)
		}
	}
	if got[0] != 1 || got[1] != 10 {
		t.Fatalf("read broadcasts %v, want [1 10]", got)
	}
	select {
	case f := <-b.frames:
		if f["type"] == "read" {
			t.Fatalf("a third read broadcast %v: not coalesced", f)
		}
	case <-time.After(500 * time.Millisecond): // longer than ReadInterval: nothing else comes
	}
}

func TestLargeRoomsDoNotBroadcastPresence(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c); c.LargeRoom = 2 })
	a, b, c := s.dial(t, "a"), s.dial(t, "b"), s.dial(t, "c")
	a.send(`{"type":"create","room":"r"}`)
	a.expect("created")
	for _, cl := range []*client{a, b, c} {
		cl.send(`{"type":"join","room":"r"}`)
		cl.expect("joined")
	}
	// b's join (2 users) was announced; c's (3 > LargeRoom) was not.
	a.send(`{"type":"publish","room":"r","id":"x","body":1}`)
	var presence []string
	for {
		f := <-a.frames
		if f["type"] == "presence" {
			presence = append(presence, f["user"].(string))
		}
		if f["type"] == "message" {
			break
		}
	}
	if strings.Join(presence, ",") != "b" {
		t.Fatalf("presence frames for %v, want only b", presence)
	}
	a.send(`{"type":"members","room":"r"}`)
	if m := a.expect("members"); m["count"] != float64(3) {
		t.Fatalf("members %v", m)
	}
}
