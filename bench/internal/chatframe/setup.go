package chatframe

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// CreateRooms creates the public rooms ids as user "setup" over one
// ordinary connection, and closes it: rooms outlive their creator's
// connection.
func CreateRooms(ctx context.Context, wsURL string, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second+time.Duration(len(ids))*10*time.Millisecond)
	defer cancel()
	c, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?user=setup", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetReadDeadline(dl)
	}
	for _, id := range ids {
		if err := createRoom(c, id); err != nil {
			return fmt.Errorf("room %s: %w", id, err)
		}
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return nil
}

// createRoom sends one create and waits for its answer, skipping frames
// about other things (welcome). The server's per-connection rate limit
// applies to creates too, so a rate_limited answer is waited out and the
// create sent again.
func createRoom(c *websocket.Conn, id string) error {
	send := func() error {
		return c.WriteMessage(websocket.TextMessage, []byte(`{"type":"create","room":`+strconv.Quote(id)+`}`))
	}
	if err := send(); err != nil {
		return err
	}
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		var f struct {
			Type, Code, Message string
		}
		if err := json.Unmarshal(p, &f); err != nil {
			return fmt.Errorf("server sent %q: %w", p, err)
		}
		switch f.Type {
		case "created":
			return nil
		case "error":
			if f.Code != "rate_limited" {
				return fmt.Errorf("server answered %s: %s", f.Code, f.Message)
			}
			time.Sleep(100 * time.Millisecond) // the limit refills at --rate per second
			if err := send(); err != nil {
				return err
			}
		}
	}
}
