package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// recorder is a Sender that keeps what it was sent.
type recorder struct {
	mu     sync.Mutex
	frames []string
}

func (r *recorder) Send(p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, string(p))
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

func TestHubProtocol(t *testing.T) {
	h := NewHub()
	var a, b recorder
	sa, sb := h.Session(&a, "alice"), h.Session(&b, "")
	steps := []struct {
		s     *Session
		in    string
		wantA []string
		wantB []string
	}{
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"error","code":"not_found","message":"no such room"}`}, nil},
		{sa, `{"type":"create","room":"r"}`, []string{`{"type":"created","room":"r"}`}, nil},
		{sb, `{"type":"create","room":"r"}`, nil, []string{`{"type":"error","code":"exists","message":"room exists"}`}},
		{sa, `{"type":"create","room":"Bad Room"}`, []string{`{"type":"error","code":"bad_request","message":"bad room id"}`}, nil},
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"joined","room":"r","seq":0}`}, nil},
		{sa, `{"type":"join","room":"r"}`, []string{`{"type":"error","code":"bad_request","message":"already joined"}`}, nil},
		{sb, `{"type":"publish","room":"r","id":"x","body":1}`, nil, []string{`{"type":"error","code":"not_joined","message":"join the room first"}`}},
		{sa, `{"type":"publish","room":"r","id":"m1","body":{"t":5}}`,
			[]string{`{"type":"ack","id":"m1","room":"r","seq":1}`, `{"type":"message","room":"r","seq":1,"id":"m1","from":"alice","body":{"t":5}}`}, nil},
		{sb, `{"type":"join","room":"r"}`, nil, []string{`{"type":"joined","room":"r","seq":1}`}},
		{sb, `{"type":"publish","room":"r","id":"m\"2","body":"hi"}`,
			[]string{`{"type":"message","room":"r","seq":2,"id":"m\"2","from":"guest","body":"hi"}`},
			[]string{`{"type":"ack","id":"m\"2","room":"r","seq":2}`, `{"type":"message","room":"r","seq":2,"id":"m\"2","from":"guest","body":"hi"}`}},
		{sa, `not json`, []string{`{"type":"error","code":"bad_request","message":"not a JSON object"}`}, nil},
		{sa, `{"type":"typing","room":"r"}`, []string{`{"type":"error","code":"unknown_type","message":"this peer speaks create, join, leave and publish"}`}, nil},
	}
	for i, st := range steps {
		st.s.Handle([]byte(st.in))
		gotA, gotB := a.take(), b.take()
		for _, f := range append(gotA, gotB...) {
			var v map[string]any
			if err := json.Unmarshal([]byte(f), &v); err != nil {
				t.Fatalf("step %d: frame %s is not JSON: %v", i, f, err)
			}
		}
		if strings.Join(gotA, "\n") != strings.Join(st.wantA, "\n") || strings.Join(gotB, "\n") != strings.Join(st.wantB, "\n") {
			t.Fatalf("step %d %s:\nalice got %q\nwant      %q\nbob got   %q\nwant      %q", i, st.in, gotA, st.wantA, gotB, st.wantB)
		}
	}
	// After Close, alice gets nothing from the room.
	sa.Close()
	sb.Handle([]byte(`{"type":"publish","room":"r","id":"m3","body":0}`))
	if got := a.take(); len(got) != 0 {
		t.Fatalf("alice got %q after leaving", got)
	}
	if got := b.take(); len(got) != 2 {
		t.Fatalf("bob got %q, want ack and message", got)
	}
}

// TestTransports runs each peer server in-process and drives its contract
// over real sockets: /healthz, echo of text and binary, and the room hub.
func TestTransports(t *testing.T) {
	for name, tr := range map[string]Transport{"gorilla": Gorilla, "gobwas": Gobwas, "nbio": Nbio} {
		t.Run(name, func(t *testing.T) {
			ports, err := target.FreePorts(1)
			if err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
			app := &App{Hub: NewHub(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tr(ctx, addr, app) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("transport returned %v", err)
				}
			}()
			if err := target.WaitHealthy(ctx, "http://"+addr+"/healthz", 10*time.Second, nil); err != nil {
				t.Fatal(err)
			}

			e := dial(t, "ws://"+addr+"/echo")
			for _, m := range []struct {
				typ int
				p   string
			}{{websocket.TextMessage, "hello"}, {websocket.BinaryMessage, strings.Repeat("x", 70000)}} {
				if err := e.WriteMessage(m.typ, []byte(m.p)); err != nil {
					t.Fatal(err)
				}
				typ, got, err := e.ReadMessage()
				if err != nil || typ != m.typ || string(got) != m.p {
					t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(m.p), typ, len(got), err)
				}
			}

			a, b := dial(t, "ws://"+addr+"/ws?user=alice"), dial(t, "ws://"+addr+"/ws?user=bob")
			exchange(t, a, `{"type":"create","room":"r"}`, `{"type":"created","room":"r"}`)
			exchange(t, a, `{"type":"join","room":"r"}`, `{"type":"joined","room":"r","seq":0}`)
			exchange(t, b, `{"type":"join","room":"r"}`, `{"type":"joined","room":"r","seq":0}`)
			exchange(t, b, `{"type":"publish","room":"r","id":"1","body":{"t":7}}`, `{"type":"ack","id":"1","room":"r","seq":1}`)
			msg := `{"type":"message","room":"r","seq":1,"id":"1","from":"bob","body":{"t":7}}`
			expect(t, b, msg)
			expect(t, a, msg)
			if n := app.Conns.Load(); n != 3 {
				t.Errorf("conns = %d, want 3", n)
			}
			for _, c := range []*websocket.Conn{a, b, e} {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				c.Close()
			}
			deadline := time.Now().Add(5 * time.Second)
			for app.Conns.Load() != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond) // the count drops on the server's goroutines; there is no event to wait on
			}
			if n := app.Conns.Load(); n != 0 {
				t.Errorf("conns = %d after every client closed", n)
			}
		})
	}
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

func exchange(t *testing.T, c *websocket.Conn, send, want string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(send)); err != nil {
		t.Fatal(err)
	}
	expect(t, c, want)
}

func expect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != want {
		t.Fatalf("got %s (%v), want %s", got, err, want)
	}
}
