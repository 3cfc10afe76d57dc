package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/store/servicetest"
)

// chatClient is a test client of /ws speaking JSON frames.
type chatClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialChat(t *testing.T, addr, user string) *chatClient {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?user="+user, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &chatClient{t: t, c: c}
}

func (cc *chatClient) send(frame map[string]any) {
	cc.t.Helper()
	if err := cc.c.WriteJSON(frame); err != nil {
		cc.t.Fatal(err)
	}
}

// await reads frames until one of type typ arrives.
func (cc *chatClient) await(typ string) map[string]any {
	cc.t.Helper()
	cc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var f map[string]any
		if err := cc.c.ReadJSON(&f); err != nil {
			cc.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if f["type"] == "error" {
			cc.t.Fatalf("waiting for %q: error frame %v", typ, f)
		}
		if f["type"] == typ {
			return f
		}
	}
}

// TestServePostgresSurvivesRestart: serve --store postgres acks a publish,
// and after the server restarts, history still holds the message and the
// next publish continues the room's seq.
func TestServePostgresSurvivesRestart(t *testing.T) {
	url := servicetest.PostgresURL(t)
	bin := buildBinary(t)
	args := []string{"--auth", "none", "--store", "postgres", "--postgres-url", url, "--postgres-max-conns", "4"}

	cmd, addr := startServe(t, bin, args...)
	alice := dialChat(t, addr, "alice")
	alice.send(map[string]any{"type": "create", "room": "lobby"})
	alice.await("created")
	alice.send(map[string]any{"type": "join", "room": "lobby"})
	alice.await("joined")
	alice.send(map[string]any{"type": "publish", "room": "lobby", "id": "m1", "body": map[string]any{"text": "kept"}})
	if ack := alice.await("ack"); ack["id"] != "m1" || ack["seq"] != 1.0 {
		t.Fatalf("ack = %v, want id m1 seq 1", ack)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit0(t, cmd)

	_, addr = startServe(t, bin, args...)
	bob := dialChat(t, addr, "bob")
	bob.send(map[string]any{"type": "join", "room": "lobby"})
	joined := bob.await("joined")
	hist, _ := json.Marshal(joined["history"])
	var msgs []struct {
		Seq  uint64          `json:"seq"`
		ID   string          `json:"id"`
		From string          `json:"from"`
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(hist, &msgs); err != nil || len(msgs) != 1 || msgs[0].Seq != 1 || msgs[0].ID != "m1" ||
		msgs[0].From != "alice" || string(msgs[0].Body) != `{"text":"kept"}` || joined["seq"] != 1.0 {
		t.Fatalf("joined after restart = %v (%v), want seq 1 and alice's message", joined, err)
	}
	bob.send(map[string]any{"type": "publish", "room": "lobby", "id": "m1", "body": "bob's own m1"})
	if ack := bob.await("ack"); ack["seq"] != 2.0 {
		t.Fatalf("ack after restart = %v, want seq 2", ack)
	}
}

func TestMigrateCommand(t *testing.T) {
	url := servicetest.PostgresURL(t)
	bin := buildBinary(t)
	for _, want := range []string{"migrated from version 0", "schema already at version"} {
		out, err := exec.Command(bin, "migrate", "--postgres-url", url).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("switchboard migrate: %v\n%s\nwant %q", err, out, want)
		}
	}
	out, err := exec.Command(bin, "migrate").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SWITCHBOARD_POSTGRES_URL") {
		t.Fatalf("migrate without a URL: %v\n%s", err, out)
	}
}
