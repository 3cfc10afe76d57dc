package adversarial

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// bystanderPace is the bystander's publish interval: under the default
// per-connection rate (20/s), so it is never rate limited itself.
const bystanderPace = 70 * time.Millisecond

var bystanderRooms atomic.Int64

// bystander is two ordinary clients in a room of their own: one publishes
// at bystanderPace, the other must receive every message, in seq order.
// Each round trip (publish to delivery at the other client) is timed.
type bystander struct {
	pub, sub *websocket.Conn
	room     string
	stop     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	lat     []time.Duration // one per delivered message
	err     error
	lastSeq uint64
	markAt  int
}

// startBystander connects the pair from 127.0.0.1 (attacks come from other
// addresses) and starts the exchange.
func (tg *target) startBystander(t testing.TB) *bystander {
	t.Helper()
	dial := func(user string) *websocket.Conn {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		c, resp, err := d.Dial("ws://"+tg.addr+"/ws", http.Header{"Authorization": {"Bearer " + tg.token(t, user)}})
		if err != nil {
			t.Fatalf("bystander %s: %v (%v)", user, err, resp)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := awaitFrame(c, "welcome", ""); err != nil {
			t.Fatalf("bystander %s: %v", user, err)
		}
		return c
	}
	b := &bystander{pub: dial("bystander-pub"), sub: dial("bystander-sub"),
		room: fmt.Sprintf("bystander-%d", bystanderRooms.Add(1)),
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, step := range []struct {
		c      *websocket.Conn
		frame  string
		answer string
	}{
		{b.pub, `{"type":"create","room":"` + b.room + `"}`, "created"},
		{b.pub, `{"type":"join","room":"` + b.room + `"}`, "joined"},
		{b.sub, `{"type":"join","room":"` + b.room + `"}`, "joined"},
	} {
		if err := step.c.WriteMessage(websocket.TextMessage, []byte(step.frame)); err != nil {
			t.Fatal(err)
		}
		if _, err := awaitFrame(step.c, step.answer, ""); err != nil {
			t.Fatalf("bystander setup: %v", err)
		}
	}
	go b.run()
	return b
}

// awaitFrame reads c until a frame of type typ (with id, when given);
// other broadcasts are skipped, an error frame is an error.
func awaitFrame(c *websocket.Conn, typ, id string) (map[string]any, error) {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		var f map[string]any
		if err := json.Unmarshal(p, &f); err != nil {
			return nil, fmt.Errorf("invalid JSON %q", p)
		}
		if f["type"] == "error" {
			return nil, fmt.Errorf("error frame %v", f)
		}
		if f["type"] == typ && (id == "" || f["id"] == id) {
			return f, nil
		}
	}
}

func (b *bystander) run() {
	defer close(b.done)
	tick := time.NewTicker(bystanderPace)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		id := strconv.Itoa(n)
		start := time.Now()
		frame := fmt.Sprintf(`{"type":"publish","room":%q,"id":%q,"body":{"n":%d}}`, b.room, id, n)
		if err := b.pub.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			b.fail(err)
			return
		}
		if _, err := awaitFrame(b.pub, "ack", id); err != nil {
			b.fail(fmt.Errorf("publisher waiting for ack %s: %w", id, err))
			return
		}
		m, err := awaitFrame(b.sub, "message", id)
		if err != nil {
			b.fail(fmt.Errorf("subscriber waiting for message %s: %w", id, err))
			return
		}
		seq := uint64(m["seq"].(float64))
		b.mu.Lock()
		if seq != b.lastSeq+1 || m["from"] != "bystander-pub" {
			b.err = fmt.Errorf("message %v after seq %d: lost, reordered or forged", m, b.lastSeq)
		}
		b.lastSeq = seq
		b.lat = append(b.lat, time.Since(start))
		b.mu.Unlock()
	}
}

func (b *bystander) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

func (b *bystander) delivered() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lat), b.err
}

// mark notes that the attack starts now.
func (b *bystander) mark() {
	b.mu.Lock()
	b.markAt = len(b.lat)
	b.mu.Unlock()
}

// finish waits for at least more deliveries after the mark, stops the
// exchange, closes the pair, fails the test if anything was lost, and logs
// the round-trip percentiles since the mark (no assertion on timing).
func (b *bystander) finish(t testing.TB, more int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := b.delivered()
		if err != nil {
			close(b.stop)
			<-b.done
			t.Fatalf("bystander: %v", err)
		}
		if n >= b.markAt+more {
			break
		}
		if time.Now().After(deadline) {
			close(b.stop)
			<-b.done
			t.Fatalf("bystander: %d messages delivered during the attack in 60s, want %d", n-b.markAt, more)
		}
		time.Sleep(bystanderPace)
	}
	close(b.stop)
	<-b.done
	b.pub.Close()
	b.sub.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		t.Fatalf("bystander: %v", b.err)
	}
	during := slices.Clone(b.lat[b.markAt:])
	t.Logf("bystander: %d messages delivered in order during and after the attack; round trip %s",
		len(during), percentiles(during))
}

// percentiles formats p50, p90, p99 and max of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("p50 %s p90 %s p99 %s max %s", r(at(0.5)), r(at(0.9)), r(at(0.99)), r(ds[len(ds)-1]))
}
