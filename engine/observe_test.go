package engine

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

func TestHandshakeFailuresCountedByStatus(t *testing.T) {
	e := startEngine(t, "epoll", nil)
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	up := "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	for _, req := range []string{
		"GET /nope HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n",  // 404
		"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",                                               // 426
		"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",                                               // 426
		"POST /echo HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", // 405
		"\x16\x03\x01 not http\r\n\r\n",                                                       // 400
	} {
		c := rawDial(t, e)
		io.WriteString(c, req)
		io.Copy(io.Discard, c) // the server answers and closes
	}
	want := map[int]uint64{404: 1, 426: 2, 405: 1, 400: 1}
	waitFor(t, "5 failures", func() bool { return e.Stats().HandshakeFailures == 5 })
	if got := e.Stats().HandshakeFailuresByStatus; !maps.Equal(got, want) {
		t.Fatalf("HandshakeFailuresByStatus = %v, want %v", got, want)
	}
	// /healthz is an answer, not a failure.
	c := rawDial(t, e)
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	io.Copy(io.Discard, c)
	if n := e.Stats().HandshakeFailures; n != 5 {
		t.Fatalf("HandshakeFailures = %d after /healthz, want 5", n)
	}
}

func TestMessagesOutCounted(t *testing.T) {
	e := startEngine(t, "epoll", nil)
	g := gorillaDial(t, e, nil)
	for i := range 3 {
		g.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint(i)))
		if _, _, err := g.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.Stats(); st.MessagesOut != 3 || st.MessagesIn != 3 {
		t.Fatalf("MessagesIn %d, MessagesOut %d, want 3 and 3", st.MessagesIn, st.MessagesOut)
	}
}

// gatedEcho holds its worker on the first message until gate closes.
type gatedEcho struct {
	Echo
	gate    chan struct{}
	running chan struct{}
}

func (a *gatedEcho) OnMessage(c *Conn, op ws.OpCode, msg []byte) {
	if string(msg) == "hold" {
		close(a.running)
		<-a.gate
	}
	c.WriteMessage(op, msg)
}

func TestWorkerStatsBusyAndQueued(t *testing.T) {
	app := &gatedEcho{gate: make(chan struct{}), running: make(chan struct{})}
	e, err := New(Config{Addr: "127.0.0.1:0", Loops: 1, Workers: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	e.Handle("/echo", app)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	g := gorillaDial(t, e, nil)
	defer g.Close()

	// Busy never decreases, whatever the worker is doing.
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		var last time.Duration
		for {
			select {
			case <-stop:
				return
			default:
			}
			stats := e.WorkerStats(nil)
			if stats[0].Busy < last {
				t.Errorf("Busy went from %v down to %v", last, stats[0].Busy)
				return
			}
			last = stats[0].Busy
		}
	}()
	defer func() { close(stop); watcher.Wait() }()

	g.WriteMessage(websocket.TextMessage, []byte("hold"))
	<-app.running
	g.WriteMessage(websocket.TextMessage, []byte("a"))
	g.WriteMessage(websocket.TextMessage, []byte("b"))
	waitFor(t, "two queued behind the held task", func() bool { return e.WorkerStats(nil)[0].Queued == 2 })
	before := e.WorkerStats(nil)[0].Busy
	waitFor(t, "busy time to grow while a task runs", func() bool { return e.WorkerStats(nil)[0].Busy > before })

	close(app.gate)
	for range 3 {
		if _, _, err := g.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	// Idle time is not busy time: once the worker waits, Busy stops.
	var idle time.Duration
	waitFor(t, "busy time to stop growing while idle", func() bool {
		a := e.WorkerStats(nil)[0]
		time.Sleep(20 * time.Millisecond)
		b := e.WorkerStats(nil)[0]
		idle = b.Busy
		return a.Busy == b.Busy && b.Queued == 0
	})
	if idle > time.Since(e.start) {
		t.Fatalf("Busy %v exceeds the time since Start", idle)
	}
}

// drainApp answers Drain with a text message naming the delay.
type drainApp struct{ Echo }

func (drainApp) Drain(c *Conn, after time.Duration) {
	c.WriteMessage(ws.OpText, []byte(fmt.Sprintf("bye %d", after.Milliseconds())))
}

func TestShutdownTellsWhenToReconnect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		window := 2 * time.Second
		e, err := New(Config{Addr: "127.0.0.1:0", Backend: backend, Loops: 2, ReconnectWindow: window, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		e.Handle("/drain", drainApp{})
		e.Handle("/echo", Echo{})
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		dial := func(path string) *websocket.Conn {
			c, _, err := websocket.DefaultDialer.Dial(wsURL(e, path), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
		drained, plain := dial("/drain"), dial("/echo")
		waitFor(t, "2 upgraded", func() bool { return e.Stats().Conns == 2 })
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- e.Shutdown(ctx)
		}()

		_, p, err := drained.ReadMessage()
		var ms int64
		if _, scanErr := fmt.Sscanf(string(p), "bye %d", &ms); err != nil || scanErr != nil {
			t.Fatalf("first frame after Shutdown = %q, %v; want the app's Drain message", p, err)
		}
		if ms < 0 || ms >= window.Milliseconds() {
			t.Fatalf("reconnect delay %d ms, want within [0, %d)", ms, window.Milliseconds())
		}
		for _, c := range []struct {
			conn *websocket.Conn
			want string
		}{{drained, GoingAwayReason(time.Duration(ms) * time.Millisecond)}, {plain, "server shutting down; reconnect after "}} {
			_, _, err := c.conn.ReadMessage()
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != websocket.CloseGoingAway || !strings.HasPrefix(ce.Text, c.want) {
				t.Fatalf("read = %v, want close 1001 with reason %q", err, c.want)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	})
}
