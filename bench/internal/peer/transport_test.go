package peer_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/bench/internal/peer"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// TestTransports runs each peer server in-process and drives its contract
// over real sockets: /healthz, echo of text and binary, and the room hub.
func TestTransports(t *testing.T) {
	for name, tr := range map[string]peer.Transport{"gorilla": peer.Gorilla, "gobwas": peer.Gobwas, "nbio": peer.Nbio} {
		t.Run(name, func(t *testing.T) {
			addr, app := runnertest.Peer(t, tr)

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
